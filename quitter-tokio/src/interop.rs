//! Links between a [`Quitter`] and `tokio_util`'s [`CancellationToken`]
//! (feature `tokio-util`).
//!
//! Neither side has a callback to hook into (the core broadcasts with an
//! event that must be awaited; a token is awaited too), so each live link is
//! **one small untracked tokio task**. It waits for whichever side fires
//! first, passes the quit (or cancellation) on, and ends; it also ends,
//! passing nothing on, when the other side fired first. While it waits it
//! holds a handle to the quitter, so a linked child quitter is not unlinked
//! from its parent before the link ends. An already-fired side is passed
//! on at once, with no task.
//!
//! The quit -> token direction could be task-free with a synchronous
//! on-quit callback in the core (run by `quit_with` during its walk), since
//! `token.cancel()` is synchronous; the core has none yet.

use quitter_core::{QuitCause, Quitter};
use tokio_util::sync::CancellationToken;

/// The cause label of a quit made by [`quit_on_cancel`].
pub const TOKEN_CANCELLED: &str = "cancellation token cancelled";

/// A new token, cancelled when `quitter` quits (at once if it has).
///
/// # Panics
///
/// Outside a tokio runtime, unless `quitter` has already quit (see
/// [`cancel_on_quit`]).
pub fn cancellation_token(quitter: &Quitter) -> CancellationToken {
    let token = CancellationToken::new();
    cancel_on_quit(quitter, token.clone());
    token
}

/// Cancels `token` when `quitter` quits (at once if it has). Spawns one
/// task, which ends when either fires.
///
/// # Panics
///
/// Outside a tokio runtime, like [`tokio::spawn`], unless `quitter` has
/// already quit or `token` is already cancelled (no task is needed then).
pub fn cancel_on_quit(quitter: &Quitter, token: CancellationToken) {
    if quitter.is_quitting() {
        token.cancel();
        return;
    }
    if token.is_cancelled() {
        return;
    }
    let quitter = quitter.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = quitter.quitted() => token.cancel(),
            () = token.cancelled() => {}
        }
    });
}

/// Quits `quitter`, with the cause [`TOKEN_CANCELLED`], when `token` is
/// cancelled (at once if it is). Spawns one task, which ends when either
/// fires. For a new quitter that follows a token, link a fresh
/// [`Quitter::child`] (or root).
///
/// # Panics
///
/// Outside a tokio runtime, like [`tokio::spawn`], unless `token` is
/// already cancelled or `quitter` has already quit.
pub fn quit_on_cancel(quitter: &Quitter, token: CancellationToken) {
    if token.is_cancelled() {
        quitter.quit_with(QuitCause::new(TOKEN_CANCELLED));
        return;
    }
    if quitter.is_quitting() {
        return;
    }
    let quitter = quitter.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = token.cancelled() => {
                quitter.quit_with(QuitCause::new(TOKEN_CANCELLED));
            }
            () = quitter.quitted() => {}
        }
    });
}
