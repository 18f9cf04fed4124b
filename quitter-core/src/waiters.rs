//! [`QuitWaiters`]: the wakers of the tasks waiting for one node's quit.
//!
//! A quit is a one-shot broadcast: it happens once, and every waiter wakes
//! once. A general event (`event-listener`, which the `done()` waiters use)
//! keeps each listener in its list after notifying it, so every woken
//! waiter locks the list again to unlink itself: with 100 000 tasks waking
//! on two workers while the quitting thread still walks the list, that lock
//! is the hot spot of a quit. Here the quit *takes* the whole list at once
//! and wakes it outside the lock, and a waiter that sees the quit simply
//! forgets its slot: after a quit, waiters touch no shared memory but the
//! state word. A pending waiter costs one `Waker` in a slab (no box).
//!
//! Invariants:
//! - Wakers are added only under the lock and only while `QUIT` is clear, as
//!   read under that lock (by an RMW, [`State::is_quit_rmw`], at a waiter's
//!   first wait). The quit sets
//!   `QUIT` *before* taking the list under the same lock. So every waker
//!   added is in the list the quit takes, and after the take none is added:
//!   the slab stays empty, and its keys are never handed out again.
//! - Hence a waiter's key is its own until it removes it or the quit takes
//!   the list; removing a key after the take finds nothing and is harmless.
//! - The RMW also orders the node's `Extra` (where this list lives, made on
//!   first use) before the quit's look for it; see `Node::quit_one`.
//! - The lock is a leaf, and no waker is woken or dropped under it (a waker
//!   is user code).

use core::task::Waker;

use slab::Slab;

use crate::state::State;
use crate::sync::Mutex;

/// The quit waiters of one node. See the module docs.
pub(crate) struct QuitWaiters(Mutex<Slab<Waker>>);

/// What [`QuitWaiters::wait`] found.
pub(crate) enum Waiting {
    /// The node has quit: the waiter is done (its slot, if any, is gone).
    Quit,
    /// The waker is stored under this key.
    Pending(usize),
}

impl QuitWaiters {
    pub(crate) fn new() -> Self {
        QuitWaiters(Mutex::new(Slab::new()))
    }

    /// Stores `waker` (in `slot` if the waiter has one), unless the node
    /// has quit.
    pub(crate) fn wait(&self, state: &State, slot: Option<usize>, waker: &Waker) -> Waiting {
        let mut slab = self.0.lock();
        // A first wait reads `QUIT` with an RMW (see the module docs); a
        // waiter with a slot was ordered by its first wait already, and a
        // load under the lock suffices: the quit sets `QUIT` before it takes
        // the list under this lock.
        let quit = match slot {
            None => state.is_quit_rmw(),
            Some(_) => state.is_quit(),
        };
        if quit {
            return Waiting::Quit;
        }
        if let Some(key) = slot {
            if let Some(stored) = slab.get_mut(key) {
                if stored.will_wake(waker) {
                    return Waiting::Pending(key);
                }
                let old = core::mem::replace(stored, waker.clone());
                drop(slab);
                drop(old);
                return Waiting::Pending(key);
            }
        }
        Waiting::Pending(slab.insert(waker.clone()))
    }

    /// Forgets the waker under `key` (a waiter dropped before the quit).
    pub(crate) fn cancel(&self, key: usize) {
        let waker = self.0.lock().try_remove(key);
        drop(waker);
    }

    /// Wakes every waiter; called once `QUIT` is set.
    pub(crate) fn wake_all(&self) {
        let wakers = core::mem::take(&mut *self.0.lock());
        for (_, waker) in wakers {
            waker.wake();
        }
    }
}
