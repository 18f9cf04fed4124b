//! Test helpers: go-quitter's `AddGoRoutine` on OS threads, and deadlines
//! that need no runtime.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::Waker;
use std::thread;

use futures::channel::oneshot;
use quitter_core::{AlreadyQuit, Quitter};

/// Runs `f(q)` on a thread, tracked by `q` as `name`: go-quitter's
/// `AddGoRoutine`. Refused (and `f` never runs) once `q` has quit.
#[track_caller]
pub fn go(
    q: &Quitter,
    name: &'static str,
    f: impl FnOnce(Quitter) + Send + 'static,
) -> Result<thread::JoinHandle<()>, AlreadyQuit> {
    let guard = q.track(name)?;
    let q = q.clone();
    Ok(thread::spawn(move || {
        f(q);
        drop(guard);
    }))
}

/// `n` scaled by `QUITTER_TEST_SCALE` (a divisor; default 1): the same
/// tests run full size natively and small under Miri (`QUITTER_TEST_SCALE=1000`,
/// say). Never below 1.
pub fn scaled(n: usize) -> usize {
    let divisor = std::env::var("QUITTER_TEST_SCALE")
        .ok()
        .and_then(|scale| scale.parse::<usize>().ok())
        .filter(|&scale| scale > 0)
        .unwrap_or(1);
    (n / divisor).max(1)
}

/// Runs `body` on a thread and fails the test if it has not returned
/// within `limit`: for tests whose failure mode is waiting forever (a quit
/// that never comes), so that a broken build fails instead of hanging CI.
pub fn within<T: Send + 'static>(
    limit: std::time::Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = done.send(body());
    });
    match finished.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the test did not finish within {limit:?}"),
        // The body panicked: its sender went with it.
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the body returned without sending"),
        },
    }
}

/// Returns `Pending` once (waking itself), so that a `join!` polls its
/// other futures (a runner) before this one goes on.
pub async fn yield_now() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await;
}

/// A task body that returns once its quitter quits.
pub fn until_quit(q: Quitter) {
    futures::executor::block_on(q.quitted());
}

/// A task that ignores the quit and returns only when released: the
/// "bad goroutine". The sender releases it (dropping it does too).
pub fn hung() -> (mpsc::Sender<()>, impl FnOnce(Quitter) + Send + 'static) {
    let (release, wait) = mpsc::channel::<()>();
    (release, move |_q: Quitter| {
        let _ = wait.recv();
    })
}

/// A deadline that has already passed.
pub fn expired() -> impl Future<Output = ()> {
    std::future::ready(())
}

/// A deadline that never comes.
pub fn never() -> impl Future<Output = ()> {
    std::future::pending()
}

/// A deadline fired by hand.
pub fn manual_deadline() -> (oneshot::Sender<()>, impl Future<Output = ()>) {
    let (fire, deadline) = oneshot::channel::<()>();
    (fire, async move {
        let _ = deadline.await;
    })
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A deadline that comes once every thread in `handles` has returned (so a
/// "good" task has certainly ended before the wait gives up).
pub fn after_join(handles: Vec<thread::JoinHandle<()>>) -> impl Future<Output = ()> {
    let (fire, deadline) = manual_deadline();
    thread::spawn(move || {
        for handle in handles {
            handle.join().unwrap();
        }
        let _ = fire.send(());
    });
    deadline
}

/// A waker that counts how often it is woken.
pub struct WakeCount(AtomicUsize);

impl WakeCount {
    pub fn new() -> Arc<WakeCount> {
        Arc::new(WakeCount(AtomicUsize::new(0)))
    }

    /// A waker that counts into `self`.
    pub fn waker(self: &Arc<Self>) -> Waker {
        futures::task::waker(self.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl futures::task::ArcWake for WakeCount {
    fn wake_by_ref(this: &Arc<Self>) {
        this.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A timer fired by hand: every `sleep` is pending until the test fires
/// the ones it chooses (by their duration).
#[derive(Clone, Default)]
pub struct ManualTimer(std::sync::Arc<std::sync::Mutex<Vec<Sleeping>>>);

/// A pending sleep: its duration, and what fires it.
type Sleeping = (std::time::Duration, futures::channel::oneshot::Sender<()>);

impl ManualTimer {
    pub fn sleep(&self, duration: std::time::Duration) -> impl std::future::Future<Output = ()> {
        let (fire, wait) = futures::channel::oneshot::channel();
        self.0.lock().unwrap().push((duration, fire));
        async move {
            let _ = wait.await;
        }
    }

    /// Fires every live sleep shorter than `limit`; returns how many.
    pub fn fire_shorter_than(&self, limit: std::time::Duration) -> usize {
        let mut sleeps = self.0.lock().unwrap();
        let (fire, keep): (Vec<_>, Vec<_>) = sleeps
            .drain(..)
            .filter(|(_, sender)| !sender.is_canceled())
            .partition(|(duration, _)| *duration < limit);
        *sleeps = keep;
        let fired = fire.len();
        for (_, sender) in fire {
            let _ = sender.send(());
        }
        fired
    }
}

/// A `Runtime` for `Shutdown` in tests: real sleeps, each on a thread of
/// its own; no signals.
#[cfg(feature = "std")]
pub struct Threads;

#[cfg(feature = "std")]
impl quitter_core::Runtime for Threads {
    type Sleep = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;
    type Signals = std::pin::Pin<Box<dyn futures::Stream<Item = &'static str>>>;
    fn sleep(duration: std::time::Duration) -> Self::Sleep {
        let (fire, fired) = oneshot::channel::<()>();
        thread::spawn(move || {
            thread::sleep(duration);
            let _ = fire.send(());
        });
        Box::pin(async move {
            let _ = fired.await;
        })
    }
    fn shutdown_signals() -> std::io::Result<Self::Signals> {
        Err(std::io::Error::other("no signals in this test"))
    }
}
