//! Tracked spawn on smol: every spawned future is one task of a quitter.
//!
//! [`spawn`] uses smol's global executor, [`spawn_on`] an [`Executor`] you
//! run yourself; the `_unnamed` forms name the task after the future's type;
//! [`unblock`] runs blocking work on smol's thread pool. All are built on
//! [`Quitter::track_future`]: the task is one entry of the quitter while the
//! future (or closure) lives. The rules are documented for users in the
//! [crate docs](crate#spawned-tasks).

use std::borrow::Cow;
use std::future::Future;

use quitter_core::{AlreadyQuit, OnAbort, Quitter, Tracked};
use smol::{Executor, Task};

/// Spawns `future` on smol's global executor as a task of `quitter` named
/// `name`. Refused (without polling `future`) once `quitter` has quit.
///
/// See [spawned tasks](crate#spawned-tasks) for panics and cancellation.
#[track_caller]
pub fn spawn<F>(
    quitter: &Quitter,
    name: impl Into<Cow<'static, str>>,
    future: F,
) -> Result<Task<F::Output>, AlreadyQuit>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(smol::spawn(track(quitter, name, future)?))
}

/// [`spawn`], with the task named after the future's type
/// (`core::any::type_name`); the report also gives the call site.
#[track_caller]
pub fn spawn_unnamed<F>(quitter: &Quitter, future: F) -> Result<Task<F::Output>, AlreadyQuit>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn(quitter, core::any::type_name::<F>(), future)
}

/// Spawns `future` on `executor` as a task of `quitter` named `name`.
/// Refused (without polling `future`) once `quitter` has quit.
///
/// The task only makes progress (and a dropped task's future is only
/// dropped) while `executor` is run.
#[track_caller]
pub fn spawn_on<'a, F>(
    executor: &Executor<'a>,
    quitter: &Quitter,
    name: impl Into<Cow<'static, str>>,
    future: F,
) -> Result<Task<F::Output>, AlreadyQuit>
where
    F: Future + Send + 'a,
    F::Output: Send + 'a,
{
    Ok(executor.spawn(track(quitter, name, future)?))
}

/// The tracked future that the spawns run: made abortable in an
/// [abortable](Quitter::is_abortable) quitter. smol cannot cancel a task
/// from inside, so an aborted task unwinds with
/// [`Aborted`](quitter_core::Aborted): smol's executor catches it (it
/// spawns with `propagate_panic`), a detached task ends quietly, and
/// awaiting the `Task` panics, as awaiting a cancelled one does.
#[track_caller]
fn track<F: Future>(
    quitter: &Quitter,
    name: impl Into<Cow<'static, str>>,
    future: F,
) -> Result<Tracked<F>, AlreadyQuit> {
    let tracked = quitter.track_future(name, future)?;
    Ok(abortable_if(quitter, tracked))
}

/// `tracked`, made to unwind on an abort if `quitter` is abortable.
pub(crate) fn abortable_if<F>(quitter: &Quitter, tracked: Tracked<F>) -> Tracked<F> {
    if quitter.is_abortable() {
        tracked.abort_by(OnAbort::Unwind)
    } else {
        tracked
    }
}

/// [`spawn_on`], with the task named after the future's type.
#[track_caller]
pub fn spawn_unnamed_on<'a, F>(
    executor: &Executor<'a>,
    quitter: &Quitter,
    future: F,
) -> Result<Task<F::Output>, AlreadyQuit>
where
    F: Future + Send + 'a,
    F::Output: Send + 'a,
{
    spawn_on(executor, quitter, core::any::type_name::<F>(), future)
}

/// Runs the blocking `work` on smol's blocking thread pool
/// ([`smol::unblock`]) as a task of `quitter` named `name`. Refused
/// (without calling `work`) once `quitter` has quit.
///
/// A panic in `work` is recorded like a future's. The task ends when `work`
/// returns; see [spawned tasks](crate#spawned-tasks) for what dropping the
/// [`Task`] does.
#[track_caller]
pub fn unblock<T, W>(
    quitter: &Quitter,
    name: impl Into<Cow<'static, str>>,
    work: W,
) -> Result<Task<T>, AlreadyQuit>
where
    W: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let guard = quitter.track(name)?;
    Ok(smol::unblock(move || guard.run(work)))
}
