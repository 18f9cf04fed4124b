//! go-quitter's own test suite, ported scenario by scenario (same intent,
//! Rust shape). Threads stand in for goroutines; see `common::go`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use common::{after_join, block_on, expired, go, hung, never, until_quit};
use quitter_core::{AlreadyQuit, MainRunner, QuitCause, Quitter};

#[test]
fn add_before_quit_is_accepted_and_after_quit_refused() {
    let q = Quitter::new("main");
    let guard = q.track("before").expect("accepted before quit");
    q.quit();
    assert_eq!(q.track("after").err(), Some(AlreadyQuit));
    assert_eq!(q.task_count(), 1, "the refused task left no entry");
    drop(guard);
    assert!(q.is_done());
}

#[test]
fn a_goroutine_is_not_started_after_quit() {
    let q = Quitter::new("main");
    q.quit();
    let ran = Arc::new(AtomicUsize::new(0));
    let ran2 = ran.clone();
    let refused = go(&q, "late", move |_| {
        ran2.fetch_add(1, Ordering::SeqCst);
    });
    assert!(refused.is_err());
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

/// Go panics on `Done` without `Add` and on more `Done`s than `Add`s. Here a
/// task ends by dropping its guard, so neither can be written; what is left
/// to check is that each guard ends exactly its own task.
#[test]
fn each_guard_ends_exactly_one_task() {
    let q = Quitter::new("main");
    let a = q.track("a").unwrap();
    let b = q.track("b").unwrap();
    q.quit();
    drop(a);
    assert!(!q.is_done(), "b is still live");
    assert_eq!(q.live_tasks().task_count(), 1);
    drop(b);
    assert!(q.is_done());
}

#[test]
fn has_to_quit_before_and_after() {
    let q = Quitter::new("main");
    let child = q.child("child").unwrap();
    assert!(!q.is_quitting());
    assert!(!child.is_quitting());
    q.quit();
    assert!(q.is_quitting());
    assert!(child.is_quitting());
}

#[test]
fn wait_done_without_pending_work_returns_at_once() {
    let q = Quitter::new("main");
    q.quit();
    // Even an already-expired deadline is fine: done is checked first.
    assert_eq!(block_on(q.wait_done_until(expired())), Ok(()));
}

#[test]
fn wait_done_with_pending_work_times_out_and_names_it() {
    let q = Quitter::new("main");
    let (release, bad) = hung();
    let handle = go(&q, "pending", bad).unwrap();
    q.quit();
    let report = block_on(q.wait_done_until(expired())).unwrap_err();
    assert_eq!(report.quitters.len(), 1);
    assert_eq!(report.quitters[0].path, "main");
    assert_eq!(report.quitters[0].tasks[0].name, "pending");
    release.send(()).unwrap();
    handle.join().unwrap();
    assert_eq!(block_on(q.wait_done_until(never())), Ok(()));
}

#[test]
fn good_goroutine_returns_and_bad_one_is_named() {
    let q = Quitter::new("main");
    let good = go(&q, "good", until_quit).unwrap();
    let (release, bad) = hung();
    let bad = go(&q, "bad", bad).unwrap();
    q.quit();
    good.join().unwrap();
    let report = block_on(q.wait_done_until(expired())).unwrap_err();
    let names: Vec<_> = report.quitters[0].tasks.iter().map(|t| &*t.name).collect();
    assert_eq!(names, ["bad"]);
    release.send(()).unwrap();
    bad.join().unwrap();
}

/// go-quitter's exit-function test: three sources, the third (index 2)
/// fires, one goroutine on `main` never returns: code 1, index 2, exactly
/// one timed-out quitter named `main`.
#[test]
fn exit_after_the_third_source_fires() {
    let root = Quitter::new("main");
    let (release, bad) = hung();
    let bad = go(&root, "stuck", bad).unwrap();
    let good = go(&root, "good", until_quit).unwrap();
    let report = block_on(
        MainRunner::new(root.clone())
            .source("never 0", never())
            .source("never 1", never())
            .source("interrupt", async { "SIGINT" })
            .run(|| after_join(vec![good])),
    );
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.cause.index, Some(2));
    assert_eq!(report.cause.label, "interrupt");
    assert_eq!(report.cause.detail.as_deref(), Some("SIGINT"));
    assert_eq!(report.timed_out.len(), 1);
    assert_eq!(report.timed_out[0].path, "main");
    assert_eq!(report.timed_out[0].tasks.len(), 1);
    assert_eq!(report.timed_out[0].tasks[0].name, "stuck");
    release.send(()).unwrap();
    bad.join().unwrap();
}

/// The seven-quitter tree: 1, 1A, 1B, 2, 2A, 2A1, 3. Pending work sits in
/// 1A, 2, 2A1 and 3; exactly those are reported.
#[test]
fn tree_reports_exactly_the_quitters_with_pending_work() {
    let root = Quitter::new("main");
    let q1 = root.child("1").unwrap();
    let q1a = q1.child("1A").unwrap();
    let q1b = q1.child("1B").unwrap();
    let q2 = root.child("2").unwrap();
    let q2a = q2.child("2A").unwrap();
    let q2a1 = q2a.child("2A1").unwrap();
    let q3 = root.child("3").unwrap();

    let mut good = Vec::new();
    let mut threads = Vec::new();
    let mut releases = Vec::new();
    for q in [&q1, &q1b, &q2a] {
        good.push(go(q, "good", until_quit).unwrap());
    }
    for q in [&q1a, &q2, &q2a1, &q3] {
        let (release, bad) = hung();
        releases.push(release);
        threads.push(go(q, "bad", bad).unwrap());
    }

    root.quit();
    let report = block_on(root.wait_done_until(after_join(good))).unwrap_err();
    let mut paths: Vec<_> = report.quitters.iter().map(|q| q.path.as_str()).collect();
    paths.sort();
    assert_eq!(paths, ["main/1/1A", "main/2", "main/2/2A/2A1", "main/3"]);
    for q in &report.quitters {
        assert_eq!(q.tasks.len(), 1);
        assert_eq!(q.tasks[0].name, "bad");
    }

    // A sub-tree waited on its own reports only itself.
    let sub = block_on(q2.wait_done_until(expired())).unwrap_err();
    let sub_paths: Vec<_> = sub.quitters.iter().map(|q| q.path.as_str()).collect();
    assert_eq!(sub_paths, ["main/2", "main/2/2A/2A1"]);

    for release in releases {
        release.send(()).unwrap();
    }
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(block_on(root.wait_done_until(never())), Ok(()));
}

/// Trees built concurrently from inside goroutines: each goroutine makes a
/// child, starts goroutines on it, and so on; quit reaches all of them.
#[test]
fn nested_trees_built_from_inside_goroutines() {
    const WIDTH: usize = 4;
    let root = Quitter::new("main");
    let built = Arc::new(Barrier::new(1 + WIDTH + WIDTH * WIDTH));
    let ended = Arc::new(AtomicUsize::new(0));
    for i in 0..WIDTH {
        let (built, ended) = (built.clone(), ended.clone());
        go(&root, "level 1", move |q| {
            let child = q.child(format!("c{i}")).unwrap();
            for _ in 0..WIDTH {
                let (built, ended) = (built.clone(), ended.clone());
                go(&child, "level 2", move |q| {
                    built.wait();
                    until_quit(q);
                    ended.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            }
            built.wait();
            until_quit(q);
            ended.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    built.wait();
    assert_eq!(root.child_count(), WIDTH);
    root.quit();
    block_on(root.done());
    assert_eq!(ended.load(Ordering::SeqCst), WIDTH + WIDTH * WIDTH);
}

/// A spawner that keeps adding goroutines until refused; afterwards every
/// goroutine that started has ended.
#[test]
fn spawner_adds_until_refused_and_started_equals_ended() {
    let root = Quitter::new("main");
    let started = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    let first_ten = Arc::new(Barrier::new(2));
    let spawner = {
        let (started, ended, first_ten) = (started.clone(), ended.clone(), first_ten.clone());
        go(&root, "spawner", move |q| {
            let mut n = 0;
            loop {
                let (started, ended) = (started.clone(), ended.clone());
                let accepted = go(&q, "worker", move |_| {
                    started.fetch_add(1, Ordering::SeqCst);
                    ended.fetch_add(1, Ordering::SeqCst);
                });
                if accepted.is_err() {
                    break;
                }
                n += 1;
                if n == 10 {
                    first_ten.wait();
                }
            }
        })
        .unwrap()
    };
    first_ten.wait();
    root.quit();
    block_on(root.done());
    spawner.join().unwrap();
    let started = started.load(Ordering::SeqCst);
    assert!(started >= 10);
    assert_eq!(started, ended.load(Ordering::SeqCst));
}

/// go-quitter's `Context()` aborting an in-flight HTTP request: here
/// `run_until_quit` drops an in-flight future when the quitter quits.
#[test]
fn quit_aborts_an_in_flight_operation() {
    let q = Quitter::new("main");
    let (_never_answered, response) = futures::channel::oneshot::channel::<&str>();
    let quitter = q.clone();
    let request = std::thread::spawn(move || block_on(quitter.run_until_quit(response)));
    q.quit_with(QuitCause::new("test"));
    assert_eq!(request.join().unwrap(), None);
    // A finished operation is returned as is.
    let (answer, response) = futures::channel::oneshot::channel::<&str>();
    answer.send("200 OK").unwrap();
    let fresh = Quitter::new("fresh");
    assert_eq!(block_on(fresh.run_until_quit(response)), Some(Ok("200 OK")));
}
