//! The state word of one quit-tree node.
//!
//! One `AtomicUsize` holds everything that must change atomically:
//!
//! ```text
//!   bit 0      QUIT    set once, never cleared
//!   bit 1      SWEPT   set once: the per-thread counts are closed
//!   bit 2      KEEP    the node holds an `Arc` of itself for its holds
//!   bit 3      DRAIN   set once (by a drain or the quit), never cleared
//!   bit 4      STAGED  set once: a child has a later stage (see `stages`)
//!   bit 5      COUNTED set once: counted in its parent's stop order, as a
//!                      member of a stage entered and not done yet (set
//!                      under the parent's family lock, see `stages`)
//!   bit 6      ABORTABLE set once: the node's tasks may be aborted, so
//!                      the adapters spawn them with a way to cancel them
//!                      (made so, or inherited at creation; see `abort`)
//!   bit 7      ABORT   set once: the node's abortable tasks are aborted
//!   bits 8..   holds   live tasks + children that are not done yet
//! ```
//!
//! Two phases. While `SWEPT` is clear, tasks are counted in per-thread
//! words (see [`count`](crate::tasks::count)), and the word holds one extra
//! **open** hold, plus a large [`BIAS`] once any per-thread word exists, so
//! that the central count can neither reach zero nor underflow while tasks
//! ending on a thread without a word of its own subtract here. The node's
//! one **sweep** (at its first quit, or when its last handle is dropped)
//! sets `SWEPT`, closes the per-thread words, and [settles](State::settle):
//! it adds their sum, removes the open hold and the bias, and in the same
//! CAS sets `KEEP` if holds remain. From then on every count is here.
//!
//! A node is **done** when it is quit and no hold remains. Invariants:
//! - `holds` only grows while `QUIT` is clear ([`State::try_hold`] is a CAS
//!   that refuses once `QUIT` is set), and never after the sweep (no handle
//!   is left to add one, or the node has quit). So zero holds after the
//!   sweep is final, and "done" is reached at most once and is permanent.
//! - Zero is reached only after the settle (the open hold), so exactly one
//!   RMW observes it: the settle itself, the [`State::quit`] of a settled
//!   node with no holds, or the [`State::release`] that removed the last
//!   hold. That caller runs the done transition and, if `KEEP` is set,
//!   drops the node's `Arc` of itself.
//! - The count cannot overflow: every hold is a live task slot or a live
//!   child node, each a distinct object of dozens of bytes, so there are far
//!   fewer holds than `BIAS`, and `BIAS` plus them fits the word.

use crate::sync::{add_unless, fetch_update, AtomicUsize, Ordering};

const QUIT: usize = 1;
const SWEPT: usize = 2;
const KEEP: usize = 4;
const DRAIN: usize = 8;
const STAGED: usize = 16;
const COUNTED: usize = 32;
const ABORTABLE: usize = 64;
const ABORT: usize = 128;
const HOLD: usize = 256;
/// The flags that say nothing about being done.
const MARKS: usize = SWEPT | KEEP | DRAIN | STAGED | COUNTED | ABORTABLE | ABORT;
const FLAGS: usize = HOLD - 1;
/// What the central count carries while per-thread words may be below
/// zero: a quarter of the word.
const BIAS: usize = 1 << (usize::BITS - 2);

/// One of the node's one-way flags that tasks can wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flag {
    /// `DRAIN`: draining started (or the quit, which implies it).
    Drain,
    /// `QUIT`.
    Quit,
}

impl Flag {
    /// Is the flag set? One atomic load.
    #[inline]
    pub(crate) fn is_set(self, state: &State) -> bool {
        match self {
            Flag::Drain => state.is_draining(),
            Flag::Quit => state.is_quit(),
        }
    }

    /// [`is_set`](Self::is_set) read with an RMW, for a waiter about to
    /// link itself (see `waiting::waiters`).
    pub(crate) fn is_set_rmw(self, state: &State) -> bool {
        match self {
            Flag::Drain => state.is_draining_rmw(),
            Flag::Quit => state.is_quit_rmw(),
        }
    }
}

/// What [`State::quit`] did.
pub(crate) struct QuitOutcome {
    /// This call set `QUIT` (it was clear before).
    pub(crate) first: bool,
    /// This call set `DRAIN` (the node was not draining before).
    pub(crate) first_drain: bool,
    /// This call set `SWEPT`: the caller sweeps the node.
    pub(crate) sweeps: bool,
    /// This call made the node done (settled, with no holds).
    pub(crate) became_done: bool,
}

/// What the RMW that took the holds to zero found.
pub(crate) struct Zero {
    /// The node is quit: it is done now.
    pub(crate) done: bool,
    /// The node holds an `Arc` of itself, for the caller to drop.
    pub(crate) keep: bool,
}

pub(crate) struct State(AtomicUsize);

impl State {
    /// A new node: open, one open hold; `draining` and `abortable` as
    /// its parent was, or as its stage makes it.
    pub(crate) fn new(draining: bool, abortable: bool) -> Self {
        let mut word = HOLD;
        if draining {
            word |= DRAIN;
        }
        if abortable {
            word |= ABORTABLE;
        }
        State(AtomicUsize::new(word))
    }

    /// Marks the node abortable; returns `true` if this call did.
    pub(crate) fn mark_abortable(&self) -> bool {
        self.0.fetch_or(ABORTABLE, Ordering::AcqRel) & ABORTABLE == 0
    }

    /// One load: may the node's tasks be aborted?
    #[inline]
    pub(crate) fn is_abortable(&self) -> bool {
        self.0.load(Ordering::Acquire) & ABORTABLE != 0
    }

    /// Sets `ABORT` (and `ABORTABLE`); returns `true` if this call set it.
    pub(crate) fn abort(&self) -> bool {
        self.0.fetch_or(ABORT | ABORTABLE, Ordering::AcqRel) & ABORT == 0
    }

    /// One load: have the node's tasks been aborted?
    #[inline]
    pub(crate) fn is_aborted(&self) -> bool {
        self.0.load(Ordering::Acquire) & ABORT != 0
    }

    /// One atomic load: has `QUIT` been set?
    #[inline]
    pub(crate) fn is_quit(&self) -> bool {
        self.0.load(Ordering::Acquire) & QUIT != 0
    }

    /// One atomic load: is the node draining (or quit, which implies it)?
    #[inline]
    pub(crate) fn is_draining(&self) -> bool {
        self.0.load(Ordering::Acquire) & DRAIN != 0
    }

    /// `is_draining` read with an RMW, for a drain waiter (as
    /// [`is_quit_rmw`](Self::is_quit_rmw) for a quit waiter).
    pub(crate) fn is_draining_rmw(&self) -> bool {
        self.0.fetch_or(0, Ordering::AcqRel) & DRAIN != 0
    }

    /// Sets `DRAIN`; returns `true` if this call set it. Changes nothing
    /// else: tasks and children are still accepted.
    pub(crate) fn drain(&self) -> bool {
        self.0.fetch_or(DRAIN, Ordering::AcqRel) & DRAIN == 0
    }

    /// Marks the node staged (under its family lock, at its first child
    /// with a later stage).
    pub(crate) fn mark_staged(&self) {
        self.0.fetch_or(STAGED, Ordering::AcqRel);
    }

    /// Marks the node counted in its parent's stop order (under the
    /// parent's family lock, see `stages`).
    pub(crate) fn mark_counted(&self) {
        self.0.fetch_or(COUNTED, Ordering::AcqRel);
    }

    /// Is the node counted in its parent's stop order? (Read under the
    /// parent's family lock, which orders it.)
    pub(crate) fn is_counted(&self) -> bool {
        self.0.load(Ordering::Acquire) & COUNTED != 0
    }

    /// Does a child have a later stage? One load.
    #[inline]
    pub(crate) fn is_staged(&self) -> bool {
        self.0.load(Ordering::Acquire) & STAGED != 0
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

    /// Has the sweep started? (Read under the family lock, which orders it;
    /// see `Node::own_shard`.)
    pub(crate) fn is_swept(&self) -> bool {
        self.0.load(Ordering::Acquire) & SWEPT != 0
    }

    /// Quit and nothing holds the node open.
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.0.load(Ordering::Acquire) & !MARKS == QUIT
    }

    /// The holds counted here, without the bias, and whether the node is
    /// swept (if not, the open hold is among them and the per-thread words
    /// hold the rest). Wrapping: below zero if more tasks ended here than
    /// started here, before the sweep. An estimate for reports.
    pub(crate) fn central_holds(&self) -> (usize, bool) {
        let word = self.0.load(Ordering::Acquire);
        let mut holds = word & !FLAGS;
        // Real holds are far below half the bias, so a count this high
        // carries it.
        if holds >= BIAS / 2 {
            holds = holds.wrapping_sub(BIAS);
        }
        ((holds as isize / HOLD as isize) as usize, word & SWEPT != 0)
    }

    /// Adds one hold, unless the node has quit (then returns `false`).
    #[inline]
    pub(crate) fn try_hold(&self) -> bool {
        self.try_hold_draining().is_some()
    }

    /// [`try_hold`](Self::try_hold), and whether the node was draining
    /// and abortable as that RMW found it (a child made now starts so: see
    /// `tree`).
    #[inline]
    pub(crate) fn try_hold_draining(&self) -> Option<(bool, bool)> {
        add_unless(&self.0, QUIT, HOLD)
            .map(|previous| (previous & DRAIN != 0, previous & ABORTABLE != 0))
    }

    /// Adds the bias for the node's first per-thread word, unless the sweep
    /// has started (then returns `false`: the word is made dead).
    pub(crate) fn try_add_bias(&self) -> bool {
        add_unless(&self.0, SWEPT, BIAS).is_some()
    }

    /// Sets `QUIT` (and `SWEPT`: a quit node takes no more tasks, so its
    /// per-thread words can close; and `DRAIN`: a quit implies draining).
    pub(crate) fn quit(&self) -> QuitOutcome {
        let previous = self.0.fetch_or(QUIT | SWEPT | DRAIN, Ordering::AcqRel);
        QuitOutcome {
            first: previous & QUIT == 0,
            first_drain: previous & DRAIN == 0,
            sweeps: previous & SWEPT == 0,
            // Swept by a last handle's drop, settled with no holds left.
            became_done: previous & !(MARKS & !SWEPT) == SWEPT,
        }
    }

    /// Sets `SWEPT`, for the drop of the node's last handle; returns `true`
    /// if this call set it (the caller sweeps).
    pub(crate) fn close(&self) -> bool {
        self.0.fetch_or(SWEPT, Ordering::AcqRel) & SWEPT == 0
    }

    /// The whole sweep of a node without tasks or children, for the drop of
    /// its last handle: sets `SWEPT` and removes the open hold in one CAS,
    /// unless the sweep had started (a quit's: it settles). Never makes the
    /// node done: `QUIT` comes with `SWEPT`, so it was clear.
    pub(crate) fn close_idle(&self) {
        let _ = fetch_update(&self.0, Ordering::AcqRel, Ordering::Relaxed, |current| {
            (current & SWEPT == 0).then(|| (current | SWEPT).wrapping_sub(HOLD))
        });
    }

    /// The sweep's last step: adds `shares` (the closed per-thread words'
    /// sum, wrapping), removes the open hold and, if `biased`, the bias. If
    /// holds remain, sets `KEEP` in the same CAS (the caller has stored the
    /// node's `Arc` of itself first) and returns `None`; else what zero
    /// means.
    pub(crate) fn settle(&self, shares: usize, biased: bool) -> Option<Zero> {
        let mut delta = shares.wrapping_sub(1).wrapping_mul(HOLD);
        if biased {
            delta = delta.wrapping_sub(BIAS);
        }
        let settled = |word: usize| {
            let new = word.wrapping_add(delta);
            if new & !FLAGS != 0 {
                new | KEEP
            } else {
                new
            }
        };
        // The closure always returns `Some`: the update always happens.
        let (Ok(previous) | Err(previous)) =
            fetch_update(&self.0, Ordering::AcqRel, Ordering::Acquire, |word| {
                Some(settled(word))
            });
        let new = settled(previous);
        (new & !FLAGS == 0).then_some(Zero {
            done: new & QUIT != 0,
            keep: false,
        })
    }

    /// Removes one hold; returns what zero means if it was the last.
    #[inline]
    pub(crate) fn release(&self) -> Option<Zero> {
        self.release_staged().0
    }

    /// [`release`](Self::release), and whether the node was staged as this
    /// RMW found it: a child done or dropped tells a staged parent (see
    /// `stages`), and an RMW reads the newest word, so a child whose
    /// release comes after the parent was marked staged always sees it.
    #[inline]
    pub(crate) fn release_staged(&self) -> (Option<Zero>, bool) {
        let previous = self.0.fetch_sub(HOLD, Ordering::AcqRel);
        let zero = (previous & !FLAGS == HOLD).then_some(Zero {
            done: previous & QUIT != 0,
            keep: previous & KEEP != 0,
        });
        (zero, previous & STAGED != 0)
    }
}
