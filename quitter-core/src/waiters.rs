//! The tasks waiting for one node's quit: [`QuitWaiters`], the node's list
//! of them, and [`QuitWaiter`], one pending wait (the inside of
//! [`Quitted`](crate::Quitted)).
//!
//! A quit is a one-shot broadcast: it happens once, and every waiter wakes
//! once. So the list is intrusive (see `list`): each waiter's entry, with
//! its waker, lives in the pinned waiter itself, and a pending waiter
//! costs the heap nothing. The quit takes the entries out in batches and
//! wakes each batch outside the lock; it marks each entry `WOKEN` (a
//! release store, its last touch of the entry), so a woken waiter sees
//! that with one load and touches nothing shared as it returns and drops.
//! (A general event, such as `event-listener`, keeps each listener in its
//! list after notifying it, and every woken waiter locks the list again to
//! unlink itself: with 100 000 waiters that lock is the hot spot of a
//! quit.)
//!
//! Invariants:
//! - An entry is added only under the lock and only while `QUIT` is clear,
//!   as read under that lock (by an RMW, [`State::is_quit_rmw`], at a
//!   waiter's first wait). The quit sets `QUIT` *before* it takes entries
//!   under the same lock. So every entry added is in the list the quit
//!   empties, and none is added afterwards, between its batches either.
//! - An entry's `state` goes `IDLE` → `LINKED` (its waiter, under the
//!   lock) → `WOKEN` (the quit, under the lock, after its last access) or
//!   back to `IDLE` (its waiter, cancelling, under the lock). While
//!   `LINKED` it is in the list (list rules 2 and 3), and its waker is
//!   read and written only under the lock. `WOKEN` is final.
//! - So a waiter may end its entry when it sees `IDLE` or `WOKEN` (the
//!   acquire load pairs with the quit's release store); while it sees
//!   `LINKED` it must lock and take the entry out first (its `Drop` does).
//! - The RMW also orders the node's `Extra` (where this list lives, made on
//!   first use) before the quit's look for it; see `Node::quit_one`.
//! - The lock is a leaf, and no waker is woken or dropped under it (a waker
//!   is user code).

use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};

use pin_project_lite::pin_project;

use crate::list::{impl_linked, Links, List};
use crate::node::Node;
use crate::state::State;
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
pub(crate) struct QuitWaiters(Mutex<List<WaiterEntry>>);

/// One waiter's entry in its node's list.
struct WaiterEntry {
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

impl QuitWaiters {
    pub(crate) fn new() -> Self {
        QuitWaiters(Mutex::new(List::new()))
    }

    /// Links `entry` with `waker` (or updates its waker), unless the node
    /// has quit.
    fn wait(&self, state: &State, entry: Pin<&WaiterEntry>, waker: &Waker) -> Poll<()> {
        let mut list = self.0.lock();
        match entry.state.load(Ordering::Relaxed) {
            LINKED => {
                // Ordered by the first wait already; a load under the lock
                // suffices, as the quit sets `QUIT` before it locks.
                if state.is_quit() {
                    // The quit takes the entry out, or our drop will.
                    return Poll::Ready(());
                }
                // SAFETY: the entry is linked and we hold the lock.
                let old = entry.waker.with_mut(|stored| unsafe {
                    match &mut *stored {
                        Some(stored) if stored.will_wake(waker) => None,
                        stored => stored.replace(waker.clone()),
                    }
                });
                drop(list);
                drop(old);
                Poll::Pending
            }
            IDLE => {
                // A first wait reads `QUIT` with an RMW (see the module docs).
                if state.is_quit_rmw() {
                    return Poll::Ready(());
                }
                // SAFETY: the entry is in no list, so only its waiter (our
                // caller) reaches it, and we hold the lock anyway.
                entry
                    .waker
                    .with_mut(|stored| unsafe { *stored = Some(waker.clone()) });
                entry.state.store(LINKED, Ordering::Relaxed);
                // SAFETY: the entry is in no list (`IDLE`) and pinned; it
                // stays live until it leaves the list: the quit takes it out
                // under this lock, or `QuitWaiter`'s `Drop` does before the
                // entry ends (`Pin`'s drop guarantee). We hold the lock.
                unsafe { list.push_back(NonNull::from(&*entry)) };
                Poll::Pending
            }
            _ => Poll::Ready(()),
        }
    }

    /// Takes `entry` out of the list if it is still in it (its waiter is
    /// going before the quit reached it).
    fn cancel(&self, entry: Pin<&WaiterEntry>) {
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

    /// Wakes every waiter; called once `QUIT` is set.
    pub(crate) fn wake_all(&self) {
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
                waker.wake();
            }
            if taken < BATCH {
                return;
            }
        }
    }
}

pin_project! {
    /// One pending wait for a node's quit; see the module docs. It links
    /// itself into the node's list at its first pending poll, and its
    /// `Drop` takes itself out if the quit has not.
    pub(crate) struct QuitWaiter<'a> {
        node: &'a Node,
        #[pin]
        entry: WaiterEntry,
    }

    impl PinnedDrop for QuitWaiter<'_> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let entry = this.entry.into_ref();
            // `IDLE`/`WOKEN`: in no list, ours to end (acquire: after the
            // quit's last touch). `LINKED`: take it out first.
            if entry.state.load(Ordering::Acquire) == LINKED {
                this.node.extra().waiters.cancel(entry);
            }
        }
    }
}

impl<'a> QuitWaiter<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        QuitWaiter {
            node,
            entry: WaiterEntry {
                links: Links::new(),
                waker: UnsafeCell::new(None),
                state: AtomicU8::new(IDLE),
            },
        }
    }

    pub(crate) fn node(&self) -> &'a Node {
        self.node
    }

    /// Ready once the node has quit; else registers `cx`'s waker.
    pub(crate) fn poll_quit(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if this.node.state.is_quit() {
            // If linked, the quit takes the entry out, or our drop will.
            return Poll::Ready(());
        }
        let entry = this.entry.into_ref();
        this.node
            .extra()
            .waiters
            .wait(&this.node.state, entry, cx.waker())
    }
}
