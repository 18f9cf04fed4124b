//! [`Stage`]: a child's place in its parent's stop order, as given when
//! the child is made (the stop order itself is `stages`).

use core::time::Duration;

/// A child's place in its parent's stop order, given when it is made
/// ([`Quitter::child_in`](crate::Quitter::child_in)).
///
/// Stages are numbered from 0 (the first, where children without a stage
/// are). On the parent's quit, stage 0 quits with the parent's own tasks;
/// each later stage quits once every child of the stage before is done, or
/// once that stage has overrun its budget (where a driver with a timer
/// waits: the main runner, `wait_done`). Siblings in the same stage stop
/// together. Numbers need not be consecutive: empty stages are passed over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stage {
    pub(crate) number: u32,
    pub(crate) budget: Option<Duration>,
    pub(crate) abort: bool,
}

impl Stage {
    /// The first stage, where children without a stage are.
    pub const FIRST: Stage = Stage {
        number: 0,
        budget: None,
        abort: false,
    };

    /// Stage `number` (0 is the first).
    pub const fn new(number: u32) -> Stage {
        Stage {
            number,
            budget: None,
            abort: false,
        }
    }

    /// The stage after this one.
    pub const fn next(self) -> Stage {
        Stage::new(self.number.saturating_add(1))
    }

    /// How long this stage may take before the next one is quit anyway.
    /// Without one, a stage gets an even share of what is left of the
    /// overall timeout. Siblings in one stage share the longest budget
    /// any of them was given.
    pub const fn budget(mut self, budget: Duration) -> Stage {
        self.budget = Some(budget);
        self
    }

    /// When this stage overruns its budget, abort the tasks still running
    /// in its children's subtrees: each tracked future made abortable (the
    /// adapters' `spawn` in such a child) is dropped at once or at its next
    /// poll, and reported as aborted; what cannot be aborted (a
    /// [`TaskGuard`](crate::TaskGuard), blocking work) stays listed as
    /// hung. The children are made [abortable](crate::Quitter::is_abortable),
    /// and so are their descendants. A stage whose siblings disagree aborts
    /// if any of them asked. This applies to the last stage too.
    pub const fn abort_on_overrun(mut self) -> Stage {
        self.abort = true;
        self
    }

    /// Whether the stage aborts its tasks when it overruns its budget.
    pub const fn aborts_on_overrun(&self) -> bool {
        self.abort
    }

    /// The stage's number.
    pub const fn number(&self) -> u32 {
        self.number
    }
}
