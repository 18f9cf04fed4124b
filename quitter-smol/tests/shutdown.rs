//! The main helper without OS signals: first source wins, the tree is
//! waited for up to the quit timeout, the report says how it went.

use std::future::pending;
use std::time::{Duration, Instant};

use quitter_smol::{spawn, QuitCause, Quitter, Shutdown};

const LONG: Duration = Duration::from_secs(10);

#[test]
fn first_source_quits_the_tree_and_a_clean_exit_is_code_0() {
    let root = Quitter::new("main");
    let (errors_tx, errors_rx) = async_channel::bounded::<String>(1);
    let worker = root.clone();
    spawn(&root, "worker", async move { worker.quitted().await })
        .unwrap()
        .detach();
    let shutdown = Shutdown::new(root.clone())
        .timeout(LONG)
        .source("never", pending::<()>())
        .source("HTTP server error", async move { errors_rx.recv().await });
    let report = smol::block_on(async {
        errors_tx.send("bind failed".into()).await.unwrap();
        shutdown.run().await
    });
    assert_eq!(report.cause.label, "HTTP server error");
    assert_eq!(report.cause.index, Some(1));
    assert_eq!(report.cause.detail.as_deref(), Some("bind failed"));
    assert_eq!(report.exit_code(), 0, "{report}");
    assert!(root.is_done());
}

#[test]
fn quit_by_code_ends_the_run_too() {
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone()).source("never", pending::<()>());
    let report = smol::block_on(async {
        root.quit();
        shutdown.run().await
    });
    assert_eq!(report.cause.label, QuitCause::REQUESTED);
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn hung_task_times_out_with_exit_code_1_after_the_quit_timeout() {
    let timeout = Duration::from_millis(200);
    let root = Quitter::new("main");
    let jobs = root.child("jobs").unwrap();
    let (polled, first_poll) = async_channel::bounded(1);
    let line = line!() + 1;
    let stuck = spawn(&jobs, "stuck", async move {
        let _ = polled.send(()).await;
        pending::<()>().await
    })
    .unwrap();
    // A tracked task is named from its first poll on.
    smol::block_on(first_poll.recv()).unwrap();
    let shutdown = Shutdown::new(root).timeout(timeout).source("now", async {});
    let started = Instant::now();
    let report = smol::block_on(shutdown.run());
    let elapsed = started.elapsed();
    assert!(elapsed >= timeout, "{elapsed:?}");
    assert!(elapsed < LONG, "{elapsed:?}");
    assert_eq!(report.exit_code(), 1);
    assert!(!report.forced);
    assert_eq!(report.timed_out.len(), 1);
    assert_eq!(report.timed_out[0].path, "main/jobs");
    assert_eq!(report.timed_out[0].tasks[0].name, "stuck");
    assert_eq!(report.timed_out[0].tasks[0].location.line(), line);
    let text = report.to_string();
    assert!(text.contains("Failed to quit application"), "{text}");
    assert!(text.contains("stuck (spawned at"), "{text}");
    drop(stuck);
}

#[test]
fn panicked_task_makes_the_exit_code_1() {
    let root = Quitter::new("main");
    let (tx, rx) = async_channel::bounded::<()>(1);
    // The task panics; the source fires when its sender is dropped by the
    // unwinding (the report lists the panic whenever it happened).
    spawn(&root, "doomed", async move {
        let _tx = tx;
        panic!("handler failed")
    })
    .unwrap()
    .detach();
    let shutdown = Shutdown::new(root)
        .timeout(LONG)
        .source("after the panic", async move { rx.recv().await.ok() });
    let report = smol::block_on(shutdown.run());
    assert_eq!(report.exit_code(), 1);
    assert!(report.timed_out.is_empty());
    assert_eq!(report.panicked.len(), 1);
    assert_eq!(report.panicked[0].message, "handler failed");
    assert!(report.to_string().contains("panicked: handler failed"));
}
