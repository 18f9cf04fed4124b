//! Abort on deadline, in the core: an abort drops abortable tracked
//! futures (at once through a runtime's hook, or at their next poll, for
//! which they are woken), records them as aborted, and leaves what cannot
//! be aborted listed as hung; a stage that aborts on overrun aborts its
//! members when its budget runs out; the runner aborts at its deadline.
//!
//! Futures are polled by hand with counting wakers; budgets and deadlines
//! use a timer the test fires by hand, so nothing here sleeps.

mod common;

use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use common::{block_on, ManualTimer};
use futures::channel::oneshot;
use futures::join;
use quitter_core::{Aborted, MainRunner, OnAbort, Quitter, Stage};

/// A waker that counts its wakes.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    (count.clone(), Waker::from(count))
}

/// Sets its flag when dropped: the future's cleanup ran.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A future pending forever that sets `flag` when dropped.
fn stuck(flag: &Arc<AtomicBool>) -> impl Future<Output = ()> + Send + 'static {
    let guard = DropFlag(flag.clone());
    async move {
        pending::<()>().await;
        drop(guard);
    }
}

/// A millisecond past a deadline: its alarm is due.
const MS: Duration = Duration::from_millis(1);

fn poll<F: Future + ?Sized>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

#[test]
fn an_abort_wakes_an_unwinding_task_which_unwinds_at_its_next_poll() {
    let root = Quitter::new("main");
    let worker = root.child("worker").unwrap();
    worker.make_abortable();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut task = Box::pin(
        worker
            .track_future("stuck", stuck(&dropped))
            .unwrap()
            .abort_by(OnAbort::Unwind),
    );
    let (wakes, waker) = counting();
    assert!(poll(task.as_mut(), &waker).is_pending());

    assert!(root.abort());
    assert!(!root.abort(), "once");
    assert!(root.is_quitting() && worker.is_aborted());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1, "woken for its abort");
    assert!(!dropped.load(Ordering::SeqCst), "dropped at its next poll");
    assert!(!worker.is_done());

    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = poll(task.as_mut(), &waker);
    }));
    assert!(unwound.unwrap_err().is::<Aborted>());
    // The executor that caught the unwind drops the task: its future's
    // cleanup runs, then the task ends.
    assert!(!dropped.load(Ordering::SeqCst) && !worker.is_done());
    drop(task);
    assert!(dropped.load(Ordering::SeqCst));
    assert!(worker.is_done() && root.is_done());
    let aborted = root.aborted();
    assert_eq!(aborted.len(), 1);
    assert_eq!(
        (aborted[0].path.as_str(), &*aborted[0].task.name),
        ("main/worker", "stuck")
    );
    assert!(root.panics().is_empty(), "an abort is not a panic");
    assert!(
        aborted[0].to_string().contains("was aborted"),
        "{}",
        aborted[0]
    );
    assert_eq!(root.aborted().len(), 1, "recorded once");
}

#[test]
fn an_abort_wakes_a_runtime_hook_and_the_task_counts_as_aborted_when_dropped() {
    let root = Quitter::new("main");
    root.make_abortable();
    let dropped = Arc::new(AtomicBool::new(false));
    let (hook_wakes, hook) = counting();
    let mut task = Box::pin(
        root.track_future("conn", stuck(&dropped))
            .unwrap()
            .abort_by(OnAbort::Wake(hook)),
    );
    let (task_wakes, waker) = counting();
    assert!(poll(task.as_mut(), &waker).is_pending());
    root.abort();
    assert_eq!(
        hook_wakes.0.load(Ordering::SeqCst),
        1,
        "the hook, not the task"
    );
    assert_eq!(task_wakes.0.load(Ordering::SeqCst), 0);
    // The runtime cancels: it drops the task without polling it.
    drop(task);
    assert!(dropped.load(Ordering::SeqCst));
    assert!(root.is_done());
    assert_eq!(root.aborted()[0].task.name, "conn");
}

#[test]
fn a_hooked_task_polled_after_the_abort_wakes_the_hook_and_polls_its_future_no_more() {
    let root = Quitter::new("main");
    root.make_abortable();
    let dropped = Arc::new(AtomicBool::new(false));
    let (hook_wakes, hook) = counting();
    // Never polled before the abort: no walk can find it, its poll does.
    let mut task = Box::pin(
        root.track_future("late", stuck(&dropped))
            .unwrap()
            .abort_by(OnAbort::Wake(hook)),
    );
    root.abort();
    assert_eq!(hook_wakes.0.load(Ordering::SeqCst), 0);
    let (_, waker) = counting();
    assert!(poll(task.as_mut(), &waker).is_pending());
    assert_eq!(
        hook_wakes.0.load(Ordering::SeqCst),
        1,
        "the runtime is told"
    );
    assert!(poll(task.as_mut(), &waker).is_pending(), "stays pending");
    assert_eq!(hook_wakes.0.load(Ordering::SeqCst), 1, "told once");
    assert!(!dropped.load(Ordering::SeqCst) && !root.is_done());
    // The runtime cancels it: drops it.
    drop(task);
    assert!(dropped.load(Ordering::SeqCst) && root.is_done());
    assert_eq!(root.aborted().len(), 1);
}

#[test]
fn what_cannot_be_aborted_stays_hung() {
    let root = Quitter::new("main");
    root.make_abortable();
    let guard = root.track("blocking work").unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    // Tracked without `abort_by`: never aborted.
    let mut plain = Box::pin(root.track_future("plain", stuck(&dropped)).unwrap());
    let (wakes, waker) = counting();
    assert!(poll(plain.as_mut(), &waker).is_pending());
    root.abort();
    assert!(poll(plain.as_mut(), &waker).is_pending());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    assert!(!dropped.load(Ordering::SeqCst));
    let hung: Vec<_> = root.live_tasks().quitters[0]
        .tasks
        .iter()
        .map(|task| task.name.to_string())
        .collect();
    assert_eq!(hung.len(), 2, "{hung:?}");
    assert!(root.aborted().is_empty());
    drop((guard, plain));
    assert!(root.is_done());
}

#[test]
fn abortable_is_inherited_and_made_by_an_aborting_stage() {
    let root = Quitter::new("main");
    let before = root.child("before").unwrap();
    let http = root
        .child_in("http", Stage::FIRST.abort_on_overrun())
        .unwrap();
    let conn = http.child("conn").unwrap();
    assert!(!root.is_abortable() && !before.is_abortable());
    assert!(http.is_abortable() && conn.is_abortable());
    assert!(Stage::new(2).abort_on_overrun().aborts_on_overrun());
    root.make_abortable();
    assert!(before.is_abortable(), "made so with its ancestor");
    assert!(root.child("after").unwrap().is_abortable(), "inherited");
}

#[test]
fn an_abort_quits_the_stages_not_reached_and_marks_them_overrun() {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let db = root.child_in("db", Stage::after(&http)).unwrap();
    let request = http.track("GET /").unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    db.make_abortable();
    let mut pool = Box::pin(
        db.track_future("pool", stuck(&dropped))
            .unwrap()
            .abort_by(OnAbort::Unwind),
    );
    let (wakes, waker) = counting();
    assert!(poll(pool.as_mut(), &waker).is_pending());
    root.quit();
    assert!(!db.is_quitting());
    root.abort();
    assert!(db.is_quitting() && db.is_aborted());
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    drop(request);
    let unwound =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| poll(pool.as_mut(), &waker)));
    assert!(unwound.is_err());
    drop(pool);
    assert!(dropped.load(Ordering::SeqCst) && root.is_done());
}

#[test]
fn a_stage_that_aborts_on_overrun_aborts_its_members_at_its_budget() {
    let budget = Duration::from_secs(1);
    let root = Quitter::new("main");
    let http = root
        .child_in("http", Stage::FIRST.budget(budget).abort_on_overrun())
        .unwrap();
    let telemetry = root.child_in("telemetry", Stage::after(&http)).unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let task = http
        .track_future("GET /slow", stuck(&dropped))
        .unwrap()
        .abort_by(OnAbort::Unwind);
    let (flushed_tx, flushed) = oneshot::channel::<()>();
    let flush = telemetry
        .track_future("flush", {
            let telemetry = telemetry.clone();
            async move {
                telemetry.quitted().await;
                flushed_tx.send(()).unwrap();
            }
        })
        .unwrap();
    let timer = ManualTimer::default();
    root.quit();
    let timeout = Duration::from_secs(3600);
    let report = block_on(async {
        let runner = MainRunner::new(root.clone()).run_timed(timeout, |d| timer.sleep(d));
        let driver = async {
            // The runner has set the budget's alarm: ring it.
            common::yield_now().await;
            assert_eq!(
                timer.fire_shorter_than(budget + MS),
                1,
                "one alarm, for http's budget"
            );
        };
        // The hung request unwinds at its abort: the "executor" here
        // catches it, as smol's does.
        let request = async {
            let mut task = Box::pin(task);
            let unwound = std::panic::AssertUnwindSafe(std::future::poll_fn(|cx| {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    task.as_mut().poll(cx)
                })) {
                    Ok(poll) => poll.map(|()| false),
                    Err(payload) => Poll::Ready(payload.is::<Aborted>()),
                }
            }))
            .await;
            assert!(unwound, "unwound with Aborted");
        };
        let (report, (), (), ()) = join!(runner, driver, request, flush);
        report
    });
    assert!(flushed.try_recv_now());
    assert!(dropped.load(Ordering::SeqCst));
    assert!(report.timed_out.is_empty(), "{report}");
    assert_eq!(report.aborted.len(), 1, "{report}");
    assert_eq!(report.aborted[0].task.name, "GET /slow");
    assert!(
        report.stages[0].overran && report.stages[0].aborts,
        "{report}"
    );
    assert_eq!(report.stages[0].aborted, 1, "{report}");
    assert!(report.stages[1].done, "{report}");
    assert_eq!(report.exit_code(), 1, "an abort is not a clean exit");
    let text = report.to_string();
    assert!(text.contains("1 task(s) aborted"), "{text}");
    assert!(text.contains("Task GET /slow"), "{text}");
    assert!(text.contains("was aborted"), "{text}");
}

#[test]
fn the_runner_aborts_at_its_deadline_and_waits_its_grace() {
    let timeout = Duration::from_secs(7);
    let grace = Duration::from_secs(11);
    let root = Quitter::new("main");
    let timer = ManualTimer::default();
    let runner = MainRunner::new(root.clone()).abort_on_timeout(|| timer.sleep(grace));
    assert!(root.is_abortable(), "made so by the builder, before spawns");
    let dropped = Arc::new(AtomicBool::new(false));
    let task = root
        .track_future("stuck", stuck(&dropped))
        .unwrap()
        .abort_by(OnAbort::Unwind);
    let guard = root.track("blocking").unwrap();
    root.quit();
    let report = block_on(async {
        let run = runner.run_timed(timeout, |d| timer.sleep(d));
        let driver = async {
            common::yield_now().await;
            assert_eq!(timer.fire_shorter_than(timeout + MS), 1);
            common::yield_now().await;
            assert_eq!(
                timer.fire_shorter_than(grace + MS),
                1,
                "the grace, after the abort"
            );
        };
        let task = async {
            let mut task = Box::pin(task);
            std::future::poll_fn(|cx| {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    task.as_mut().poll(cx)
                })) {
                    Ok(poll) => poll,
                    Err(_) => Poll::Ready(()),
                }
            })
            .await;
        };
        let (report, (), ()) = join!(run, driver, task);
        report
    });
    assert!(dropped.load(Ordering::SeqCst));
    assert_eq!(report.aborted.len(), 1, "{report}");
    assert_eq!(report.timed_out[0].tasks[0].name, "blocking", "{report}");
    assert_eq!(report.exit_code(), 1);
    drop(guard);
}

trait TryRecvNow {
    fn try_recv_now(self) -> bool;
}

impl TryRecvNow for oneshot::Receiver<()> {
    fn try_recv_now(mut self) -> bool {
        matches!(self.try_recv(), Ok(Some(())))
    }
}
