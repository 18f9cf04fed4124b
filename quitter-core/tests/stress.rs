//! Stress: eight threads track and end tasks (some in short-lived
//! children) while another thread quits. Nothing is lost: every accepted
//! task ended, every refusal came after the quit, and `done()` is ready.
//! (The interleavings themselves are checked exhaustively by the loom
//! models; this is the same property at scale.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

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
