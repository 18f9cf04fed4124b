//! One thread's share of a node's task count: [`ShardCount`].
//!
//! Why: a spawn is the hot path, and the thread that spawns is usually not
//! the one where the task ends. With one shared count, every spawn would
//! fetch the count's cache line back from the thread where the last task
//! ended. So, as Linux's `percpu_ref` does, a node counts its tasks in one
//! word per thread (in the thread's registry shard): a spawn adds one on the
//! spawning thread's word, an end subtracts one on the ending thread's word,
//! and a word may go below zero. Only the sum means anything.
//!
//! ```text
//!   bit 0      DEAD    set once by the node's sweep, never cleared
//!   bits 1..   count   a signed count, wrapping, in steps of 2
//! ```
//!
//! Invariants:
//! - Neither [`try_add`](ShardCount::try_add) nor
//!   [`try_sub`](ShardCount::try_sub) changes a dead word (they fail, and
//!   the caller counts on the node's state word instead). So the count
//!   [`close`](ShardCount::close) returns is the word's final share: every
//!   change is either in it or refused.
//! - `close` runs at most once per word (the node's sweep runs once), so a
//!   word's share is moved into the state word exactly once.

use crate::sync::{add_unless, AtomicUsize, Ordering};

const DEAD: usize = 1;
const ONE: usize = 2;

pub(crate) struct ShardCount(AtomicUsize);

impl ShardCount {
    /// A word counting from zero, or already `dead` (a shard made after its
    /// node's sweep: its count lives in the state word).
    pub(crate) fn new(dead: bool) -> Self {
        ShardCount(AtomicUsize::new(if dead { DEAD } else { 0 }))
    }

    /// Adds one, unless the word is dead (then returns `false`).
    #[inline]
    pub(crate) fn try_add(&self) -> bool {
        // AcqRel: an end's release orders the task's work before the sweep
        // (an acquire `close`) that moves this count.
        add_unless(&self.0, DEAD, ONE).is_some()
    }

    /// Subtracts one, unless the word is dead (then returns `false`).
    #[inline]
    pub(crate) fn try_sub(&self) -> bool {
        add_unless(&self.0, DEAD, ONE.wrapping_neg()).is_some()
    }

    /// Kills the word and returns its count (wrapping: a negative share is
    /// a huge `usize`, to be summed with wrapping arithmetic).
    pub(crate) fn close(&self) -> usize {
        share(self.0.fetch_or(DEAD, Ordering::AcqRel))
    }

    /// The count now, unless dead (a report's estimate).
    pub(crate) fn peek(&self) -> Option<usize> {
        let word = self.0.load(Ordering::Acquire);
        (word & DEAD == 0).then(|| share(word))
    }
}

/// The signed count of `word`: an arithmetic shift drops `DEAD` and keeps
/// the sign.
fn share(word: usize) -> usize {
    ((word as isize) >> 1) as usize
}
