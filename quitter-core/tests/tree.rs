//! The quit tree: quit flows down, done flows up, children unlink, causes,
//! reports and panics.

mod common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};
use std::thread;

use common::{block_on, expired, never, WakeCount};
use futures::task::noop_waker_ref;
use futures::FutureExt;
use quitter_core::{AlreadyQuit, QuitCause, Quitter};

fn poll_once<F: Future>(future: &mut std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future
        .as_mut()
        .poll(&mut Context::from_waker(noop_waker_ref()))
}

#[test]
fn path_names_every_ancestor() {
    let root = Quitter::new("main");
    let conn = root.child("http").unwrap().child("conn-42").unwrap();
    assert_eq!(conn.path(), "main/http/conn-42");
    assert_eq!(conn.name(), "conn-42");
    assert_eq!(conn.parent().unwrap().path(), "main/http");
    assert!(root.parent().is_none());
    let debug = format!("{conn:?}");
    assert!(
        debug.contains("main/http/conn-42") && debug.contains("quitting: false"),
        "{debug}"
    );
}

#[test]
fn quit_flows_down_to_every_descendant_but_not_up() {
    let root = Quitter::new("main");
    let a = root.child("a").unwrap();
    let a1 = a.child("a1").unwrap();
    let b = root.child("b").unwrap();
    assert!(a.quit());
    assert!(a.is_quitting() && a1.is_quitting());
    assert!(!root.is_quitting() && !b.is_quitting());
    assert_eq!(
        a1.child("x").err(),
        Some(AlreadyQuit),
        "refused below a quit node"
    );
    root.quit();
    assert!(b.is_quitting());
    assert_eq!(root.child("late").err(), Some(AlreadyQuit));
}

#[test]
fn first_cause_wins_and_descendants_inherit_it() {
    let root = Quitter::new("main");
    let child = root.child("c").unwrap();
    assert_eq!(root.cause(), None);
    assert!(root.quit_with(
        QuitCause::new("signal")
            .with_index(0)
            .with_detail("SIGTERM")
    ));
    assert!(
        !root.quit_with(QuitCause::new("second")),
        "idempotent: not the first quit"
    );
    assert!(!root.quit());
    let cause = root.cause().unwrap();
    assert_eq!(cause.label, "signal");
    assert_eq!(cause.index, Some(0));
    assert_eq!(cause.detail.as_deref(), Some("SIGTERM"));
    assert_eq!(child.cause(), Some(cause.clone()));
    assert_eq!(cause.to_string(), "'signal' (SIGTERM)");
}

#[test]
fn a_child_quit_first_keeps_its_own_cause() {
    let root = Quitter::new("main");
    let child = root.child("c").unwrap();
    child.quit_with(QuitCause::new("restart"));
    root.quit_with(QuitCause::new("shutdown"));
    assert_eq!(child.cause().unwrap().label, "restart");
    assert_eq!(root.cause().unwrap().label, "shutdown");
}

/// 100 000 levels: the quit walk, the done cascade and the drop are loops.
/// Run on a thread with a small stack so recursion would certainly fail.
/// (Fewer levels with `QUITTER_TEST_SCALE`, under Miri.)
#[test]
fn a_100k_deep_chain_quits_finishes_and_drops_without_recursion() {
    thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let root = Quitter::new("main");
            let mut leaf = root.clone();
            for i in 0..common::scaled(100_000) {
                leaf = leaf.child(format!("{i}")).unwrap();
            }
            let guard = leaf.track("deep task").unwrap();
            root.quit();
            assert!(leaf.is_quitting());
            assert!(
                !root.is_done(),
                "the leaf's task holds the whole chain open"
            );
            drop(guard);
            assert!(root.is_done(), "done cascaded up 100k levels");
            drop(leaf); // unlinks 100k nodes, iteratively
            assert_eq!(root.child_count(), 0);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_child_holds_its_parent_open_until_its_subtree_is_done() {
    let root = Quitter::new("main");
    let child = root.child("worker").unwrap();
    let grandchild = child.child("job").unwrap();
    let guard = grandchild.track("t").unwrap();
    root.quit();
    assert!(!root.is_done() && !child.is_done() && !grandchild.is_done());
    drop(guard);
    assert!(grandchild.is_done() && child.is_done() && root.is_done());
}

/// A sub-system restart: quit and wait one child; the parent goes on.
#[test]
fn a_child_quits_and_is_waited_on_its_own() {
    let root = Quitter::new("main");
    let sub = root.child("subsystem").unwrap();
    let guard = sub.track("worker").unwrap();
    let root_task = root.track("root task").unwrap();
    sub.quit();
    assert_eq!(
        block_on(sub.wait_done_until(expired()))
            .unwrap_err()
            .task_count(),
        1
    );
    drop(guard);
    assert_eq!(block_on(sub.wait_done_until(expired())), Ok(()));
    assert!(!root.is_quitting());
    let again = root.child("subsystem").unwrap(); // restarted
    drop(sub);
    assert_eq!(root.child_count(), 1);
    root.quit();
    assert!(again.is_quitting());
    assert!(!root.is_done());
    drop(root_task);
    assert!(root.is_done());
}

#[test]
fn done_is_not_ready_before_quit_even_without_tasks() {
    let root = Quitter::new("main");
    let mut done = pin!(root.done());
    assert!(poll_once(&mut done).is_pending());
    assert!(block_on(root.wait_done_until(expired()))
        .unwrap_err()
        .quitters
        .is_empty());
    root.quit();
    assert!(poll_once(&mut done).is_ready());
}

#[test]
fn done_wakes_a_waiter_when_the_last_task_ends() {
    let root = Quitter::new("main");
    let guards: Vec<_> = (0..3).map(|_| root.track("same name").unwrap()).collect();
    root.quit();
    let waiter = {
        let root = root.clone();
        thread::spawn(move || block_on(root.wait_done_until(never())))
    };
    drop(guards);
    assert_eq!(waiter.join().unwrap(), Ok(()));
}

#[test]
fn a_waiter_polled_again_with_another_waker_is_woken_through_the_new_one() {
    let root = Quitter::new("main");
    let (first, second, dropped) = (WakeCount::new(), WakeCount::new(), WakeCount::new());
    let mut waiter = Box::pin(root.quitted());
    let mut gone = Box::pin(root.quitted());
    fn poll(
        waiter: &mut std::pin::Pin<Box<quitter_core::Quitted<'_>>>,
        count: &std::sync::Arc<WakeCount>,
    ) -> Poll<()> {
        waiter
            .as_mut()
            .poll(&mut Context::from_waker(&count.waker()))
    }
    assert!(poll(&mut waiter, &first).is_pending());
    assert!(poll(&mut gone, &dropped).is_pending());
    assert!(poll(&mut waiter, &second).is_pending());
    drop(gone); // unlinks itself before the quit
    root.quit();
    assert_eq!(first.count(), 0, "the replaced waker is not woken");
    assert_eq!(second.count(), 1, "the current waker is woken once");
    assert_eq!(dropped.count(), 0, "a dropped waiter is not woken");
    assert!(poll(&mut waiter, &second).is_ready());
}

#[test]
fn quitted_is_cancel_safe_and_ready_at_once_after_quit() {
    let root = Quitter::new("main");
    {
        let mut first = pin!(root.quitted());
        assert!(poll_once(&mut first).is_pending());
        // dropped while listening
    }
    let waiter = {
        let root = root.clone();
        thread::spawn(move || block_on(root.quitted()))
    };
    root.quit();
    waiter.join().unwrap();
    let mut after = pin!(root.quitted());
    assert!(poll_once(&mut after).is_ready());
}

#[test]
fn same_named_tasks_are_distinct_entries_with_location_and_age() {
    let root = Quitter::new("main");
    let line = line!() + 1;
    let a = root.track("conn").unwrap();
    let b = root.track("conn").unwrap();
    root.quit();
    let report = root.live_tasks();
    assert_eq!(report.task_count(), 2);
    let tasks = report.tasks_of("main").unwrap();
    assert!(tasks.iter().all(|t| t.name == "conn"));
    assert_eq!(tasks[0].location.file(), file!());
    assert_eq!(tasks[0].location.line(), line);
    assert!(tasks[0].age.is_some());
    assert_eq!(a.info().name, "conn");
    assert!(a.quitter().ptr_eq(&root));
    drop(a);
    assert_eq!(root.live_tasks().task_count(), 1);
    drop(b);
    assert_eq!(root.live_tasks().task_count(), 0);
}

#[test]
fn dropping_every_handle_of_an_idle_child_unlinks_it() {
    let root = Quitter::new("main");
    let child = root.child("conn").unwrap();
    let clone = child.clone();
    assert_eq!(root.child_count(), 1);
    drop(child);
    assert_eq!(root.child_count(), 1, "a clone still lives");
    drop(clone);
    assert_eq!(root.child_count(), 0);
    // The unquit child released its hold: the root can finish.
    root.quit();
    assert!(root.is_done());
}

#[test]
fn a_child_with_a_live_task_stays_linked_and_still_gets_the_quit() {
    let root = Quitter::new("main");
    let guard = root.child("conn").unwrap().track("handler").unwrap();
    assert_eq!(root.child_count(), 1, "the task keeps its quitter");
    root.quit();
    assert!(guard.quitter().is_quitting());
    assert_eq!(root.live_tasks().quitters[0].path, "main/conn");
    drop(guard);
    assert!(root.is_done());
    assert_eq!(root.child_count(), 0);
}

#[test]
fn a_million_children_made_and_dropped_leave_nothing_linked() {
    let root = Quitter::new("main");
    for _ in 0..common::scaled(1_000_000) {
        let child = root.child("conn").unwrap();
        drop(child);
    }
    assert_eq!(root.child_count(), 0);
    root.quit();
    assert!(root.is_done());
}

#[test]
fn panics_are_recorded_with_message_and_survive_their_quitter() {
    let root = Quitter::new("main");
    let child = root.child("conn").unwrap();
    child.track("handler").unwrap().panicked("boom");
    drop(child);
    let panics = root.panics();
    assert_eq!(panics.len(), 1);
    assert_eq!(panics[0].path, "main/conn");
    assert_eq!(panics[0].task.name, "handler");
    assert_eq!(panics[0].message, "boom");
    root.quit();
    assert!(root.is_done(), "a panicked task has ended");
}

#[test]
fn tracked_future_ends_on_completion_on_drop_and_records_panics() {
    let root = Quitter::new("main");
    let done = root.track_future("ok", async { 7 }).unwrap();
    // Pinned: a tracked future's task entry is linked where it is.
    let mut dropped = Box::pin(
        root.track_future("dropped", std::future::pending::<()>())
            .unwrap(),
    );
    assert_eq!(dropped.as_mut().now_or_never(), None);
    assert_eq!(dropped.info().unwrap().name, "dropped");
    assert_eq!(root.task_count(), 2);
    assert_eq!(block_on(done), 7);
    drop(dropped);
    assert_eq!(root.task_count(), 0);

    let panicking = root
        .track_future("panicky", async { panic!("kaput {}", 42) })
        .unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(panicking)));
    assert!(
        caught.is_err(),
        "the panic is resumed for the runtime to see"
    );
    let panics = root.panics();
    assert_eq!(panics.len(), 1);
    assert_eq!(panics[0].message, "kaput 42");
    assert_eq!(root.task_count(), 0);

    root.quit();
    assert_eq!(root.track_future("late", async {}).err(), Some(AlreadyQuit));
}

#[test]
fn a_tracked_future_counts_at_once_and_is_listed_from_its_first_poll() {
    let root = Quitter::new("main");
    let mut first = Box::pin(
        root.track_future("first", std::future::pending::<()>())
            .unwrap(),
    );
    let second = root
        .track_future("second", std::future::pending::<()>())
        .unwrap();
    assert!(first.info().is_none(), "not listed before its first poll");
    assert_eq!(root.task_count(), 2, "but counted from the start");
    root.quit();
    assert!(!root.is_done(), "an unpolled task holds the quitter open");

    let report = block_on(root.wait_done_until(expired())).unwrap_err();
    assert_eq!(report.quitters.len(), 1);
    assert!(report.quitters[0].tasks.is_empty());
    assert_eq!(report.quitters[0].unpolled, 2);
    assert_eq!(report.task_count(), 2);
    assert!(
        report.to_string().contains("2 task(s) not polled yet"),
        "{report}"
    );

    // Its first poll lists it by name; the other stays counted.
    assert_eq!(first.as_mut().now_or_never(), None);
    let report = root.live_tasks();
    assert_eq!(report.quitters[0].tasks.len(), 1);
    assert_eq!(report.quitters[0].tasks[0].name, "first");
    assert_eq!(report.quitters[0].unpolled, 1);

    // Dropping either, polled or not, ends it.
    drop(second);
    assert_eq!(root.live_tasks().quitters[0].unpolled, 0);
    drop(first);
    assert!(root.is_done());
    assert!(root.live_tasks().quitters.is_empty());
}

#[test]
fn errors_and_reports_read_well() {
    let err: Box<dyn std::error::Error> = Box::new(AlreadyQuit);
    assert!(err.to_string().contains("already quit"));
    let root = Quitter::new("main");
    let _guard = root.child("http").unwrap().track("accept loop").unwrap();
    root.quit();
    let report = block_on(root.wait_done_until(expired())).unwrap_err();
    let text = report.to_string();
    assert!(
        text.starts_with("Timeout waiting done on quitter 'main/http' due to the following tasks:\n\t- accept loop (spawned at "),
        "{text}"
    );
    assert!(text.contains("tree.rs:"), "{text}");
    assert!(text.contains("running for"), "{text}");
}

#[test]
fn handles_guards_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Quitter>();
    send_sync::<quitter_core::TaskGuard>();
    send_sync::<quitter_core::ExitReport>();
    send_sync::<quitter_core::TimeoutReport>();
    send::<quitter_core::Quitted<'static>>();
    send::<quitter_core::Done<'static>>();
    send::<quitter_core::RunUntilQuit<'static, std::future::Ready<()>>>();
    send::<quitter_core::Tracked<std::future::Ready<()>>>();
    // A tracked future owning its quitter can be spawned on any runtime.
    let root = Quitter::new("main");
    let q = root.clone();
    let fut = root
        .track_future("t", async move { q.quitted().await })
        .unwrap();
    fn spawnable<F: Future + Send + 'static>(_: &F) {}
    spawnable(&fut);
}

#[test]
fn a_guard_runs_blocking_work_and_records_its_panic() {
    let root = Quitter::new("main");
    let guard = root.track("blocking").unwrap();
    assert_eq!(guard.run(|| 5), 5);
    assert_eq!(root.task_count(), 0, "the task ended with the work");
    let guard = root.track("blocking").unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        guard.run(|| -> () { panic!("disk on fire") })
    }));
    assert!(caught.is_err(), "the panic is resumed");
    assert_eq!(root.panics()[0].message, "disk on fire");
    assert_eq!(root.task_count(), 0);
}
