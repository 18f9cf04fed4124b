//! [`StageBudgets`]: what a timed wait runs beside its wait for done, so
//! that a stage that overruns its budget cannot stall the stages after it
//! (`std` only: budgets are times).
//!
//! The tree moves from a stage to the next by itself when the stage is
//! done (see `tree::stages`); only a budget needs a timer, and this is the
//! one place that sets one. It looks at every quit, staged node under the
//! waited-for quitter, takes the stage each is stopping now, and sets one
//! alarm for the earliest budget to run out; when it rings, those stages'
//! nodes quit their next stage. Any change of a stage (quit or done, told
//! by the node's event) makes it look again.
//!
//! A stage's budget is the one given ([`Stage::budget`](crate::Stage)),
//! or else an even share of what was left of the overall timeout when the
//! stage was quit: left / (this stage and the ones after it). The overall
//! timeout stays the hard limit: the wait ends then however much hangs.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::time::Instant;

use event_listener::EventListener;

use crate::sync::Arc;
use crate::tree::node::Node;

/// The stages an alarm is for: each node, and the index of the stage it
/// was stopping when the alarm was set.
type Due = Vec<(Arc<Node>, usize)>;

/// The budget keeper of one timed wait; see the module docs.
pub(crate) struct StageBudgets<'t, T: Timer> {
    root: Arc<Node>,
    timer: &'t T,
    /// When the overall timeout runs out.
    end: Instant,
    listeners: Vec<EventListener>,
    /// The alarm for the earliest budget, and the stages it is for.
    alarm: Option<(Pin<Box<T::Sleep>>, Due)>,
    stale: bool,
}

/// A timer: `sleep(duration)` is a future that completes after it.
pub(crate) trait Timer {
    type Sleep: Future;
    fn sleep(&self, duration: Duration) -> Self::Sleep;
}

impl<F, S> Timer for F
where
    F: Fn(Duration) -> S,
    S: Future,
{
    type Sleep = S;

    fn sleep(&self, duration: Duration) -> S {
        self(duration)
    }
}

impl<'t, T: Timer> StageBudgets<'t, T> {
    /// A keeper for the subtree of `root`, whose overall timeout started
    /// now and lasts `timeout`.
    pub(crate) fn new(root: Arc<Node>, timer: &'t T, timeout: Duration) -> Self {
        let now = Instant::now();
        StageBudgets {
            root,
            timer,
            end: now
                .checked_add(timeout)
                .unwrap_or(now + Duration::from_secs(1 << 40)),
            listeners: Vec::new(),
            alarm: None,
            stale: true,
        }
    }

    /// Keeps the budgets; never ready (the caller's wait ends it).
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.stale {
                self.look();
                self.stale = false;
            }
            let mut changed = false;
            for listener in &mut self.listeners {
                changed |= Pin::new(listener).poll(cx).is_ready();
            }
            if let Some((alarm, due)) = &mut self.alarm {
                if alarm.as_mut().poll(cx).is_ready() {
                    for (node, index) in core::mem::take(due) {
                        Node::advance_stage(&node, index);
                    }
                    changed = true;
                }
            }
            if !changed {
                return Poll::Pending;
            }
            self.stale = true;
        }
    }

    /// Listens to every staged node, then sets the alarm for the earliest
    /// budget of the stages they are stopping.
    fn look(&mut self) {
        self.listeners.clear();
        let now = Instant::now();
        let mut earliest: Option<(Instant, Due)> = None;
        for (_, node) in Node::staged_nodes(&self.root) {
            // Listen first: a change after the look below wakes us.
            let Some(listener) = node.listen_stages() else {
                continue;
            };
            self.listeners.push(listener);
            let Some(progress) = node.stage_progress() else {
                continue;
            };
            let quit_at = progress.quit_at.instant().unwrap_or(now);
            let budget = progress.budget.unwrap_or_else(|| {
                let left = self.end.saturating_duration_since(quit_at);
                left / u32::try_from(progress.after + 1).unwrap_or(u32::MAX)
            });
            let expiry = quit_at.checked_add(budget).unwrap_or(self.end);
            match &mut earliest {
                Some((at, due)) if *at == expiry => due.push((node, progress.index)),
                Some((at, _)) if *at < expiry => {}
                _ => earliest = Some((expiry, alloc::vec![(node, progress.index)])),
            }
        }
        self.alarm = earliest.map(|(at, due)| {
            let sleep = self.timer.sleep(at.saturating_duration_since(now));
            (Box::pin(sleep), due)
        });
    }
}
