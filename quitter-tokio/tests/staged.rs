//! Stages on tokio's timer: a stage that overruns its budget has the next
//! stage quit anyway, both in `Shutdown::run` and in a sub-tree's
//! `wait_done`, and the overall timeout stays a hard limit. Real timers,
//! short budgets, generous upper bounds.

use std::time::{Duration, Instant};

use quitter_tokio::quitter_core::Stage;
use quitter_tokio::{spawn, wait_done, Quitter, Shutdown};

const BUDGET: Duration = Duration::from_millis(100);

/// `front` (a hung task, a budget) and `back` (after it; its task ends at
/// its quit and reports when that came).
fn staged(parent: &Quitter) -> (Quitter, tokio::sync::oneshot::Receiver<Instant>) {
    let front = parent
        .child_in("front", Stage::FIRST.budget(BUDGET))
        .unwrap();
    let back = parent.child_in("back", Stage::after(&front)).unwrap();
    spawn(&front, "hung", std::future::pending::<()>()).unwrap();
    let (quit_seen, quit_at) = tokio::sync::oneshot::channel();
    let back2 = back.clone();
    spawn(&back, "job", async move {
        back2.quitted().await;
        let _ = quit_seen.send(Instant::now());
    })
    .unwrap();
    (front, quit_at)
}

#[tokio::test]
async fn shutdown_quits_the_next_stage_when_one_overruns_its_budget() {
    let root = Quitter::new("main");
    let (_front, mut back_quit_at) = staged(&root);
    let shutdown = Shutdown::new(root.clone()).timeout(Duration::from_secs(2));
    let started = Instant::now();
    root.quit();
    let report = shutdown.run().await;
    // Long since sent (at the budget, ~1.9 s before the timeout).
    let back_quit_at = back_quit_at.try_recv().expect("back was quit");
    assert!(
        back_quit_at - started >= BUDGET,
        "not before front's budget"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(report.exit_code(), 1);
    assert!(
        report.stages[0].overran && !report.stages[0].done,
        "{report}"
    );
    assert!(report.stages[1].done, "{report}");
    assert_eq!(report.stages[0].hung[0].tasks[0].name, "hung");
}

#[tokio::test]
async fn wait_done_keeps_the_budgets_of_a_sub_tree() {
    let root = Quitter::new("main");
    let service = root.child("service").unwrap();
    let (_front, mut back_quit_at) = staged(&service);
    let started = Instant::now();
    service.quit();
    let report = wait_done(&service, Duration::from_secs(2))
        .await
        .unwrap_err();
    let back_quit_at = back_quit_at.try_recv().expect("back was quit");
    assert!(back_quit_at - started >= BUDGET);
    assert_eq!(report.task_count(), 1, "only the hung task: {report}");
    assert!(!root.is_quitting());
}
