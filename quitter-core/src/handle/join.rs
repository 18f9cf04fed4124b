//! The join: waiting for a [`Quitter`]'s subtree to be done (with a
//! deadline, keeping the stage budgets meanwhile), and what the subtree
//! can tell while it waits or after (live tasks, a snapshot, the stage
//! timeline, panics). Part of [`Quitter`]'s API, in a file of its own.
//!
//! Invariants: nothing here quits anything (a time-out reports and
//! returns; the caller decides), and every report is read from the tree
//! under its own locks, so it may be taken from any thread at any time.

use alloc::vec::Vec;
use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;

use super::futures::{Done, DoneOwned};
use super::quitter::Quitter;
use crate::report::{StageReport, TaskPanic, TimeoutReport, TreeSnapshot};
use crate::tasks::clock::Started;
use crate::tree::node::Node;

impl Quitter {
    /// A future ready once this quitter has quit and every task of its
    /// subtree has ended. Cancel-safe; it does not quit anything itself.
    pub fn done(&self) -> Done<'_> {
        Done::new(self.node())
    }

    /// [`done`](Self::done) that owns this handle (`'static`).
    pub fn done_owned(self) -> DoneOwned {
        DoneOwned::new(self)
    }

    /// Waits for [`done`](Self::done) or `deadline`, whichever is first.
    ///
    /// `deadline` is any future (a runtime's sleep, a channel, …), so this
    /// needs no runtime. On time-out, the report lists every quitter of the
    /// subtree with live tasks (or idle task tables). It does not quit:
    /// call `quit` first.
    pub async fn wait_done_until<D: Future>(&self, deadline: D) -> Result<(), TimeoutReport> {
        let mut done = self.done();
        let mut deadline = pin!(deadline);
        let finished = poll_fn(|cx| {
            if core::pin::Pin::new(&mut done).poll(cx).is_ready() {
                Poll::Ready(true)
            } else {
                deadline.as_mut().poll(cx).map(|_| false)
            }
        })
        .await;
        if finished || self.is_done() {
            Ok(())
        } else {
            let report = self.live_tasks();
            crate::trace::timed_out(&report);
            Err(report)
        }
    }

    /// Waits for [`done`](Self::done) for at most `timeout`, with `sleep`
    /// as the timer (the adapters pass their runtime's), keeping the stage
    /// budgets of the subtree meanwhile: a stage that overruns its budget
    /// has the next one quit anyway (see [`Stage`](crate::Stage)). Otherwise as
    /// [`wait_done_until`](Self::wait_done_until).
    #[cfg(feature = "std")]
    pub async fn wait_done_timed<S: Future>(
        &self,
        timeout: core::time::Duration,
        sleep: impl Fn(core::time::Duration) -> S,
    ) -> Result<(), TimeoutReport> {
        let mut budgets = super::budgets::StageBudgets::new(self.node().clone(), &sleep, timeout);
        let deadline = sleep(timeout);
        let mut deadline = pin!(deadline);
        let deadline = poll_fn(|cx| {
            let _ = budgets.poll(cx);
            deadline.as_mut().poll(cx)
        });
        self.wait_done_until(deadline).await
    }

    /// A snapshot of the live tasks of the subtree, as a time-out would
    /// report them.
    pub fn live_tasks(&self) -> TimeoutReport {
        TimeoutReport {
            quitters: Node::live_tasks(self.node()),
        }
    }

    /// The live subtree as it stands, without quitting anything: each
    /// quitter's path and state, each live task's name, spawn location
    /// and age, depth first. For a dump on demand (the adapters'
    /// `Shutdown::dump_tree_on_signal`) or an admin endpoint.
    pub fn snapshot(&self) -> TreeSnapshot {
        TreeSnapshot {
            quitters: Node::snapshot(self.node()),
        }
    }

    /// The timeline of every stop order in the subtree (see [`Stage`]):
    /// for each quitter with staged children, one [`StageReport`] a stage,
    /// in order, times counted from `since`.
    pub(crate) fn stage_timeline(&self, since: Started) -> Vec<StageReport> {
        Node::staged_nodes(self.node())
            .into_iter()
            .flat_map(|(path, node)| Node::stage_reports(&node, &path, since))
            .collect()
    }

    /// Every task of the subtree that panicked (kept even after the
    /// quitter that tracked it was dropped).
    pub fn panics(&self) -> Vec<TaskPanic> {
        Node::panics(self.node())
    }
}
