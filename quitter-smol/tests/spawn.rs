//! Tracked spawn on smol: refused after quit, panics reported, hung tasks
//! named with their spawn location, dropped (cancelled) tasks not hung,
//! blocking work tracked until it returns.

use std::future::{pending, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use quitter_core::panic_message;
use quitter_smol::{
    spawn, spawn_on, spawn_unnamed, spawn_unnamed_on, unblock, wait_done, AlreadyQuit, Quitter,
};
use smol::Executor;

/// For waits that should succeed: generous, so a loaded CI never flakes.
const LONG: Duration = Duration::from_secs(10);
/// For waits that must time out (the task is blocked on the test itself).
const SHORT: Duration = Duration::from_millis(100);

fn type_name_of<T>(_: &T) -> &'static str {
    std::any::type_name::<T>()
}

/// A future that records whether it was ever polled.
fn poll_flag() -> (Arc<AtomicBool>, impl Future<Output = ()> + Send + 'static) {
    let polled = Arc::new(AtomicBool::new(false));
    let flag = polled.clone();
    (polled, async move { flag.store(true, Ordering::SeqCst) })
}

/// Sends on a channel when dropped: proves a future was dropped.
struct DropSignal(async_channel::Sender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.try_send(());
    }
}

#[test]
fn spawn_is_refused_after_quit_and_the_future_is_never_polled() {
    let root = Quitter::new("main");
    let child = root.child("jobs").unwrap();
    let ex = Executor::new();
    root.quit();

    let (polled, future) = poll_flag();
    assert_eq!(spawn(&child, "late", future).unwrap_err(), AlreadyQuit);
    let (polled_unnamed, future) = poll_flag();
    assert_eq!(spawn_unnamed(&child, future).unwrap_err(), AlreadyQuit);
    let (polled_on, future) = poll_flag();
    assert_eq!(
        spawn_on(&ex, &child, "late", future).unwrap_err(),
        AlreadyQuit
    );
    let (polled_unnamed_on, future) = poll_flag();
    assert_eq!(
        spawn_unnamed_on(&ex, &root, future).unwrap_err(),
        AlreadyQuit
    );
    let called = Arc::new(AtomicBool::new(false));
    let flag = called.clone();
    let refused = unblock(&root, "late", move || flag.store(true, Ordering::SeqCst));
    assert_eq!(refused.unwrap_err(), AlreadyQuit);

    // Nothing was handed to the executor, and nothing ran.
    assert!(!ex.try_tick());
    for flag in [
        &polled,
        &polled_unnamed,
        &polled_on,
        &polled_unnamed_on,
        &called,
    ] {
        assert!(!flag.load(Ordering::SeqCst));
    }
    assert_eq!(root.task_count() + child.task_count(), 0);
    smol::block_on(wait_done(&root, LONG)).unwrap();
}

#[test]
fn spawned_task_runs_and_ends_on_both_executors() {
    let root = Quitter::new("main");
    let ex = Executor::new();
    let global = spawn(&root, "global", async { 1 }).unwrap();
    let local = spawn_on(&ex, &root, "local", async { 2 }).unwrap();
    let (a, b) = smol::block_on(ex.run(async { (global.await, local.await) }));
    assert_eq!((a, b), (1, 2));
    root.quit();
    smol::block_on(wait_done(&root, LONG)).unwrap();
}

#[test]
fn panic_is_reported_with_its_message_and_reraised_where_awaited() {
    let root = Quitter::new("main");
    let task = spawn(&root, "doomed", async { panic!("boom {}", 42) }).unwrap();

    // async-executor spawns with `propagate_panic(true)`: the panic is
    // re-raised in whoever awaits the task, not on the executor thread.
    let payload = catch_unwind(AssertUnwindSafe(|| smol::block_on(task))).unwrap_err();
    assert_eq!(panic_message(&*payload), "boom 42");

    let panics = root.panics();
    assert_eq!(panics.len(), 1);
    assert_eq!(panics[0].message, "boom 42");
    assert_eq!(panics[0].task.name, "doomed");
    assert_eq!(panics[0].path, "main");

    // The panicked task has ended, and the global executor still runs tasks.
    assert_eq!(
        smol::block_on(spawn(&root, "after", async { 7 }).unwrap()),
        7
    );
    root.quit();
    smol::block_on(wait_done(&root, LONG)).unwrap();
}

#[test]
fn panic_of_a_detached_task_and_of_blocking_work_is_reported() {
    let root = Quitter::new("main");
    let jobs = root.child("jobs").unwrap();
    spawn(&jobs, "detached", async { panic!("detached boom") })
        .unwrap()
        .detach();
    let blocking = unblock(&jobs, "blocking", || -> u8 { panic!("blocking boom") }).unwrap();
    let payload = catch_unwind(AssertUnwindSafe(|| smol::block_on(blocking))).unwrap_err();
    assert_eq!(panic_message(&*payload), "blocking boom");

    root.quit();
    smol::block_on(wait_done(&root, LONG)).unwrap();
    let mut messages: Vec<_> = root
        .panics()
        .into_iter()
        .map(|p| (p.path, p.task.name.into_owned(), p.message))
        .collect();
    messages.sort();
    assert_eq!(
        messages,
        [
            (
                "main/jobs".into(),
                "blocking".into(),
                "blocking boom".into()
            ),
            (
                "main/jobs".into(),
                "detached".into(),
                "detached boom".into()
            ),
        ]
    );
}

/// Reports its first poll, then never returns.
async fn never_returns(polled: async_channel::Sender<()>) {
    let _ = polled.send(()).await;
    pending::<()>().await
}

#[test]
fn hung_task_is_named_with_its_spawn_location_in_the_timeout_report() {
    let root = Quitter::new("main");
    let conns = root.child("connections").unwrap();
    let (polled, first_polls) = async_channel::unbounded();
    let line = line!() + 1;
    let stuck = spawn(&conns, "127.0.0.1:5555", never_returns(polled.clone())).unwrap();
    let unnamed_future = never_returns(polled);
    let unnamed_type = type_name_of(&unnamed_future);
    let unnamed_line = line!() + 1;
    let unnamed = spawn_unnamed(&root, unnamed_future).unwrap();
    let finished = spawn(&root, "finished", async {}).unwrap();
    smol::block_on(finished);
    // A tracked task is named from its first poll on.
    for _ in 0..2 {
        smol::block_on(first_polls.recv()).unwrap();
    }

    root.quit();
    let report = smol::block_on(wait_done(&root, SHORT)).unwrap_err();
    assert_eq!(report.task_count(), 2, "{report}");

    let conn_tasks = report.tasks_of("main/connections").unwrap();
    assert_eq!(conn_tasks[0].name, "127.0.0.1:5555");
    assert_eq!(conn_tasks[0].location.file(), file!());
    assert_eq!(conn_tasks[0].location.line(), line);
    // Ages are read off a coarse clock: within one tick (at most 10 ms).
    assert!(conn_tasks[0].age.unwrap() + Duration::from_millis(10) >= SHORT);

    let root_tasks = report.tasks_of("main").unwrap();
    assert_eq!(root_tasks[0].name, unnamed_type);
    assert_eq!(root_tasks[0].location.line(), unnamed_line);

    let text = report.to_string();
    assert!(
        text.contains("Timeout waiting done on quitter 'main/connections'"),
        "{text}"
    );
    assert!(
        text.contains(&format!("127.0.0.1:5555 (spawned at {}:{line}:", file!())),
        "{text}"
    );
    drop((stuck, unnamed));
}

#[test]
fn dropped_task_is_cancelled_and_not_reported_as_hung() {
    let root = Quitter::new("main");
    let (started_tx, started_rx) = async_channel::bounded(1);
    let (dropped_tx, dropped_rx) = async_channel::bounded(1);
    let task = spawn(&root, "cancelled", async move {
        let _dropped = DropSignal(dropped_tx);
        started_tx.send(()).await.unwrap();
        pending::<()>().await
    })
    .unwrap();

    smol::block_on(async {
        started_rx.recv().await.unwrap();
        assert_eq!(root.task_count(), 1);
        // Dropping the handle cancels the task: the executor drops its
        // future, and with it the tracking guard.
        drop(task);
        root.quit();
        wait_done(&root, LONG)
            .await
            .expect("a dropped task is not hung");
        dropped_rx.recv().await.unwrap();
    });
    assert!(root.live_tasks().quitters.is_empty());
    assert!(root.panics().is_empty());
}

#[test]
fn dropped_task_on_own_executor_ends_when_the_executor_runs() {
    let root = Quitter::new("main");
    let ex = Executor::new();
    let never_polled = spawn_on(&ex, &root, "never polled", pending::<()>()).unwrap();
    let (started_tx, started_rx) = async_channel::bounded(1);
    let running = spawn_on(&ex, &root, "running", async move {
        started_tx.send(()).await.unwrap();
        pending::<()>().await
    })
    .unwrap();
    let cancelled = spawn_on(&ex, &root, "cancelled", pending::<()>()).unwrap();

    smol::block_on(ex.run(async {
        started_rx.recv().await.unwrap();
        drop(never_polled);
        drop(running);
        // `cancel().await` returns once the future is dropped.
        assert_eq!(cancelled.cancel().await, None);
        root.quit();
        wait_done(&root, LONG)
            .await
            .expect("dropped tasks are not hung");
    }));
    assert_eq!(root.task_count(), 0);
}

#[test]
fn blocking_work_is_tracked_until_it_returns() {
    let root = Quitter::new("main");
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let line = line!() + 1;
    let task = unblock(&root, "blocking read", move || {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        7
    })
    .unwrap();
    started_rx.recv().unwrap();

    // Quit does not end it (a thread cannot be cancelled): it is reported
    // as live while it runs.
    root.quit();
    let report = smol::block_on(wait_done(&root, SHORT)).unwrap_err();
    let tasks = report.tasks_of("main").unwrap();
    assert_eq!(tasks[0].name, "blocking read");
    assert_eq!(tasks[0].location.line(), line);

    release_tx.send(()).unwrap();
    assert_eq!(smol::block_on(task), 7);
    smol::block_on(wait_done(&root, LONG)).unwrap();
}
