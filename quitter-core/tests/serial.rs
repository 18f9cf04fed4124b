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
