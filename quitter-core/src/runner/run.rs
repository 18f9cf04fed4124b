//! One run of a [`MainRunner`], step by step: the first event (or a quit
//! by code), the lame duck, the quit, the wait for the tree until the
//! deadline, the abort and its grace, the report. The builder and its
//! settings are in `main_runner`.
//!
//! Invariants:
//! - the root is quit once, with the first event's cause (a quit by code
//!   keeps its own), and only after the lame duck (cut short by a second
//!   event or a quit by code);
//! - observers hear `Running`, `Stopping`, `Quitting`, then `Aborting` if
//!   the deadline aborts, and `Done` last, once each, in that order
//!   (`Progress` ticks, from the deadline's watcher, come between
//!   `Quitting` and `Done`);
//! - a second event counts only after the first (see `Sources`), and a
//!   forced end is reported as forced only if the tree was not done.

use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::Poll;

use super::main_runner::MainRunner;
use super::phase::Phase;
use super::watchers::{tell, KeepBudgets};
use crate::handle::quitter::Quitter;
use crate::report::{ExitReport, LameDuck, QuitCause};
use crate::tasks::clock::Started;

impl MainRunner<'_> {
    /// Runs: see the module docs. `make_budgets` keeps the stage budgets
    /// while the tree is waited for.
    pub(super) async fn run_keeping<D, M, B>(
        self,
        make_deadline: M,
        make_budgets: impl FnOnce(&Quitter) -> B,
    ) -> ExitReport
    where
        M: FnOnce() -> D,
        D: Future,
        B: KeepBudgets,
    {
        let MainRunner {
            root,
            mut sources,
            lame_duck,
            abort_grace,
            force_on_second_event,
            forced_exit_code,
            observers,
            ..
        } = self;
        tell(&observers, &Phase::Running);

        // 1. The first event, or a quit by code.
        let event = {
            let mut quitted = pin!(root.quitted());
            poll_fn(|cx| {
                if quitted.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                // With every source ended (or none), only a quit by code
                // is left to wait for, and `quitted` has registered for it.
                sources.poll_first(cx, &root).map(Some)
            })
            .await
        };

        // The timeline's origin.
        let first_event = Started::now();
        let cause = match event {
            Some(event) => {
                let label = sources.labels.get(event.index).cloned().unwrap_or_default();
                let mut cause = QuitCause::new(label).with_index(event.index);
                cause.detail = event.detail;
                cause.failure = event.failure;
                Some(cause)
            }
            None => None,
        };
        let draining = cause.is_some() && lame_duck.is_some();
        if draining {
            root.start_draining();
        }
        if !observers.borrow().is_empty() {
            let stopping = match &cause {
                Some(cause) => cause.clone(),
                None => root
                    .cause()
                    .unwrap_or_else(|| QuitCause::new(QuitCause::REQUESTED)),
            };
            let phase = Phase::Stopping {
                cause: &stopping,
                lame_duck: draining,
            };
            tell(&observers, &phase);
        }

        // 2. The lame duck: draining until the delay, a second event, or a
        // quit by code.
        let mut lame_duck_report = None;
        if let (true, Some(delay)) = (draining, lame_duck) {
            let started = Started::now();
            let mut delay = delay();
            let mut quitted = pin!(root.quitted());
            let cut_short = poll_fn(|cx| {
                if delay.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(false);
                }
                if quitted.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                sources.poll_second(cx, &root, true).map(|()| true)
            })
            .await;
            lame_duck_report = Some(LameDuck {
                lasted: started.age(),
                cut_short,
            });
        }
        if let Some(cause) = cause {
            root.quit_with(cause);
        }
        tell(&observers, &Phase::Quitting { root: &root });
        let mut budgets = make_budgets(&root);

        // 3. The wait for the tree, until the deadline or another event.
        let mut forced = false;
        let done = {
            let mut done = root.done();
            let mut deadline = pin!(make_deadline());
            poll_fn(|cx| {
                if Pin::new(&mut done).poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                budgets.keep(cx);
                if sources
                    .poll_second(cx, &root, force_on_second_event)
                    .is_ready()
                {
                    forced = true;
                    return Poll::Ready(false);
                }
                deadline.as_mut().poll(cx).map(|_| false)
            })
            .await
        };
        let mut done = done || root.is_done();
        // 4. At the deadline, the abort: drop what is left, then wait a
        // grace for it to go.
        if let (false, false, Some(grace)) = (done, forced, abort_grace) {
            tell(&observers, &Phase::Aborting { root: &root });
            root.abort();
            let mut done_now = root.done();
            let mut grace = grace();
            done = poll_fn(|cx| {
                if Pin::new(&mut done_now).poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                if sources
                    .poll_second(cx, &root, force_on_second_event)
                    .is_ready()
                {
                    forced = true;
                    return Poll::Ready(false);
                }
                grace.as_mut().poll(cx).map(|()| false)
            })
            .await
                || root.is_done();
        }
        let timed_out = if done {
            alloc::vec::Vec::new()
        } else {
            let hung = root.live_tasks();
            crate::trace::timed_out(&hung);
            hung.quitters
        };

        let report = ExitReport {
            cause: root
                .cause()
                .unwrap_or_else(|| QuitCause::new(QuitCause::REQUESTED)),
            lame_duck: lame_duck_report,
            stages: root.stage_timeline(first_event),
            timed_out,
            panicked: root.panics(),
            aborted: root.aborted(),
            forced: forced && !done,
            forced_exit_code,
        };
        crate::trace::exit(&report);
        tell(&observers, &Phase::Done(&report));
        report
    }
}
