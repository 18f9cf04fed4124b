//! What the tokio benches share, so that they measure on the same settings:
//! the runtime every implementation runs on and the quick-mode switch.
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
