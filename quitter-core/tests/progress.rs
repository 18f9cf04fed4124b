//! The drain's progress: while `Shutdown` waits for the tree after the
//! quit, it reports what is left (tasks per quitter, the stages being
//! stopped, the time left) every so often, and nothing when turned off;
//! its observers see every phase of the run, in order.
//!
//! The timer is real (a thread per sleep) with short periods; the tasks
//! that keep the wait going end when the progress callback has seen what
//! the test needs, so nothing depends on how fast the machine is.

mod common;

use std::future::ready;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::{block_on, go, hung, Threads};
use quitter_core::{DrainProgress, Phase, Quitter, Shutdown, Stage};

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
fn progress_counts_tasks_not_polled_yet_and_names_what_else_holds_a_quitter() {
    let root = Quitter::new("main");
    let streams = root.child("streams").unwrap();
    let mut stream = streams.serial_task();
    assert!(stream.start_unlisted(|name| name.push_str("GET /")));
    let jobs = root.child("jobs").unwrap();
    let table = jobs.task_table().unwrap();
    let (release, released) = mpsc::channel();
    let holder = thread::spawn(move || {
        released.recv().unwrap();
        drop((stream, table));
    });
    let lines = run_until_reports(root, 1, release);
    holder.join().unwrap();
    assert!(
        lines[0].starts_with(
            "Shutting down: 1 task(s) left in 2 quitter(s) \
             ('main/streams': 1, 'main/jobs': 1 idle task table(s))"
        ),
        "{}",
        lines[0]
    );
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

/// An observer sees `Running`, `Stopping` (with the cause and the lame
/// duck), `Quitting`, the progress while a task holds the wait, and
/// `Done` with the report, in that order; the root is draining at
/// `Stopping` (the lame duck) and has quit at `Quitting`.
#[test]
fn observers_see_every_phase_in_order() {
    let root = Quitter::new("main");
    let (release, stuck) = hung();
    let worker = go(&root, "worker", stuck).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let watched = root.clone();
    let release = Mutex::new(Some(release));
    let shutdown = Shutdown::<Threads>::new(root)
        .timeout(Duration::from_secs(30))
        .lame_duck(Duration::from_millis(10))
        .progress_every(Some(Duration::from_millis(20)))
        .on_progress(|_: &DrainProgress| {})
        .observe(move |phase: &Phase<'_>| {
            let entry = match phase {
                Phase::Running => "running".to_owned(),
                Phase::Stopping {
                    cause, lame_duck, ..
                } => format!(
                    "stopping {} lame_duck={lame_duck} draining={}",
                    cause.label,
                    watched.is_draining()
                ),
                Phase::Quitting { root, .. } => format!("quitting quit={}", root.is_quitting()),
                Phase::Progress(progress) => {
                    // Two reports, then the task ends.
                    if log
                        .lock()
                        .unwrap()
                        .iter()
                        .filter(|e: &&String| e.starts_with("progress"))
                        .count()
                        == 1
                    {
                        if let Some(release) = release.lock().unwrap().take() {
                            let _ = release.send(());
                        }
                    }
                    format!("progress {}", progress.task_count())
                }
                Phase::Done(report) => format!("done {}", report.exit_code()),
                _ => "other".to_owned(),
            };
            log.lock().unwrap().push(entry);
        })
        .source("test", ready(()));
    let report = block_on(shutdown.run());
    worker.join().unwrap();
    assert!(report.is_clean(), "{report}");
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 6, "{seen:?}");
    assert_eq!(seen[0], "running");
    assert_eq!(seen[1], "stopping test lame_duck=true draining=true");
    assert_eq!(seen[2], "quitting quit=true");
    assert_eq!(seen[3], "progress 1");
    assert_eq!(seen[4], "progress 1");
    assert_eq!(seen.last().unwrap(), "done 0");
    assert!(
        seen[5..seen.len() - 1]
            .iter()
            .all(|e| e.starts_with("progress")),
        "{seen:?}"
    );
}

/// Quit by code before the run: no lame duck, and the phases still come
/// in order, `Stopping` with the quit's own cause.
#[test]
fn observers_see_a_quit_by_code_as_stopping_without_a_lame_duck() {
    let root = Quitter::new("main");
    root.quit();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let shutdown = Shutdown::<Threads>::new(root)
        .lame_duck(Duration::from_secs(30))
        .progress_every(None)
        .observe(move |phase: &Phase<'_>| {
            let entry = match phase {
                Phase::Running => "running".to_owned(),
                Phase::Stopping {
                    cause, lame_duck, ..
                } => format!("stopping {} lame_duck={lame_duck}", cause.label),
                Phase::Quitting { .. } => "quitting".to_owned(),
                Phase::Done(report) => format!("done {}", report.exit_code()),
                _ => "other".to_owned(),
            };
            log.lock().unwrap().push(entry);
        });
    let report = block_on(shutdown.run());
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "running",
            "stopping quit requested lame_duck=false",
            "quitting",
            "done 0"
        ]
    );
}
