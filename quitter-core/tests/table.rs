//! `TaskTable`: a connection's requests as rows of one table. Each row is
//! named in reports by its own name and age while it lives; the table
//! holds its quitter open while it or any row lives; a row that ends
//! after an abort is recorded as aborted; a quit refuses a new table.
//! Sizes go through `common::scaled` (`QUITTER_TEST_SCALE`), so Miri runs
//! the threaded test small.

mod common;

use std::sync::mpsc;
use std::thread;

use quitter_core::Quitter;

fn named(path: &str) -> [&str; 2] {
    ["GET ", path]
}

#[test]
fn each_live_row_is_reported_as_a_task_oldest_first() {
    let root = Quitter::new("main");
    let connection = root.child("127.0.0.1:50312").unwrap();
    let table = connection.task_table().expect("not quit");
    assert_eq!(
        root.live_tasks().task_count(),
        0,
        "an empty table names nothing"
    );

    let a = table.start(named("/a"));
    let b = table.start(named("/b"));
    let report = root.live_tasks();
    let tasks = report.tasks_of("main/127.0.0.1:50312").unwrap();
    let names: Vec<_> = tasks.iter().map(|task| &*task.name).collect();
    assert_eq!(names, ["GET /a", "GET /b"], "{report}");
    assert!(tasks.iter().all(|task| task.age.is_some()));
    assert_eq!(tasks[0].location.file(), file!());
    assert_eq!(connection.task_count(), 2);
    assert_eq!(
        root.snapshot().quitters[1].unpolled,
        0,
        "the table is one hold, listed"
    );

    // A freed row is reused, by its new name; reports go oldest first,
    // not by row. Starts are read off a coarse clock (one tick: 1 to
    // 10 ms), so first wait until `/b` is a tick old: `/a`'s new task,
    // in the first row, is then newer than `/b`, in a later row.
    let ticked = (0..1_000).any(|_| {
        let report = root.live_tasks();
        let tasks = report.tasks_of("main/127.0.0.1:50312").unwrap();
        let b_age = tasks.iter().find(|task| task.name == "GET /b").unwrap().age;
        b_age.unwrap() > std::time::Duration::ZERO || {
            thread::sleep(std::time::Duration::from_millis(1));
            false
        }
    });
    assert!(ticked, "the clock did not move in a second");
    drop(a);
    let c = table.start(named("/a-much-longer-path-than-before"));
    let names: Vec<_> = root
        .live_tasks()
        .tasks_of("main/127.0.0.1:50312")
        .unwrap()
        .iter()
        .map(|task| task.name.to_string())
        .collect();
    assert_eq!(names, ["GET /b", "GET /a-much-longer-path-than-before"]);
    drop((b, c));
    assert_eq!(root.live_tasks().task_count(), 0);
}

#[test]
fn a_table_is_one_hold_so_other_unlisted_tasks_still_count_as_not_polled() {
    let root = Quitter::new("main");
    let table = root.task_table().expect("not quit");
    let rows = [table.start(named("/a")), table.start(named("/b"))];
    let mut other = root.serial_task();
    assert!(other.start_unlisted(|name| name.push_str("GET /c")));
    let snapshot = root.snapshot();
    assert_eq!(snapshot.quitters[0].tasks.len(), 2);
    assert_eq!(
        snapshot.quitters[0].unpolled, 1,
        "the serial task, not yet listed"
    );
    assert_eq!(root.task_count(), 3);
    drop((rows, other, table));
    assert_eq!(root.task_count(), 0);
}

#[test]
fn a_row_can_start_after_the_quit_and_holds_the_quitter_open() {
    let root = Quitter::new("main");
    let table = root.task_table().expect("not quit");
    root.quit();
    let late = table.start(named("/late"));
    drop(table);
    assert!(!root.is_done());
    assert_eq!(
        root.live_tasks().tasks_of("main").unwrap()[0].name,
        "GET /late"
    );
    drop(late);
    assert!(root.is_done());
}

#[test]
fn a_table_or_a_live_row_holds_the_quitter_open() {
    let root = Quitter::new("main");
    let table = root.task_table().expect("not quit");
    let row = table.start(named("/slow"));
    root.quit();
    assert!(root.task_table().is_none(), "a quit refuses a new table");
    drop(table);
    assert!(!root.is_done(), "the live row holds it open");
    assert_eq!(root.live_tasks().task_count(), 1);
    drop(row);
    assert!(root.is_done());
}

#[test]
fn an_idle_table_left_alive_is_named_in_a_timed_out_report() {
    let root = Quitter::new("main");
    let jobs = root.child("jobs").unwrap();
    let table = jobs.task_table().expect("not quit");
    drop(table.start(named("/done")));
    // Beside a named task, a live dump leaves the idle table out (an idle
    // HTTP connection's is normal); the snapshot still counts it.
    // So does a timeout report.
    let worker = jobs.track("worker").unwrap();
    let snapshot = root.snapshot();
    assert_eq!(snapshot.quitter("main/jobs").unwrap().idle_tables, 1);
    assert!(
        !snapshot.to_string().contains("idle task table"),
        "{snapshot}"
    );
    let report = root.live_tasks();
    assert_eq!(report.quitters[0].idle_tables, 1);
    assert_eq!(report.tasks_of("main/jobs").unwrap()[0].name, "worker");
    assert!(!report.to_string().contains("idle task table"), "{report}");
    drop(worker);

    root.quit();
    // The deadline has passed already: the report is taken at once.
    let report = common::block_on(root.wait_done_until(std::future::ready(())))
        .expect_err("the table holds `jobs` open");
    assert_eq!(report.task_count(), 0, "an idle table is not a task");
    let held = report.quitters.iter().find(|q| q.path == "main/jobs");
    assert_eq!(held.map(|q| q.idle_tables), Some(1), "{report}");
    let text = report.to_string();
    assert!(
        text.contains("main/jobs") && text.contains("1 idle task table"),
        "{text}"
    );
    let snapshot = root.snapshot();
    assert_eq!(snapshot.quitter("main/jobs").unwrap().idle_tables, 1);
    assert!(
        snapshot.to_string().contains("1 idle task table"),
        "{snapshot}"
    );

    // A row that is live names the table's hold itself.
    let row = table.start(named("/slow"));
    let report = root.live_tasks();
    let jobs_tasks = report.quitters.iter().find(|q| q.path == "main/jobs");
    assert_eq!(jobs_tasks.map(|q| q.idle_tables), Some(0), "{report}");
    assert_eq!(report.tasks_of("main/jobs").unwrap()[0].name, "GET /slow");
    drop((row, table));
    assert!(root.is_done());
}

#[test]
fn a_row_that_ends_after_an_abort_is_recorded_as_aborted() {
    let root = Quitter::new("main");
    root.make_abortable();
    let connection = root.child("conn").unwrap();
    let table = connection.task_table().expect("not quit");
    drop(table.start(named("/done")));
    let cut = table.start(named("/cut"));
    root.quit();
    assert!(root.abort());
    drop(cut);
    let aborted = root.aborted();
    assert_eq!(aborted.len(), 1, "only the row live at the abort");
    assert_eq!(aborted[0].path, "main/conn");
    assert_eq!(aborted[0].task.name, "GET /cut");
    assert!(aborted[0].task.age.is_some());
    drop(table);
    assert!(root.is_done());
}

#[test]
fn rows_started_on_one_thread_end_on_others_while_reports_are_taken() {
    let root = Quitter::new("main");
    let table = root.task_table().expect("not quit");
    let (sender, receiver) = mpsc::channel();
    let ender = thread::spawn(move || {
        let mut ended = 0;
        for row in receiver {
            drop(row);
            ended += 1;
        }
        ended
    });
    let reporter = {
        let root = root.clone();
        thread::spawn(move || {
            for _ in 0..common::scaled(200) {
                let report = root.live_tasks();
                for task in report.tasks_of("main").unwrap_or(&[]) {
                    assert!(task.name.starts_with("GET /"), "{report}");
                }
            }
        })
    };
    let rows = common::scaled(1000);
    for _ in 0..rows {
        sender.send(table.start(named("/"))).unwrap();
    }
    drop(sender);
    assert_eq!(ender.join().unwrap(), rows);
    reporter.join().unwrap();
    assert_eq!(root.live_tasks().task_count(), 0);
    drop(table);
    root.quit();
    assert!(root.is_done());
}

/// HTTP/1's shape: one row at a time, each ended on another thread before
/// the next starts, so most take the lock-free first row (not while a
/// report still reads the last one), while reports read it. Every name a report shows is whole: one of the rows' names,
/// some longer than a kept buffer (freed at the end, or by the last
/// reader).
#[test]
fn one_row_at_a_time_ended_on_another_thread_while_reports_are_taken() {
    let root = Quitter::new("main");
    let table = root.task_table().expect("not quit");
    let long = format!("/{}", "x".repeat(300));
    let path = |i: usize| {
        if i % 7 == 0 {
            long.clone()
        } else {
            format!("/{i}")
        }
    };
    let (rows, ended) = (mpsc::channel(), mpsc::channel());
    let ender = thread::spawn(move || {
        for row in rows.1 {
            drop(row);
            ended.0.send(()).unwrap();
        }
    });
    let reporter = {
        let (root, long) = (root.clone(), long.clone());
        thread::spawn(move || {
            for _ in 0..common::scaled(4_000) {
                let report = root.live_tasks();
                let tasks = report.tasks_of("main").unwrap_or(&[]);
                // The rows are read one after the other, not at one
                // instant: a task that ends while the report reads it can
                // be named beside the next (in another row, the first one
                // being read), never more.
                assert!(tasks.len() <= 2, "{report}");
                for task in tasks {
                    let path = task.name.strip_prefix("GET ").expect("whole");
                    let numbered = path[1..].parse::<usize>().is_ok();
                    assert!(numbered || path == long, "{report}");
                }
            }
        })
    };
    for i in 0..common::scaled(20_000) {
        rows.0.send(table.start(named(&path(i)))).unwrap();
        ended.1.recv().unwrap();
    }
    drop(rows.0);
    ender.join().unwrap();
    reporter.join().unwrap();
    assert_eq!(root.live_tasks().task_count(), 0);
    drop(table);
    root.quit();
    assert!(root.is_done());
}
