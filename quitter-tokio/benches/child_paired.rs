//! Child create + drop, paired: quitter's `child` vs tokio-util's
//! `child_token`, timed in alternation on one thread (see `spawn_paired`
//! for why pairs: a shared machine drifts by more than the few percent
//! this ratio is about; the ratio within a round cancels the drift).
//!
//! `cargo bench -p quitter-tokio --bench child_paired` (1000 rounds, a few
//! seconds once built), or with `QUITTER_BENCH_QUICK=1` (200 rounds).

use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;

use common::{quartiles, quick};
use quitter_tokio::Quitter;
use tokio_util::sync::CancellationToken;

/// Children made and dropped per sample.
const CHILDREN: usize = 2_000;

fn quitter_sample(root: &Quitter) -> Duration {
    let start = Instant::now();
    for _ in 0..CHILDREN {
        drop(black_box(root.child("child").unwrap()));
    }
    start.elapsed()
}

fn token_sample(root: &CancellationToken) -> Duration {
    let start = Instant::now();
    for _ in 0..CHILDREN {
        drop(black_box(root.child_token()));
    }
    start.elapsed()
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter is not supported.
    let rounds = if quick() { 200 } else { 1000 };
    let root = Quitter::new("main");
    let token = CancellationToken::new();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds + rounds / 10 {
        let (q, t) = if round % 2 == 0 {
            let q = quitter_sample(&root);
            (q, token_sample(&token))
        } else {
            let t = token_sample(&token);
            (quitter_sample(&root), t)
        };
        if round >= rounds / 10 {
            ours.push(q.as_secs_f64());
            theirs.push(t.as_secs_f64());
        }
    }
    let per_child = |t: &Vec<f64>| quartiles(t.clone()).1 / CHILDREN as f64 * 1e9;
    println!(
        "child create + drop: median per child: quitter {:.1} ns, child_token {:.1} ns",
        per_child(&ours),
        per_child(&theirs)
    );
    let paired = ours.iter().zip(&theirs).map(|(q, t)| q / t).collect();
    let (low, median, high) = quartiles(paired);
    println!(
        "child create + drop vs child_token  paired ratio median {median:.3}  (quartiles {low:.3}..{high:.3}, {rounds} rounds)"
    );
}
