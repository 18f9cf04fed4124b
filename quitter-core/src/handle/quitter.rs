//! [`Quitter`], the public handle to one node of the quit tree.
//!
//! A handle is one `Arc`, counted as a handle too (see `tree`): cloning is
//! two reference-count increments, and dropping the last handle of a child
//! with no live task unlinks it from its parent. All the state and its
//! invariants live in `tree`; this file is the API (the join and the
//! reports are in `join`).

use alloc::borrow::Cow;
use core::fmt;
use core::future::Future;

use super::futures::{Draining, DrainingOwned, Quitted, QuittedOwned, RunUntilQuit};
use super::guard::TaskGuard;
use super::serial::SerialTask;
use super::table::TaskTable;
use super::tracked::Tracked;
use crate::error::AlreadyQuit;
use crate::report::QuitCause;
use crate::sync::Arc;
use crate::tree::node::Node;
use crate::tree::slot::TaskSlot;
use crate::tree::stage::Stage;

/// A cheap, cloneable, `Send + Sync` handle to one node of a quit tree.
///
/// See the [crate documentation](crate) for the model.
pub struct Quitter {
    node: Arc<Node>,
}

impl Clone for Quitter {
    fn clone(&self) -> Self {
        Quitter::handle(&self.node)
    }
}

impl Drop for Quitter {
    fn drop(&mut self) {
        Node::drop_handle(&self.node);
    }
}

impl Quitter {
    /// A new root quitter.
    ///
    /// Roots are plain values: make as many as you like (tests do). What
    /// must be unique in a process is the installation of signal handlers,
    /// which the runtime adapters refuse to do twice.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Quitter {
        Quitter {
            node: Node::root(name.into()),
        }
    }

    /// The handle of a node just made (it counts its first handle).
    fn from_new_node(node: Arc<Node>) -> Quitter {
        Quitter { node }
    }

    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// A new handle of `node`, made from one that lives.
    pub(crate) fn handle(node: &Arc<Node>) -> Quitter {
        node.add_handle();
        Quitter { node: node.clone() }
    }

    /// This quitter's own name.
    pub fn name(&self) -> &str {
        self.node.name()
    }

    /// The names from the root down to this quitter, joined by `/`, e.g.
    /// `main/http/conn-42`.
    pub fn path(&self) -> alloc::string::String {
        self.node.path()
    }

    /// The parent, unless this is a root.
    pub fn parent(&self) -> Option<Quitter> {
        // `self` is a live child of the parent, so the parent has not been
        // swept and may get a new handle (see `node`).
        self.node.parent().map(Quitter::handle)
    }

    /// A child quitter: it quits when `self` (or an ancestor) quits, can be
    /// quit and waited for on its own, and holds `self` open until its own
    /// subtree is done. Refused once `self` has quit.
    ///
    /// Dropping every handle of a child with no live task removes it from
    /// `self`, so a child per connection does not accumulate.
    pub fn child(&self, name: impl Into<Cow<'static, str>>) -> Result<Quitter, AlreadyQuit> {
        self.child_in(name, Stage::FIRST)
    }

    /// A child in `stage` of this quitter's stop order: when this quitter
    /// quits, its children stop stage by stage, each stage once every
    /// child of the one before is done (or overran its budget, where a
    /// timed wait enforces budgets). Otherwise as [`child`](Self::child).
    ///
    /// ```
    /// use quitter_core::{Quitter, Stage};
    /// let root = Quitter::new("main");
    /// let http = root.child("http").unwrap(); // stage 0: stops first
    /// let workers = root.child_in("workers", Stage::after(&http)).unwrap();
    /// let telemetry = root.child_in("telemetry", Stage::after(&workers)).unwrap();
    ///
    /// let request = http.track("GET /").unwrap();
    /// root.quit();
    /// assert!(http.is_quitting());
    /// assert!(!workers.is_quitting()); // waits for http
    /// drop(request); // http is done: workers quit, then telemetry (idle)
    /// assert!(workers.is_quitting() && telemetry.is_quitting());
    /// ```
    pub fn child_in(
        &self,
        name: impl Into<Cow<'static, str>>,
        stage: Stage,
    ) -> Result<Quitter, AlreadyQuit> {
        Node::child(&self.node, name.into(), stage).map(Quitter::from_new_node)
    }

    /// This quitter's stage in its parent's stop order (the first for a
    /// root or a child made without one).
    pub fn stage(&self) -> Stage {
        Stage::new(self.node.stage())
    }

    /// How many children are linked to this quitter right now.
    pub fn child_count(&self) -> usize {
        self.node.child_count()
    }

    /// How many tasks this quitter itself tracks right now (not its
    /// children's).
    pub fn task_count(&self) -> usize {
        self.node.task_count()
    }

    /// Quits this quitter and all its descendants, with the cause
    /// [`QuitCause::REQUESTED`]. See [`quit_with`](Self::quit_with).
    pub fn quit(&self) -> bool {
        self.quit_with(QuitCause::new(QuitCause::REQUESTED))
    }

    /// Quits this quitter and all its descendants: each refuses new tasks and
    /// children from now on (but rows of a [`TaskTable`] made before) and
    /// wakes its `quitted()` waiters. When this
    /// returns, every descendant is quitting.
    ///
    /// Idempotent: returns `true` only for the call that quit `self`; the
    /// first cause is kept. Synchronous and without any task per child; the
    /// walk is a loop, so any depth is fine.
    pub fn quit_with(&self, cause: QuitCause) -> bool {
        Node::quit(&self.node, cause)
    }

    /// Has this quitter been told to quit? One atomic load.
    #[inline]
    pub fn is_quitting(&self) -> bool {
        self.node.state.is_quit()
    }

    /// Puts this quitter and all its descendants into *draining* (a lame
    /// duck): each reports [`is_draining`](Self::is_draining) and wakes its
    /// [`draining()`](Self::draining) waiters. Nothing else changes: tasks
    /// and children are still accepted and work goes on; this is the time
    /// to stop being *ready* (a readiness endpoint answers 503, a server
    /// sends `Connection: close`) before the quit. Children made later
    /// start draining. A quit implies draining.
    ///
    /// Idempotent: returns `true` only for the call that started it on
    /// `self`. When this returns, every descendant is draining.
    pub fn start_draining(&self) -> bool {
        Node::drain(&self.node)
    }

    /// Is this quitter draining (or quitting, which implies it)? One
    /// atomic load, like [`is_quitting`](Self::is_quitting). A readiness
    /// check is `!q.is_draining()`.
    #[inline]
    pub fn is_draining(&self) -> bool {
        self.node.state.is_draining()
    }

    /// Has this quitter quit, with every task of its subtree ended?
    pub fn is_done(&self) -> bool {
        self.node.state.is_done()
    }

    /// Why this quitter quit: its own first cause, or the one it inherited
    /// from the ancestor whose quit reached it. `None` before quit.
    pub fn cause(&self) -> Option<QuitCause> {
        self.node.cause()
    }

    /// A future ready once this quitter is quitting. Cancel-safe; ready at
    /// once if it already is. It never allocates: while pending it is
    /// linked in place into this quitter's waiters, so it is `!Unpin`.
    pub fn quitted(&self) -> Quitted<'_> {
        Quitted::new(&self.node)
    }

    /// [`quitted`](Self::quitted) that owns this handle, so the future is
    /// `'static`: for `tokio::spawn`, or a server's graceful-shutdown hook
    /// (`axum::serve(..).with_graceful_shutdown(http.clone().quitted_owned())`).
    /// No allocation, no task (like `CancellationToken::cancelled_owned`).
    pub fn quitted_owned(self) -> QuittedOwned {
        QuittedOwned::new(self)
    }

    /// A future ready once this quitter is draining (or quitting).
    /// Cancel-safe; ready at once if it already is; allocates nothing
    /// (`!Unpin`, as [`quitted`](Self::quitted)).
    pub fn draining(&self) -> Draining<'_> {
        Draining::new(&self.node)
    }

    /// [`draining`](Self::draining) that owns this handle (`'static`).
    pub fn draining_owned(self) -> DrainingOwned {
        DrainingOwned::new(self)
    }

    /// Runs `future` until it completes (`Some`) or this quitter quits
    /// (`None`; the future is dropped unfinished).
    pub fn run_until_quit<F: Future>(&self, future: F) -> RunUntilQuit<'_, F> {
        RunUntilQuit::new(&self.node, future)
    }

    /// Registers one task, named `name`, at the caller's location.
    ///
    /// Atomic with respect to [`quit`](Self::quit): the task is either
    /// refused (`Err`, nothing registered) or counted, so [`done`](Self::done)
    /// waits for it. Dropping the guard ends the task. Names need not be
    /// unique: every call is its own entry.
    #[track_caller]
    pub fn track(&self, name: impl Into<Cow<'static, str>>) -> Result<TaskGuard, AlreadyQuit> {
        let location = core::panic::Location::caller();
        TaskGuard::track(self, name.into(), location).ok_or(AlreadyQuit)
    }

    /// Tracks `future` as one task named `name`: the task ends when the
    /// future completes or is dropped; with `std` a panic inside it is
    /// recorded (and resumed). Refused once quit, without touching `future`.
    /// This is what the runtime adapters' `spawn` wrap.
    ///
    /// The task counts (holds the quitter open) from this call, on a count
    /// word of the calling thread's own, and is listed by name, location and
    /// age from its first poll, on the thread that polls it: a spawn writes
    /// no cache line that the workers write (up to 8 threads; more share
    /// words), and a report counts a task that was never polled as such.
    /// The task's registry entry lives inside the returned future (which is
    /// why it is `!Unpin`), so tracking allocates nothing.
    #[track_caller]
    pub fn track_future<F: Future>(
        &self,
        name: impl Into<Cow<'static, str>>,
        future: F,
    ) -> Result<Tracked<F>, AlreadyQuit> {
        self.track_future_at(name, future, core::panic::Location::caller())
    }

    /// [`track_future`](Self::track_future), recorded at `location`
    /// instead of the caller's: for a helper that tracks tasks on its own
    /// caller's behalf (a serve helper's connections and requests are
    /// reported where the user called it, not inside the helper).
    pub fn track_future_at<F: Future>(
        &self,
        name: impl Into<Cow<'static, str>>,
        future: F,
        location: &'static core::panic::Location<'static>,
    ) -> Result<Tracked<F>, AlreadyQuit> {
        let slot = TaskSlot::take(&self.node, name.into(), location).ok_or(AlreadyQuit)?;
        Ok(Tracked::new(future, slot))
    }

    /// A task record for tasks that run one after another (the requests
    /// of one HTTP/1 connection), reported where this is called: see
    /// [`SerialTask`].
    #[track_caller]
    pub fn serial_task(&self) -> SerialTask {
        SerialTask::new(self, core::panic::Location::caller())
    }

    /// [`serial_task`](Self::serial_task), reported at `location` (for a
    /// helper that tracks on its caller's behalf).
    pub fn serial_task_at(&self, location: &'static core::panic::Location<'static>) -> SerialTask {
        SerialTask::new(self, location)
    }

    /// A table of short tasks (the requests of one connection), reported
    /// where this is called: see [`TaskTable`]. `None` once this has quit
    /// (its tasks can start after that: the table holds this open). A
    /// table with no live task holds this open too, as an idle table: not
    /// a task, but counted apart in reports (`idle_tables`) and named there
    /// where nothing else holds this. Drop it when its owner is done.
    #[track_caller]
    pub fn task_table(&self) -> Option<TaskTable> {
        TaskTable::new(self, core::panic::Location::caller())
    }

    /// [`task_table`](Self::task_table), reported at `location` (for a
    /// helper that tracks on its caller's behalf).
    pub fn task_table_at(
        &self,
        location: &'static core::panic::Location<'static>,
    ) -> Option<TaskTable> {
        TaskTable::new(self, location)
    }

    /// This quitter's `tracing` span (`quitter{name=…}`, nested like the
    /// tree): instrument its tasks with it to see their events in context.
    #[cfg(feature = "tracing")]
    pub fn span(&self) -> &tracing::Span {
        self.node.span.span()
    }

    /// Do both handles point to the same quitter?
    pub fn ptr_eq(&self, other: &Quitter) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
}

impl fmt::Debug for Quitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Quitter")
            .field("path", &self.path())
            .field("quitting", &self.is_quitting())
            .field("holds", &self.node.holds())
            .finish()
    }
}

impl Stage {
    /// The stage after `sibling`'s: a child made in it quits once
    /// `sibling`'s stage is done.
    pub fn after(sibling: &Quitter) -> Stage {
        sibling.stage().next()
    }
}
