//! Memory (issue 6, point 4), counted by a counting global allocator: heap bytes per idle
//! child quitter, per live tracked task and per pending `quitted()` waiter,
//! beside a child token, a `TaskTracker` task and a pending `cancelled()`.
//! Prints a table (and `memory.json` for `ratios.py`); run with
//! `cargo bench -p quitter-tokio --bench memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::task::Context;

use quitter_tokio::Quitter;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const N: usize = 10_000;

/// Heap bytes per item kept alive by `make` (the holding Vec is allocated
/// before counting).
fn per_item<T>(make: impl FnMut() -> T) -> f64 {
    per_item_after(make, || {})
}

/// [`per_item`], counted after `settle` has run (with every item alive).
fn per_item_after<T>(mut make: impl FnMut() -> T, settle: impl FnOnce()) -> f64 {
    let mut keep = Vec::with_capacity(N);
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..N {
        keep.push(make());
    }
    settle();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(keep);
    bytes as f64 / N as f64
}

std::thread_local! {
    /// Tasks of the current-thread runtime that have been polled; a
    /// thread-local, so that counting adds nothing to the futures measured.
    static POLLED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count_polled() {
    POLLED.with(|polled| polled.set(polled.get() + 1));
}

/// Heap bytes per task spawned by `spawn`, once the (current-thread)
/// runtime has polled every task up to its first await.
fn per_polled_task<T>(rt: &tokio::runtime::Runtime, spawn: impl FnMut() -> T) -> f64 {
    POLLED.with(|polled| polled.set(0));
    per_item_after(spawn, || {
        while POLLED.with(|polled| polled.get()) < N {
            rt.block_on(tokio::task::yield_now());
        }
    })
}

/// Polls once (so a waiter registers), with a waker that does nothing.
fn poll_once<F: Future>(future: Pin<&mut F>) {
    let _ = future.poll(&mut Context::from_waker(
        futures_util::task::noop_waker_ref(),
    ));
}

fn main() {
    // A fresh root (and token) per row: a registry keeps its capacity, so
    // a reused one would hide its entries' cost.
    let fresh = || (Quitter::new("main"), CancellationToken::new());
    let mut rows: Vec<(&str, f64, f64)> = Vec::new();

    let (root, token) = fresh();

    rows.push((
        "idle child",
        per_item(|| root.child("conn").unwrap()),
        per_item(|| token.child_token()),
    ));

    // A live tracked task: the registration alone, then a spawned pending
    // task (which includes tokio's own task allocation on both sides).
    let (root, _) = fresh();
    let tracker = TaskTracker::new();
    rows.push((
        "task registration",
        per_item(|| root.track("task").unwrap()),
        per_item(|| tracker.token()),
    ));
    // A runtime per row: dropping it drops its tasks, so the tasks of one
    // row cannot run (and allocate) during the next.
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    };
    let rt = runtime();
    let enter = rt.enter();
    let (root, token) = fresh();
    let tracker = TaskTracker::new();
    let spawned_quitter = per_item(|| {
        let q = root.clone();
        quitter_tokio::spawn(&root, "task", async move { q.quitted().await }).unwrap()
    });
    let spawned_tracker = per_item(|| {
        let t = token.clone();
        tracker.spawn(async move { t.cancelled().await })
    });
    rows.push(("spawned task, not polled", spawned_quitter, spawned_tracker));
    drop(enter);
    drop(rt);

    // The same once every task has run to its first await: a tracked
    // future is listed in the registry from its first poll.
    let rt = runtime();
    let _enter = rt.enter();
    let (root, token) = fresh();
    let tracker = TaskTracker::new();
    let polled_quitter = per_polled_task(&rt, || {
        let q = root.clone();
        quitter_tokio::spawn(&root, "task", async move {
            count_polled();
            q.quitted().await
        })
        .unwrap()
    });
    let polled_tracker = per_polled_task(&rt, || {
        let t = token.clone();
        tracker.spawn(async move {
            count_polled();
            t.cancelled().await
        })
    });
    rows.push(("spawned task, polled", polled_quitter, polled_tracker));
    // What tracking adds inside the spawned future itself (tokio's task
    // holds the future; its size is rounded up to 128 bytes, so inline
    // bytes cost heap only where they cross such a step).
    let (root, _) = fresh();
    let tracker = TaskTracker::new();
    let bare = std::mem::size_of::<std::future::Pending<()>>();
    let inline_quitter = std::mem::size_of_val(
        &root
            .track_future("task", std::future::pending::<()>())
            .unwrap(),
    ) - bare;
    let inline_tracker =
        std::mem::size_of_val(&tracker.track_future(std::future::pending::<()>())) - bare;
    rows.push((
        "tracking, inline in the future",
        inline_quitter as f64,
        inline_tracker as f64,
    ));

    // A pending waiter: heap bytes after its first poll, plus its own size.
    let (root, token) = fresh();
    let waiter_quitter = per_item(|| {
        let mut waiter = Box::pin(root.quitted());
        poll_once(waiter.as_mut());
        waiter
    }) - std::mem::size_of_val(&root.quitted()) as f64;
    let waiter_token = per_item(|| {
        let mut waiter = Box::pin(token.cancelled());
        poll_once(waiter.as_mut());
        waiter
    }) - std::mem::size_of_val(&token.cancelled()) as f64;
    let size_quitter = std::mem::size_of_val(&root.quitted()) as f64;
    let size_token = std::mem::size_of_val(&token.cancelled()) as f64;
    rows.push(("pending waiter (heap)", waiter_quitter, waiter_token));
    rows.push(("pending waiter (future size)", size_quitter, size_token));
    rows.push((
        "pending waiter (total)",
        waiter_quitter + size_quitter,
        waiter_token + size_token,
    ));

    // A waiter on a quitter that already quit: nothing at all.
    let quit = Quitter::new("quit");
    quit.quit();
    let before = LIVE.load(Ordering::Relaxed);
    let mut waiter = std::pin::pin!(quit.quitted());
    poll_once(waiter.as_mut());
    let on_quit = (LIVE.load(Ordering::Relaxed) - before) as f64;
    rows.push(("waiter on a quit quitter", on_quit, 0.0));

    println!(
        "{:<30} {:>10} {:>12} {:>7}",
        "bytes per item", "quitter", "tokio-util", "ratio"
    );
    let mut json = String::from("{");
    for (i, (name, ours, theirs)) in rows.iter().enumerate() {
        let ratio = if *theirs == 0.0 {
            f64::NAN
        } else {
            ours / theirs
        };
        println!("{name:<30} {ours:>10.1} {theirs:>12.1} {ratio:>7.2}");
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!("\"{name}\":[{ours},{theirs}]"));
    }
    json.push('}');
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::write(dir.join("memory.json"), json);
}
