//! What runs beside a shutdown's waits: the observers of its [`Phase`]s
//! (told in the order added, on the shutdown's task), the progress ticks
//! that hand them a [`DrainProgress`](crate::DrainProgress) while the tree
//! is waited for, and the keeper of stage budgets.
//!
//! Invariants: an observer is never called while another is (the list is
//! borrowed for one phase at a time, and a phase is told synchronously);
//! progress is taken only after the quit, every period from the quit, and
//! never after the deadline.

use alloc::boxed::Box;
use alloc::rc::Rc;
use core::cell::RefCell;
#[cfg(feature = "std")]
use core::future::{poll_fn, Future};
#[cfg(feature = "std")]
use core::pin::pin;
use core::task::Context;
#[cfg(feature = "std")]
use core::task::Poll;

use super::phase::Phase;
#[cfg(feature = "std")]
use crate::handle::quitter::Quitter;
#[cfg(feature = "std")]
use crate::tasks::clock::Started;

/// One observer of the run's [`Phase`]s.
pub(crate) type Observer<'a> = Box<dyn FnMut(&Phase<'_>) + 'a>;

/// The observers, shared by the run and its progress ticks.
pub(crate) type Observers<'a> = Rc<RefCell<alloc::vec::Vec<Observer<'a>>>>;

/// Hands `phase` to every observer, in the order they were added.
pub(crate) fn tell(observers: &Observers<'_>, phase: &Phase<'_>) {
    for observer in observers.borrow_mut().iter_mut() {
        observer(phase);
    }
}

/// What the wait after the quit runs beside it to keep stage budgets.
pub(crate) trait KeepBudgets {
    fn keep(&mut self, cx: &mut Context<'_>);
}

/// No timer, no budgets: stages move on only when done.
pub(crate) struct NoBudgets;

impl KeepBudgets for NoBudgets {
    fn keep(&mut self, _: &mut Context<'_>) {}
}

#[cfg(feature = "std")]
impl<T: crate::handle::budgets::Timer> KeepBudgets for crate::handle::budgets::StageBudgets<'_, T> {
    fn keep(&mut self, cx: &mut Context<'_>) {
        let _ = self.poll(cx);
    }
}

/// `sleep(timeout)`, taking a [`DrainProgress`](crate::DrainProgress) of
/// `root` every so often meanwhile, if asked to.
#[cfg(feature = "std")]
pub(crate) async fn deadline_with_progress<S: Future>(
    sleep: &impl Fn(core::time::Duration) -> S,
    timeout: core::time::Duration,
    progress: Option<(core::time::Duration, Observers<'_>, Quitter)>,
) {
    let mut deadline = pin!(sleep(timeout));
    let Some((every, observers, root)) = progress else {
        deadline.await;
        return;
    };
    let quit_at = std::time::Instant::now();
    loop {
        let mut tick = pin!(sleep(every));
        let over = poll_fn(|cx| {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            tick.as_mut().poll(cx).map(|_| false)
        })
        .await;
        if over {
            return;
        }
        let waited = quit_at.elapsed();
        let since = Started::now();
        let stages = root
            .stage_timeline(since)
            .into_iter()
            .filter(|stage| stage.quit && !stage.done)
            .collect();
        let progress = crate::DrainProgress {
            waited,
            left: timeout.saturating_sub(waited),
            tasks: root.live_tasks(),
            stages,
        };
        tell(&observers, &Phase::Progress(&progress));
    }
}
