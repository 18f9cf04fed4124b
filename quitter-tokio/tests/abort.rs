//! Abort on deadline on tokio: an aborted task is cancelled the way tokio
//! cancels one (its `JoinHandle` says `is_cancelled`), its future's
//! cleanup runs, and the report lists it as aborted; blocking work cannot
//! be aborted and stays listed as hung. Real timers, short deadlines,
//! generous upper bounds.

use std::future::pending;
use std::time::{Duration, Instant};

use quitter_tokio::quitter_core::Stage;
use quitter_tokio::{spawn, spawn_blocking, Quitter, Shutdown};
use tokio::sync::oneshot;

/// A task pending forever whose future tells `dropped` when it goes.
fn stuck(
    quitter: &Quitter,
    name: &'static str,
) -> (tokio::task::JoinHandle<()>, oneshot::Receiver<()>) {
    let (dropped_tx, dropped) = oneshot::channel::<()>();
    let handle = spawn(quitter, name, async move {
        let _tell_on_drop = dropped_tx;
        pending::<()>().await;
    })
    .unwrap();
    (handle, dropped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_aborts_what_is_left_at_its_timeout() {
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone())
        .timeout(Duration::from_millis(200))
        .abort_on_timeout(Duration::from_millis(300));
    let worker = root.child("worker").unwrap();
    assert!(worker.is_abortable());
    let (handle, dropped) = stuck(&worker, "stuck");
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let blocking = spawn_blocking(&root, "blocking", move || blocked.recv()).unwrap();
    let started = Instant::now();
    root.quit();
    let report = shutdown.run().await;
    assert!(started.elapsed() < Duration::from_secs(20));
    let error = handle.await.unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    assert!(dropped.await.is_err(), "the future was dropped");
    assert_eq!(report.aborted.len(), 1, "{report}");
    assert_eq!(report.aborted[0].path, "main/worker");
    assert_eq!(report.timed_out.len(), 1, "{report}");
    assert_eq!(report.timed_out[0].tasks[0].name, "blocking", "{report}");
    assert_eq!(report.exit_code(), 1);
    assert!(report.to_string().contains("Task stuck"), "{report}");
    release.send(()).unwrap();
    blocking.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_abort_on_timeout_nothing_is_aborted() {
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone()).timeout(Duration::from_millis(100));
    assert!(!root.is_abortable());
    let (handle, _dropped) = stuck(&root, "stuck");
    root.quit();
    let report = shutdown.run().await;
    assert!(report.aborted.is_empty(), "{report}");
    assert_eq!(report.timed_out[0].tasks[0].name, "stuck", "{report}");
    assert!(!handle.is_finished());
    handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_that_overruns_its_budget_has_its_tasks_aborted_and_the_next_stage_runs() {
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
    let (request, dropped) = stuck(&http, "GET /slow");
    let jobs2 = jobs.clone();
    let (flushed_tx, flushed) = oneshot::channel();
    spawn(&jobs, "flush", async move {
        jobs2.quitted().await;
        let _ = flushed_tx.send(Instant::now());
    })
    .unwrap();
    let shutdown = Shutdown::new(root.clone()).timeout(Duration::from_secs(20));
    let started = Instant::now();
    root.quit();
    let report = shutdown.run().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not wait for the timeout"
    );
    assert!(request.await.unwrap_err().is_cancelled());
    assert!(dropped.await.is_err());
    let flushed_at = flushed.await.unwrap();
    assert!(
        flushed_at - started >= Duration::from_millis(100),
        "not before the budget"
    );
    assert!(report.timed_out.is_empty(), "{report}");
    assert_eq!(report.aborted.len(), 1, "{report}");
    assert!(
        report.stages[0].overran && report.stages[0].aborted == 1,
        "{report}"
    );
    assert!(report.stages[1].done, "{report}");
    assert_eq!(report.exit_code(), 1, "{report}");
}
