//! The state word of one quit-tree node.
//!
//! One `AtomicUsize` holds everything that must change atomically:
//!
//! ```text
//!   bit 0      QUIT   set once, never cleared
//!   bits 1..   holds  live tasks + children that are not done yet
//! ```
//!
//! A node is **done** when the word is exactly `QUIT`: quit, and nothing
//! holds it open. Invariants:
//!
//! - `holds` only grows while `QUIT` is clear ([`State::try_hold`] is a CAS
//!   that refuses once `QUIT` is set), so once a node is quit its hold count
//!   only falls, and "done" is reached at most once and is permanent.
//! - Exactly one caller observes the transition to done: either the
//!   [`State::quit`] that set `QUIT` on a word with no holds, or the
//!   [`State::release`] that removed the last hold of a quit node. That caller
//!   wakes the done-waiters and releases the node's hold on its parent.
//! - The count cannot overflow: every hold is a live task slot (in a
//!   tracked future or a `TaskGuard`'s box) or a live child node, each a
//!   distinct object of dozens of bytes, so there are fewer holds than
//!   `usize::MAX / 2`.

use crate::sync::{AtomicUsize, Ordering};

const QUIT: usize = 1;
const HOLD: usize = 2;

/// What [`State::quit`] did.
pub(crate) struct QuitOutcome {
    /// This call set `QUIT` (it was clear before).
    pub(crate) first: bool,
    /// This call made the node done (it had no holds).
    pub(crate) became_done: bool,
}

pub(crate) struct State(AtomicUsize);

impl State {
    pub(crate) fn new() -> Self {
        State(AtomicUsize::new(0))
    }

    /// One atomic load: has `QUIT` been set?
    #[inline]
    pub(crate) fn is_quit(&self) -> bool {
        self.0.load(Ordering::Acquire) & QUIT != 0
    }

    /// `is_quit` read with an RMW, which reads the newest value in the
    /// word's modification order and, being a release, orders what the
    /// caller did before it ahead of any later RMW of the word (a quit).
    /// Used by a node being dropped (the last `Arc` drop orders everything
    /// already, but through std's `Arc`, which loom cannot see) and by a
    /// quit waiter storing its waker (see `waiters`).
    pub(crate) fn is_quit_rmw(&self) -> bool {
        self.0.fetch_or(0, Ordering::AcqRel) & QUIT != 0
    }

    /// Quit and nothing holds the node open.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.0.load(Ordering::Acquire) == QUIT
    }

    /// How many tasks and not-done children hold the node open.
    pub(crate) fn holds(&self) -> usize {
        self.0.load(Ordering::Acquire) / HOLD
    }

    /// Adds one hold, unless the node has quit (then returns `false`).
    #[inline]
    pub(crate) fn try_hold(&self) -> bool {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            if current & QUIT != 0 {
                return false;
            }
            match self.0.compare_exchange_weak(
                current,
                current.wrapping_add(HOLD),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
    }

    /// Sets `QUIT`.
    pub(crate) fn quit(&self) -> QuitOutcome {
        let previous = self.0.fetch_or(QUIT, Ordering::AcqRel);
        QuitOutcome {
            first: previous & QUIT == 0,
            became_done: previous == 0,
        }
    }

    /// Removes one hold; returns `true` if that made the node done.
    #[inline]
    pub(crate) fn release(&self) -> bool {
        self.0.fetch_sub(HOLD, Ordering::AcqRel) == QUIT | HOLD
    }
}
