//! Stress: eight threads track and end tasks (some in short-lived
//! children) while another thread quits. Nothing is lost: every accepted
//! task ended, every refusal came after the quit, and `done()` is ready.
//! And quit waiters come and go on four threads while the quit happens: no
//! wake-up is lost. And tracked futures, listed in their thread's registry
//! shard, end on another thread while reports read the shards. And tracked
//! futures outlive the last handle of their quitter (a child per task),
//! ending on another thread, while the root quits: a task keeps only a
//! pointer to its node, so this is the node-lifetime rule at scale (run it
//! under valgrind to see it touch no freed memory). (The interleavings themselves are checked exhaustively
//! by the loom models; these are the same properties at scale.)
//! Sizes go through `common::scaled` (`QUITTER_TEST_SCALE`), so Miri runs
//! the same tests small.

mod common;

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
    // Every worker runs the same number of iterations; the quit points
    // below are fractions of their total.
    let per_worker = (common::scaled(ITERATIONS) / WORKERS).max(1);
    let iterations = per_worker * WORKERS;
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
                    for i in 0..per_worker {
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
        while started.load(Ordering::Relaxed) < (round + 1) * iterations / (ROUNDS + 1) {
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
    let churn = common::scaled(2_000);
    for round in 0..common::scaled(20) {
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
                for _ in 0..churn {
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
        while churned.load(Ordering::Relaxed) < THREADS * (churn / 2) {
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

/// Tracked futures are listed in the registry shard of the thread that
/// first polls them, and here half of them end on another thread, while a
/// reporter walks the shards. Every report reads whole entries (the right
/// name) and never more tasks than can be live, and at the end nothing is
/// left listed.
#[test]
fn tracked_futures_end_on_other_threads_while_reports_read() {
    use std::pin::Pin;
    use std::sync::atomic::AtomicBool;

    use quitter_core::Tracked;

    const THREADS: usize = 4;
    let tasks = common::scaled(20_000);
    const IN_FLIGHT: usize = 64;
    type Task = Pin<Box<Tracked<std::future::Pending<()>>>>;

    let root = Quitter::new("main");
    let (hand_over, handed) = mpsc::sync_channel::<Task>(IN_FLIGHT);
    let ender = thread::spawn(move || {
        for task in handed {
            drop(task);
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let reporter = {
        let (root, stop) = (root.clone(), stop.clone());
        thread::spawn(move || {
            let mut reports = 0;
            while !stop.load(Ordering::Relaxed) {
                for quitter in root.live_tasks().quitters {
                    // A shard holds its producer's task and those it
                    // handed over that have not ended (the channel and the
                    // ender: IN_FLIGHT + 1). Shards are read one after the
                    // other, so each may show the channel full.
                    assert!(quitter.tasks.len() <= THREADS * (IN_FLIGHT + 2));
                    assert!(quitter.tasks.iter().all(|task| task.name == "task"));
                }
                reports += 1;
            }
            reports
        })
    };
    let producers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (root, hand_over) = (root.clone(), hand_over.clone());
            thread::spawn(move || {
                for i in 0..tasks / THREADS {
                    let mut task = Box::pin(
                        root.track_future("task", std::future::pending::<()>())
                            .unwrap(),
                    );
                    assert!(task.as_mut().now_or_never().is_none());
                    if i % 2 == 0 {
                        drop(task);
                    } else {
                        hand_over.send(task).unwrap();
                    }
                }
            })
        })
        .collect();
    drop(hand_over);
    for producer in producers {
        producer.join().unwrap();
    }
    ender.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(reporter.join().unwrap() > 0);
    assert_eq!(root.task_count(), 0);
    root.quit();
    assert!(root.is_done());
    assert!(root.live_tasks().quitters.is_empty());
}

/// Each of four threads makes a child per task, tracks a pending future in
/// it, polls it once (listing it in the thread's shard), hands it to an
/// ender thread and drops the child's handle, so the task outlives its
/// quitter's handles. Midway the root quits. Every accepted task ends, every
/// child is freed (unlinked) once its task has ended, and the root is done.
#[test]
fn tracked_futures_outlive_their_quitters_last_handle() {
    use std::pin::Pin;

    use quitter_core::Tracked;

    const THREADS: usize = 4;
    let tasks: usize = std::env::var("QUITTER_STRESS_TASKS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| common::scaled(20_000))
        .max(THREADS);
    type Task = Pin<Box<Tracked<std::future::Pending<()>>>>;

    let root = Quitter::new("main");
    let (hand_over, handed) = mpsc::sync_channel::<Task>(64);
    let (quarter_ended, quarter) = mpsc::channel::<()>();
    let ender = thread::spawn(move || {
        let mut ended = 0;
        for task in handed {
            drop(task);
            ended += 1;
            if ended == tasks / 4 {
                quarter_ended.send(()).unwrap();
            }
        }
        ended
    });
    let go = Arc::new(Barrier::new(THREADS + 1));
    let producers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (root, hand_over, go) = (root.clone(), hand_over.clone(), go.clone());
            thread::spawn(move || {
                go.wait();
                let mut accepted = 0;
                for _ in 0..tasks / THREADS {
                    let Ok(child) = root.child("conn") else {
                        continue;
                    };
                    let Ok(task) = child.track_future("task", std::future::pending::<()>()) else {
                        continue;
                    };
                    let mut task = Box::pin(task);
                    assert!(task.as_mut().now_or_never().is_none());
                    drop(child);
                    hand_over.send(task).unwrap();
                    accepted += 1;
                }
                accepted
            })
        })
        .collect();
    drop(hand_over);
    go.wait();
    // Nothing is refused before the quit, so a quarter of the tasks end;
    // then quit, while the producers are (most likely) still at work.
    quarter.recv().unwrap();
    root.quit();
    let accepted: usize = producers.into_iter().map(|p| p.join().unwrap()).sum();
    assert!(accepted >= tasks / 4);
    assert_eq!(ender.join().unwrap(), accepted);
    assert_eq!(
        root.child_count(),
        0,
        "every child freed once its task ended"
    );
    assert!(root.is_done());
    assert!(root.live_tasks().quitters.is_empty());
}
