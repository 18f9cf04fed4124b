//! What the tokio benches share, so that they measure on the same settings:
//! the runtime every implementation runs on, the quick-mode switch, and
//! the paired benches' quartiles.
#![allow(dead_code)] // each bench uses its part

use tokio::runtime::Runtime;

/// `QUITTER_BENCH_QUICK` is set: a brief pass instead of a full run.
pub fn quick() -> bool {
    std::env::var_os("QUITTER_BENCH_QUICK").is_some()
}

/// The runtime of every bench: multi-thread tokio, 2 workers.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The first quartile, median and third quartile of `values`: the paired
/// benches' summary of their per-round ratios.
pub fn quartiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}
