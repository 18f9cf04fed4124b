//! Aborting tasks at a deadline: the [`Quitter`] methods that make a
//! subtree abortable and abort it, how a tracked future ends its runtime
//! task once aborted ([`OnAbort`]), and the payload of that end
//! ([`Aborted`]). The walk itself is the tree's (`tree::abort`).

use core::fmt;
use core::task::Waker;

use super::quitter::Quitter;
use crate::report::AbortedTask;
use crate::tree::node::Node;

/// How a tracked future ends its runtime's task once it is aborted; given
/// to [`Tracked::abort_by`](crate::Tracked::abort_by) by a runtime adapter.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum OnAbort {
    /// Wake this waker, and stay pending until the runtime drops the task.
    /// The waker is the runtime's cancel hook: tokio's adapter gives one
    /// that calls the task's `AbortHandle::abort`, so its `JoinHandle`
    /// reports `JoinError::is_cancelled`.
    Wake(Waker),
    /// Unwind with an [`Aborted`] payload (`resume_unwind`: no panic
    /// message is printed). An executor that catches a task's panic, as
    /// smol's does, ends the task; awaiting it then panics, as awaiting a
    /// cancelled smol task does, and a detached one ends quietly.
    #[cfg(feature = "std")]
    Unwind,
}

/// The payload a tracked future unwinds with when it is aborted
/// ([`OnAbort::Unwind`]); also an error, for adapters that turn it into
/// one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Aborted;

impl fmt::Display for Aborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task was aborted by its quitter")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Aborted {}

impl Quitter {
    /// Aborts this quitter's subtree now: quits it if it was not quit,
    /// quits every stage not reached yet, and aborts every abortable task
    /// in it: the runtime adapters' tracked futures in an
    /// [abortable](Self::is_abortable) quitter are dropped at once (tokio
    /// cancels the task: its `JoinHandle` says `is_cancelled`) or at their
    /// next poll, and are reported as [aborted](crate::AbortedTask). Tasks
    /// that cannot be aborted ([`TaskGuard`](crate::TaskGuard)s, blocking
    /// work, a future stuck inside one poll) stay listed as hung.
    ///
    /// Returns `true` if this call started the abort.
    ///
    /// ```
    /// use quitter_core::{OnAbort, Quitter};
    /// let root = Quitter::new("main");
    /// root.make_abortable();
    /// // What an adapter's spawn does in an abortable quitter:
    /// let task = root
    ///     .track_future("stuck", std::future::pending::<()>())
    ///     .unwrap()
    ///     .abort_by(OnAbort::Unwind);
    /// let mut task = Box::pin(task);
    /// # use std::future::Future;
    /// let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
    /// assert!(task.as_mut().poll(&mut cx).is_pending());
    ///
    /// assert!(root.abort());
    /// let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     let _ = task.as_mut().poll(&mut cx);
    /// }));
    /// assert!(unwound.unwrap_err().is::<quitter_core::Aborted>());
    /// drop(task); // as the executor that caught the unwind does
    /// assert!(root.is_done());
    /// assert_eq!(root.aborted()[0].task.name, "stuck");
    /// ```
    pub fn abort(&self) -> bool {
        Node::abort(self.node())
    }

    /// Has this quitter been aborted (by its own [`abort`](Self::abort) or
    /// an ancestor's)? One atomic load.
    pub fn is_aborted(&self) -> bool {
        self.node().state.is_aborted()
    }

    /// Makes this quitter and every descendant abortable: the runtime
    /// adapters spawn their tasks so that an [abort](Self::abort) can end
    /// them (in tokio at the cost of one small allocation per spawn).
    /// Children made later inherit it. Tasks spawned before stay
    /// unabortable. A child made in a stage that
    /// [aborts on overrun](crate::Stage::abort_on_overrun) is abortable,
    /// and so is the whole tree under a `Shutdown` with
    /// `abort_on_timeout`.
    pub fn make_abortable(&self) {
        Node::make_abortable(self.node());
    }

    /// Are this quitter's tasks abortable (see
    /// [`make_abortable`](Self::make_abortable))? One atomic load.
    pub fn is_abortable(&self) -> bool {
        self.node().state.is_abortable()
    }

    /// Every task aborted in the subtree (including dropped descendants).
    pub fn aborted(&self) -> alloc::vec::Vec<AbortedTask> {
        Node::aborted(self.node())
    }
}
