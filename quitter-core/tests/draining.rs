//! Draining (the lame duck): `start_draining` flows down the tree like a
//! quit, but refuses nothing; `is_draining` is what a readiness check
//! reads; `draining()` wakes when it starts, or at the quit, which implies
//! it. And the owned (`'static`) forms of the waiting futures.

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::thread;

use common::{block_on, WakeCount};
use quitter_core::Quitter;

#[test]
fn draining_flows_down_and_refuses_nothing() {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let conn = http.child("conn").unwrap();
    let db = root.child("db").unwrap();
    assert!(!root.is_draining() && !conn.is_draining());

    // Only the sub-tree under `http`.
    assert!(http.start_draining());
    assert!(http.is_draining() && conn.is_draining());
    assert!(!root.is_draining() && !db.is_draining());
    assert!(!http.start_draining(), "only the first call starts it");

    // Work goes on: tasks and children are accepted, nothing quits.
    let task = conn.track("request").unwrap();
    let late = http.child("late conn").unwrap();
    assert!(
        late.is_draining(),
        "a child made while draining starts draining"
    );
    assert!(!http.is_quitting() && !late.is_quitting());

    // From the root, everything drains.
    root.start_draining();
    assert!(db.is_draining());

    // A quit implies draining, on a tree that never drained too.
    let other = Quitter::new("other");
    let child = other.child("child").unwrap();
    other.quit();
    assert!(other.is_draining() && child.is_draining());
    drop(task);
}

#[test]
fn draining_future_wakes_on_drain_and_on_quit() {
    for quit_instead in [false, true] {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        let wakes = WakeCount::new();
        let waker = wakes.waker();
        let mut cx = Context::from_waker(&waker);
        let mut draining = pin!(child.draining());
        assert_eq!(draining.as_mut().poll(&mut cx), Poll::Pending);
        // A quit waiter is not woken by a drain.
        let mut quitted = pin!(child.quitted());
        assert_eq!(quitted.as_mut().poll(&mut cx), Poll::Pending);

        if quit_instead {
            root.quit();
            assert_eq!(wakes.count(), 2, "the drain and the quit waiter");
        } else {
            root.start_draining();
            assert_eq!(wakes.count(), 1, "only the drain waiter");
            assert_eq!(quitted.as_mut().poll(&mut cx), Poll::Pending);
        }
        assert_eq!(draining.as_mut().poll(&mut cx), Poll::Ready(()));
        // Ready at once from now on.
        block_on(child.draining());
    }
}

#[test]
fn a_dropped_draining_waiter_is_unlinked() {
    let root = Quitter::new("main");
    let wakes = WakeCount::new();
    let waker = wakes.waker();
    let mut cx = Context::from_waker(&waker);
    {
        let mut draining = Box::pin(root.draining());
        assert_eq!(draining.as_mut().poll(&mut cx), Poll::Pending);
    }
    root.start_draining();
    assert_eq!(wakes.count(), 0, "a dropped waiter is not woken");
}

#[test]
fn owned_futures_are_static_and_wake() {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let guard = http.track("request").unwrap();

    // 'static: moved to other threads.
    let draining = thread::spawn({
        let future = http.clone().draining_owned();
        move || block_on(future)
    });
    let quitted = thread::spawn({
        let future = http.clone().quitted_owned();
        move || block_on(future)
    });
    let done = thread::spawn({
        let future = http.clone().done_owned();
        move || block_on(future)
    });

    root.start_draining();
    draining.join().unwrap();
    root.quit();
    quitted.join().unwrap();
    assert!(!http.is_done(), "a live task holds it open");
    drop(guard);
    done.join().unwrap();
    assert!(http.is_done());
}

#[test]
fn an_owned_waiter_keeps_its_child_linked() {
    let root = Quitter::new("main");
    let child = root.child("child").unwrap();
    let waiter = child.quitted_owned();
    assert_eq!(root.child_count(), 1, "the owned future holds a handle");
    drop(waiter);
    assert_eq!(root.child_count(), 0);
}

/// A drain waiter is woken only once the whole subtree is draining: a
/// readiness endpoint (on a connection's quitter, deep in the tree) that
/// whoever the drain woke asks next already says "draining".
#[test]
fn a_drain_waiter_wakes_once_the_whole_subtree_is_draining() {
    struct LooksAtTheLeaves {
        leaves: Vec<Quitter>,
        all_draining: std::sync::Mutex<Option<bool>>,
    }
    impl std::task::Wake for LooksAtTheLeaves {
        fn wake(self: std::sync::Arc<Self>) {
            let all = self.leaves.iter().all(Quitter::is_draining);
            *self.all_draining.lock().unwrap() = Some(all);
        }
    }

    let root = Quitter::new("main");
    let mut leaves = Vec::new();
    for branch in 0..4 {
        let branch = root.child(format!("b{branch}")).unwrap();
        for leaf in 0..4 {
            let leaf = branch.child(format!("l{leaf}")).unwrap();
            leaves.push(leaf.child("deep").unwrap());
        }
    }
    let look = std::sync::Arc::new(LooksAtTheLeaves {
        leaves,
        all_draining: std::sync::Mutex::new(None),
    });
    let waker = std::task::Waker::from(look.clone());
    let mut draining = std::pin::pin!(root.draining());
    let polled = draining
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&waker));
    assert!(polled.is_pending());

    assert!(root.start_draining());
    assert_eq!(*look.all_draining.lock().unwrap(), Some(true));
}
