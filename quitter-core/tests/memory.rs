//! Allocation checks with a counting global allocator (per thread, so the
//! tests of this binary cannot disturb each other's counts).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::Context;

use futures::task::noop_waker_ref;
use quitter_core::Quitter;

struct Counting;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LIVE_BYTES.try_with(|b| b.set(b.get() + layout.size() as isize));
        let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = LIVE_BYTES.try_with(|b| b.set(b.get() - layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn memory_does_not_grow_with_children_made_and_dropped() {
    let root = Quitter::new("main");
    let churn = |n: usize| {
        for _ in 0..n {
            drop(root.child("conn").unwrap());
        }
    };
    churn(1_000); // warm up: the slab's first slot, lazily built parts
    let before = live_bytes();
    churn(1_000_000);
    assert_eq!(live_bytes(), before, "live bytes changed over 1M children");
    assert_eq!(root.child_count(), 0);
}

#[test]
fn a_waiter_on_a_quit_quitter_allocates_nothing() {
    let root = Quitter::new("main");
    root.quit();
    let mut cx = Context::from_waker(noop_waker_ref());
    let before = allocations();
    assert!(root.is_quitting());
    assert!(pin!(root.quitted()).poll(&mut cx).is_ready());
    assert!(pin!(root.done()).poll(&mut cx).is_ready());
    assert!(pin!(root.run_until_quit(std::future::pending::<()>()))
        .poll(&mut cx)
        .is_ready());
    assert_eq!(allocations(), before);
}

/// Pending waiters and running tracked futures are linked where they are
/// (intrusive lists): once the quitter's lists exist, waiting and tracking
/// allocate nothing, however many there are.
#[test]
fn pending_waiters_and_tracked_futures_allocate_nothing() {
    let root = Quitter::new("main");
    let mut cx = Context::from_waker(noop_waker_ref());
    // Warm up: the quitter's lazily made parts and this thread's shard.
    {
        let mut waiter = Box::pin(root.quitted());
        let mut task = Box::pin(
            root.track_future("warm", std::future::pending::<()>())
                .unwrap(),
        );
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
        assert!(task.as_mut().poll(&mut cx).is_pending());
    }
    let mut waiters: Vec<_> = (0..100).map(|_| Box::pin(root.quitted())).collect();
    let mut tasks: Vec<_> = (0..100)
        .map(|_| {
            let quitter = root.clone();
            Box::pin(
                root.track_future("task", async move { quitter.quitted().await })
                    .unwrap(),
            )
        })
        .collect();
    let before = allocations();
    for waiter in &mut waiters {
        assert!(waiter.as_mut().poll(&mut cx).is_pending());
    }
    for task in &mut tasks {
        assert!(task.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(allocations(), before, "waiting and listing allocated");
    assert_eq!(root.live_tasks().task_count(), 100);

    root.quit();
    for waiter in &mut waiters {
        assert!(waiter.as_mut().poll(&mut cx).is_ready());
    }
    for task in &mut tasks {
        assert!(task.as_mut().poll(&mut cx).is_ready());
    }
    assert!(root.is_done());
}

/// A pending waiter lives inside its task, so its size is the task's
/// size: `Quitted` stays six words (its waiter entry and the node
/// reference; the flag it waits for is a type, not a field), and the
/// draining and owned forms are no larger.
#[test]
#[cfg(target_pointer_width = "64")]
fn waiting_futures_stay_six_words() {
    use std::mem::size_of;
    assert_eq!(size_of::<quitter_core::Quitted<'static>>(), 48);
    assert_eq!(size_of::<quitter_core::Draining<'static>>(), 48);
    assert_eq!(size_of::<quitter_core::QuittedOwned>(), 48);
    assert_eq!(size_of::<quitter_core::DrainingOwned>(), 48);
}
