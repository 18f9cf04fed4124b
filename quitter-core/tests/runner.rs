//! The main runner: first source wins, quit, timed wait, second event
//! forces, report and exit code.

mod common;

use std::thread;

use common::{block_on, expired, go, hung, never, until_quit};
use futures::stream;
use quitter_core::{MainRunner, QuitCause, Quitter};

#[test]
fn clean_shutdown_reports_the_cause_and_exits_0() {
    let root = Quitter::new("main");
    let worker = go(&root, "worker", until_quit).unwrap();
    let report = block_on(
        MainRunner::new(root.clone())
            .source("HTTP server error", never())
            .stream_source("OS interrupt signal", stream::iter(["SIGTERM"]))
            .run(never),
    );
    worker.join().unwrap();
    assert!(report.is_clean());
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.cause.label, "OS interrupt signal");
    assert_eq!(report.cause.index, Some(1));
    assert!(!report.cause.failure);
    assert_eq!(
        report.to_string(),
        "Received quit from 'OS interrupt signal' (SIGTERM)\n\
         Successfully quit application, all tracked tasks returned\n"
    );
}

#[test]
fn an_error_from_a_source_is_a_failure_even_when_every_task_returns() {
    let root = Quitter::new("main");
    let worker = go(&root, "worker", until_quit).unwrap();
    let report = block_on(
        MainRunner::new(root.clone())
            .source("OS interrupt signal", never())
            .source("HTTP server error", async {
                Err::<(), _>(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "address in use",
                ))
            })
            .run(never),
    );
    worker.join().unwrap();
    assert!(report.all_returned());
    assert!(report.cause.failure);
    assert!(!report.is_clean());
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.cause.label, "HTTP server error");
    assert_eq!(report.cause.index, Some(1));
    assert_eq!(report.cause.detail.as_deref(), Some("address in use"));
    assert_eq!(
        report.to_string(),
        "Received quit from 'HTTP server error' (address in use), a failure\n\
         Quit application after a failure, all tracked tasks returned\n"
    );

    // A bare io::Error, and a quit by code with a failed cause, likewise.
    let report = block_on(
        MainRunner::new(Quitter::new("main"))
            .source("accept", async {
                std::io::Error::other("too many open files")
            })
            .run(never),
    );
    assert_eq!(report.exit_code(), 1);
    let root = Quitter::new("main");
    root.quit_with(QuitCause::new("config reload failed").failed());
    let report = block_on(MainRunner::new(root).run(never));
    assert_eq!(report.exit_code(), 1);
    // An Ok result or a plain detail is not a failure.
    let report = block_on(
        MainRunner::new(Quitter::new("main"))
            .source("job", async { Ok::<_, std::io::Error>("finished") })
            .run(never),
    );
    assert_eq!(
        (report.exit_code(), report.cause.detail.as_deref()),
        (0, Some("finished"))
    );
}

#[test]
fn a_quit_by_code_is_the_cause_when_no_source_fires() {
    let root = Quitter::new("main");
    let quitter = root.clone();
    go(&root, "decider", move |q| {
        q.quit_with(QuitCause::new("job finished"));
        drop(quitter);
    })
    .unwrap();
    let report = block_on(MainRunner::new(root).source("never", never()).run(never));
    assert_eq!(report.cause.label, "job finished");
    assert_eq!(report.cause.index, None);
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn with_every_source_ended_the_runner_waits_for_a_quit_by_code() {
    let root = Quitter::new("main");
    let quitter = root.clone();
    let runner = thread::spawn(move || {
        block_on(
            MainRunner::new(quitter)
                .stream_source("empty", stream::empty::<()>())
                .run(never),
        )
    });
    // Whether the runner is already waiting or not, the quit reaches it.
    root.quit();
    let report = runner.join().unwrap();
    assert_eq!(report.cause.label, QuitCause::REQUESTED);
    assert!(report.is_clean());
}

#[test]
fn a_second_event_forces_the_end_with_130() {
    let root = Quitter::new("main");
    let (release, bad) = hung();
    let stuck = go(&root, "stuck", bad).unwrap();
    let report = block_on(
        MainRunner::new(root.clone())
            .stream_source("OS interrupt signal", stream::iter(["SIGINT", "SIGINT"]))
            .run(never),
    );
    assert!(report.forced);
    assert_eq!(report.exit_code(), 130);
    assert_eq!(report.timed_out[0].tasks[0].name, "stuck");
    let text = report.to_string();
    assert!(text.contains("cut short by a second quit event"), "{text}");
    assert!(
        text.contains("'main' due to the following tasks:\n\t- stuck"),
        "{text}"
    );
    release.send(()).unwrap();
    stuck.join().unwrap();

    let root = Quitter::new("main");
    let _guard = root.track("stuck").unwrap();
    let report = block_on(
        MainRunner::new(root)
            .forced_exit_code(2)
            .stream_source("signal", stream::iter([(), ()]))
            .run(never),
    );
    assert_eq!(report.exit_code(), 2);
}

#[test]
fn with_forcing_off_a_second_event_is_ignored() {
    let root = Quitter::new("main");
    let (release, bad) = hung();
    let stuck = go(&root, "slow", bad).unwrap();
    let report = block_on(
        MainRunner::new(root.clone())
            .force_on_second_event(false)
            .stream_source("OS interrupt signal", stream::iter(["SIGINT", "SIGINT"]))
            .run(move || {
                // Released only after the quit: with forcing on, the waiting
                // second event would end the wait first.
                release.send(()).unwrap();
                never()
            }),
    );
    stuck.join().unwrap();
    assert!(!report.forced);
    assert!(report.is_clean(), "{report}");
}

#[test]
fn a_timeout_exits_1_and_lists_the_hung_tasks() {
    let root = Quitter::new("main");
    let _guard = root
        .child("connections")
        .unwrap()
        .track("127.0.0.1:4242")
        .unwrap();
    let report = block_on(
        MainRunner::new(root)
            .source("signal", async {})
            .run(expired),
    );
    assert!(!report.forced);
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.timed_out.len(), 1);
    assert_eq!(report.timed_out[0].path, "main/connections");
    assert!(report.to_string().contains("Failed to quit application"));
}

#[test]
fn an_idle_task_table_left_alive_is_a_timeout_not_a_clean_exit() {
    let root = Quitter::new("main");
    let jobs = root.child("jobs").unwrap();
    let table = jobs.task_table().unwrap();
    drop(table.start(["GET ", "/"]));
    let report = block_on(
        MainRunner::new(root)
            .source("signal", async {})
            .run(expired),
    );
    assert_eq!(report.exit_code(), 1, "{report}");
    assert_eq!(report.timed_out.len(), 1);
    assert_eq!(report.timed_out[0].path, "main/jobs");
    assert_eq!(report.timed_out[0].idle_tables, 1);
    let text = report.to_string();
    assert!(text.contains("Failed to quit application"), "{text}");
    assert!(
        text.contains("1 idle task table, holding it open until dropped"),
        "{text}"
    );
    drop(table);
}

#[test]
fn a_panicked_task_makes_the_exit_unclean() {
    let root = Quitter::new("main");
    root.track("worker")
        .unwrap()
        .panicked("index out of bounds");
    let report = block_on(MainRunner::new(root).source("signal", async {}).run(never));
    assert!(report.timed_out.is_empty());
    assert_eq!(report.panicked.len(), 1);
    assert_eq!(report.exit_code(), 1);
    assert!(report.all_returned(), "a panicked task has returned");
    let text = report.to_string();
    assert!(
        text.contains("worker") && text.contains("panicked: index out of bounds"),
        "{text}"
    );
}

#[test]
fn exit_report_is_a_termination() {
    use std::process::Termination;
    let root = Quitter::new("main");
    let report = block_on(MainRunner::new(root).source("signal", async {}).run(never));
    let code = report.report();
    assert_eq!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::from(0))
    );
}
