//! Tracked spawn and the timed join on a real tokio runtime: refusal after
//! quit, panics in the report, hung tasks named with their spawn location.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use quitter_tokio::{
    spawn, spawn_blocking, spawn_unnamed, wait_done, AlreadyQuit, Quitter, Shutdown,
};

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

#[tokio::test]
async fn spawn_after_quit_is_refused_and_the_future_never_runs() {
    let root = Quitter::new("main");
    let child = root.child("child").unwrap();
    root.quit();

    let (polled, dropped) = (flag(), flag());
    let future = {
        let (polled, guard) = (polled.clone(), DropFlag(dropped.clone()));
        async move {
            let _guard = guard;
            polled.store(true, Ordering::SeqCst);
        }
    };
    assert_eq!(spawn(&child, "late", future).unwrap_err(), AlreadyQuit);
    // Refused means dropped unpolled, not spawned and cancelled later.
    assert!(
        dropped.load(Ordering::SeqCst),
        "the refused future is dropped"
    );

    let unnamed_polled = flag();
    let future = {
        let polled = unnamed_polled.clone();
        async move { polled.store(true, Ordering::SeqCst) }
    };
    assert_eq!(spawn_unnamed(&root, future).unwrap_err(), AlreadyQuit);

    let called = flag();
    let closure = {
        let called = called.clone();
        move || called.store(true, Ordering::SeqCst)
    };
    assert_eq!(
        spawn_blocking(&root, "late blocking", closure).unwrap_err(),
        AlreadyQuit
    );

    // Give anything that had been spawned every chance to run.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(!polled.load(Ordering::SeqCst));
    assert!(!unnamed_polled.load(Ordering::SeqCst));
    assert!(!called.load(Ordering::SeqCst));
    assert_eq!(root.task_count() + child.task_count(), 0);
    assert!(root.is_done());
}

#[tokio::test]
async fn spawned_tasks_are_counted_until_they_end() {
    let root = Quitter::new("main");
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = spawn(&root, "worker", async move {
        let _ = release_rx.await;
        7
    })
    .unwrap();
    assert_eq!(root.task_count(), 1);
    root.quit();
    assert!(!root.is_done(), "quit, but the worker still runs");
    release_tx.send(()).unwrap();
    assert_eq!(handle.await.unwrap(), 7);
    wait_done(&root, Duration::from_secs(10))
        .await
        .expect("done once the worker returned");
    assert_eq!(root.task_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_is_reported_with_its_message_and_the_tree_completes() {
    let root = Quitter::new("main");
    let workers = root.child("workers").unwrap();

    let boom = spawn(&workers, "boom", async { panic!("kaboom {}", 42) }).unwrap();
    let error = boom.await.unwrap_err();
    assert!(error.is_panic(), "the JoinHandle sees tokio's usual panic");

    let blocking = spawn_blocking(&workers, "blocking boom", || panic!("blocking kaboom")).unwrap();
    assert!(blocking.await.unwrap_err().is_panic());

    // A well-behaved task next to them still quits normally.
    let good = workers.clone();
    spawn(&workers, "good", async move { good.quitted().await }).unwrap();

    let report = Shutdown::new(root.clone())
        .timeout(Duration::from_secs(10))
        .source("test", async {})
        .run()
        .await;

    assert!(report.timed_out.is_empty(), "the tree completed: {report}");
    assert!(!report.forced);
    assert_eq!(report.exit_code(), 1, "a panic is never clean");
    let mut panics: Vec<(&str, &str, &str)> = report
        .panicked
        .iter()
        .map(|p| (p.path.as_str(), &*p.task.name, p.message.as_str()))
        .collect();
    panics.sort();
    assert_eq!(
        panics,
        [
            ("main/workers", "blocking boom", "blocking kaboom"),
            ("main/workers", "boom", "kaboom 42"),
        ]
    );
    let text = report.to_string();
    assert!(
        text.contains("kaboom 42") && text.contains("blocking kaboom"),
        "{text}"
    );
}

/// Reports its first poll (a tracked task is named from then on), then
/// never returns.
async fn never_returns(polled: tokio::sync::mpsc::UnboundedSender<()>) {
    let _ = polled.send(());
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_hung_task_is_named_with_its_spawn_location_in_the_timeout_report() {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let (polled, mut first_polls) = tokio::sync::mpsc::unbounded_channel();
    let named_line = line!() + 1;
    spawn(&http, "stuck", never_returns(polled.clone())).unwrap();
    let unnamed_line = line!() + 1;
    spawn_unnamed(&http, never_returns(polled)).unwrap();
    let finishes = http.clone();
    spawn(&http, "finishes", async move { finishes.quitted().await }).unwrap();
    for _ in 0..2 {
        first_polls.recv().await.unwrap();
    }

    root.quit();
    let started = Instant::now();
    let report = wait_done(&root, Duration::from_millis(200))
        .await
        .expect_err("two tasks never return");
    assert!(started.elapsed() >= Duration::from_millis(200));

    assert_eq!(report.task_count(), 2, "{report}");
    let tasks = report
        .tasks_of("main/http")
        .expect("main/http has live tasks");
    let stuck = tasks
        .iter()
        .find(|t| t.name == "stuck")
        .expect("stuck is named");
    assert_eq!(
        (stuck.location.file(), stuck.location.line()),
        (file!(), named_line),
        "the location is the spawn call's"
    );
    let unnamed = tasks
        .iter()
        .find(|t| t.name != "stuck")
        .expect("the unnamed task");
    assert!(
        unnamed.name.contains("never_returns"),
        "named after the future's type: {}",
        unnamed.name
    );
    assert_eq!(unnamed.location.line(), unnamed_line);
    // Ages are read off a coarse clock: within one tick (at most 10 ms).
    assert!(stuck.age.unwrap() + Duration::from_millis(10) >= Duration::from_millis(200));

    let text = report.to_string();
    assert!(text.contains("main/http"), "{text}");
    assert!(
        text.contains(&format!("stuck (spawned at {}:{named_line}:", file!())),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_reports_a_hung_blocking_task_on_time() {
    let root = Quitter::new("main");
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let line = line!() + 1;
    let blocking = spawn_blocking(&root, "blocking read", move || release_rx.recv()).unwrap();

    let started = Instant::now();
    let report = Shutdown::new(root.clone())
        .timeout(Duration::from_millis(300))
        .source("test", async { "go" })
        .run()
        .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );

    assert_eq!(report.cause.label, "test");
    assert_eq!(report.cause.detail.as_deref(), Some("go"));
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.timed_out.len(), 1, "{report}");
    let task = &report.timed_out[0].tasks[0];
    assert_eq!(&*task.name, "blocking read");
    assert_eq!(
        (task.location.file(), task.location.line()),
        (file!(), line)
    );

    // Let the blocking thread go, so the test's runtime can shut down.
    release_tx.send(()).unwrap();
    blocking.await.unwrap().unwrap();
    assert!(root.is_done());
}

/// A task that panics while the shutdown is under way (in its clean-up
/// after the quit) is reported with its message; the shutdown still ends
/// on time, and a connection child dropped meanwhile keeps its panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_panics_during_shutdown_is_reported() {
    let root = Quitter::new("main");
    let conn = root.child("conn-7").unwrap();
    let q = conn.clone();
    let handler = spawn(&conn, "handler", async move {
        q.quitted().await;
        panic!("flush failed during shutdown");
    })
    .unwrap();
    drop(conn); // the child lives on only through its task

    let started = Instant::now();
    let report = Shutdown::new(root.clone())
        .timeout(Duration::from_secs(10))
        .source("test", async {})
        .run()
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no wait for the timeout"
    );
    assert!(handler.await.unwrap_err().is_panic());
    assert!(report.all_returned(), "{report}");
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.panicked.len(), 1, "{report}");
    assert_eq!(report.panicked[0].path, "main/conn-7");
    assert_eq!(report.panicked[0].message, "flush failed during shutdown");
    assert_eq!(
        root.child_count(),
        0,
        "the dropped child was unlinked, its panic kept"
    );
}
