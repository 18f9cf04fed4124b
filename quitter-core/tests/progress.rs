//! The drain's progress: while `Shutdown` waits for the tree after the
//! quit, it reports what is left (tasks per quitter, the stages being
//! stopped, the time left) every so often, and nothing when turned off.
//!
//! The timer is real (a thread per sleep) with short periods; the tasks
//! that keep the wait going end when the progress callback has seen what
//! the test needs, so nothing depends on how fast the machine is.

mod common;

use std::future::{ready, Future};
use std::io;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{block_on, go, hung};
use futures::channel::oneshot;
use futures::stream::Stream;
use quitter_core::{DrainProgress, Quitter, Runtime, Shutdown, Stage};

/// Real sleeps, each on a thread of its own; no signals.
struct Threads;

impl Runtime for Threads {
    type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;
    type Signals = Pin<Box<dyn Stream<Item = &'static str>>>;
    fn sleep(duration: Duration) -> Self::Sleep {
        let (fire, fired) = oneshot::channel::<()>();
        thread::spawn(move || {
            thread::sleep(duration);
            let _ = fire.send(());
        });
        Box::pin(async move {
            let _ = fired.await;
        })
    }
    fn shutdown_signals() -> io::Result<Self::Signals> {
        Err(io::Error::other("no signals in this test"))
    }
}

/// Runs a shutdown of `root` (quit at once by a source) with progress
/// every 20 ms, releasing `release` once `reports` progress lines came;
/// returns the lines.
fn run_until_reports(root: Quitter, reports: usize, release: mpsc::Sender<()>) -> Vec<String> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let shutdown = Shutdown::<Threads>::new(root)
        .timeout(Duration::from_secs(30))
        .progress_every(Some(Duration::from_millis(20)))
        .on_progress(move |progress: &DrainProgress| {
            let mut seen = seen.lock().unwrap();
            seen.push(progress.to_string());
            if seen.len() == reports {
                let _ = release.send(());
            }
        })
        .source("test", ready(()));
    let report = block_on(shutdown.run());
    assert!(report.is_clean(), "{report}");
    let lines = lines.lock().unwrap().clone();
    lines
}

#[test]
fn progress_says_what_is_left_where_and_how_long() {
    let root = Quitter::new("main");
    let workers = root.child("workers").unwrap();
    let (release, stuck) = hung();
    let worker = go(&workers, "worker", stuck).unwrap();
    let lines = run_until_reports(root, 2, release);
    worker.join().unwrap();
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(
        lines[0].starts_with("Shutting down: 1 task(s) left in 1 quitter(s) ('main/workers': 1)"),
        "{}",
        lines[0]
    );
    assert!(lines[0].ends_with(" left"), "{}", lines[0]);
}

#[test]
fn progress_names_the_stage_being_stopped() {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let workers = root.child_in("workers", Stage::after(&http)).unwrap();
    let (release, stuck) = hung();
    let worker = go(&workers, "worker", stuck).unwrap();
    let lines = run_until_reports(root, 1, release);
    worker.join().unwrap();
    assert!(
        lines[0].contains("('main/workers': 1), stage 2/2 of 'main'"),
        "{}",
        lines[0]
    );
}

#[test]
fn progress_can_be_turned_off() {
    let root = Quitter::new("main");
    let (release, stuck) = hung();
    let worker = go(&root, "worker", stuck).unwrap();
    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    // The wait lasts ten periods of the progress it would have reported.
    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        let _ = release.send(());
    });
    let shutdown = Shutdown::<Threads>::new(root)
        .timeout(Duration::from_secs(30))
        .on_progress(move |_: &DrainProgress| *counted.lock().unwrap() += 1)
        .progress_every(Some(Duration::from_millis(20)))
        .progress_every(None)
        .source("test", ready(()));
    let report = block_on(shutdown.run());
    assert!(report.is_clean(), "{report}");
    releaser.join().unwrap();
    worker.join().unwrap();
    assert_eq!(*calls.lock().unwrap(), 0);
}
