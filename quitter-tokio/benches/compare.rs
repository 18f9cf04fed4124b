//! quitter vs tokio-util (`CancellationToken` + `TaskTracker`), side by side
//! in one run, on the same runtime settings; the floor for the fan-out is a
//! bare `event_listener::Event` + `tokio::spawn` + joining the handles.
//!
//! `cargo bench -p quitter-tokio --bench compare` (full), or with
//! `QUITTER_BENCH_QUICK=1` (a brief pass, a couple of minutes on 2 cores);
//! then `python3 quitter-tokio/benches/ratios.py` prints the ratios.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::{quick, runtime};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use event_listener::Event;
use quitter_tokio::Quitter;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

fn config() -> Criterion {
    let c = Criterion::default().configure_from_args();
    if quick() {
        c.sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(600))
    } else {
        c
    }
}

/// Waits until `count` tasks have started (and so are about to wait).
async fn all_started(started: &AtomicUsize, count: usize) {
    while started.load(Ordering::Acquire) < count {
        tokio::task::yield_now().await;
    }
}

/// Quit fan-out (point 1): N tasks await the quit; time from quit to all joined.
fn fan_out(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("fanout");
    group.sample_size(10);
    let sizes: &[usize] = if quick() {
        &[1_000, 100_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    for &n in sizes {
        group.bench_with_input(BenchmarkId::new("quitter", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let root = Quitter::new("main");
                        let started = Arc::new(AtomicUsize::new(0));
                        for _ in 0..n {
                            let (q, started) = (root.clone(), started.clone());
                            quitter_tokio::spawn(&root, "waiter", async move {
                                started.fetch_add(1, Ordering::Release);
                                q.quitted().await;
                            })
                            .unwrap();
                        }
                        all_started(&started, n).await;
                        let t = Instant::now();
                        root.quit();
                        quitter_tokio::wait_done(&root, Duration::from_secs(60))
                            .await
                            .unwrap();
                        total += t.elapsed();
                    }
                    total
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("tokio_util", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let token = CancellationToken::new();
                        let tracker = TaskTracker::new();
                        let started = Arc::new(AtomicUsize::new(0));
                        for _ in 0..n {
                            let (token, started) = (token.clone(), started.clone());
                            tracker.spawn(async move {
                                started.fetch_add(1, Ordering::Release);
                                token.cancelled().await;
                            });
                        }
                        all_started(&started, n).await;
                        let t = Instant::now();
                        tracker.close();
                        token.cancel();
                        tracker.wait().await;
                        total += t.elapsed();
                    }
                    total
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("floor", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let event = Arc::new(Event::new());
                        let flag = Arc::new(AtomicBool::new(false));
                        let started = Arc::new(AtomicUsize::new(0));
                        let handles: Vec<_> = (0..n)
                            .map(|_| {
                                let (event, flag, started) =
                                    (event.clone(), flag.clone(), started.clone());
                                tokio::spawn(async move {
                                    started.fetch_add(1, Ordering::Release);
                                    while !flag.load(Ordering::Acquire) {
                                        let listener = event.listen();
                                        if flag.load(Ordering::Acquire) {
                                            break;
                                        }
                                        listener.await;
                                    }
                                })
                            })
                            .collect();
                        all_started(&started, n).await;
                        let t = Instant::now();
                        flag.store(true, Ordering::Release);
                        event.notify(usize::MAX);
                        for handle in handles {
                            handle.await.unwrap();
                        }
                        total += t.elapsed();
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

/// Runs `op` `iters` times on each of two threads at once; per-op time.
fn contended(iters: u64, op: impl Fn() + Sync) -> Duration {
    let t = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| (0..iters).for_each(|_| op()));
        (0..iters).for_each(|_| op());
    });
    t.elapsed()
}

/// Child create + drop (point 2), the per-connection pattern.
fn child(c: &mut Criterion) {
    let mut group = c.benchmark_group("child");
    let root = Quitter::new("main");
    let token = CancellationToken::new();
    group.bench_function(BenchmarkId::new("quitter", "single"), |b| {
        b.iter(|| drop(black_box(root.child("conn").unwrap())))
    });
    group.bench_function(BenchmarkId::new("tokio_util", "single"), |b| {
        b.iter(|| drop(black_box(token.child_token())))
    });
    group.bench_function(BenchmarkId::new("quitter", "contended"), |b| {
        b.iter_custom(|iters| contended(iters, || drop(black_box(root.child("conn").unwrap()))))
    });
    group.bench_function(BenchmarkId::new("tokio_util", "contended"), |b| {
        b.iter_custom(|iters| contended(iters, || drop(black_box(token.child_token()))))
    });
    group.finish();
}

/// One request's tracking, start and end, on a connection: a row of the
/// connection's task table (named `GET /`, with its age, in reports: what
/// the serve helper does per request) against a `TaskTracker` token (a
/// count only, no name nor age), the nearest tokio-util has.
fn request(c: &mut Criterion) {
    let mut group = c.benchmark_group("request");
    let connection = Quitter::new("127.0.0.1:50312");
    let table = connection.task_table().expect("not quit");
    let tracker = TaskTracker::new();
    group.bench_function(BenchmarkId::new("quitter", "row"), |b| {
        b.iter(|| drop(black_box(table.start([black_box("GET "), black_box("/")]))))
    });
    group.bench_function(BenchmarkId::new("tokio_util", "row"), |b| {
        b.iter(|| drop(black_box(tracker.token())))
    });
    group.finish();
}

/// Tracked spawn (point 3) of a trivial task (spawn, then join), in batches; a
/// fresh runtime per implementation, so none inherits another's state.
fn spawn(c: &mut Criterion) {
    const BATCH: usize = 1_000;
    let mut group = c.benchmark_group("spawn");
    group.throughput(criterion::Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("quitter", "trivial"), |b| {
        let rt = runtime();
        let root = Quitter::new("main");
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..BATCH)
                    .map(|_| {
                        quitter_tokio::spawn(&root, "trivial", async { black_box(1) }).unwrap()
                    })
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            })
        })
    });
    group.bench_function(BenchmarkId::new("tokio_util", "trivial"), |b| {
        let rt = runtime();
        let tracker = TaskTracker::new();
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..BATCH)
                    .map(|_| tracker.spawn(async { black_box(1) }))
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            })
        })
    });
    group.bench_function(BenchmarkId::new("raw", "trivial"), |b| {
        let rt = runtime();
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..BATCH)
                    .map(|_| tokio::spawn(async { black_box(1) }))
                    .collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            })
        })
    });
    group.finish();
}

/// The hot-path check (point 5), uncontended and with a second thread polling.
fn is_quitting(c: &mut Criterion) {
    let mut group = c.benchmark_group("is_quitting");
    let root = Quitter::new("main");
    let token = CancellationToken::new();
    group.bench_function(BenchmarkId::new("quitter", "uncontended"), |b| {
        b.iter(|| black_box(&root).is_quitting())
    });
    group.bench_function(BenchmarkId::new("tokio_util", "uncontended"), |b| {
        b.iter(|| black_box(&token).is_cancelled())
    });
    group.bench_function(BenchmarkId::new("quitter", "contended"), |b| {
        b.iter_custom(|iters| {
            contended(iters, || {
                black_box(black_box(&root).is_quitting());
            })
        })
    });
    group.bench_function(BenchmarkId::new("tokio_util", "contended"), |b| {
        b.iter_custom(|iters| {
            contended(iters, || {
                black_box(black_box(&token).is_cancelled());
            })
        })
    });
    group.finish();
}

/// The readiness check (a lame duck's `!is_draining()`), in the same shape
/// as `is_quitting` and beside it in the run: `ratios.py` prints it against
/// `is_quitting` as well as against `is_cancelled`.
fn is_draining(c: &mut Criterion) {
    let mut group = c.benchmark_group("is_draining");
    let root = Quitter::new("main");
    let token = CancellationToken::new();
    group.bench_function(BenchmarkId::new("quitter", "uncontended"), |b| {
        b.iter(|| black_box(&root).is_draining())
    });
    group.bench_function(BenchmarkId::new("tokio_util", "uncontended"), |b| {
        b.iter(|| black_box(&token).is_cancelled())
    });
    group.bench_function(BenchmarkId::new("quitter", "contended"), |b| {
        b.iter_custom(|iters| {
            contended(iters, || {
                black_box(black_box(&root).is_draining());
            })
        })
    });
    group.bench_function(BenchmarkId::new("tokio_util", "contended"), |b| {
        b.iter_custom(|iters| {
            contended(iters, || {
                black_box(black_box(&token).is_cancelled());
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = is_quitting, is_draining, child, request, spawn, fan_out
}
criterion_main!(benches);
