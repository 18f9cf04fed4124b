//! One node of the quit tree, and the three walks over it: quit flowing
//! down, done flowing up, and unlinking on drop.
//!
//! Ownership: a [`Quitter`](crate::Quitter) **handle** (a `TaskGuard`
//! carries one) owns one `Arc` of the node and is counted in `handles`;
//! every child node owns one `Arc` of its parent (its link). The parent
//! owns only a `Weak` (in its `children` slab). A task (its
//! [`TaskSlot`](crate::registry::TaskSlot)) owns no `Arc`, only a hold: a
//! spawn must not write the node's cache line (see `count`). The node lives
//! while anyone can still act on it, and the last drop unlinks it from its
//! parent: a child per connection costs nothing once the connection is
//! gone.
//!
//! Why a hold keeps the node alive:
//! - Before the sweep (see [`State`]), a handle or a child exists: the
//!   sweep runs at the latest when the node has neither, under its family
//!   lock, by the last handle's drop or the last child's unlink (whichever
//!   is second; each checks the other under that lock), which still owns
//!   an `Arc`.
//! - The sweep's settle stores a clone of that `Arc` in `family.keep` and
//!   sets `KEEP` if any hold remains. Holds never grow after the sweep, so
//!   exactly one release takes them to zero, finds `KEEP`, and drops that
//!   `Arc`, after its own last touch of the node.
//! - Once swept, the node never gets a handle again: a handle is made from
//!   a handle (a clone, a guard's own), by [`child`](crate::Quitter::child)
//!   for a new node, or by [`parent`](crate::Quitter::parent) from a live
//!   child. So nobody can add a task or a child to a swept node.
//!
//! Size: a node is made per connection, so what most nodes never use is
//! allocated on first use, as one [`Extra`]: the [`Family`] (children,
//! panics, the cause of a quit that started here) and the task
//! [registry](crate::registry). An idle child is the node alone, smaller
//! than a tokio-util child token.
//!
//! Invariants (with those of [`State`]):
//! - Lock order: a walk never holds two node locks at once. `Arc`s upgraded
//!   under a lock are dropped only after it is released (a last drop locks
//!   the parent). Registry locks are leaves (see the registry).
//! - A child is created under its parent's `family` lock with
//!   [`State::try_hold`]; [`Node::quit`] sets `QUIT` and then lists the
//!   children under the same lock. So a child is either refused or seen by
//!   the quit: nothing is lost. (A node without `Extra` yet sets `QUIT`
//!   first and then looks again; see [`Node::quit_one`] for why that is
//!   enough.) A task needs no lock for it: its hold is the `try_hold` CAS
//!   alone, which refuses once `QUIT` is set (see [`TaskSlot`](crate::registry::TaskSlot));
//!   listing it by name is a separate, later step.
//! - A child holds one hold on its parent from creation until it is done
//!   (quit and without holds) or dropped unquit, whichever comes first.
//! - The cause is stored only where a quit started (the first `quit` of that
//!   node); a node quit by an ancestor's walk finds it on the nearest
//!   ancestor that has one. That ancestor stored it before walking down.
//! - All three walks are loops with an explicit stack or a parent pointer,
//!   never recursion, so a 100 000-deep chain is fine.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use event_listener::Event;
use slab::Slab;

use crate::cause::QuitCause;
use crate::registry::{this_thread_shard, Shard, TaskRegistry};
use crate::report::{QuitterTasks, TaskPanic};
use crate::state::{State, Zero};
use crate::sync::{Arc, AtomicUsize, Mutex, OnceCell, Ordering, Weak};
use crate::task::TaskInfo;
use crate::trace::{self, NodeSpan};
use crate::waiters::QuitWaiters;
use crate::AlreadyQuit;

pub(crate) struct Node {
    pub(crate) state: State,
    /// Live handles (see the module docs).
    handles: AtomicUsize,
    name: Cow<'static, str>,
    link: Option<Link>,
    /// Notified when the node is done. (Quit waiters are in `Extra`.)
    pub(crate) done_event: Event,
    extra: OnceCell<Box<Extra>>,
    pub(crate) span: NodeSpan,
}

/// What a node allocates at its first child, task, quit waiter, panic or
/// quit cause.
pub(crate) struct Extra {
    family: Mutex<Family>,
    pub(crate) tasks: TaskRegistry,
    pub(crate) waiters: QuitWaiters,
}

/// A child's place in its parent.
struct Link {
    parent: Arc<Node>,
    slot: usize,
}

/// The node's relations, under its `family` lock.
#[derive(Default)]
struct Family {
    /// Set by the first `quit` of this very node (not by an ancestor's).
    cause: Option<Arc<QuitCause>>,
    children: Slab<Weak<Node>>,
    /// Panics of tasks of this node, and of dropped descendants.
    panics: Vec<TaskPanic>,
    /// The state word carries the bias: a per-thread count word was made
    /// open (see `own_shard`).
    sharded: bool,
    /// The node's `Arc` of itself while `KEEP` is set (see the module docs).
    keep: Option<Arc<Node>>,
}

impl Node {
    fn new(name: Cow<'static, str>, link: Option<Link>) -> Node {
        let span = NodeSpan::new(&name, link.as_ref().map(|link| &link.parent.span));
        Node {
            state: State::new(),
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
                waiters: QuitWaiters::new(),
            })
        })
    }

    /// A new root, with one handle (the caller's).
    pub(crate) fn root(name: Cow<'static, str>) -> Arc<Node> {
        Arc::new(Node::new(name, None))
    }

    /// Counts one more handle; the caller clones the `Arc` for it.
    #[inline]
    pub(crate) fn add_handle(&self) {
        // Relaxed, as `Arc::clone`: it is made from a live handle. Cannot
        // overflow: each handle owns an `Arc`, whose count aborts first.
        self.handles.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops one handle of `this` (the caller drops its `Arc` after). The
    /// last one sweeps the node, unless a child still lives (then the last
    /// child's unlink will): nobody can add a task or a child any more.
    pub(crate) fn drop_handle(this: &Arc<Node>) {
        if this.handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let Some(extra) = this.extra.get() else {
            // No `Extra`: no task, no child, so no hold, and with no handle
            // left nobody can make one (see `State::close_idle`).
            this.state.close_idle();
            return;
        };
        let zero = {
            let mut family = extra.family.lock();
            if !family.children.is_empty() || !this.state.close() {
                return;
            }
            Node::sweep(this, extra, &mut family)
        };
        // Done if a quit came between (an ancestor's walk).
        if zero.is_some_and(|zero| zero.done) {
            this.became_done();
        }
    }

    /// The sweep (see [`State`]): closes the per-thread count words and
    /// settles the state word. Run once, by the caller whose `quit` or
    /// `close` set `SWEPT`, with `family` (of `extra`, the node's) locked.
    fn sweep(this: &Arc<Node>, extra: &Extra, family: &mut Family) -> Option<Zero> {
        let shares = if family.sharded {
            extra.tasks.close_counts()
        } else {
            0
        };
        // Stored before the settle can set `KEEP`; a release that finds
        // `KEEP` takes it under this lock, so after we let go.
        family.keep = Some(this.clone());
        let zero = this.state.settle(shares, family.sharded);
        if zero.is_some() {
            // No hold left: not kept. Not the last `Arc` (`this` is ours).
            family.keep = None;
        }
        zero
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

    /// Releases one task's hold: on this thread's count word if it is open,
    /// else on the state word. The caller must not touch the node after.
    #[inline]
    pub(crate) fn release_task(&self) {
        let shard = self
            .extra
            .get()
            .and_then(|extra| extra.tasks.shard(this_thread_shard()));
        if !shard.is_some_and(|shard| shard.count.try_sub()) {
            self.release_hold();
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

    /// Listed tasks plus tracked futures not polled yet.
    pub(crate) fn task_count(&self) -> usize {
        let listed = self.extra.get().map_or(0, |extra| extra.tasks.len());
        let mut children = Vec::new();
        self.push_children(&mut children);
        listed + self.unpolled(listed, &children)
    }

    /// Pushes the live children (upgraded under the family lock; the
    /// caller drops them with the lock released).
    fn push_children(&self, into: &mut Vec<Arc<Node>>) {
        if let Some(extra) = self.extra.get() {
            push_children(&extra.family.lock(), into);
        }
    }

    pub(crate) fn child(
        this: &Arc<Node>,
        name: Cow<'static, str>,
    ) -> Result<Arc<Node>, AlreadyQuit> {
        let mut family = this.extra().family.lock();
        if !this.state.try_hold() {
            return Err(AlreadyQuit);
        }
        let entry = family.children.vacant_entry();
        let link = Link {
            parent: this.clone(),
            slot: entry.key(),
        };
        let child = Arc::new(Node::new(name, Some(link)));
        entry.insert(Arc::downgrade(&child));
        Ok(child)
    }

    /// Releases one hold on the state word; the last one of a quit node
    /// makes it done, and the last one of a kept node drops its `Arc` of
    /// itself. The caller must not touch the node after, unless it owns an
    /// `Arc` of it.
    #[inline]
    pub(crate) fn release_hold(&self) {
        if let Some(zero) = self.state.release() {
            // Zero comes only after the sweep, which kept the node for the
            // holds it left (see the module docs): alive until we drop
            // `kept`.
            let kept = if zero.keep { self.take_keep() } else { None };
            if zero.done {
                self.became_done();
            }
            drop(kept);
        }
    }

    /// The node's `Arc` of itself, once `KEEP` was seen with zero holds.
    fn take_keep(&self) -> Option<Arc<Node>> {
        self.extra.get()?.family.lock().keep.take()
    }

    /// Holds that are neither one of the `listed` tasks nor one of
    /// `children` that is not done: tracked futures accepted but not polled
    /// yet. Exact when nothing is changing (a hung tree); a task or child
    /// ending during the count can skew it by one for that instant.
    fn unpolled(&self, listed: usize, children: &[Arc<Node>]) -> usize {
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

    /// Quits this node and every descendant, iteratively. Returns `true` if
    /// this call quit `this` (first cause wins).
    pub(crate) fn quit(this: &Arc<Node>, cause: QuitCause) -> bool {
        let cause = Arc::new(cause);
        let mut stack: Vec<Arc<Node>> = Vec::new();
        let first = Node::quit_one(this, Some(&cause), &mut stack);
        if first {
            trace::quit(&this.span, || this.path(), &cause);
        }
        while let Some(node) = stack.pop() {
            Node::quit_one(&node, None, &mut stack);
            // `node` may be the last handle: its drop locks its parent,
            // which this loop does not hold.
        }
        first
    }

    /// Sets `QUIT` on one node (storing `cause` if this is the node where
    /// the quit started, and the first quit of it), pushes its children and
    /// sweeps it if nobody has yet.
    /// Children are pushed even if the node had already quit: a concurrent
    /// quit may have set the bit without having reached the children yet,
    /// and `quit()` promises that every descendant is quitting when it
    /// returns.
    ///
    /// A node without `Extra` has no children to list, unless a `child()`
    /// is creating it right now. So it sets `QUIT` and looks again: a child
    /// whose `try_hold` came before that `QUIT` made the `Extra` before its
    /// `try_hold`, and our `quit` RMW acquires that `try_hold`, so the second
    /// look sees the `Extra`, and its lock (taken after the child's critical
    /// section, which holds that `try_hold`) shows the child. The same
    /// second look finds a count word made before the quit (see
    /// `make_shard`).
    fn quit_one(
        this: &Arc<Node>,
        cause: Option<&Arc<QuitCause>>,
        stack: &mut Vec<Arc<Node>>,
    ) -> bool {
        let extra = match cause {
            Some(_) => Some(this.extra()),
            None => this.extra.get().map(|extra| &**extra),
        };
        let (outcome, zero) = match extra {
            Some(extra) => {
                let mut family = extra.family.lock();
                let outcome = this.state.quit();
                if let (true, Some(cause)) = (outcome.first, cause) {
                    family.cause = Some(cause.clone());
                }
                push_children(&family, stack);
                let zero = outcome
                    .sweeps
                    .then(|| Node::sweep(this, extra, &mut family));
                (outcome, zero)
            }
            None => {
                let outcome = this.state.quit();
                let zero = match this.extra.get() {
                    Some(extra) => {
                        let mut family = extra.family.lock();
                        push_children(&family, stack);
                        outcome
                            .sweeps
                            .then(|| Node::sweep(this, extra, &mut family))
                    }
                    // No task, no child: nothing to close or keep.
                    None => outcome.sweeps.then(|| this.state.settle(0, false)),
                };
                (outcome, zero)
            }
        };
        if outcome.first {
            // After `QUIT`, and after this node's `Extra` was looked for
            // again: a waiter that stored its waker before `QUIT` made the
            // `Extra` first (see `waiters`).
            if let Some(extra) = this.extra.get() {
                extra.waiters.wake_all();
            }
        }
        if outcome.became_done || zero.flatten().is_some_and(|zero| zero.done) {
            this.became_done();
        }
        outcome.first
    }

    /// Runs the done transition of `self` and of every ancestor it
    /// completes: wake the done-waiters, release the hold on the parent.
    /// Ancestors stay alive through `self`'s chain of links.
    fn became_done(&self) {
        let mut node = self;
        loop {
            trace::done(&node.span);
            node.done_event.notify(usize::MAX);
            let Some(link) = &node.link else { return };
            let Some(zero) = link.parent.state.release() else {
                return;
            };
            if zero.keep {
                // Not the last `Arc`: `link` owns one.
                drop(link.parent.take_keep());
            }
            if !zero.done {
                return;
            }
            node = &link.parent;
        }
    }

    /// Every node of the subtree with live tasks, with its path and tasks,
    /// in depth-first order.
    pub(crate) fn live_tasks(this: &Arc<Node>) -> Vec<QuitterTasks> {
        let mut found = Vec::new();
        Node::walk(this, |path, node, children| {
            let tasks = node
                .extra
                .get()
                .map_or_else(Vec::new, |extra| extra.tasks.snapshot());
            let unpolled = node.unpolled(tasks.len(), children);
            if !tasks.is_empty() || unpolled > 0 {
                found.push(QuitterTasks {
                    path: path(),
                    tasks,
                    unpolled,
                });
            }
        });
        found
    }

    /// Every panic recorded in the subtree (including dropped descendants).
    pub(crate) fn panics(this: &Arc<Node>) -> Vec<TaskPanic> {
        let mut found = Vec::new();
        Node::walk(this, |_, node, _| {
            if let Some(extra) = node.extra.get() {
                found.extend(extra.family.lock().panics.iter().cloned());
            }
        });
        found
    }

    /// Visits every node of the subtree, depth first, with a lazy path
    /// maker (paths are built only for nodes that need one) and the node's
    /// live children. `visit` runs with no lock held.
    fn walk(this: &Arc<Node>, mut visit: impl FnMut(&dyn Fn() -> String, &Node, &[Arc<Node>])) {
        let base = this.parent().map(|parent| parent.path());
        // (node, depth below self); `names` is the path from self to the
        // node being visited.
        let mut stack: Vec<(Arc<Node>, usize)> = alloc::vec![(this.clone(), 0)];
        let mut names: Vec<Cow<'static, str>> = Vec::new();
        let mut children = Vec::new();
        while let Some((node, depth)) = stack.pop() {
            names.truncate(depth);
            names.push(node.name.clone());
            let make_path = || {
                let own = names.iter().map(|name| &**name);
                match &base {
                    Some(base) => join_path(core::iter::once(base.as_str()).chain(own)),
                    None => join_path(own),
                }
            };
            node.push_children(&mut children);
            visit(&make_path, &node, &children);
            // Reverse so that the first child is visited first.
            stack.extend(children.drain(..).rev().map(|child| (child, depth + 1)));
        }
    }
}

fn push_children(family: &Family, stack: &mut Vec<Arc<Node>>) {
    stack.extend(
        family
            .children
            .iter()
            .filter_map(|(_, child)| child.upgrade()),
    );
}

fn join_path<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut path = String::new();
    for name in names {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(name);
    }
    path
}

impl Drop for Node {
    /// Unlinks this node from its parent; if that drops the parent's last
    /// `Arc`, unlinks the parent too, and so on up, in a loop.
    fn drop(&mut self) {
        let Some(link) = self.link.take() else { return };
        let panics = take_panics(&mut self.extra);
        let mut parent = unlink(link, self.state.is_quit_rmw(), panics);
        loop {
            match Arc::try_unwrap(parent) {
                Ok(mut node) => {
                    let Some(link) = node.link.take() else { return };
                    let panics = take_panics(&mut node.extra);
                    parent = unlink(link, node.state.is_quit_rmw(), panics);
                    // `node` drops here with no link: its own `drop` is a no-op.
                }
                // Someone else still holds the parent. Should they drop it
                // between `try_unwrap` and here, this drop runs the parent's
                // `Drop`, which loops the same way: the depth stays bounded.
                Err(_) => return,
            }
        }
    }
}

/// Removes a dropped child (no handles, no tasks, no children) from its
/// parent, hands its panics up, sweeps the parent if that was its last
/// child and it has no handle left (see the module docs), and releases the
/// child's hold unless it was quit (a quit child with no holds is done and
/// released that hold already).
fn unlink(link: Link, was_quit: bool, panics: Vec<TaskPanic>) -> Arc<Node> {
    let Link { parent, slot } = link;
    // The parent's `Extra` exists (it holds our slot), and the slot holds
    // our `Weak`: nobody else removes it.
    let mut zero = None;
    if let Some(extra) = parent.extra.get() {
        let mut family = extra.family.lock();
        let _ = family.children.try_remove(slot);
        family.panics.extend(panics);
        // Under the lock, against the last handle's drop (which decrements
        // and then takes this lock): one of the two sees the other done.
        if family.children.is_empty()
            && parent.handles.load(Ordering::Acquire) == 0
            && parent.state.close()
        {
            zero = Node::sweep(&parent, extra, &mut family);
        }
    }
    if zero.is_some_and(|zero| zero.done) {
        parent.became_done();
    }
    if !was_quit {
        parent.release_hold();
    }
    parent
}

fn take_panics(extra: &mut OnceCell<Box<Extra>>) -> Vec<TaskPanic> {
    extra
        .get_mut()
        .map(|extra| core::mem::take(&mut extra.family.get_mut().panics))
        .unwrap_or_default()
}
