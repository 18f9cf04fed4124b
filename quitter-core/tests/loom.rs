//! loom models of every race in the core (run with
//! `RUSTFLAGS="--cfg loom" cargo test -p quitter-core --release --test loom`).
//!
//! Each model is two or three threads and a few operations, so loom can
//! explore every interleaving of the state word, the node locks and
//! event-listener's own atomics (its `loom` feature) in seconds.
#![cfg(loom)]

mod common;

use common::WakeCount;
use loom::future::block_on;
use loom::thread;
use quitter_core::Quitter;

/// Quit vs track: the task is either refused, or counted and waited for.
/// Never lost (done while it lives), never waited for forever after it
/// ended (a done-waiter on a third thread always wakes).
#[test]
fn loom_quit_vs_track() {
    loom::model(|| {
        let root = Quitter::new("main");
        let tracker = {
            let root = root.clone();
            thread::spawn(move || match root.track("task") {
                Ok(guard) => {
                    assert!(!root.is_done(), "a live task holds the quitter open");
                    drop(guard);
                    true
                }
                Err(_) => {
                    assert!(root.is_quitting(), "refused only after quit");
                    false
                }
            })
        };
        let quitter = {
            let root = root.clone();
            thread::spawn(move || {
                root.quit();
            })
        };
        block_on(root.done());
        tracker.join().unwrap();
        quitter.join().unwrap();
        assert!(root.is_done());
        assert_eq!(root.task_count(), 0);
    });
}

/// Quit vs child creation: a child made concurrently with its parent's
/// quit is either refused or quit by it. Never orphaned.
#[test]
fn loom_quit_vs_child() {
    loom::model(|| {
        let root = Quitter::new("main");
        let maker = {
            let root = root.clone();
            thread::spawn(move || root.child("child").ok())
        };
        root.quit();
        match maker.join().unwrap() {
            Some(child) => {
                assert!(
                    child.is_quitting(),
                    "a child that was accepted got the quit"
                );
                assert!(child.is_done(), "quit and without tasks");
                drop(child);
            }
            None => assert!(root.is_quitting()),
        }
        assert!(root.is_done());
        assert_eq!(root.child_count(), 0);
    });
}

/// The last guard's drop vs a `done()` waiter: the waiter always wakes.
#[test]
fn loom_last_guard_drop_vs_done_waiter() {
    loom::model(|| {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        let guard = child.track("task").unwrap();
        root.quit();
        let ender = thread::spawn(move || drop(guard));
        // Waits on the root: the done transition must cascade up from the
        // child and wake it.
        block_on(root.done());
        assert!(child.is_done());
        ender.join().unwrap();
    });
}

/// Dropping a child's last handle vs its parent's quit: the child is
/// unlinked exactly once, its hold released exactly once, and the parent
/// finishes.
#[test]
fn loom_child_drop_vs_parent_quit() {
    loom::model(|| {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        let dropper = thread::spawn(move || drop(child));
        let quitter = {
            let root = root.clone();
            thread::spawn(move || {
                root.quit();
            })
        };
        block_on(root.done());
        dropper.join().unwrap();
        quitter.join().unwrap();
        assert_eq!(root.child_count(), 0);
        assert!(root.is_done());
    });
}

/// Two quits racing on overlapping subtrees: when either returns, the
/// whole subtree below it is quitting, and exactly one cause wins per node.
#[test]
fn loom_concurrent_quits_reach_every_descendant() {
    loom::model(|| {
        let root = Quitter::new("main");
        let mid = root.child("mid").unwrap();
        let leaf = mid.child("leaf").unwrap();
        let inner = {
            let mid = mid.clone();
            let leaf = leaf.clone();
            thread::spawn(move || {
                let first = mid.quit();
                assert!(leaf.is_quitting());
                first
            })
        };
        let outer_first = root.quit();
        assert!(mid.is_quitting() && leaf.is_quitting());
        let inner_first = inner.join().unwrap();
        assert!(outer_first, "nobody else quit the root");
        assert!(leaf.cause().is_some());
        let _ = inner_first;
    });
}

/// A tracked future is counted at once and listed at its first poll, on the
/// thread that polls it: against a quit and a report on another thread, the
/// quitter is done only after the task ends, and no report ever shows more
/// tasks than can exist.
#[test]
fn loom_tracked_first_poll_vs_quit_and_report() {
    loom::model(|| {
        let root = Quitter::new("main");
        let tracked = root.track_future("task", async {}).unwrap();
        let runner = thread::spawn(move || block_on(tracked));
        root.quit();
        assert!(root.live_tasks().task_count() <= 1);
        block_on(root.done());
        runner.join().unwrap();
        assert_eq!(root.task_count(), 0);
        assert!(root.live_tasks().quitters.is_empty());
    });
}

/// A quit reaching, by its walk, a node that has no children yet (so no
/// family to lock), while another thread makes that node's first child: the
/// child is refused or quit. Never orphaned.
#[test]
fn loom_walk_vs_first_child_of_an_idle_node() {
    loom::model(|| {
        let root = Quitter::new("main");
        let idle = root.child("idle").unwrap();
        let maker = {
            let idle = idle.clone();
            thread::spawn(move || idle.child("late").ok())
        };
        root.quit();
        if let Some(late) = maker.join().unwrap() {
            assert!(
                late.is_quitting(),
                "a child accepted before the quit is quit"
            );
        }
        assert!(idle.is_quitting());
    });
}

/// A quit waiter on a node that has no `Extra` yet (so the waiter makes it)
/// vs a quit reaching that node by an ancestor's walk: the waiter always
/// wakes.
#[test]
fn loom_quit_waiter_on_an_idle_child_vs_ancestor_quit() {
    loom::model(|| {
        let root = Quitter::new("main");
        let idle = root.child("idle").unwrap();
        let waiter = {
            let idle = idle.clone();
            thread::spawn(move || block_on(idle.quitted()))
        };
        root.quit();
        waiter.join().unwrap();
        assert!(idle.is_quitting());
    });
}

/// A waiter that stores its waker and is dropped, vs a quit, while another
/// waiter sleeps: the dropped one's slot is removed or abandoned, never
/// someone else's, and the sleeper always wakes.
#[test]
fn loom_dropped_quit_waiter_vs_quit_and_a_sleeper() {
    use futures::FutureExt;
    loom::model(|| {
        let root = Quitter::new("main");
        let sleeper = {
            let root = root.clone();
            thread::spawn(move || block_on(root.quitted()))
        };
        let dropper = {
            let root = root.clone();
            thread::spawn(move || {
                let mut waiter = Box::pin(root.quitted());
                let _ = waiter.as_mut().now_or_never();
                drop(waiter);
            })
        };
        root.quit();
        sleeper.join().unwrap();
        dropper.join().unwrap();
    });
}

/// A task ends on one thread while the last handle of its quitter (a child)
/// is dropped on another and the parent quits: the child unlinks once, and
/// the parent is done.
#[test]
fn loom_task_end_vs_last_handle_drop_and_parent_quit() {
    loom::model(|| {
        let root = Quitter::new("main");
        let child = root.child("conn").unwrap();
        let guard = child.track("task").unwrap();
        let ender = thread::spawn(move || drop(guard));
        drop(child);
        root.quit();
        ender.join().unwrap();
        assert_eq!(root.child_count(), 0);
        assert!(root.is_done());
    });
}

/// Waiters are linked in place (an intrusive list). Three in one list: the
/// middle one polls again with a new waker and then leaves, while the quit
/// takes the list apart. The others are woken, and no entry is touched
/// after its waiter let it go (loom counts a waiter's end as a write of its
/// links and waker).
#[test]
fn loom_middle_waiter_leaves_while_the_quit_wakes_the_list() {
    use std::future::Future;
    use std::task::Context;
    loom::model(|| {
        let root = Quitter::new("main");
        let first_woken = WakeCount::new();
        let first_waker = first_woken.waker();
        let mut first = Box::pin(root.quitted());
        let mut cx = Context::from_waker(&first_waker);
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let middle = {
            let root = root.clone();
            thread::spawn(move || {
                let mut waiter = Box::pin(root.quitted());
                for _ in 0..2 {
                    let waker = WakeCount::new().waker();
                    if waiter
                        .as_mut()
                        .poll(&mut Context::from_waker(&waker))
                        .is_ready()
                    {
                        break;
                    }
                }
                drop(waiter);
            })
        };
        let last = {
            let root = root.clone();
            thread::spawn(move || block_on(root.quitted()))
        };
        root.quit();
        assert!(first_woken.count() > 0, "the quit woke the first waiter");
        assert!(first.as_mut().poll(&mut cx).is_ready());
        middle.join().unwrap();
        last.join().unwrap();
    });
}

/// Task entries are linked in place too, in the shard of the thread that
/// first polls them. Two tasks on two threads (two shards) end while a
/// report walks both shards: it sees each task or not, and never an entry
/// after its task let it go.
#[test]
fn loom_report_vs_tasks_ending_in_two_shards() {
    loom::model(|| {
        let root = Quitter::new("main");
        let runners = ["a", "b"].map(|name| {
            let task = root.track_future(name, async {}).unwrap();
            thread::spawn(move || block_on(task))
        });
        assert!(root.live_tasks().task_count() <= 2);
        root.quit();
        block_on(root.done());
        for runner in runners {
            runner.join().unwrap();
        }
        assert!(root.live_tasks().quitters.is_empty());
    });
}

/// A tracked task holds no `Arc` of its quitter, only a hold, counted in
/// the spawning thread's count word. The last handle of that quitter (a
/// child) is dropped on one thread while the task runs to its end on
/// another: the drop's sweep moves the count into the state word and keeps
/// the node alive for the task (loom checks every touch of the node by the
/// task), and the task's end frees it: the child is unlinked, and the
/// parent's quit finishes.
#[test]
fn loom_tracked_task_outlives_its_last_handle() {
    loom::model(|| {
        let root = Quitter::new("main");
        let child = root.child("conn").unwrap();
        let tracked = child.track_future("task", async {}).unwrap();
        let runner = thread::spawn(move || block_on(tracked));
        drop(child);
        runner.join().unwrap();
        assert_eq!(root.child_count(), 0, "the child was freed once idle");
        root.quit();
        assert!(root.is_done());
    });
}

/// A spawn on a thread whose count word is open (it counted a task
/// before) vs a quit on another thread, which closes that word: the task is
/// refused, or counted and waited for. Never lost.
#[test]
fn loom_spawn_on_an_open_count_word_vs_quit() {
    loom::model(|| {
        let root = Quitter::new("main");
        // Makes this thread's word (open: nothing has quit).
        drop(root.track_future("first", async {}).unwrap());
        let quitter = {
            let root = root.clone();
            thread::spawn(move || {
                root.quit();
            })
        };
        match root.track_future("task", async {}) {
            Ok(tracked) => {
                assert!(!root.is_done(), "a live task holds the quitter open");
                drop(tracked);
            }
            Err(_) => assert!(root.is_quitting(), "refused only after quit"),
        }
        block_on(root.done());
        quitter.join().unwrap();
        assert_eq!(root.task_count(), 0);
    });
}

/// A node's sweep waits for its last handle and its last child alike: the
/// last handle of `parent` and the last handle of its only child are
/// dropped on two threads (so the handle's drop and the child's unlink
/// race to see each other under the parent's lock), while `parent` has a
/// tracked task. Whichever is second sweeps, so the task's end (after
/// both) finds its node alive and frees it.
#[test]
fn loom_last_handle_drop_vs_last_child_unlink() {
    loom::model(|| {
        let root = Quitter::new("main");
        let parent = root.child("parent").unwrap();
        let child = parent.child("child").unwrap();
        let tracked = parent.track_future("task", async {}).unwrap();
        let parent_dropper = thread::spawn(move || drop(parent));
        let child_dropper = thread::spawn(move || drop(child));
        parent_dropper.join().unwrap();
        child_dropper.join().unwrap();
        assert_eq!(root.child_count(), 1, "the task keeps its quitter");
        drop(tracked);
        assert_eq!(root.child_count(), 0, "its end frees it");
        root.quit();
        assert!(root.is_done());
    });
}

/// Draining vs quit vs child creation: a child made while the root starts
/// draining and quits is either refused (after the quit) or reached by both
/// walks: it ends draining and quitting. Never missed by either, and a
/// waiter for its draining on the main thread always wakes.
#[test]
fn loom_drain_vs_quit_vs_child_creation() {
    loom::model(|| {
        let root = Quitter::new("main");
        let maker = {
            let root = root.clone();
            thread::spawn(move || root.child("child").ok())
        };
        let drainer = {
            let root = root.clone();
            thread::spawn(move || {
                root.start_draining();
            })
        };
        root.quit();
        let child = maker.join().unwrap();
        drainer.join().unwrap();
        if let Some(child) = child {
            block_on(child.draining());
            assert!(child.is_draining() && child.is_quitting());
        }
        assert!(root.is_draining());
    });
}

/// A draining waiter on an idle child vs the drain walk from its parent:
/// the waiter links itself (making the child's `Extra`) while the walk
/// looks for it; it is woken either way.
#[test]
fn loom_draining_waiter_on_an_idle_child_vs_parent_drain() {
    loom::model(|| {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        let drainer = {
            let root = root.clone();
            thread::spawn(move || {
                root.start_draining();
            })
        };
        block_on(child.draining());
        assert!(child.is_draining());
        drainer.join().unwrap();
    });
}

/// A stage moves on while its last task ends on another thread: the later
/// stage is quit exactly when the earlier one is done, never before, and
/// its waiter always wakes.
#[test]
fn loom_stage_advances_while_its_last_task_ends() {
    use quitter_core::Stage;
    loom::model(|| {
        let root = Quitter::new("main");
        let http = root.child("http").unwrap();
        let workers = root.child_in("workers", Stage::after(&http)).unwrap();
        let request = http.track("request").unwrap();
        let ender = {
            let http = http.clone();
            thread::spawn(move || {
                drop(request);
                drop(http);
            })
        };
        let quitter = {
            let root = root.clone();
            thread::spawn(move || {
                root.quit();
            })
        };
        block_on(workers.quitted());
        assert!(
            http.is_done(),
            "the later stage quit only once http was done"
        );
        ender.join().unwrap();
        quitter.join().unwrap();
        drop((http, workers));
        block_on(root.done());
    });
}

/// An abort on one thread vs an abortable task's poll on another: the task
/// is either aborted in that poll, or its waker (registered by the poll)
/// is woken by the abort and the next poll aborts it. Never left pending
/// unwoken, and the quitter is done once it is aborted.
#[test]
fn loom_abort_vs_an_abortable_task_polled_on_another_thread() {
    use quitter_core::{Aborted, OnAbort};
    use std::future::Future;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::task::{Context, Poll};
    loom::model(|| {
        let root = Quitter::new("main");
        root.make_abortable();
        let task = root
            .track_future("stuck", std::future::pending::<()>())
            .unwrap()
            .abort_by(OnAbort::Unwind);
        let wakes = WakeCount::new();
        let poller = {
            let wakes = wakes.clone();
            thread::spawn(move || {
                let mut task = Box::pin(task);
                let waker = wakes.waker();
                let mut cx = Context::from_waker(&waker);
                match catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut cx))) {
                    Ok(Poll::Pending) => Some(task),
                    Ok(Poll::Ready(())) => unreachable!("pending forever"),
                    Err(payload) => {
                        assert!(payload.is::<Aborted>());
                        None
                    }
                }
            })
        };
        root.abort();
        if let Some(mut task) = poller.join().unwrap() {
            assert_eq!(wakes.count(), 1, "pending after the abort: woken by it");
            let waker = wakes.waker();
            let mut cx = Context::from_waker(&waker);
            let unwound = catch_unwind(AssertUnwindSafe(|| task.as_mut().poll(&mut cx)));
            assert!(unwound.unwrap_err().is::<Aborted>());
        }
        assert!(root.is_done());
        assert_eq!(root.aborted().len(), 1);
    });
}

/// A `SerialTask` (one record reused by one task after another) ends its
/// task and starts the next on another thread, on that thread's shard,
/// while the root quits and reports: the report reads each name whole
/// (the rename happens only while the entry is in no list), the quit
/// either refuses the second task or waits for it, and the quitter is
/// done once the record's last task ended.
#[test]
fn loom_serial_task_restarted_on_another_thread_vs_quit_and_report() {
    loom::model(|| {
        let root = Quitter::new("main");
        let mut record = root.serial_task();
        assert!(record.start(|name| name.push_str("GET /a")));
        let other = thread::spawn(move || {
            record.end();
            let second = record.start(|name| name.push_str("POST /b"));
            (record, second)
        });
        for task in root.live_tasks().quitters.iter().flat_map(|q| &q.tasks) {
            assert!(
                task.name == "GET /a" || task.name == "POST /b",
                "{}",
                task.name
            );
        }
        root.quit();
        let (mut record, second) = other.join().unwrap();
        assert_eq!(record.is_running(), second);
        assert_eq!(root.is_done(), !second);
        record.end();
        block_on(root.done());
        assert!(root.live_tasks().quitters.is_empty());
    });
}

/// A task table's row ended on another thread vs a report and a quit (and
/// the table's drop): a report names the row whole or not at all, and the
/// quitter is done once the row and the table are gone, whichever goes
/// last.
#[test]
fn loom_table_row_end_vs_report_and_quit() {
    loom::model(|| {
        let root = Quitter::new("main");
        let table = root.task_table().expect("not quit");
        let row = table.start(["GET /"]);
        let ender = thread::spawn(move || drop(row));
        let reporter = {
            let root = root.clone();
            thread::spawn(move || {
                let report = root.live_tasks();
                let tasks = report.tasks_of("main").unwrap_or(&[]);
                assert!(tasks.len() <= 1, "{report}");
                assert!(tasks.iter().all(|task| task.name == "GET /"), "{report}");
            })
        };
        root.quit();
        drop(table);
        ender.join().unwrap();
        reporter.join().unwrap();
        assert!(root.is_done());
        assert!(
            root.live_tasks().quitters.is_empty(),
            "the table was unlisted"
        );
    });
}

/// A row ended on another thread vs the next row started (which may take
/// the freed row at once) and a report: the report names each live row
/// whole and at most once, and only the new row is named once the old one
/// is gone.
#[test]
fn loom_table_row_end_vs_next_start_and_report() {
    loom::model(|| {
        let root = Quitter::new("main");
        let table = root.task_table().expect("not quit");
        let first = table.start(["GET /a"]);
        let ender = thread::spawn(move || drop(first));
        let reporter = report_a_and_b(&root);
        let second = table.start(["GET /b"]);
        ender.join().unwrap();
        reporter.join().unwrap();
        let (names, report) = table_names(&root);
        assert_eq!(names, ["GET /b"], "{report}");
        drop(second);
        assert_eq!(root.snapshot().task_count(), 0);
        drop(table);
        root.quit();
        assert!(root.is_done());
    });
}

/// A thread taking one report of `root`, whose tasks `GET /a` and `GET /b`
/// come and go: it names each whole, at most once, and nothing else.
fn report_a_and_b(root: &Quitter) -> thread::JoinHandle<()> {
    let root = root.clone();
    thread::spawn(move || {
        let (names, report) = table_names(&root);
        let allowed: [&[&str]; 4] = [&[], &["GET /a"], &["GET /b"], &["GET /a", "GET /b"]];
        assert!(allowed.iter().any(|allowed| names == *allowed), "{report}");
    })
}

/// The names of `root`'s live tasks, sorted, and the report they are from.
fn table_names(root: &Quitter) -> (Vec<String>, String) {
    let report = root.live_tasks();
    let mut names: Vec<String> = report
        .tasks_of("main")
        .unwrap_or(&[])
        .iter()
        .map(|task| task.name.to_string())
        .collect();
    names.sort();
    (names, report.to_string())
}

/// Two rows of one table started and ended on two threads at once (a
/// table is `Sync`: one of them takes the lock-free first row, or each
/// takes it in turn) vs a report: each live row is named whole and once.
#[test]
fn loom_table_rows_started_on_two_threads_vs_report() {
    loom::model(|| {
        let root = Quitter::new("main");
        let table = loom::sync::Arc::new(root.task_table().expect("not quit"));
        let other = {
            let table = table.clone();
            thread::spawn(move || drop(table.start(["GET /b"])))
        };
        let reporter = report_a_and_b(&root);
        let first = table.start(["GET /a"]);
        other.join().unwrap();
        reporter.join().unwrap();
        let (names, report) = table_names(&root);
        assert_eq!(names, ["GET /a"], "{report}");
        drop(first);
        assert_eq!(root.snapshot().task_count(), 0);
    });
}

/// A row ended on another thread after an abort, while a report reads
/// it: the end records it aborted, by its whole name, and the report names
/// it whole or not at all; the row is free again once both are done.
#[test]
fn loom_table_aborted_row_end_vs_report() {
    loom::model(|| {
        let root = Quitter::new("main");
        root.make_abortable();
        let table = root.task_table().expect("not quit");
        let row = table.start(["GET ", "/slow"]);
        root.abort();
        let ender = thread::spawn(move || drop(row));
        let (names, report) = table_names(&root);
        assert!(names.is_empty() || names == ["GET /slow"], "{report}");
        ender.join().unwrap();
        let aborted = root.aborted();
        assert_eq!(aborted.len(), 1);
        assert_eq!(aborted[0].task.name, "GET /slow");
        let again = table.start(["GET /next"]);
        assert_eq!(table_names(&root).0, ["GET /next"]);
        drop(again);
    });
}
