//! Abort on deadline on smol: smol cannot cancel a task from inside, so an
//! aborted task unwinds with `Aborted` (no message): a detached task ends
//! quietly, and awaiting one panics with that payload, as awaiting a
//! cancelled task panics. The report lists them as aborted. Real timers,
//! short deadlines, generous upper bounds.

use std::future::pending;
use std::time::{Duration, Instant};

use quitter_smol::quitter_core::{Aborted, Stage};
use quitter_smol::{spawn, Quitter, Shutdown};

/// A future pending forever that tells `dropped` when it goes.
fn stuck() -> (
    impl std::future::Future<Output = ()> + Send + 'static,
    async_channel::Receiver<()>,
) {
    let (dropped_tx, dropped) = async_channel::bounded::<()>(1);
    let future = async move {
        let _tell_on_drop = dropped_tx;
        pending::<()>().await;
    };
    (future, dropped)
}

#[test]
fn the_shutdown_aborts_what_is_left_at_its_timeout() {
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone())
        .timeout(Duration::from_millis(200))
        .abort_on_timeout(Duration::from_secs(5));
    let (detached, detached_dropped) = stuck();
    spawn(&root, "detached", detached).unwrap().detach();
    let (awaited, awaited_dropped) = stuck();
    let awaited = spawn(&root, "awaited", awaited).unwrap();
    let started = Instant::now();
    root.quit();
    let report = smol::block_on(shutdown.run());
    // Both were dropped well within the grace: the wait ended with them.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(report.timed_out.is_empty(), "{report}");
    let mut names: Vec<_> = report
        .aborted
        .iter()
        .map(|a| a.task.name.to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["awaited", "detached"], "{report}");
    assert_eq!(report.exit_code(), 1);
    assert!(detached_dropped.try_recv().is_err() && detached_dropped.is_closed());
    assert!(awaited_dropped.is_closed());
    let unwound =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| smol::block_on(awaited)));
    assert!(unwound.unwrap_err().is::<Aborted>());
}

#[test]
fn a_stage_that_overruns_its_budget_has_its_tasks_aborted_and_the_next_stage_runs() {
    let root = Quitter::new("main");
    let http = root
        .child_in(
            "http",
            Stage::FIRST
                .budget(Duration::from_millis(100))
                .abort_on_overrun(),
        )
        .unwrap();
    let jobs = root.child_in("jobs", Stage::after(&http)).unwrap();
    let (request, dropped) = stuck();
    spawn(&http, "GET /slow", request).unwrap().detach();
    let jobs2 = jobs.clone();
    spawn(&jobs, "flush", async move { jobs2.quitted().await })
        .unwrap()
        .detach();
    let shutdown = Shutdown::new(root.clone()).timeout(Duration::from_secs(20));
    let started = Instant::now();
    root.quit();
    let report = smol::block_on(shutdown.run());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not wait for the timeout"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "not before the budget"
    );
    assert!(dropped.is_closed());
    assert!(report.timed_out.is_empty(), "{report}");
    assert_eq!(report.aborted.len(), 1, "{report}");
    assert!(
        report.stages[0].overran && report.stages[0].aborted == 1,
        "{report}"
    );
    assert!(report.stages[1].done, "{report}");
    assert_eq!(report.exit_code(), 1, "{report}");
}
