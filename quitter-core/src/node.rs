//! One node of the quit tree, and the three walks over it: quit flowing
//! down, done flowing up, and unlinking on drop.
//!
//! Ownership: a [`Quitter`](crate::Quitter) handle, a
//! [`TaskGuard`](crate::TaskGuard) and every child node each own one `Arc` of
//! the node; the parent owns only a `Weak` (in its `children` slab). So a
//! node lives while anyone can still act on it, and the last drop unlinks it
//! from its parent: a child per connection costs nothing once the
//! connection is gone.
//!
//! Invariants (with those of [`State`]):
//! - Lock order: a walk never holds two node locks at once. `Arc`s upgraded
//!   under a lock are dropped only after it is released (a last drop locks
//!   the parent).
//! - A child is created, and a task registered, under its parent's/node's
//!   lock with [`State::try_hold`]; [`Node::quit`] sets `QUIT` under the same
//!   lock before listing the children. So a child is either refused or seen
//!   by the quit, and a task either refused or counted: nothing is lost.
//! - A child holds one hold on its parent from creation until it is done
//!   (quit and without holds) or dropped unquit, whichever comes first.
//! - All three walks are loops with an explicit stack or a parent pointer,
//!   never recursion, so a 100 000-deep chain is fine.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::panic::Location;

use event_listener::Event;
use slab::Slab;

use crate::cause::QuitCause;
use crate::report::{QuitterTasks, TaskPanic};
use crate::state::State;
use crate::sync::{Arc, Mutex, Weak};
use crate::task::{Started, TaskInfo, TaskMeta};
use crate::trace::{self, NodeSpan};
use crate::AlreadyQuit;

pub(crate) struct Node {
    name: Cow<'static, str>,
    link: Option<Link>,
    pub(crate) state: State,
    pub(crate) quit_event: Event,
    pub(crate) done_event: Event,
    inner: Mutex<Inner>,
    pub(crate) span: NodeSpan,
}

/// A child's place in its parent.
struct Link {
    parent: Arc<Node>,
    slot: usize,
}

#[derive(Default)]
struct Inner {
    cause: Option<Arc<QuitCause>>,
    children: Slab<Weak<Node>>,
    tasks: Slab<TaskMeta>,
    /// Panics of tasks of this node, and of dropped descendants.
    panics: Vec<TaskPanic>,
}

impl Node {
    fn new(name: Cow<'static, str>, link: Option<Link>) -> Node {
        let span = NodeSpan::new(&name, link.as_ref().map(|link| &link.parent.span));
        Node {
            span,
            name,
            link,
            state: State::new(),
            quit_event: Event::new(),
            done_event: Event::new(),
            inner: Mutex::new(Inner::default()),
        }
    }

    pub(crate) fn root(name: Cow<'static, str>) -> Arc<Node> {
        Arc::new(Node::new(name, None))
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

    pub(crate) fn cause(&self) -> Option<QuitCause> {
        self.inner.lock().cause.as_deref().cloned()
    }

    pub(crate) fn child_count(&self) -> usize {
        self.inner.lock().children.len()
    }

    pub(crate) fn task_count(&self) -> usize {
        self.inner.lock().tasks.len()
    }

    pub(crate) fn child(
        this: &Arc<Node>,
        name: Cow<'static, str>,
    ) -> Result<Arc<Node>, AlreadyQuit> {
        let mut inner = this.inner.lock();
        if !this.state.try_hold() {
            return Err(AlreadyQuit);
        }
        let entry = inner.children.vacant_entry();
        let link = Link {
            parent: this.clone(),
            slot: entry.key(),
        };
        let child = Arc::new(Node::new(name, Some(link)));
        entry.insert(Arc::downgrade(&child));
        Ok(child)
    }

    pub(crate) fn track(
        &self,
        name: Cow<'static, str>,
        location: &'static Location<'static>,
    ) -> Result<usize, AlreadyQuit> {
        let meta = TaskMeta {
            name,
            location,
            started: Started::now(),
        };
        let mut inner = self.inner.lock();
        if !self.state.try_hold() {
            return Err(AlreadyQuit);
        }
        Ok(inner.tasks.insert(meta))
    }

    pub(crate) fn task_info(&self, key: usize) -> TaskInfo {
        let inner = self.inner.lock();
        match inner.tasks.get(key) {
            Some(meta) => meta.snapshot(),
            // Unreachable: the guard owning `key` is alive (module invariant
            // of `task`). Answer rather than panic.
            None => TaskInfo {
                name: Cow::Borrowed("<ended>"),
                location: Location::caller(),
                age: None,
            },
        }
    }

    /// Ends the task registered under `key`: unregister, then release.
    pub(crate) fn end_task(&self, key: usize) {
        let meta = self.inner.lock().tasks.try_remove(key);
        drop(meta);
        if self.state.release() {
            self.became_done();
        }
    }

    pub(crate) fn record_panic(&self, key: usize, message: String) {
        let path = self.path();
        let mut inner = self.inner.lock();
        if let Some(meta) = inner.tasks.get(key) {
            let panic = TaskPanic {
                path,
                task: meta.snapshot(),
                message,
            };
            trace::panicked(&self.span, &panic);
            inner.panics.push(panic);
        }
    }

    /// Quits this node and every descendant, iteratively. Returns `true` if
    /// this call quit `self` (first cause wins).
    pub(crate) fn quit(&self, cause: QuitCause) -> bool {
        let cause = Arc::new(cause);
        let mut stack: Vec<Arc<Node>> = Vec::new();
        let first = self.quit_one(&cause, &mut stack);
        if first {
            trace::quit(&self.span, || self.path(), &cause);
        }
        while let Some(node) = stack.pop() {
            node.quit_one(&cause, &mut stack);
            // `node` may be the last handle: its drop locks its parent,
            // which this loop does not hold.
        }
        first
    }

    /// Sets `QUIT` on one node and pushes its children. Children are pushed
    /// even if the node had already quit: a concurrent quit may have set the
    /// bit without having reached the children yet, and `quit()` promises
    /// that every descendant is quitting when it returns.
    fn quit_one(&self, cause: &Arc<QuitCause>, stack: &mut Vec<Arc<Node>>) -> bool {
        let outcome = {
            let mut inner = self.inner.lock();
            let outcome = self.state.quit();
            if outcome.first {
                inner.cause = Some(cause.clone());
            }
            stack.extend(
                inner
                    .children
                    .iter()
                    .filter_map(|(_, child)| child.upgrade()),
            );
            outcome
        };
        if outcome.first {
            self.quit_event.notify(usize::MAX);
        }
        if outcome.became_done {
            self.became_done();
        }
        outcome.first
    }

    /// Runs the done transition of `self` and of every ancestor it
    /// completes: wake the done-waiters, release the hold on the parent.
    fn became_done(&self) {
        let mut node = self;
        loop {
            trace::done(&node.span);
            node.done_event.notify(usize::MAX);
            match &node.link {
                Some(link) if link.parent.state.release() => node = &link.parent,
                _ => return,
            }
        }
    }

    /// Every node of the subtree with live tasks, with its path and tasks,
    /// in depth-first order.
    pub(crate) fn live_tasks(this: &Arc<Node>) -> Vec<QuitterTasks> {
        let mut found = Vec::new();
        Node::walk(this, |path, inner| {
            if !inner.tasks.is_empty() {
                found.push(QuitterTasks {
                    path: path(),
                    tasks: inner
                        .tasks
                        .iter()
                        .map(|(_, meta)| meta.snapshot())
                        .collect(),
                });
            }
        });
        found
    }

    /// Every panic recorded in the subtree (including dropped descendants).
    pub(crate) fn panics(this: &Arc<Node>) -> Vec<TaskPanic> {
        let mut found = Vec::new();
        Node::walk(this, |_, inner| found.extend(inner.panics.iter().cloned()));
        found
    }

    /// Visits every node of the subtree under its lock, depth first, with a
    /// lazy path maker (paths are built only for nodes that need one).
    fn walk(this: &Arc<Node>, mut visit: impl FnMut(&dyn Fn() -> String, &Inner)) {
        let base = this.parent().map(|parent| parent.path());
        // (node, depth below self); `names` is the path from self to the
        // node being visited.
        let mut stack: Vec<(Arc<Node>, usize)> = alloc::vec![(this.clone(), 0)];
        let mut names: Vec<Cow<'static, str>> = Vec::new();
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
            let mut children = Vec::new();
            {
                let inner = node.inner.lock();
                visit(&make_path, &inner);
                children.extend(
                    inner
                        .children
                        .iter()
                        .filter_map(|(_, child)| child.upgrade()),
                );
            }
            // Reverse so that the first child is visited first.
            stack.extend(children.into_iter().rev().map(|child| (child, depth + 1)));
        }
    }
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
        let panics = core::mem::take(&mut self.inner.get_mut().panics);
        let mut parent = unlink(link, self.state.is_quit_at_drop(), panics);
        loop {
            match Arc::try_unwrap(parent) {
                Ok(mut node) => {
                    let Some(link) = node.link.take() else { return };
                    let panics = core::mem::take(&mut node.inner.get_mut().panics);
                    parent = unlink(link, node.state.is_quit_at_drop(), panics);
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
/// parent, hands its panics up, and releases its hold unless it was quit
/// (a quit child with no holds is done and released that hold already).
fn unlink(link: Link, was_quit: bool, panics: Vec<TaskPanic>) -> Arc<Node> {
    let Link { parent, slot } = link;
    {
        let mut inner = parent.inner.lock();
        // The slot holds our `Weak`; nobody else removes it.
        let _ = inner.children.try_remove(slot);
        inner.panics.extend(panics);
    }
    if !was_quit && parent.state.release() {
        parent.became_done();
    }
    parent
}
