//! Tracked spawn: tokio tasks counted by a [`Quitter`].
//!
//! Invariants (all from the core's [`Quitter::track`] /
//! [`Quitter::track_future`]):
//! - a spawn after quit is refused with [`AlreadyQuit`], and the future (or
//!   closure) is dropped without ever running;
//! - an accepted task is counted before it is spawned, so `done()` waits
//!   for it, and it ends exactly when its future completes, is aborted or is
//!   dropped with the runtime;
//! - a panic inside the task is recorded with its message (the exit report
//!   lists it) and then resumed, so the [`JoinHandle`] yields tokio's usual
//!   panic `JoinError`;
//! - the recorded spawn location is the caller's (`#[track_caller]`);
//! - in an [abortable](Quitter::is_abortable) quitter, the task carries a
//!   cancel hook ([`AbortHook`]): an abort cancels the tokio task, so its
//!   [`JoinHandle`] says [`is_cancelled`](tokio::task::JoinError::is_cancelled).
//!   That costs one small allocation per spawn, only there.

use std::borrow::Cow;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};

use quitter_core::{AlreadyQuit, OnAbort, Quitter, Tracked};
use tokio::task::{AbortHandle, JoinHandle};

/// Spawns `future` on the current tokio runtime as a task of `quitter`
/// named `name`.
///
/// Refused once `quitter` (or an ancestor) has quit: then nothing is
/// spawned and `future` is dropped unpolled.
///
/// # Panics
///
/// Outside a tokio runtime, like [`tokio::spawn`].
#[track_caller]
pub fn spawn<F>(
    quitter: &Quitter,
    name: impl Into<Cow<'static, str>>,
    future: F,
) -> Result<JoinHandle<F::Output>, AlreadyQuit>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tracked = quitter.track_future(name, future)?;
    Ok(spawn_tracked(quitter, tracked))
}

/// Spawns a future already tracked by `quitter` (see [`spawn`]).
pub(crate) fn spawn_tracked<F>(quitter: &Quitter, tracked: Tracked<F>) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if quitter.is_abortable() {
        return spawn_abortable(tracked);
    }
    tokio::spawn(tracked)
}

/// The abortable case of [`spawn`], out of its way.
#[cold]
#[inline(never)]
fn spawn_abortable<F>(tracked: Tracked<F>) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let hook = Arc::new(AbortHook::default());
    let handle = tokio::spawn(tracked.abort_by(OnAbort::Wake(Waker::from(hook.clone()))));
    hook.arm(handle.abort_handle());
    handle
}

/// The cancel hook of an abortable task: the core wakes it when the task
/// is aborted, and it aborts the tokio task. The task may be polled (and
/// aborted) before `spawn` returns its handle: whichever of the two comes
/// second, the wake or the arming, does the abort (both under one lock:
/// cheaper than a `OnceLock` and two `SeqCst` accesses, and plainly
/// right).
#[derive(Default)]
struct AbortHook(Mutex<Hook>);

#[derive(Default)]
struct Hook {
    handle: Option<AbortHandle>,
    fired: bool,
}

impl AbortHook {
    fn arm(&self, handle: AbortHandle) {
        let mut hook = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if hook.fired {
            handle.abort();
        }
        hook.handle = Some(handle);
    }
}

impl Wake for AbortHook {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let mut hook = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        hook.fired = true;
        if let Some(handle) = &hook.handle {
            handle.abort();
        }
    }
}

/// [`spawn`] with the task named after the future's type
/// ([`core::any::type_name`], e.g. `my_app::serve::{{closure}}`); the
/// report also shows the call site, as for every tracked task.
///
/// # Panics
///
/// Outside a tokio runtime, like [`tokio::spawn`].
#[track_caller]
pub fn spawn_unnamed<F>(quitter: &Quitter, future: F) -> Result<JoinHandle<F::Output>, AlreadyQuit>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn(quitter, core::any::type_name::<F>(), future)
}

/// Runs `f` on tokio's blocking pool as a task of `quitter` named `name`.
///
/// Refused once `quitter` has quit (then `f` is dropped, never called). A
/// panic in `f` is recorded with its message, then resumed. A blocking task
/// cannot be interrupted: if it outlives the quit timeout it is reported as
/// timed out, and [`ExitReport::exit`](crate::ExitReport::exit) ends the process without waiting
/// for it (returning from `main` would wait).
///
/// # Panics
///
/// Outside a tokio runtime, like [`tokio::task::spawn_blocking`].
#[track_caller]
pub fn spawn_blocking<F, R>(
    quitter: &Quitter,
    name: impl Into<Cow<'static, str>>,
    f: F,
) -> Result<JoinHandle<R>, AlreadyQuit>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let guard = quitter.track(name)?;
    Ok(tokio::task::spawn_blocking(move || guard.run(f)))
}
