//! One node of the quit tree ([`Node`]): its fields, what it allocates on
//! first use ([`Extra`]), making children, taking a task's hold, and the
//! node's own queries (path, cause, counts). The ownership and lifetime
//! rules are in the module docs of `tree`.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use event_listener::Event;
use slab::Slab;

use super::stage::Stage;
use super::stages::Stages;
use super::state::{Flag, State, Zero};
use crate::error::AlreadyQuit;
use crate::report::{AbortedTask, QuitCause, TaskInfo, TaskPanic};
use crate::sync::{Arc, AtomicUsize, Mutex, OnceCell, Ordering, Weak};
use crate::tasks::count::ShardCount;
use crate::tasks::registry::{this_thread_shard, Listed, Shard, TaskRegistry};
use crate::trace::{self, NodeSpan};
use crate::waiting::waiters::FlagWaiters;

pub(crate) struct Node {
    pub(crate) state: State,
    /// Live handles (see the module docs).
    pub(super) handles: AtomicUsize,
    pub(super) name: Cow<'static, str>,
    pub(super) link: Option<Link>,
    /// Notified when the node is done. (Quit waiters are in `Extra`.)
    pub(crate) done_event: Event,
    pub(super) extra: OnceCell<Box<Extra>>,
    pub(crate) span: NodeSpan,
}

/// What a node allocates at its first child, task, quit waiter, panic or
/// quit cause.
pub(crate) struct Extra {
    pub(super) family: Mutex<Family>,
    pub(crate) tasks: TaskRegistry,
    pub(crate) quit_waiters: FlagWaiters,
    pub(crate) drain_waiters: FlagWaiters,
    /// Notified (outside the family lock) when a stage of the children's
    /// stop order is quit or done, for drivers that keep budgets.
    pub(crate) stages_changed: Event,
}

/// A child's place in its parent.
pub(super) struct Link {
    pub(super) parent: Arc<Node>,
    /// The key of the child's entry in the parent's `children`.
    pub(super) slot: u32,
    /// The child's place in the parent's stop order (see `stages`).
    pub(super) stage: u32,
}

/// The node's relations, under its `family` lock.
#[derive(Default)]
pub(super) struct Family {
    /// Set by the first `quit` of this very node (not by an ancestor's).
    pub(super) cause: Option<Arc<QuitCause>>,
    pub(super) children: Slab<Weak<Node>>,
    /// Panics of tasks of this node, and of dropped descendants.
    pub(super) panics: Vec<TaskPanic>,
    /// Tasks of this node aborted, and of dropped descendants.
    pub(super) aborted: Vec<AbortedTask>,
    /// The state word carries the bias: a per-thread count word was made
    /// open (see `own_shard`).
    pub(super) sharded: bool,
    /// The node's `Arc` of itself while `KEEP` is set (see the module docs).
    pub(super) keep: Option<Arc<Node>>,
    /// The stop order of the children, once one has a later stage.
    pub(super) stages: Option<Box<Stages>>,
}

impl Node {
    fn new(name: Cow<'static, str>, link: Option<Link>, draining: bool, abortable: bool) -> Node {
        let span = NodeSpan::new(&name, link.as_ref().map(|link| &link.parent.span));
        Node {
            state: State::new(draining, abortable),
            handles: AtomicUsize::new(1),
            name,
            link,
            done_event: Event::new(),
            extra: OnceCell::new(),
            span,
        }
    }

    /// The node's `Extra`, allocated if it has none yet.
    pub(crate) fn extra(&self) -> &Extra {
        self.extra.get_or_init(|| {
            Box::new(Extra {
                family: Mutex::new(Family::default()),
                tasks: TaskRegistry::new(),
                quit_waiters: FlagWaiters::new(),
                drain_waiters: FlagWaiters::new(),
                stages_changed: Event::new(),
            })
        })
    }

    /// A new root, with one handle (the caller's).
    pub(crate) fn root(name: Cow<'static, str>) -> Arc<Node> {
        Arc::new(Node::new(name, None, false, false))
    }

    /// Counts one more handle; the caller clones the `Arc` for it.
    #[inline]
    pub(crate) fn add_handle(&self) {
        // Relaxed, as `Arc::clone`: it is made from a live handle. Cannot
        // overflow: each handle owns an `Arc`, whose count aborts first.
        self.handles.fetch_add(1, Ordering::Relaxed);
    }

    /// This thread's shard of the registry (made now if it has none yet)
    /// and its number.
    #[inline]
    pub(crate) fn own_shard(&self) -> (usize, &Shard) {
        let index = this_thread_shard();
        let extra = self.extra();
        let shard = match extra.tasks.shard(index) {
            Some(shard) => shard,
            None => self.make_shard(extra, index),
        };
        (index, shard)
    }

    /// Makes shard `index`, its count word open unless the sweep has
    /// started. Under the family lock, so against the sweep (which sets
    /// `SWEPT` and then closes the words under this lock) a new word is
    /// either seen and closed by it, or made dead. The node's first open
    /// word adds the bias with an RMW, which also covers a sweep that found
    /// no `Extra` yet: if that RMW came first, the sweep's own RMW sees the
    /// `Extra` (and this lock); if not, the RMW sees `SWEPT`.
    #[cold]
    fn make_shard<'a>(&self, extra: &'a Extra, index: usize) -> &'a Shard {
        let mut family = extra.family.lock();
        if let Some(shard) = extra.tasks.shard(index) {
            return shard;
        }
        let open = if family.sharded {
            !self.state.is_swept()
        } else {
            family.sharded = self.state.try_add_bias();
            family.sharded
        };
        extra.tasks.make_shard(index, !open)
    }

    /// Takes one task's hold, unless the node has quit: on this thread's
    /// count word, or on the state word once the words are closed.
    #[inline]
    pub(crate) fn try_hold_task(&self) -> bool {
        // Refused at once if quit: a thread that saw `is_quitting()` never
        // gets a task in, even while the quit's sweep is under way.
        if self.state.is_quit() {
            return false;
        }
        self.own_shard().1.count.try_add() || self.state.try_hold()
    }

    /// This thread's count word, if it has been made (a task's release
    /// subtracts there, see `hold`).
    #[inline]
    pub(crate) fn own_shard_count(&self) -> Option<&ShardCount> {
        let extra = self.extra.get()?;
        Some(&extra.tasks.shard(this_thread_shard())?.count)
    }

    /// The task registry (made now if the node has no `Extra` yet).
    #[inline]
    pub(crate) fn tasks(&self) -> &TaskRegistry {
        &self.extra().tasks
    }

    /// The waiters of `flag` (made now if the node has no `Extra` yet).
    #[inline]
    pub(crate) fn waiters(&self, flag: Flag) -> &FlagWaiters {
        let extra = self.extra();
        match flag {
            Flag::Drain => &extra.drain_waiters,
            Flag::Quit => &extra.quit_waiters,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn parent(&self) -> Option<&Arc<Node>> {
        self.link.as_ref().map(|link| &link.parent)
    }

    /// `root/…/self`, built by walking up (no path is stored: a deep chain
    /// would cost quadratic memory).
    pub(crate) fn path(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        let mut node = self;
        loop {
            names.push(&node.name);
            match node.parent() {
                Some(parent) => node = parent,
                None => break,
            }
        }
        join_path(names.iter().rev().copied())
    }

    /// The cause of the quit that reached this node: its own, or that of
    /// the nearest ancestor where a quit started.
    pub(crate) fn cause(&self) -> Option<QuitCause> {
        if !self.state.is_quit() {
            return None;
        }
        let mut node = self;
        loop {
            if let Some(extra) = node.extra.get() {
                if let Some(cause) = &extra.family.lock().cause {
                    return Some(QuitCause::clone(cause));
                }
            }
            node = node.parent()?;
        }
    }

    pub(crate) fn child_count(&self) -> usize {
        self.extra
            .get()
            .map_or(0, |extra| extra.family.lock().children.len())
    }

    /// Listed tasks plus tasks not listed yet (tracked futures not polled
    /// yet, serial tasks started unlisted).
    pub(crate) fn task_count(&self) -> usize {
        let (listed, entries) = self.extra.get().map_or((0, 0), |extra| extra.tasks.tasks());
        let mut children = Vec::new();
        self.push_children(&mut children);
        listed + self.unpolled(entries, &children)
    }

    /// What the node's registry lists (nothing before its first task).
    pub(crate) fn listed(&self) -> Listed {
        self.extra
            .get()
            .map_or_else(Listed::default, |extra| extra.tasks.snapshot())
    }

    /// Pushes the live children (upgraded under the family lock; the
    /// caller drops them with the lock released).
    pub(super) fn push_children(&self, into: &mut Vec<Arc<Node>>) {
        if let Some(extra) = self.extra.get() {
            push_children(&extra.family.lock().children, into);
        }
    }

    /// A new child in `stage` of this node's stop order, with one handle
    /// (the caller's). Refused once this node has quit.
    pub(crate) fn child(
        this: &Arc<Node>,
        name: Cow<'static, str>,
        stage: Stage,
    ) -> Result<Arc<Node>, AlreadyQuit> {
        let mut family = this.extra().family.lock();
        // Four billion live children of one node (400 GB of nodes) cannot
        // happen; refused rather than linked under a wrong key.
        let Ok(slot) = u32::try_from(family.children.vacant_key()) else {
            return Err(AlreadyQuit);
        };
        // Under the lock, against the drain walk: draining as this RMW
        // finds it, or listed before the walk lists the children.
        let Some((draining, abortable)) = this.state.try_hold_draining() else {
            return Err(AlreadyQuit);
        };
        this.add_stage(&mut family, stage);
        let entry = family.children.vacant_entry();
        let link = Link {
            parent: this.clone(),
            slot,
            stage: stage.number,
        };
        let child = Arc::new(Node::new(
            name,
            Some(link),
            draining,
            abortable || stage.abort,
        ));
        entry.insert(Arc::downgrade(&child));
        Ok(child)
    }

    /// Runs what the RMW that took the holds to zero must (see `State`):
    /// the done transition if the node is quit, and the take of the node's
    /// `Arc` of itself if it kept one, which is returned for the caller to
    /// drop *after* this call (see `hold`: `&self` must not be freed here).
    pub(crate) fn released_last_hold(&self, zero: Zero) -> Option<Arc<Node>> {
        // Zero comes only after the sweep, which kept the node for the
        // holds it left (see the module docs): alive while `kept` is.
        let kept = if zero.keep { self.take_keep() } else { None };
        if zero.done {
            self.became_done();
        }
        kept
    }

    /// The node's `Arc` of itself, once `KEEP` was seen with zero holds.
    pub(super) fn take_keep(&self) -> Option<Arc<Node>> {
        self.extra.get()?.family.lock().keep.take()
    }

    /// Holds that are neither one of the `listed` entries (a task or a
    /// task table, which holds once for all its rows) nor one of
    /// `children` that is not done: tracked futures accepted but not polled
    /// yet, and serial tasks started but not listed yet. Exact when nothing
    /// is changing (a hung tree); a task or child ending during the count
    /// can skew it by one for that instant.
    pub(super) fn unpolled(&self, listed: usize, children: &[Arc<Node>]) -> usize {
        let holding = children
            .iter()
            .filter(|child| !child.state.is_done())
            .count();
        self.holds().saturating_sub(listed + holding)
    }

    /// How many tasks and not-done children hold the node open: the state
    /// word's count and, before the sweep, the open per-thread words' sum
    /// without the open hold. An estimate while they change.
    pub(crate) fn holds(&self) -> usize {
        let (central, swept) = self.state.central_holds();
        if swept {
            return central;
        }
        let shares = self
            .extra
            .get()
            .map_or(0, |extra| extra.tasks.open_counts());
        let holds = central.wrapping_add(shares).wrapping_sub(1);
        // Below zero for an instant if a task moved between the words.
        if holds > usize::MAX / 2 {
            0
        } else {
            holds
        }
    }

    /// Records a panic of `task` (which is ending) with its message.
    pub(crate) fn record_panic(&self, task: TaskInfo, message: String) {
        let panic = TaskPanic {
            path: self.path(),
            task,
            message,
        };
        trace::panicked(&self.span, &panic);
        self.extra().family.lock().panics.push(panic);
    }
}

/// Pushes the live children of a family's `children` (its lock held).
pub(super) fn push_children(children: &Slab<Weak<Node>>, stack: &mut Vec<Arc<Node>>) {
    stack.extend(children.iter().filter_map(|(_, child)| child.upgrade()));
}

pub(super) fn join_path<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut path = String::new();
    for name in names {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(name);
    }
    path
}
