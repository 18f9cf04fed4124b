//! The tasks waiting for one node's quit: [`FlagWaiters`], the node's list
//! of them, and [`WaiterEntry`], one pending waiter's place in it (it lives
//! inside the pending [`Quitted`](crate::Quitted) future).
//!
//! A quit is a one-shot broadcast: it happens once, and every waiter wakes
//! once. So the list is intrusive (see `sync::list`): each waiter's entry,
//! with its waker, lives in the pinned waiter itself, and a pending waiter
//! costs the heap nothing. The quit takes the entries out in batches and
//! wakes each batch outside the lock; it marks each entry `WOKEN` (a
//! release store, its last touch of the entry), so a woken waiter sees
//! that with one load and touches nothing shared as it returns and drops.
//! (A general event, such as `event-listener`, keeps each listener in its
//! list after notifying it, and every woken waiter locks the list again to
//! unlink itself: with 100 000 waiters that lock is the hot spot of a
//! quit.)
//!
//! The list knows nothing of the node: the waiter tells it, as a closure
//! asked under the lock, whether the node has quit.
//!
//! Invariants:
//! - An entry is added only under the lock and only while the node has not
//!   quit, as asked under that lock (by an RMW of the state word, see
//!   `tree::state`). The quit sets `QUIT` *before* it takes entries under
//!   the same lock. So every entry added is in the list the quit empties,
//!   and none is added afterwards, between its batches either.
//! - An entry's `state` goes `IDLE` → `LINKED` (its waiter, under the
//!   lock) → `WOKEN` (the quit, under the lock, after its last access) or
//!   back to `IDLE` (its waiter, cancelling, under the lock). While
//!   `LINKED` it is in the list (list rules 2 and 3), and its waker is
//!   read and written only under the lock. `WOKEN` is final.
//! - So a waiter may end its entry when it sees `IDLE` or `WOKEN` (the
//!   acquire load pairs with the quit's release store); while it sees
//!   `LINKED` it must lock and take the entry out first.
//! - The RMW also orders the node's `Extra` (where this list lives, made on
//!   first use) before the quit's look for it; see `tree::quit`.
//! - No user code runs under the lock: a waker is cloned, woken and
//!   dropped only outside it (`will_wake` compares pointers, it runs no
//!   user code). A waker that panics in `wake` does not stop the others:
//!   with `std` every waiter is woken, then the first panic is handed to
//!   the caller ([`DeferredPanic`]) to resume once its own walk is done.

use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Poll, Waker};

use crate::sync::list::{impl_linked, Links, List};
use crate::sync::{AtomicU8, Mutex, Ordering, UnsafeCell};

/// [`WaiterEntry::state`]: in no list.
const IDLE: u8 = 0;
/// In the node's list, with a waker.
const LINKED: u8 = 1;
/// Taken out and woken by the quit. Final.
const WOKEN: u8 = 2;

/// How many wakers the quit takes out per turn of the lock.
const BATCH: usize = 32;

/// The quit waiters of one node. See the module docs.
pub(crate) struct FlagWaiters(Mutex<List<WaiterEntry>>);

/// One waiter's entry in its node's list. `!Unpin` (its links), so it
/// stays where it is once pinned; its owner's `Drop` must
/// [`cancel`](FlagWaiters::cancel) it while [`is_linked`](Self::is_linked).
pub(crate) struct WaiterEntry {
    links: Links<WaiterEntry>,
    /// Read and written only under the list's lock (see the invariants).
    waker: UnsafeCell<Option<Waker>>,
    state: AtomicU8,
}

impl_linked!(WaiterEntry, links);

// SAFETY: `links` and `waker` are touched only under the list's lock (or by
// the owner once the entry is in no list: see the invariants); `state` is
// atomic; a `Waker` is `Send + Sync`.
unsafe impl Send for WaiterEntry {}
// SAFETY: as for `Send`.
unsafe impl Sync for WaiterEntry {}

impl Drop for WaiterEntry {
    fn drop(&mut self) {
        // For loom: the end of the entry is a write of its cells.
        self.links.end();
        #[cfg(loom)]
        self.waker.with_mut(|_| ());
    }
}

impl WaiterEntry {
    pub(crate) fn new() -> Self {
        WaiterEntry {
            links: Links::new(),
            waker: UnsafeCell::new(None),
            state: AtomicU8::new(IDLE),
        }
    }

    /// Is the entry in its list? If so its owner must cancel it before it
    /// ends. (Acquire: once it reads `false` after a quit, the quit's last
    /// touch of the entry is behind it.)
    pub(crate) fn is_linked(&self) -> bool {
        self.state.load(Ordering::Acquire) == LINKED
    }
}

/// A panic of a waker, held until every waiter is woken.
#[derive(Default)]
pub(crate) struct DeferredPanic(
    #[cfg(feature = "std")] Option<alloc::boxed::Box<dyn core::any::Any + Send>>,
);

impl DeferredPanic {
    /// Runs `wake` (user code: wakers); with `std`, a panic in it is
    /// caught and the first one kept, to be [resumed](Self::resume) later.
    pub(crate) fn run(&mut self, wake: impl FnOnce()) {
        #[cfg(feature = "std")]
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(wake)) {
            self.0.get_or_insert(payload);
        }
        #[cfg(not(feature = "std"))]
        wake();
    }

    /// Resumes the first panic caught, if any.
    pub(crate) fn resume(self) {
        #[cfg(feature = "std")]
        if let Some(payload) = self.0 {
            std::panic::resume_unwind(payload);
        }
    }
}

impl FlagWaiters {
    pub(crate) fn new() -> Self {
        FlagWaiters(Mutex::new(List::new()))
    }

    /// Links `entry` with `waker` (or updates its waker), unless
    /// `has_quit`, asked under the lock, says the node has quit. The
    /// waker is cloned outside the lock: if the stored one will not wake
    /// the same task, the lock is let go, the clone made, and the lock
    /// taken again (the entry may have been woken meanwhile).
    pub(crate) fn wait(
        &self,
        entry: Pin<&WaiterEntry>,
        waker: &Waker,
        has_quit: impl Fn() -> bool,
    ) -> Poll<()> {
        // A first wait always stores a waker: clone it before locking.
        let mut fresh = (entry.state.load(Ordering::Relaxed) == IDLE).then(|| waker.clone());
        loop {
            let mut list = self.0.lock();
            let state = entry.state.load(Ordering::Relaxed);
            if state == WOKEN || has_quit() {
                // If linked, the quit takes the entry out, or our drop will.
                drop(list);
                return Poll::Ready(());
            }
            if state == LINKED {
                // SAFETY: the entry is linked and we hold the lock.
                let same = entry.waker.with(|stored| unsafe {
                    (*stored)
                        .as_ref()
                        .is_some_and(|stored| stored.will_wake(waker))
                });
                if same {
                    return Poll::Pending;
                }
            }
            let Some(new) = fresh.take() else {
                drop(list);
                fresh = Some(waker.clone());
                continue;
            };
            // SAFETY: we hold the lock; if the entry is in no list (`IDLE`)
            // only its waiter (our caller) reaches it anyway.
            let old = entry
                .waker
                .with_mut(|stored| unsafe { (*stored).replace(new) });
            if state == IDLE {
                entry.state.store(LINKED, Ordering::Relaxed);
                // SAFETY: the entry is in no list (`IDLE`) and pinned; it
                // stays live until it leaves the list: the quit takes it out
                // under this lock, or its owner cancels it before it ends
                // (`Pin`'s drop guarantee). We hold the lock.
                unsafe { list.push_back(NonNull::from(&*entry)) };
            }
            drop(list);
            drop(old);
            return Poll::Pending;
        }
    }

    /// Takes `entry` out of the list if it is still in it (its waiter is
    /// going before the quit reached it).
    pub(crate) fn cancel(&self, entry: Pin<&WaiterEntry>) {
        let mut list = self.0.lock();
        if entry.state.load(Ordering::Relaxed) != LINKED {
            return; // The quit took it meanwhile.
        }
        // SAFETY: a `LINKED` entry is in this list, and we hold its lock.
        unsafe { list.remove(NonNull::from(&*entry)) };
        entry.state.store(IDLE, Ordering::Relaxed);
        // SAFETY: we hold the lock (and the entry is in no list now).
        let waker = entry.waker.with_mut(|stored| unsafe { (*stored).take() });
        drop(list);
        drop(waker);
    }

    /// Wakes every waiter; called once `QUIT` is set. A waker that panics
    /// is caught into `panic` (with `std`), and the others are woken all
    /// the same.
    pub(crate) fn wake_all(&self, panic: &mut DeferredPanic) {
        self.take_all(|waker| panic.run(|| waker.wake()));
    }

    /// Takes every waiter out of the list (each one then sees itself
    /// woken) and hands its waker to `each`, in batches, outside the lock:
    /// [`wake_all`](Self::wake_all) wakes them at once, a walk that must
    /// finish first keeps them for later.
    pub(crate) fn take_all(&self, mut each: impl FnMut(Waker)) {
        loop {
            let mut wakers: [Option<Waker>; BATCH] = Default::default();
            let mut taken = 0;
            let mut list = self.0.lock();
            while taken < BATCH {
                let Some(entry) = list.pop_front() else { break };
                // SAFETY: the entry was `LINKED` until this pop, and its
                // waiter cannot end it before it sees `WOKEN`: its `Drop`
                // sees `LINKED` and waits for this lock.
                let entry = unsafe { entry.as_ref() };
                // SAFETY: we hold the lock, which guards the waker.
                let waker = entry.waker.with_mut(|stored| unsafe { (*stored).take() });
                wakers[taken] = waker;
                // The last touch of the entry: from here its waiter may end it.
                entry.state.store(WOKEN, Ordering::Release);
                taken += 1;
            }
            drop(list);
            for waker in wakers.iter_mut().take(taken).filter_map(Option::take) {
                each(waker);
            }
            if taken < BATCH {
                return;
            }
        }
    }
}
