//! Soundness regressions: the node-lifetime and waiter-lock bugs of the
//! quit tree, written so that Miri (Stacked and Tree Borrows) sees them as
//! well as native runs. Every size goes through `common::scaled` (see
//! `size`), so the same tests run small under Miri:
//!
//! ```text
//! QUITTER_TEST_SCALE=1000 MIRIFLAGS="-Zmiri-many-seeds=0..4" \
//!     cargo +nightly miri test -p quitter-core --test soundness
//! ```
//!
//! What each test guards, and why:
//!
//! 1. A node freed while a `&Node` argument is still live. A task keeps no
//!    `Arc` of its node, only a hold; a node whose last handle is gone
//!    keeps an `Arc` of itself until its last hold is released. If that
//!    last `Arc` is dropped *inside* `Node::release_hold(&self)` (called
//!    from `release_task(&self)`, from `TaskSlot::end`), the node is freed
//!    while `&self` is a protected function argument: undefined behaviour,
//!    which Miri reports in `Arc::<Node>::drop_slow <- Node::release_hold`.
//!    - path A, one task: `task_outliving_its_quitter_ends_by_completion`,
//!      `task_outliving_its_quitter_ends_by_drop`;
//!    - path B, tasks of one such node ending on three threads at once
//!      (one thread's release has decremented and is still inside
//!      `release_task(&self)` while another frees the node; the handle's
//!      drop races with them in half the rounds):
//!      `orphaned_tasks_end_on_threads_at_once`;
//!    - path C, the task ends by a panic: in its `poll`
//!      (`panic_in_poll_of_task_outliving_its_quitter`) or in its inner
//!      future's `Drop` (`panic_in_drop_of_task_outliving_its_quitter`);
//!    - a `TaskGuard` whose handle is the quitter's last, ended (or
//!      `panicked`) on another thread while the root quits
//!      (`task_guard_holding_the_last_handle_ends_while_root_quits`).
//! 2. Adversarial use of the public API, natively and under Miri:
//!    - a tracked future first polled (listed) on one thread and dropped on
//!      another while a third quits and walks reports
//!      (`tracked_future_moves_threads_while_quit_and_report_run`);
//!    - twelve threads, more than the registry's eight shards, so that
//!      count words are shared, tracking and ending (across threads) on one
//!      quitter while one of them quits
//!      (`more_threads_than_shards_share_count_words`);
//!    - a quit from inside a tracked future's `Drop`, of its own quitter or
//!      of an ancestor, with the future holding the quitter's last handle
//!      or not (`quit_from_inside_a_tracked_futures_drop`);
//!    - a `SerialTask` (one record reused by one task after another)
//!      handed between two threads that end and restart it, each listing
//!      it on its own shard, while a third quits and walks reports and
//!      snapshots, and the record holds its quitter's last handle at the
//!      end (`serial_task_moves_threads_while_quit_and_report_run`);
//!    - `mem::forget` of a `TaskGuard` and of a `Box::pin`ned (polled) or
//!      unpolled tracked future: a leak, so the quitter never becomes
//!      done, but reports still work and nothing is freed under them
//!      (`forgotten_task_guard_is_a_leak_not_a_use_after_free`,
//!      `forgotten_tracked_futures_are_a_leak_not_a_use_after_free`).
//! 3. The waiter-list lock runs no user code:
//!    - a waker whose `clone` quits the quitter (or an ancestor) must not
//!      deadlock the poll that clones it, at its first poll or at a re-poll
//!      with a new waker; a deadlock is detected with a timeout on another
//!      thread, never by hanging
//!      (`waker_clone_that_quits_does_not_deadlock_first_poll`,
//!      `waker_clone_that_quits_does_not_deadlock_repoll`);
//!    - a waker that panics in `wake` during a quit's wake-up: the panic
//!      reaches the caller of `quit`, but every other waiter is still
//!      woken and the quit still reaches every descendant
//!      (`panicking_waker_does_not_cut_the_quit_short`).
//!
//! Without Miri, the tests of 1 and 2 pass on code with the lifetime bug
//! (freed memory is rarely reused that fast): they are there for Miri (and
//! valgrind); `quit_from_inside_a_tracked_futures_drop` reaches path A too.
//! The tests of 3 fail natively (and under Miri) on code with the lock bug.
//!
//! No test sleeps to synchronise: barriers and channels order the threads;
//! only the deadlock detector waits with a timeout.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::thread;
use std::time::Duration;

use common::{block_on, scaled, WakeCount};
use quitter_core::{Quitter, Tracked};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `common::scaled(n)`. Under Miri, isolation hides the host's environment
/// (unless `MIRIFLAGS=-Zmiri-env-forward=QUITTER_TEST_SCALE`), so there a
/// missing `QUITTER_TEST_SCALE` counts as 1000: these tests are meant for
/// Miri, and at full size they would take hours there.
fn size(n: usize) -> usize {
    if cfg!(miri) && std::env::var_os("QUITTER_TEST_SCALE").is_none() {
        (n / 1000).max(1)
    } else {
        scaled(n)
    }
}

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    let waker = futures::task::noop_waker();
    future.poll(&mut Context::from_waker(&waker))
}

/// Pending at its first poll, ready at the second: a tracked future that
/// is listed (first poll) on one thread and completes later, maybe on
/// another.
#[derive(Default)]
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Pending at its first poll, panics at the second.
#[derive(Default)]
struct PanicOnSecondPoll(bool);

impl Future for PanicOnSecondPoll {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            panic!("task panicked in poll");
        }
        self.0 = true;
        Poll::Pending
    }
}

/// Never ready; its `Drop` panics.
struct PanicOnDrop;

impl Future for PanicOnDrop {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("task panicked in drop");
    }
}

/// The message of a caught panic.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    quitter_core::panic_message(payload)
}

/// The names of the tasks a report lists under `path`.
fn listed(root: &Quitter, path: &str) -> Vec<String> {
    root.live_tasks()
        .tasks_of(path)
        .map(|tasks| tasks.iter().map(|task| task.name.to_string()).collect())
        .unwrap_or_default()
}

type PendingTask = Pin<Box<Tracked<std::future::Pending<()>>>>;

// ---------------------------------------------------------------------------
// 1. A node freed under a live `&Node`
// ---------------------------------------------------------------------------

/// Path A, ending by completion: a tracked future outlives every handle of
/// its (child) quitter, so the node lives on for the task alone; the task's
/// end is the node's last hold and frees it. That free must happen after
/// the library's last use of the node, not inside a `&self` method.
#[test]
fn task_outliving_its_quitter_ends_by_completion() {
    for _ in 0..size(1_000) {
        // Without a quit, and with the child quit first (then the end makes
        // it done as well, and releases its hold on the root).
        for quit_first in [false, true] {
            let root = Quitter::new("main");
            let child = root.child("child").unwrap();
            let mut task = Box::pin(child.track_future("task", YieldOnce::default()).unwrap());
            // Listed in this thread's shard.
            assert!(poll_once(task.as_mut()).is_pending());
            if quit_first {
                child.quit();
            }
            drop(child); // the last handle: the node lives for its task alone
            assert_eq!(listed(&root, "main/child"), ["task"], "still reported");

            assert!(poll_once(task.as_mut()).is_ready()); // the task ends here
            assert_eq!(root.child_count(), 0, "the node was freed and unlinked");
            assert!(root.live_tasks().quitters.is_empty());
            drop(task);
            root.quit();
            assert!(root.is_done());
        }
    }
}

/// Path A, ending by drop, listed (polled once) or never polled: the same
/// last release, from the slot's `Drop`.
#[test]
fn task_outliving_its_quitter_ends_by_drop() {
    for _ in 0..size(1_000) {
        for polled in [true, false] {
            let root = Quitter::new("main");
            let child = root.child("child").unwrap();
            let mut task = Box::pin(
                child
                    .track_future("task", std::future::pending::<()>())
                    .unwrap(),
            );
            if polled {
                assert!(poll_once(task.as_mut()).is_pending());
            }
            drop(child);
            assert_eq!(root.live_tasks().task_count(), 1, "still reported");
            drop(task); // the task ends: the node's last hold
            assert_eq!(root.child_count(), 0, "the node was freed and unlinked");
            root.quit();
            assert!(root.is_done());
        }
    }
}

/// Path B: three tracked futures of one node whose last handle is gone (or
/// goes while they end) end on three threads at once, round after round.
/// A release that is not the last may still be inside
/// `release_task(&self)` when another one (or, in the rounds where the
/// handle is dropped during the race, that drop) frees the node; in those
/// rounds a task may also count down on its thread's count word before the
/// sweep. Under Miri this is probabilistic: with path A fixed but path B
/// left (simulated: the kept `Arc` handed back to `TaskSlot::end` and
/// dropped there), about a third of the seeds catch it at
/// `QUITTER_TEST_SCALE=1000` (40 rounds), so run several seeds.
#[test]
fn orphaned_tasks_end_on_threads_at_once() {
    type Task = Pin<Box<Tracked<YieldOnce>>>;
    const ENDERS: usize = 3;
    let rounds = size(40_000);
    let go = Arc::new(Barrier::new(ENDERS + 1));
    // Each ender reports every round, a panic included (as its message), so
    // that a failure fails the test instead of leaving the others waiting
    // at the barrier.
    let (ended, ends) = mpsc::channel::<Result<(), String>>();
    let enders: Vec<(mpsc::Sender<Task>, thread::JoinHandle<()>)> = (0..ENDERS)
        .map(|_| {
            let (hand_over, tasks) = mpsc::channel::<Task>();
            let (go, ended) = (go.clone(), ended.clone());
            let ender = thread::spawn(move || {
                for mut task in tasks {
                    go.wait();
                    // Ends on this thread: completes at its next poll (odd
                    // rounds) or is dropped (even rounds), nothing else.
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        if task.info().is_some() {
                            assert!(poll_once(task.as_mut()).is_ready());
                        }
                        drop(task);
                    }));
                    ended.send(outcome.map_err(|p| message(&*p))).unwrap();
                }
            });
            (hand_over, ender)
        })
        .collect();
    drop(ended);

    let root = Quitter::new("main");
    for round in 0..rounds {
        let child = root.child("child").unwrap();
        for (hand_over, _) in &enders {
            let mut task = Box::pin(child.track_future("task", YieldOnce::default()).unwrap());
            // Listed here (in this thread's shard) in odd rounds; never
            // polled (so never listed) in even ones.
            if round % 2 == 1 {
                assert!(poll_once(task.as_mut()).is_pending());
            }
            hand_over.send(task).unwrap();
        }
        if round % 4 < 2 {
            drop(child); // orphaned before the race
            go.wait();
        } else {
            go.wait();
            drop(child); // orphaned during the race
        }
        for _ in 0..ENDERS {
            if let Err(panic) = ends.recv().unwrap() {
                panic!("round {round}: an ender panicked: {panic}");
            }
        }
        // All ended: the node is freed (its `Drop` unlinks it from the
        // root) by whichever release (or handle drop) came last.
        assert_eq!(root.child_count(), 0, "round {round}: the node was freed");
    }
    for (hand_over, ender) in enders {
        drop(hand_over);
        ender.join().unwrap();
    }
    root.quit();
    assert!(root.is_done());
}

/// Path C, a panic in `poll`: `Tracked` catches it, records it on the node,
/// ends the task (the node's last hold: the node is freed) and resumes the
/// panic. The panic is reported (moved up to the root when the child goes).
#[test]
fn panic_in_poll_of_task_outliving_its_quitter() {
    for _ in 0..size(1_000) {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        let mut task = Box::pin(
            child
                .track_future("task", PanicOnSecondPoll::default())
                .unwrap(),
        );
        assert!(poll_once(task.as_mut()).is_pending());
        drop(child);

        let caught = catch_unwind(AssertUnwindSafe(|| poll_once(task.as_mut())))
            .expect_err("the panic is resumed");
        assert_eq!(message(&*caught), "task panicked in poll");
        assert_eq!(root.child_count(), 0, "the node was freed and unlinked");
        let panics = root.panics();
        assert_eq!(panics.len(), 1);
        assert_eq!(panics[0].path, "main/child");
        assert_eq!(panics[0].task.name, "task");
        assert_eq!(panics[0].message, "task panicked in poll");
        drop(task); // ended already: does nothing
        root.quit();
        assert!(root.is_done());
    }
}

/// Path C, a panic in the inner future's `Drop`: the slot is still dropped
/// while the panic unwinds, and its end is the node's last hold.
#[test]
fn panic_in_drop_of_task_outliving_its_quitter() {
    for _ in 0..size(1_000) {
        for polled in [true, false] {
            let root = Quitter::new("main");
            let child = root.child("child").unwrap();
            let mut task = Box::pin(child.track_future("task", PanicOnDrop).unwrap());
            if polled {
                assert!(poll_once(task.as_mut()).is_pending());
            }
            drop(child);

            let caught = catch_unwind(AssertUnwindSafe(move || drop(task)))
                .expect_err("the drop's panic reaches the caller");
            assert_eq!(message(&*caught), "task panicked in drop");
            assert_eq!(root.child_count(), 0, "the node was freed and unlinked");
            assert!(root.live_tasks().quitters.is_empty());
            root.quit();
            assert!(root.is_done());
        }
    }
}

/// A `TaskGuard` carries a handle: here it is its quitter's last, and the
/// guard ends (dropped, or `panicked`) on another thread while the root
/// quits. The slot ends before the guard's handle goes, and neither may
/// touch the node after it is freed.
#[test]
fn task_guard_holding_the_last_handle_ends_while_root_quits() {
    for round in 0..size(2_000) {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        let guard = child.track("guard").unwrap();
        drop(child); // the guard's handle is the last one
        let go = Arc::new(Barrier::new(2));
        let ender = {
            let go = go.clone();
            thread::spawn(move || {
                go.wait();
                if round % 2 == 0 {
                    drop(guard);
                } else {
                    guard.panicked("gave up");
                }
            })
        };
        go.wait();
        root.quit();
        ender.join().unwrap();
        assert!(root.is_done(), "round {round}");
        assert_eq!(root.child_count(), 0);
        assert_eq!(root.panics().len(), round % 2);
    }
}

// ---------------------------------------------------------------------------
// 2. Adversarial use
// ---------------------------------------------------------------------------

/// Tracked futures are listed on the thread that first polls them (its
/// registry shard) and dropped on another (which unlists them from the
/// first thread's shard and counts down on its own word), while a third
/// thread walks reports and quits in the middle. Half are on the root,
/// half on a child. Every handle lives until the end: this is about the
/// registry and the count words, not the node's lifetime.
#[test]
fn tracked_future_moves_threads_while_quit_and_report_run() {
    const TASKS: usize = 16;
    for round in 0..size(2_000) {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        let (hand_over, handed) = mpsc::channel::<PendingTask>();
        let go = Arc::new(Barrier::new(3));
        let poller = {
            let (root, child, go) = (root.clone(), child.clone(), go.clone());
            thread::spawn(move || {
                let mut tasks = Vec::new();
                for i in 0..TASKS {
                    let quitter = if i % 2 == 0 { &root } else { &child };
                    let mut task = Box::pin(
                        quitter
                            .track_future("task", std::future::pending::<()>())
                            .unwrap(),
                    );
                    assert!(poll_once(task.as_mut()).is_pending());
                    tasks.push(task);
                }
                go.wait();
                for task in tasks {
                    hand_over.send(task).unwrap();
                }
            })
        };
        let dropper = {
            let go = go.clone();
            thread::spawn(move || {
                go.wait();
                let mut dropped = 0;
                for task in handed {
                    drop(task);
                    dropped += 1;
                }
                dropped
            })
        };
        let reporter = {
            let (root, go) = (root.clone(), go.clone());
            thread::spawn(move || {
                go.wait();
                for step in 0..4 {
                    if step == 2 {
                        root.quit();
                    }
                    let report = root.live_tasks();
                    assert!(report.task_count() <= TASKS);
                    for quitter in &report.quitters {
                        assert!(quitter.path == "main" || quitter.path == "main/child");
                        assert!(quitter.tasks.iter().all(|task| task.name == "task"));
                    }
                }
            })
        };
        poller.join().unwrap();
        assert_eq!(dropper.join().unwrap(), TASKS);
        reporter.join().unwrap();
        assert!(root.is_done(), "round {round}");
        assert!(child.is_done());
        assert!(root.live_tasks().quitters.is_empty());
        assert_eq!(root.task_count() + child.task_count(), 0);
    }
}

/// Twelve threads (the registry has eight shards, so several threads share
/// a shard and its count word) track guards and tracked futures on one
/// quitter; every other future is handed to the next thread to end, so
/// words go below zero. One thread quits midway: a task is either refused
/// (only after the quit) or ends, and the quitter becomes done.
/// (Twelve is the point of the test, so the thread count is not scaled.)
#[test]
fn more_threads_than_shards_share_count_words() {
    const THREADS: usize = 12;
    let iterations = size(4_000);
    let root = Quitter::new("main");
    let started = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(Barrier::new(THREADS));
    // A ring: thread `t` hands tasks to thread `t + 1`.
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..THREADS).map(|_| mpsc::channel::<PendingTask>()).unzip();
    let mut senders = senders;
    senders.rotate_left(1);
    let workers: Vec<_> = receivers
        .into_iter()
        .zip(senders)
        .enumerate()
        .map(|(t, (handed, hand_over))| {
            let (root, started, ended, go) =
                (root.clone(), started.clone(), ended.clone(), go.clone());
            thread::spawn(move || {
                let end = |task: PendingTask| {
                    drop(task);
                    ended.fetch_add(1, Ordering::Relaxed);
                };
                go.wait();
                for i in 0..iterations {
                    if t == 0 && i == iterations / 2 {
                        root.quit();
                    }
                    match root.track("guard") {
                        Ok(guard) => {
                            started.fetch_add(1, Ordering::Relaxed);
                            drop(guard);
                            ended.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => assert!(root.is_quitting(), "refused only after quit"),
                    }
                    match root.track_future("future", std::future::pending::<()>()) {
                        Ok(task) => {
                            started.fetch_add(1, Ordering::Relaxed);
                            let mut task = Box::pin(task);
                            assert!(poll_once(task.as_mut()).is_pending());
                            if i % 2 == 0 {
                                end(task);
                            } else {
                                hand_over.send(task).unwrap();
                            }
                        }
                        Err(_) => assert!(root.is_quitting(), "refused only after quit"),
                    }
                    while let Ok(task) = handed.try_recv() {
                        end(task);
                    }
                }
                drop(hand_over);
                for task in handed {
                    end(task);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(root.is_quitting());
    assert_eq!(
        started.load(Ordering::Relaxed),
        ended.load(Ordering::Relaxed)
    );
    assert!(root.is_done(), "every task ended: done");
    block_on(root.done());
    assert!(root.live_tasks().quitters.is_empty());
    assert_eq!(root.task_count(), 0);
}

/// A tracked future whose `Drop` quits a quitter: its own or an ancestor.
/// It may also hold the last handle of its own quitter, which then goes
/// during the same drop.
struct QuitOnDrop {
    /// Quit in `drop`.
    quit: Quitter,
    /// A handle dropped right after the quit (maybe the task quitter's
    /// last).
    _hold: Option<Quitter>,
}

impl Future for QuitOnDrop {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for QuitOnDrop {
    fn drop(&mut self) {
        self.quit.quit();
    }
}

/// A quit from inside a tracked future's `Drop` runs while that very task is
/// still counted (its slot ends after the inner future drops): the quit
/// sweeps the node with the task's hold in place, and the slot's end then
/// makes it done. With the future holding the last handle, that end also
/// frees the node.
#[test]
fn quit_from_inside_a_tracked_futures_drop() {
    let cases = [(false, false), (true, false), (false, true), (true, true)];
    for _ in 0..size(1_000) {
        for (quit_ancestor, future_holds_last_handle) in cases {
            let root = Quitter::new("main");
            let child = root.child("child").unwrap();
            let future = QuitOnDrop {
                quit: if quit_ancestor {
                    root.clone()
                } else {
                    child.clone()
                },
                _hold: future_holds_last_handle.then(|| child.clone()),
            };
            let mut task = Box::pin(child.track_future("task", future).unwrap());
            assert!(poll_once(task.as_mut()).is_pending());
            let kept = if future_holds_last_handle {
                drop(child); // the future's handle is the last one
                None
            } else {
                Some(child)
            };

            drop(task); // quits, then ends the task
            assert!(root.is_quitting() == quit_ancestor);
            assert_eq!(root.child_count(), usize::from(kept.is_some()));
            if let Some(child) = &kept {
                assert!(child.is_done(), "quit, and its only task ended");
                assert!(child.live_tasks().quitters.is_empty());
            }
            root.quit();
            assert!(
                root.is_done(),
                "case {:?}",
                (quit_ancestor, future_holds_last_handle)
            );
            assert!(root.live_tasks().quitters.is_empty());
        }
    }
}

/// Quitters whose tasks were forgotten (leaked on purpose by the tests of
/// `mem::forget`): kept in a static so that the leak stays reachable, which
/// Miri's leak check accepts. A forgotten task is a leak by design.
static FORGOTTEN: Mutex<Vec<Quitter>> = Mutex::new(Vec::new());

/// `mem::forget` of a `TaskGuard`: its task never ends, so its quitter and
/// every ancestor never become done, even after the child's last handle is
/// gone and the root quits. Reports still list it, and a timed wait names
/// it. Nothing is freed under the forgotten entry (Miri checks that).
#[test]
fn forgotten_task_guard_is_a_leak_not_a_use_after_free() {
    for _ in 0..size(1_000) {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        std::mem::forget(child.track("forgotten").unwrap());
        let ended = child.track("ended").unwrap();
        drop(child);
        drop(ended);
        root.quit();

        assert!(!root.is_done(), "a forgotten task never ends");
        assert_eq!(listed(&root, "main/child"), ["forgotten"]);
        let report = block_on(root.wait_done_until(std::future::ready(()))).unwrap_err();
        assert_eq!(report.task_count(), 1);
        assert_eq!(report.tasks_of("main/child").unwrap()[0].name, "forgotten");
        // Walking again, after the wait, still reads the same entry.
        assert_eq!(root.live_tasks().task_count(), 1);
        FORGOTTEN.lock().unwrap().push(root);
    }
}

/// `mem::forget` of a `Box::pin`ned tracked future that was polled (so
/// listed: the registry links the entry inside the leaked box) and of one
/// never polled (counted only). Both are leaks: the quitter is never done,
/// reports still list and count them after the quitter's last handle is
/// gone and the root quits, and more tasks come and go on the same shard
/// lists around the forgotten entry.
#[test]
fn forgotten_tracked_futures_are_a_leak_not_a_use_after_free() {
    for _ in 0..size(1_000) {
        let root = Quitter::new("main");
        let child = root.child("child").unwrap();
        let before = child.track("before").unwrap();
        let mut polled = Box::pin(
            child
                .track_future("polled", std::future::pending::<()>())
                .unwrap(),
        );
        assert!(poll_once(polled.as_mut()).is_pending());
        let after = child.track("after").unwrap();
        std::mem::forget(polled);
        // Never polled, never pinned: forgetting it leaks only its hold.
        std::mem::forget(
            child
                .track_future("unpolled", std::future::pending::<()>())
                .unwrap(),
        );
        drop(before); // unlinked around the forgotten entry
        let child_path = child.path();
        drop(child);
        drop(after);
        root.quit();

        assert!(!root.is_done(), "forgotten tasks never end");
        let report = root.live_tasks();
        let quitter = &report.quitters[0];
        assert_eq!(report.quitters.len(), 1);
        assert_eq!(quitter.path, child_path);
        assert_eq!(quitter.tasks.len(), 1);
        assert_eq!(quitter.tasks[0].name, "polled");
        assert_eq!(quitter.unpolled, 1);
        assert!(block_on(root.wait_done_until(std::future::ready(()))).is_err());
        FORGOTTEN.lock().unwrap().push(root);
    }
}

// ---------------------------------------------------------------------------
// 3. The waiter-list lock runs no user code
// ---------------------------------------------------------------------------

/// A waker whose `clone` quits a quitter (once), and counts its wakes.
struct QuitOnClone {
    quitter: Quitter,
    armed: AtomicBool,
    wakes: AtomicUsize,
}

impl QuitOnClone {
    fn waker(quitter: Quitter) -> (Waker, Arc<QuitOnClone>) {
        let inner = Arc::new(QuitOnClone {
            quitter,
            armed: AtomicBool::new(true),
            wakes: AtomicUsize::new(0),
        });
        let raw = RawWaker::new(Arc::into_raw(inner.clone()).cast(), &QUIT_ON_CLONE);
        // SAFETY: `raw` owns one strong count of an `Arc<QuitOnClone>`, and
        // the vtable's functions keep that contract.
        (unsafe { Waker::from_raw(raw) }, inner)
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

static QUIT_ON_CLONE: RawWakerVTable = RawWakerVTable::new(
    quit_on_clone_clone,
    quit_on_clone_wake,
    quit_on_clone_wake_by_ref,
    quit_on_clone_drop,
);

/// # Safety
///
/// `data` is a live `Arc<QuitOnClone>`'s pointer, owned by the waker.
unsafe fn quit_on_clone_clone(data: *const ()) -> RawWaker {
    let data = data.cast::<QuitOnClone>();
    // SAFETY: the waker owns a strong count, so this adds one that the new
    // waker owns.
    unsafe { Arc::increment_strong_count(data) };
    // SAFETY: live while the waker is.
    let inner = unsafe { &*data };
    if inner.armed.swap(false, Ordering::SeqCst) {
        inner.quitter.quit();
    }
    RawWaker::new(data.cast(), &QUIT_ON_CLONE)
}

/// # Safety
///
/// As for `quit_on_clone_clone`; consumes the waker's count.
unsafe fn quit_on_clone_wake(data: *const ()) {
    // SAFETY: as documented.
    unsafe {
        quit_on_clone_wake_by_ref(data);
        quit_on_clone_drop(data);
    }
}

/// # Safety
///
/// As for `quit_on_clone_clone`.
unsafe fn quit_on_clone_wake_by_ref(data: *const ()) {
    // SAFETY: live while the waker is.
    let inner = unsafe { &*data.cast::<QuitOnClone>() };
    inner.wakes.fetch_add(1, Ordering::SeqCst);
}

/// # Safety
///
/// As for `quit_on_clone_clone`; consumes the waker's count.
unsafe fn quit_on_clone_drop(data: *const ()) {
    // SAFETY: the waker's own strong count, given back once.
    drop(unsafe { Arc::from_raw(data.cast::<QuitOnClone>()) });
}

/// Runs `work` on its own thread and returns its result, or fails the test
/// if it has not finished after a generous timeout (a deadlock: the thread
/// is left blocked, the test does not hang).
fn within_timeout<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = done.send(work());
    });
    match result.recv_timeout(Duration::from_secs(10)) {
        Ok(value) => {
            worker.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("deadlock: {what} did not return within 10 s")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// A waker's `clone` is user code: if `Quitted`'s first poll clones the
/// waker under the waiter-list lock, a `clone` that quits this quitter
/// (whose wake-up takes that lock) deadlocks. The poll must return, and a
/// `Pending` must come with a wake-up.
#[test]
fn waker_clone_that_quits_does_not_deadlock_first_poll() {
    let root = Quitter::new("main");
    let (first, wakes, second) = within_timeout("the first poll of quitted()", {
        let root = root.clone();
        move || {
            let (waker, counts) = QuitOnClone::waker(root.clone());
            let mut cx = Context::from_waker(&waker);
            let mut quitted = pin!(root.quitted());
            let first = quitted.as_mut().poll(&mut cx);
            let second = quitted.as_mut().poll(&mut cx);
            (first, counts.wakes(), second)
        }
    });
    assert!(root.is_quitting(), "the clone quit the quitter");
    assert!(
        first.is_ready() || wakes > 0,
        "a pending poll whose waker was never woken: a lost wake-up"
    );
    assert!(second.is_ready());
}

/// The same at a re-poll with a new waker (which replaces the stored one),
/// whose `clone` quits an ancestor: the quit's walk reaches this quitter and
/// its waiter list.
#[test]
fn waker_clone_that_quits_does_not_deadlock_repoll() {
    let root = Quitter::new("main");
    let child = root.child("child").unwrap();
    let (second, wakes, third) = within_timeout("a re-poll of quitted() with a new waker", {
        let (root, child) = (root.clone(), child.clone());
        move || {
            let first_waker = WakeCount::new();
            let mut quitted = pin!(child.quitted());
            let waker = first_waker.waker();
            assert!(quitted
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            let (waker, counts) = QuitOnClone::waker(root);
            let mut cx = Context::from_waker(&waker);
            let second = quitted.as_mut().poll(&mut cx);
            let third = quitted.as_mut().poll(&mut cx);
            (second, counts.wakes(), third)
        }
    });
    assert!(root.is_quitting() && child.is_quitting());
    assert!(
        second.is_ready() || wakes > 0,
        "a pending poll whose new waker was never woken: a lost wake-up"
    );
    assert!(third.is_ready());
}

/// A waker that panics when woken.
struct PanicOnWake;

impl futures::task::ArcWake for PanicOnWake {
    fn wake_by_ref(_: &Arc<Self>) {
        panic!("waker panicked");
    }
}

/// A waker's `wake` is user code and may panic. The quit wakes its waiters
/// outside the lock; a panic there must still reach the caller of `quit`,
/// but not before every other waiter is woken and the quit has reached
/// every descendant (a half-done quit would leave children running and
/// waiters asleep forever).
#[test]
fn panicking_waker_does_not_cut_the_quit_short() {
    const WAITERS: usize = 5;
    let root = Quitter::new("main");
    let child = root.child("child").unwrap();
    let grandchild = child.child("grandchild").unwrap();

    // The root's waiters, the third one's waker panics; one waiter each on
    // the descendants.
    let counts: Vec<Arc<WakeCount>> = (0..WAITERS + 2).map(|_| WakeCount::new()).collect();
    let mut waiters: Vec<_> = (0..WAITERS)
        .map(|_| Box::pin(root.quitted()))
        .chain([Box::pin(child.quitted()), Box::pin(grandchild.quitted())])
        .collect();
    let panicking = futures::task::waker(Arc::new(PanicOnWake));
    for (i, (waiter, count)) in waiters.iter_mut().zip(&counts).enumerate() {
        let waker = if i == WAITERS / 2 {
            panicking.clone()
        } else {
            count.waker()
        };
        assert!(waiter
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    }

    let caught = catch_unwind(AssertUnwindSafe(|| root.quit()))
        .expect_err("the waker's panic reaches the caller of quit");
    assert_eq!(message(&*caught), "waker panicked");

    let woken: Vec<usize> = counts.iter().map(|count| count.count()).collect();
    let expected: Vec<usize> = (0..WAITERS + 2)
        .map(|i| usize::from(i != WAITERS / 2))
        .collect();
    assert_eq!(
        (
            woken,
            root.is_quitting(),
            child.is_quitting(),
            grandchild.is_quitting()
        ),
        (expected, true, true, true),
        "(wakes per waiter, root / child / grandchild quitting): \
         the quit was cut short by the panic"
    );
    for waiter in &mut waiters {
        assert!(poll_once(waiter.as_mut()).is_ready());
    }
    assert!(root.is_done());
}

#[test]
fn serial_task_moves_threads_while_quit_and_report_run() {
    const HANDOVERS: usize = 16;
    for round in 0..size(1_000) {
        let root = Quitter::new("main");
        let child = root.child("conn").unwrap();
        let mut serial = child.serial_task();
        // The record holds the child's last handle from here on.
        drop(child);
        let (to_b, from_a) = mpsc::channel::<quitter_core::SerialTask>();
        let (to_a, from_b) = mpsc::channel::<quitter_core::SerialTask>();
        let go = Arc::new(Barrier::new(3));
        let a = {
            let go = go.clone();
            thread::spawn(move || {
                go.wait();
                for i in 0..HANDOVERS {
                    serial.start(|name| {
                        name.push_str("GET /");
                        name.push_str(if i % 2 == 0 { "a" } else { "a-longer-one" });
                    });
                    to_b.send(serial).unwrap();
                    serial = from_b.recv().unwrap();
                }
                serial
            })
        };
        let b = {
            let go = go.clone();
            thread::spawn(move || {
                go.wait();
                for mut serial in from_a {
                    serial.end();
                    serial.start(|name| name.push_str("POST /b"));
                    if to_a.send(serial).is_err() {
                        break;
                    }
                }
            })
        };
        let reporter = {
            let root = root.clone();
            thread::spawn(move || {
                go.wait();
                for step in 0..4 {
                    if step == 2 {
                        root.quit();
                    }
                    // The one record, listed on the two threads' shards in
                    // turn: a report reads shard after shard, so it may
                    // meet the record in both (a snapshot of moving tasks
                    // is not atomic), never more. (The count of never-polled
                    // tasks is an estimate while holds move between
                    // threads' count words: not checked.)
                    let report = root.live_tasks();
                    let listed: usize = report.quitters.iter().map(|q| q.tasks.len()).sum();
                    assert!(listed <= 2, "{report}");
                    for task in report.quitters.iter().flat_map(|q| &q.tasks) {
                        assert!(task.name.starts_with("GET /") || task.name == "POST /b");
                    }
                    let snapshot = root.snapshot();
                    assert!(
                        snapshot
                            .quitters
                            .iter()
                            .map(|q| q.tasks.len())
                            .sum::<usize>()
                            <= 2
                    );
                }
            })
        };
        let serial = a.join().unwrap();
        b.join().unwrap();
        reporter.join().unwrap();
        drop(serial); // the last handle of `main/conn`, and its last task
        assert!(root.is_done(), "round {round}");
        assert_eq!(root.live_tasks().task_count(), 0);
    }
}
