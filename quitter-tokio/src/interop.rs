//! Links between a [`Quitter`] and `tokio_util`'s [`CancellationToken`]
//! (feature `tokio-util`).
//!
//! Each live link is one tracked task of the quitter, named [`LINK_TASK`],
//! that ends when either side fires; what that costs and why it is a task
//! is documented on [`cancel_on_quit`] (this module is private), which the
//! other two functions refer to.

use quitter_core::{QuitCause, Quitter};
use tokio_util::sync::CancellationToken;

/// The cause label of a quit made by [`quit_on_cancel`].
pub const TOKEN_CANCELLED: &str = "cancellation token cancelled";

/// The name of the tracked task of each live link ([`cancellation_token`],
/// [`cancel_on_quit`], [`quit_on_cancel`]), as [`Quitter::live_tasks`] and
/// time-out reports list it. See [what a link costs](cancel_on_quit#what-a-link-costs).
pub const LINK_TASK: &str = "cancellation token link";

/// A new token, cancelled when `quitter` quits (at once if it has).
///
/// The link costs one tracked task of `quitter`, named [`LINK_TASK`], as
/// with [`cancel_on_quit`] ([what a link costs](cancel_on_quit#what-a-link-costs)):
/// it ends right after cancelling the token on the quit, or when the token
/// is cancelled first (cancelling it, or a token it is a child of).
///
/// # Panics
///
/// Outside a tokio runtime, unless `quitter` has already quit (see
/// [`cancel_on_quit`]).
#[track_caller]
pub fn cancellation_token(quitter: &Quitter) -> CancellationToken {
    let token = CancellationToken::new();
    cancel_on_quit(quitter, token.clone());
    token
}

/// Cancels `token` when `quitter` quits (at once if it has).
///
/// # What a link costs
///
/// Each live link (this one, [`cancellation_token`]'s, and
/// [`quit_on_cancel`]'s the other way) is **one tracked task of the
/// quitter**, spawned with [`spawn`](crate::spawn()), named [`LINK_TASK`]
/// (`"cancellation token link"`) and located at the caller. It waits for
/// whichever side fires first, passes the quit (or the cancellation) on,
/// and ends; it also ends, passing nothing on, when the other side fired
/// first. So:
///
/// - while it waits it is counted by [`Quitter::task_count`] and listed
///   by [`Quitter::live_tasks`] (and by a time-out report, should it
///   outlive the quit), like any task of yours: a link cannot outlive the
///   tree unnoticed;
/// - it does not hold the quit up: on the quit it wakes, cancels the token
///   (for [`quit_on_cancel`]: has nothing left to do) and ends, so
///   [`done()`](Quitter::done) waits for one poll of it, no more; if the
///   token is cancelled first, it ends then, and the quitter keeps nothing
///   of it;
/// - while it waits it holds a handle to the quitter, so a linked child
///   quitter stays linked to its parent until the link ends;
/// - in memory it is one tokio task: the task's header and the future,
///   which holds a token clone, a [`QuittedOwned`](quitter_core::QuittedOwned)
///   waiter (linked in place into the quitter's waiters) and the token's
///   `cancelled()` waiter;
/// - if a side has already fired, it is passed on at once, with no task
///   and no runtime needed. A link made as the quitter quits is refused
///   like every tracked spawn, atomically with the quit: the token is
///   cancelled at once instead.
///
/// # Why a task
///
/// Neither side runs a callback when it fires: the core only wakes the
/// [`Waker`](std::task::Waker)s of pending futures, so a `quitted()`
/// future must be polled and kept alive until the quit, and a token is
/// awaited too. A task-free quit -> token link
/// would need a synchronous on-quit hook in the core (`token.cancel()` is
/// synchronous), which it does not have. Even then, a hook whose token is
/// cancelled first could only be removed by someone awaiting the token (a
/// task again: tokio-util's token has no callback) or it would stay in the
/// quitter until its quit. The token -> quit direction needs a task in any
/// case.
///
/// # Panics
///
/// Outside a tokio runtime, like [`tokio::spawn`], unless `quitter` has
/// already quit or `token` is already cancelled (no task is needed then).
#[track_caller]
pub fn cancel_on_quit(quitter: &Quitter, token: CancellationToken) {
    if quitter.is_quitting() {
        token.cancel();
        return;
    }
    if token.is_cancelled() {
        return;
    }
    let quitted = quitter.clone().quitted_owned();
    let link = {
        let token = token.clone();
        async move {
            tokio::select! {
                () = quitted => token.cancel(),
                () = token.cancelled() => {}
            }
        }
    };
    // Refused (the future dropped unpolled) if `quitter` quit since the
    // check above, atomically with that quit: pass it on here.
    if crate::spawn(quitter, LINK_TASK, link).is_err() {
        token.cancel();
    }
}

/// Quits `quitter`, with the cause [`TOKEN_CANCELLED`], when `token` is
/// cancelled (at once if it is). For a new quitter that follows a token,
/// link a fresh [`Quitter::child`] (or root).
///
/// Costs one tracked task of `quitter`, named [`LINK_TASK`]
/// ([what a link costs](cancel_on_quit#what-a-link-costs)): listed by
/// [`Quitter::live_tasks`] while it waits, it ends when the token is
/// cancelled (right after quitting `quitter`), or when `quitter` quits
/// first (so [`Quitter::done`] is not held up). No task if either side
/// has already fired. A task is needed here whatever the core offers:
/// tokio-util's token has no callback, only `cancelled()` to await.
///
/// # Panics
///
/// Outside a tokio runtime, like [`tokio::spawn`], unless `token` is
/// already cancelled or `quitter` has already quit.
#[track_caller]
pub fn quit_on_cancel(quitter: &Quitter, token: CancellationToken) {
    if token.is_cancelled() {
        quitter.quit_with(QuitCause::new(TOKEN_CANCELLED));
        return;
    }
    if quitter.is_quitting() {
        return;
    }
    let link = {
        let quitter = quitter.clone();
        async move {
            tokio::select! {
                () = token.cancelled() => {
                    quitter.quit_with(QuitCause::new(TOKEN_CANCELLED));
                }
                () = quitter.quitted() => {}
            }
        }
    };
    // Refused if `quitter` quit since the check above: nothing to pass on.
    let _ = crate::spawn(quitter, LINK_TASK, link);
}
