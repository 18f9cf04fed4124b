//! Tracked spawn, paired: quitter vs `TaskTracker::spawn` vs raw
//! `tokio::spawn`, measured in alternation on one runtime.
//!
//! Why next to criterion's `compare`: criterion measures one implementation
//! for several seconds, then the next. On a shared 2-core machine the speed
//! drifts by more than the few percent the spawn goals are about, so the
//! ratio of two such medians moves between runs. Here every round times one
//! sample of each implementation back to back (rotating which goes first),
//! and the ratio is taken within the round; the median of those paired
//! ratios cancels the drift.
//!
//! Two tasks: the trivial one (a 1-byte future: tokio's 128-byte
//! task cell for raw and TaskTracker, a 256-byte cell with the 80 bytes a
//! tracked future carries) and one holding 48 bytes (a 256-byte cell for
//! all three), which separates the cell-size step from the rest.
//!
//! `cargo bench -p quitter-tokio --bench spawn_paired` (600 rounds, about 20 s
//! once built), or with `QUITTER_BENCH_QUICK=1` (120 rounds).

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;

use common::{quartiles, quick, runtime};
use quitter_tokio::Quitter;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// Tasks spawned (then joined) per batch, as in `compare`.
const BATCH: usize = 1_000;
/// Batches per sample.
const BATCHES: usize = 10;

#[derive(Clone, Copy)]
enum Task {
    Trivial,
    Holding48,
}

#[derive(Clone, Copy)]
enum Spawner {
    Quitter,
    TokioUtil,
    Raw,
}

const SPAWNERS: [Spawner; 3] = [Spawner::Quitter, Spawner::TokioUtil, Spawner::Raw];

/// Spawns `future` the way `spawner` does.
fn spawn<F>(
    spawner: Spawner,
    root: &Quitter,
    tracker: &TaskTracker,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match spawner {
        Spawner::Quitter => quitter_tokio::spawn(root, "task", future).unwrap(),
        Spawner::TokioUtil => tracker.spawn(future),
        Spawner::Raw => tokio::spawn(future),
    }
}

/// Spawns `BATCH` tasks made by `make` the way `spawner` does, then joins
/// them.
async fn batch<F>(spawner: Spawner, root: &Quitter, tracker: &TaskTracker, make: impl Fn() -> F)
where
    F: Future<Output = u64> + Send + 'static,
{
    let handles: Vec<_> = (0..BATCH)
        .map(|_| spawn(spawner, root, tracker, make()))
        .collect();
    for handle in handles {
        black_box(handle.await.unwrap());
    }
}

fn sample(
    rt: &Runtime,
    spawner: Spawner,
    task: Task,
    root: &Quitter,
    tracker: &TaskTracker,
) -> Duration {
    let start = Instant::now();
    for _ in 0..BATCHES {
        match task {
            Task::Trivial => {
                rt.block_on(batch(spawner, root, tracker, || async { black_box(1u64) }))
            }
            Task::Holding48 => rt.block_on(batch(spawner, root, tracker, || {
                let held = [1u64; 6];
                async move { black_box(held)[0] }
            })),
        }
    }
    start.elapsed()
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter is not supported.
    let rounds = if quick() { 120 } else { 600 };
    let rt = runtime();
    let root = Quitter::new("main");
    let tracker = TaskTracker::new();
    for (task, label) in [
        (Task::Trivial, "trivial"),
        (Task::Holding48, "holding 48 B"),
    ] {
        let warm_up = rounds / 10;
        let mut times = [const { Vec::new() }; 3];
        for round in 0..warm_up + rounds {
            for k in 0..SPAWNERS.len() {
                let which = (k + round) % SPAWNERS.len();
                let took = sample(&rt, SPAWNERS[which], task, &root, &tracker);
                if round >= warm_up {
                    times[which].push(took.as_secs_f64());
                }
            }
        }
        let per_task = |t: &Vec<f64>| quartiles(t.clone()).1 / (BATCH * BATCHES) as f64 * 1e9;
        println!(
            "spawn/{label}: median per task: quitter {:.0} ns, tokio_util {:.0} ns, raw {:.0} ns",
            per_task(&times[0]),
            per_task(&times[1]),
            per_task(&times[2]),
        );
        for (peer, name) in [(1, "tokio_util"), (2, "raw")] {
            let paired = times[0]
                .iter()
                .zip(&times[peer])
                .map(|(q, p)| q / p)
                .collect();
            let (low, median, high) = quartiles(paired);
            println!(
                "spawn/{label} vs {name:<10}  paired ratio median {median:.3}  (quartiles {low:.3}..{high:.3}, {rounds} rounds)"
            );
        }
        let tt_raw = times[1].iter().zip(&times[2]).map(|(t, r)| t / r).collect();
        println!(
            "spawn/{label}: tokio_util vs raw {:.3}",
            quartiles(tt_raw).1
        );
    }
}
