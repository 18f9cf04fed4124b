//! Stress: eight threads track and end tasks (some in short-lived
//! children) while another thread quits. Nothing is lost: every accepted
//! task ended, every refusal came after the quit, and `done()` is ready.
//! And quit waiters come and go on four threads while the quit happens: no
//! wake-up is lost. (The interleavings themselves are checked exhaustively
//! by the loom models; these are the same properties at scale.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use futures::executor::block_on;
use futures::FutureExt;

use quitter_core::Quitter;

const WORKERS: usize = 8;
const ITERATIONS: usize = 100_000;
const ROUNDS: usize = 5;

#[test]
fn eight_threads_track_while_another_quits() {
    for round in 0..ROUNDS {
        let root = Quitter::new("main");
        let started = Arc::new(AtomicUsize::new(0));
        let ended = Arc::new(AtomicUsize::new(0));
        let go = Arc::new(Barrier::new(WORKERS + 1));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (root, started, ended, go) =
                    (root.clone(), started.clone(), ended.clone(), go.clone());
                thread::spawn(move || {
                    go.wait();
                    for i in 0..ITERATIONS / WORKERS {
                        let tracked = if (i + w) % 4 == 0 {
                            root.child("conn").and_then(|c| c.track("in child"))
                        } else {
                            root.track("task")
                        };
                        let Ok(guard) = tracked else {
                            assert!(root.is_quitting(), "refused only after the quit");
                            return;
                        };
                        started.fetch_add(1, Ordering::Relaxed);
                        drop(guard);
                        ended.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        go.wait();
        // Quit at a different point of the 100k iterations each round,
        // while the workers run.
        while started.load(Ordering::Relaxed) < (round + 1) * ITERATIONS / (ROUNDS + 1) {
            std::hint::spin_loop();
        }
        root.quit();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(
            started.load(Ordering::Relaxed),
            ended.load(Ordering::Relaxed)
        );
        assert!(root.is_done());
        futures::executor::block_on(root.done());
        assert_eq!(root.child_count(), 0);
    }
}

#[test]
fn no_quit_wakeup_is_lost_while_waiters_come_and_go() {
    const THREADS: usize = 4;
    for round in 0..20 {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        let go = Arc::new(Barrier::new(THREADS + 1));
        let (woke, wakes) = mpsc::channel();
        let churned = Arc::new(AtomicUsize::new(0));
        for t in 0..THREADS {
            // Half wait on the root, half on a child (reached by the walk).
            let quitter = if t % 2 == 0 {
                root.clone()
            } else {
                child.clone()
            };
            let (go, woke, churned) = (go.clone(), woke.clone(), churned.clone());
            thread::spawn(move || {
                go.wait();
                // Waiters that store a waker and are dropped, before, during
                // or after the quit…
                for _ in 0..2_000 {
                    let mut waiter = Box::pin(quitter.quitted());
                    let _ = waiter.as_mut().now_or_never();
                    churned.fetch_add(1, Ordering::Relaxed);
                }
                // …and one that must wake.
                block_on(quitter.quitted());
                woke.send(()).unwrap();
            });
        }
        go.wait();
        // Quit in the middle of the churn.
        while churned.load(Ordering::Relaxed) < THREADS * 1_000 {
            thread::yield_now();
        }
        root.quit();
        for _ in 0..THREADS {
            wakes
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("round {round}: a quit waiter never woke"));
        }
    }
}
