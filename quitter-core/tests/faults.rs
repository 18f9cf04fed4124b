//! Faults: quitting from unusual places, and children made during a quit.

mod common;

use std::future::Future;
use std::sync::{Arc, Barrier};
use std::thread;

use common::{block_on, go, never};
use quitter_core::{QuitCause, Quitter};

#[test]
fn quit_from_inside_a_tracked_task() {
    let root = Quitter::new("main");
    let worker = go(&root, "decider", |q| {
        // The task's own quitter is the root: quitting it from inside the
        // task must not deadlock on anything the task holds.
        q.quit_with(QuitCause::new("decided"));
        assert!(q.is_quitting());
    })
    .unwrap();
    worker.join().unwrap();
    assert_eq!(block_on(root.wait_done_until(never())), Ok(()));
    assert_eq!(root.cause().unwrap().label, "decided");
}

#[test]
fn quit_from_a_drop_inside_a_tracked_future() {
    struct QuitOnDrop(Quitter);
    impl Drop for QuitOnDrop {
        fn drop(&mut self) {
            self.0.quit_with(QuitCause::new("dropped"));
        }
    }
    let root = Quitter::new("main");
    let child = root.child("c").unwrap();
    // The task's future owns a value whose Drop quits the whole tree; it
    // runs while the tracked future (and its guard) are being dropped.
    let on_drop = QuitOnDrop(root.clone());
    let task = child
        .track_future("t", async move {
            let _on_drop = on_drop;
            std::future::pending::<()>().await;
        })
        .unwrap();
    let mut task = Box::pin(task);
    let waker = futures::task::noop_waker();
    let _ = task
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&waker));
    assert!(!root.is_quitting());
    drop(task);
    assert!(child.is_quitting());
    assert!(
        root.is_done(),
        "the guard ended after the quit: everything is done"
    );
    assert_eq!(root.cause().unwrap().label, "dropped");
}

#[test]
fn quit_from_another_thread_wakes_every_waiter() {
    let root = Quitter::new("main");
    let children: Vec<_> = (0..4)
        .map(|i| root.child(format!("c{i}")).unwrap())
        .collect();
    let ready = Arc::new(Barrier::new(5));
    let waiters: Vec<_> = children
        .iter()
        .map(|c| {
            let (c, ready) = (c.clone(), ready.clone());
            thread::spawn(move || {
                ready.wait();
                block_on(c.quitted());
            })
        })
        .collect();
    ready.wait();
    thread::spawn(move || root.quit()).join().unwrap();
    for waiter in waiters {
        waiter.join().unwrap();
    }
}

/// A child requested while its parent is quitting (on another thread) is
/// refused or quit, never orphaned: after the quit returns, every child
/// that was made is quitting.
#[test]
fn children_made_during_a_quit_are_refused_or_quit() {
    for _ in 0..common::scaled(200) {
        let root = Quitter::new("main");
        let start = Arc::new(Barrier::new(2));
        let maker = {
            let (root, start) = (root.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut made = Vec::new();
                while let Ok(child) = root.child("c") {
                    made.push(child);
                }
                made
            })
        };
        start.wait();
        root.quit();
        for child in maker.join().unwrap() {
            assert!(child.is_quitting(), "an accepted child got the quit");
        }
    }
}
