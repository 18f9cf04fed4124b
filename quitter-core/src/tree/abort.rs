//! Aborting: the walk that sets `ABORT` on a node and every descendant
//! ([`Node::abort`]) and wakes their abortable tasks, so that each drops
//! its future at its next poll (see `handle::tracked`), and the record of
//! the tasks that were (`Family::aborted`, reported as [`AbortedTask`]).
//!
//! A node is *abortable* (`ABORTABLE`, inherited by the children made
//! under it) when its tasks may be aborted: the runtime adapters then give
//! each tracked future a way to end its runtime task (tokio: its abort
//! handle; smol: an unwind its executor catches). Marking costs nothing
//! else: tasks of a node that is not abortable register no waker.
//!
//! Invariants:
//! - An abort implies a quit: every node is quit (with
//!   [`QuitCause::ABORTED`] if nothing quit it before) *before* `ABORT` is
//!   set and its children are listed, so no child or task is added to an
//!   aborted node, and every child is reached.
//! - A staged node's stages are all entered, each one not done marked as
//!   overrun: an abort is a deadline.
//! - A task that registered its abort waker before the walk took the
//!   wakers is woken; one that registers after it sees `ABORT` (it
//!   registers, then loads the word: the walk sets the word, then takes the
//!   wakers under the registry's locks). Wakers run outside every lock.

use alloc::vec::Vec;

use super::node::Node;
use super::work::Work;
use crate::report::{AbortedTask, QuitCause, TaskInfo};
use crate::sync::Arc;

impl Node {
    /// Aborts this node's subtree (see the module docs). Returns `true` if
    /// this call set `ABORT` on `this`.
    pub(crate) fn abort(this: &Arc<Node>) -> bool {
        let first = !this.state.is_aborted();
        let mut work = Work::default();
        work.abort.push(this.clone());
        work.finish();
        first
    }

    /// One node of the abort walk: quits it if it is not, enters every
    /// stage it has left, sets `ABORT`, and queues its children and its
    /// tasks' abort wakers on `work`. A node aborted already is passed
    /// over: the walk that aborted it reaches its subtree.
    pub(super) fn abort_one(this: &Arc<Node>, work: &mut Work) {
        if this.state.is_aborted() {
            return;
        }
        if !this.state.is_quit() {
            let cause = Arc::new(QuitCause::new(QuitCause::ABORTED));
            Node::quit_one(this, Some(&cause), work);
        }
        if this.state.is_staged() {
            while Node::overrun_stage_in(this, None, false, work) {}
        }
        if !this.state.abort() {
            return;
        }
        this.push_children(&mut work.abort);
        if let Some(extra) = this.extra.get() {
            extra.tasks.take_abort_wakers(&mut work.wake);
        }
    }

    /// Marks this node and every descendant abortable.
    pub(crate) fn make_abortable(this: &Arc<Node>) {
        let mut stack = alloc::vec![this.clone()];
        let mut children = Vec::new();
        while let Some(node) = stack.pop() {
            // Under the family lock (taken by `push_children`, after the
            // mark): a child made now sees the mark, or is pushed.
            node.state.mark_abortable();
            node.push_children(&mut children);
            stack.append(&mut children);
        }
    }

    /// Records that `task` (which is ending) was aborted.
    pub(crate) fn record_abort(&self, task: TaskInfo) {
        let aborted = AbortedTask {
            path: self.path(),
            task,
        };
        crate::trace::aborted(&self.span, &aborted);
        self.extra().family.lock().aborted.push(aborted);
    }
}
