//! [`Tracked`]: a future that carries its task's [`TaskGuard`], so the task
//! ends exactly when the future completes or is dropped (a cancelled or
//! aborted task is never reported as hung).
//!
//! With `std`, a panic while polling is caught, recorded with its message
//! ([`TaskGuard::panicked`]) and then resumed, so the runtime sees it as
//! usual (a tokio `JoinError`, a smol task that re-panics when awaited) and
//! the exit report lists it. This is the spawn wrapper of both runtime
//! adapters; it lives here so they stay thin and agree.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::TaskGuard;

pin_project! {
    /// A future tracked as one task of a quitter. Made by
    /// [`Quitter::track_future`](crate::Quitter::track_future).
    #[must_use = "futures do nothing unless polled"]
    pub struct Tracked<F> {
        #[pin]
        future: F,
        guard: Option<TaskGuard>,
    }
}

impl<F> Tracked<F> {
    pub(crate) fn new(future: F, guard: TaskGuard) -> Self {
        Tracked {
            future,
            guard: Some(guard),
        }
    }

    /// The guard of the task, while the future has not completed.
    pub fn guard(&self) -> Option<&TaskGuard> {
        self.guard.as_ref()
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let future = this.future;
        #[cfg(feature = "std")]
        let polled =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
                Ok(polled) => polled,
                Err(payload) => {
                    if let Some(guard) = this.guard.take() {
                        guard.panicked(panic_message(&*payload));
                    }
                    std::panic::resume_unwind(payload)
                }
            };
        #[cfg(not(feature = "std"))]
        let polled = future.poll(cx);
        if polled.is_ready() {
            // The task ends when its output is ready, not when the runtime
            // gets round to dropping the future.
            *this.guard = None;
        }
        polled
    }
}

impl<F> core::fmt::Debug for Tracked<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tracked")
            .field("guard", &self.guard)
            .finish()
    }
}

/// The text of a panic payload (`&str` or `String`), or a placeholder.
#[cfg(feature = "std")]
pub fn panic_message(payload: &(dyn core::any::Any + Send)) -> alloc::string::String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).into()
    } else if let Some(text) = payload.downcast_ref::<alloc::string::String>() {
        text.clone()
    } else {
        "Box<dyn Any> (a non-string panic payload)".into()
    }
}
