//! The live tree on demand: `Quitter::snapshot` (each quitter's path,
//! depth and state, each live task by name and location) and the runner's
//! dump requests, which print it and quit nothing.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use futures::channel::{mpsc as async_mpsc, oneshot};
use futures::executor::block_on;
use quitter_core::{MainRunner, Quitter, QuitterState, TreeSnapshot};

fn states(snapshot: &TreeSnapshot) -> Vec<(String, usize, QuitterState)> {
    snapshot
        .quitters
        .iter()
        .map(|q| (q.path.clone(), q.depth, q.state))
        .collect()
}

#[test]
fn a_snapshot_shows_each_quitter_state_and_task() {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let connection = http.child("127.0.0.1:50312").unwrap();
    let request = connection.track("GET /slow").unwrap();
    let idle = root.child("idle").unwrap();

    let snapshot = root.snapshot();
    use QuitterState::*;
    assert_eq!(
        states(&snapshot),
        [
            ("main".into(), 0, Running),
            ("main/http".into(), 1, Running),
            ("main/http/127.0.0.1:50312".into(), 2, Running),
            ("main/idle".into(), 1, Running),
        ]
    );
    assert_eq!(snapshot.task_count(), 1);
    let tasks = &snapshot.quitter("main/http/127.0.0.1:50312").unwrap().tasks;
    assert_eq!(tasks[0].name, "GET /slow");
    assert!(tasks[0].location.file().ends_with("snapshot.rs"));
    let text = snapshot.to_string();
    assert!(
        text.starts_with("Quit tree: 4 quitter(s), 1 task(s)\nmain [running]\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "\n        127.0.0.1:50312 [running]\n          - task GET /slow (spawned at"
        ),
        "{text}"
    );

    // A snapshot of a subtree starts at depth 0, with its full path.
    assert_eq!(
        states(&http.snapshot())[0],
        ("main/http".into(), 0, Running)
    );

    root.start_draining();
    assert!(states(&root.snapshot())
        .iter()
        .all(|(_, _, state)| *state == Draining));

    root.quit();
    assert_eq!(
        states(&root.snapshot()),
        [
            ("main".into(), 0, Quitting),
            ("main/http".into(), 1, Quitting),
            ("main/http/127.0.0.1:50312".into(), 2, Quitting),
            ("main/idle".into(), 1, Done),
        ]
    );
    drop(request);
    assert!(states(&root.snapshot())
        .iter()
        .all(|(_, _, state)| *state == Done));
    drop((idle, connection));
}

/// A dump request hands the sink the tree as it stands and is not an
/// event: the runner goes on waiting for its source, whose event is the
/// cause.
#[test]
fn a_dump_request_prints_the_tree_and_quits_nothing() {
    let root = Quitter::new("main");
    let guard = root.track("worker").unwrap();
    let (request, requests) = async_mpsc::unbounded::<()>();
    let (fire, fired) = oneshot::channel::<()>();
    let (dumped_tx, dumped) = mpsc::channel::<TreeSnapshot>();
    let runner_root = root.clone();
    let runner = thread::spawn(move || {
        let runner = MainRunner::new(runner_root)
            .dump_tree_on(requests, move |snapshot: &TreeSnapshot| {
                let _ = dumped_tx.send(snapshot.clone());
            })
            .source("test", fired);
        block_on(runner.run(std::future::pending::<()>))
    });

    request.unbounded_send(()).unwrap();
    let snapshot = dumped
        .recv_timeout(Duration::from_secs(10))
        .expect("a dump");
    assert_eq!(snapshot.quitters[0].state, QuitterState::Running);
    assert_eq!(snapshot.quitters[0].tasks[0].name, "worker");
    assert!(!root.is_quitting(), "a dump quit the tree");

    fire.send(()).unwrap();
    // Quit now; a dump while the runner waits for the tree shows it.
    block_on(root.quitted());
    request.unbounded_send(()).unwrap();
    let snapshot = dumped
        .recv_timeout(Duration::from_secs(10))
        .expect("a dump");
    assert_eq!(snapshot.quitters[0].state, QuitterState::Quitting);
    drop(guard);
    let report = runner.join().unwrap();
    assert_eq!(report.cause.label, "test");
    assert!(report.is_clean(), "{report}");
}
