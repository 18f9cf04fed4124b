//! Ordered stages: children given a place in their parent's stop order
//! quit stage by stage, each once the stage before is done; a stage that
//! overruns its budget has the next one quit anyway (where a timed wait
//! keeps budgets); the overall timeout stays a hard limit; the report is a
//! timeline.
//!
//! Budgets are tested with a timer the test fires by hand (`ManualTimer`),
//! so nothing here sleeps: the runner and the test's driver run in one
//! `block_on` (`join!`), and the driver waits on the quitters' own futures.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::{block_on, scaled, within, yield_now, ManualTimer};
use futures::channel::mpsc;
use futures::join;
use quitter_core::{MainRunner, Quitter, Stage};

/// The root, `http` (stage 0), `workers` (after http), `telemetry` (after
/// workers).
fn three_stages() -> (Quitter, Quitter, Quitter, Quitter) {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let workers = root.child_in("workers", Stage::after(&http)).unwrap();
    let telemetry = root.child_in("telemetry", Stage::after(&workers)).unwrap();
    (root, http, workers, telemetry)
}

#[test]
fn stages_quit_in_order() {
    let (root, http, workers, telemetry) = three_stages();
    let request = http.track("GET /").unwrap();
    let job = workers.track("job").unwrap();
    let flush = telemetry.track("flush").unwrap();
    let own = root.track("root's own task").unwrap();

    root.quit();
    // Stage 0 quits with the root's own tasks.
    assert!(root.is_quitting() && http.is_quitting());
    assert!(!workers.is_quitting() && !telemetry.is_quitting());
    // Draining flows to every stage at the quit all the same.
    assert!(workers.is_draining() && telemetry.is_draining());
    // A later stage is still open for work until its turn.
    drop(workers.track("late job").unwrap());

    drop(request); // http is done: workers quit
    assert!(workers.is_quitting());
    assert!(!telemetry.is_quitting());
    drop(job);
    assert!(telemetry.is_quitting());
    drop(flush);
    assert!(!root.is_done(), "the root's own task holds it");
    drop(own);
    assert!(root.is_done());
    assert_eq!(workers.stage(), Stage::new(1));
}

#[test]
fn empty_and_idle_stages_are_passed_over() {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let idle = root.child_in("idle", Stage::new(3)).unwrap();
    let last = root.child_in("last", Stage::new(7)).unwrap();
    let job = last.track("job").unwrap();
    drop(http); // stage 0 has no child left
    root.quit();
    assert!(idle.is_quitting() && last.is_quitting());
    assert!(idle.is_done() && !last.is_done());
    drop(job);
    assert!(root.is_done());
}

/// Found by the model: a child done before its parent had any stage (so
/// it told its parent nothing) must not be counted when the parent, staged
/// later, enters that stage; else the stage never ends.
#[test]
fn a_child_done_before_its_parent_was_staged_does_not_stall_it() {
    let root = Quitter::new("main");
    let service = root.child_in("service", Stage::new(1)).unwrap();
    let done_early = service.child("done early").unwrap();
    done_early.quit(); // idle: done at once, before `service` has stages
    assert!(done_early.is_done());
    let later = service.child_in("later", Stage::new(1)).unwrap();
    root.quit();
    assert!(
        later.is_quitting(),
        "service's stage 0 holds only a done child"
    );
    assert!(root.is_done());
}

#[test]
fn a_sub_tree_quit_on_its_own_keeps_its_order() {
    let root = Quitter::new("main");
    let service = root.child("service").unwrap();
    let front = service.child("front").unwrap();
    let back = service.child_in("back", Stage::after(&front)).unwrap();
    let request = front.track("request").unwrap();
    service.quit();
    assert!(!root.is_quitting());
    assert!(front.is_quitting() && !back.is_quitting());
    drop(request);
    assert!(back.is_quitting() && service.is_done());
}

#[test]
fn a_later_member_dropped_before_its_turn_does_not_stall_the_order() {
    let (root, http, workers, telemetry) = three_stages();
    let request = http.track("GET /").unwrap();
    root.quit();
    drop(workers); // gone unquit, before its stage came
    assert!(!telemetry.is_quitting());
    drop(request);
    assert!(telemetry.is_quitting(), "stage 1 is empty now: passed over");
    assert!(root.is_done());
}

#[test]
fn a_later_stage_never_sees_its_quit_before_the_earlier_one_is_done() {
    // Stage 0 tasks end on many threads at once; each stage 1 task checks,
    // the moment it sees its quit, that stage 0 is done.
    for _ in 0..scaled(200) {
        let root = Quitter::new("main");
        let first = root.child("first").unwrap();
        let second = root.child_in("second", Stage::after(&first)).unwrap();
        let early = Arc::new(AtomicBool::new(false));
        let threads = 4;
        let go = Arc::new(Barrier::new(threads + 1));
        let mut handles = Vec::new();
        for i in 0..threads {
            let guard = first
                .child(format!("conn-{i}"))
                .unwrap()
                .track("req")
                .unwrap();
            let go = go.clone();
            handles.push(thread::spawn(move || {
                go.wait();
                drop(guard);
            }));
        }
        for _ in 0..2 {
            let (second, first, early) = (second.clone(), first.clone(), early.clone());
            let guard = second.track("job").unwrap();
            handles.push(thread::spawn(move || {
                block_on(second.quitted());
                if !first.is_done() {
                    early.store(true, Ordering::SeqCst);
                }
                drop(guard);
            }));
        }
        root.quit();
        go.wait();
        for handle in handles {
            handle.join().unwrap();
        }
        assert!(
            !early.load(Ordering::SeqCst),
            "stage 1 quit before stage 0 was done"
        );
        assert!(root.is_done());
    }
}

const TIMEOUT: Duration = Duration::from_secs(1000);
/// Far beyond what these tests take (milliseconds): only a broken build
/// (a stage that never quits) reaches it.
const WATCHDOG: Duration = Duration::from_secs(60);

#[test]
fn a_stage_that_overruns_its_budget_lets_the_next_one_run() {
    within(WATCHDOG, || {
        let root = Quitter::new("main");
        let http = root
            .child_in("http", Stage::FIRST.budget(Duration::from_secs(5)))
            .unwrap();
        let workers = root.child_in("workers", Stage::after(&http)).unwrap();
        let hung = http.track("hung request").unwrap();
        let job = workers.track("job").unwrap();
        let timer = ManualTimer::default();
        let (signal, signals) = mpsc::unbounded::<&str>();
        let runner = MainRunner::new(root.clone()).stream_source("signal", signals);
        let driver = async {
            signal.unbounded_send("SIGTERM").unwrap();
            http.quitted().await;
            yield_now().await; // the runner sets the budget's alarm
            assert!(!workers.is_quitting());
            assert_eq!(
                timer.fire_shorter_than(TIMEOUT),
                1,
                "one alarm: http's budget"
            );
            workers.quitted().await; // http overran: workers quit anyway
            assert!(!http.is_done());
            drop(job); // workers finish
            workers.done().await;
            // Only the hung request is left: the overall timeout ends it.
            yield_now().await;
            assert_eq!(timer.fire_shorter_than(Duration::MAX), 1, "the timeout");
        };
        let (report, ()) =
            block_on(async { join!(runner.run_timed(TIMEOUT, |d| timer.sleep(d)), driver) });
        assert_eq!(report.exit_code(), 1);
        assert_eq!(report.stages.len(), 2, "{report}");
        let (first, second) = (&report.stages[0], &report.stages[1]);
        assert!(first.overran && !first.done && first.quit);
        assert_eq!(first.budget, Some(Duration::from_secs(5)));
        assert_eq!(first.hung[0].tasks[0].name, "hung request");
        assert!(second.done && !second.overran && second.took.is_some());
        assert_eq!(second.members, ["workers"]);
        let text = report.to_string();
        assert!(
            text.contains("Stage 1/2 of 'main' (http): quit at +"),
            "{text}"
        );
        assert!(
            text.contains(", not done, overran its budget of 5.000s\n\t- main/http: hung request"),
            "{text}"
        );
        assert!(
            text.contains("Stage 2/2 of 'main' (workers): quit at +"),
            "{text}"
        );
        assert_eq!(
            text.matches("hung request").count(),
            1,
            "listed under its stage only: {text}"
        );
        drop(hung);
    });
}

#[test]
fn the_overall_timeout_holds_with_every_stage_hung() {
    within(WATCHDOG, || {
        let (root, http, workers, telemetry) = three_stages();
        let guards = [
            http.track("a").unwrap(),
            workers.track("b").unwrap(),
            telemetry.track("c").unwrap(),
        ];
        let timer = ManualTimer::default();
        let alarms = AtomicUsize::new(0);
        let runner = MainRunner::new(root.clone()).source("now", async {});
        let driver = async {
            // Each stage gets a share of what is left; each overruns in turn.
            for stage in [&http, &workers, &telemetry] {
                stage.quitted().await;
                yield_now().await;
                alarms.fetch_add(timer.fire_shorter_than(TIMEOUT), Ordering::SeqCst);
            }
            yield_now().await;
            assert_eq!(timer.fire_shorter_than(Duration::MAX), 1, "the timeout");
        };
        let (report, ()) =
            block_on(async { join!(runner.run_timed(TIMEOUT, |d| timer.sleep(d)), driver) });
        // Two budget alarms (http, workers): the last stage has no next one.
        assert_eq!(alarms.load(Ordering::SeqCst), 2);
        assert_eq!(report.exit_code(), 1);
        assert_eq!(report.stages.len(), 3);
        assert!(report.stages.iter().all(|stage| stage.quit && !stage.done));
        assert!(report.stages[0].overran && report.stages[1].overran);
        assert_eq!(report.timed_out.len(), 3);
        drop(guards);
    });
}

#[test]
fn a_timeline_without_hangs_reads_short() {
    within(WATCHDOG, || {
        let (root, http, workers, _telemetry) = three_stages();
        let request = http.track("GET /").unwrap();
        let timer = ManualTimer::default();
        let runner = MainRunner::new(root.clone()).source("now", async {});
        let driver = async {
            http.quitted().await;
            drop(request);
            workers.done().await;
        };
        let (report, ()) =
            block_on(async { join!(runner.run_timed(TIMEOUT, |d| timer.sleep(d)), driver) });
        assert_eq!(report.exit_code(), 0, "{report}");
        let text = report.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(
            lines[2].starts_with("Stage 1/3 of 'main' (http): quit at +"),
            "{text}"
        );
        assert!(lines[2].contains(", done in "), "{text}");
        assert!(
            lines[4].starts_with("Stage 3/3 of 'main' (telemetry): quit at +"),
            "{text}"
        );
    });
}

#[test]
fn a_stage_held_open_by_an_idle_task_table_names_it() {
    within(WATCHDOG, || {
        let (root, _http, workers, _telemetry) = three_stages();
        let table = workers.task_table().unwrap();
        drop(table.start(["GET ", "/"]));
        let timer = ManualTimer::default();
        let runner = MainRunner::new(root.clone()).source("now", async {});
        let driver = async {
            workers.quitted().await;
            yield_now().await;
            // Its stage's share of the timeout, and the timeout.
            assert!(timer.fire_shorter_than(Duration::MAX) >= 1);
        };
        let (report, ()) =
            block_on(async { join!(runner.run_timed(TIMEOUT, |d| timer.sleep(d)), driver) });
        assert_eq!(report.exit_code(), 1, "{report}");
        assert!(!report.stages[1].done, "{report}");
        assert_eq!(report.stages[1].hung[0].idle_tables, 1, "{report}");
        let text = report.to_string();
        assert!(
            text.contains("\t- main/workers: 1 idle task table, holding it open until dropped\n"),
            "{text}"
        );
        drop(table);
    });
}
