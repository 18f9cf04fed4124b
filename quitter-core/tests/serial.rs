//! `SerialTask`: one task record reused by tasks that run one after
//! another (an HTTP/1 connection's requests): each task counts, is listed
//! by its own name and age, and ends; a quit refuses the next; an abort
//! records the one running as aborted.

use quitter_core::Quitter;

#[test]
fn each_task_is_listed_by_its_name_while_it_runs() {
    let root = Quitter::new("main");
    let connection = root.child("127.0.0.1:50312").unwrap();
    let mut requests = connection.serial_task();
    assert!(!requests.is_running());
    assert_eq!(root.live_tasks().task_count(), 0);

    for path in ["/a", "/a-much-longer-path-than-before", "/b"] {
        assert!(requests.start(|name| {
            name.push_str("GET ");
            name.push_str(path);
        }));
        let report = root.live_tasks();
        assert_eq!(report.task_count(), 1, "{report}");
        let task = &report.tasks_of("main/127.0.0.1:50312").unwrap()[0];
        assert_eq!(task.name, format!("GET {path}"));
        assert!(task.location.file().ends_with("serial.rs"));
        requests.end();
        assert_eq!(root.live_tasks().task_count(), 0);
    }
    // Started twice: the first task ends, one is listed.
    assert!(requests.start(|name| name.push_str("GET /1")));
    assert!(requests.start(|name| name.push_str("GET /2")));
    assert_eq!(root.live_tasks().task_count(), 1);
    assert_eq!(requests.info().name, "GET /2");
}

#[test]
fn a_running_task_holds_the_quitter_open_and_a_quit_refuses_the_next() {
    let root = Quitter::new("main");
    let mut requests = root.serial_task();
    assert!(requests.start(|name| name.push_str("GET /slow")));
    root.quit();
    assert!(!root.is_done(), "the running task holds it open");
    requests.end();
    assert!(root.is_done());
    assert!(!requests.start(|name| name.push_str("GET /late")));
    assert!(!requests.is_running());
    assert_eq!(root.live_tasks().task_count(), 0);
}

#[test]
fn a_task_ended_by_an_abort_is_reported_as_aborted() {
    let root = Quitter::new("main");
    root.make_abortable();
    let connection = root.child("conn").unwrap();
    let mut requests = connection.serial_task();
    assert!(requests.start(|name| name.push_str("GET /done")));
    requests.end();
    assert!(requests.start(|name| name.push_str("GET /cut")));
    root.quit();
    assert!(root.abort());
    // The connection is dropped with its request: the record goes too.
    drop(requests);
    let aborted = root.aborted();
    assert_eq!(aborted.len(), 1, "{aborted:?}");
    assert_eq!(aborted[0].task.name, "GET /cut");
    assert_eq!(aborted[0].path, "main/conn");
    assert!(root.is_done());
}

#[test]
fn a_name_that_panics_leaves_no_task_running_and_nothing_held() {
    let root = Quitter::new("main");
    let mut requests = root.serial_task();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        requests.start(|_| panic!("no name"));
    }));
    assert!(panicked.is_err());
    assert!(!requests.is_running());
    root.quit();
    assert!(root.is_done(), "a hold was left taken");
    assert!(!requests.start(|name| name.push_str("GET /late")));
}

#[test]
fn a_task_started_unlisted_counts_at_once_and_is_named_where_it_is_listed() {
    let root = Quitter::new("main");
    let connection = root.child("conn").unwrap();
    let mut stream = connection.serial_task();
    // Started on this thread (the connection's): counted, not named.
    assert!(stream.start_unlisted(|name| name.push_str("GET /stream")));
    let before = root.snapshot();
    let conn = before.quitter("main/conn").unwrap();
    assert_eq!((conn.tasks.len(), conn.unpolled), (0, 1), "{before}");
    root.quit();
    assert!(!root.is_done(), "the started task holds the quit open");

    // Listed and ended on another thread (the stream's), as an HTTP/2
    // stream's executor task does; the quit meanwhile does not refuse it.
    let (listed_tx, listed_rx) = std::sync::mpsc::channel();
    let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
    let runner = std::thread::spawn(move || {
        stream.list();
        listed_tx.send(()).unwrap();
        end_rx.recv().unwrap();
        stream.end();
        stream
    });
    listed_rx.recv().unwrap();
    let during = root.snapshot();
    let conn = during.quitter("main/conn").unwrap();
    assert_eq!(conn.unpolled, 0, "{during}");
    assert_eq!(conn.tasks.len(), 1, "{during}");
    assert_eq!(conn.tasks[0].name, "GET /stream");
    end_tx.send(()).unwrap();
    let stream = runner.join().unwrap();
    assert!(!stream.is_running());
    assert!(root.is_done());
    assert_eq!(root.snapshot().task_count(), 0);
}

#[test]
fn a_reused_record_ended_before_it_is_listed_has_no_age_of_the_last_task() {
    let root = Quitter::new("main");
    root.make_abortable();
    let connection = root.child("conn").unwrap();
    let mut stream = connection.serial_task();
    assert!(stream.start(|name| name.push_str("GET /old")));
    stream.end();
    // The record is reused for a stream that never runs: the abort cuts
    // it before its first poll, and its age is not the last task's.
    assert!(stream.start_unlisted(|name| name.push_str("GET /new")));
    assert_eq!(stream.info().age, None, "no age before it is listed");
    root.quit();
    assert!(root.abort());
    drop(stream);
    let aborted = root.aborted();
    assert_eq!(aborted.len(), 1, "{aborted:?}");
    assert_eq!(aborted[0].task.name, "GET /new");
    assert_eq!(aborted[0].task.age, None, "not the last task's age");
}
