//! [`Tracked`]: a future that carries its task, so the task ends exactly
//! when the future completes or is dropped (a cancelled or aborted task is
//! never reported as hung).
//!
//! The task is counted from the start (a [`Hold`]) and listed in the
//! registry at the first poll, on the polling thread, just before the inner
//! future first runs (so a task stuck in its very first poll is named). A
//! task is spawned on one thread and run on another: listing it where it
//! runs keeps the registry off the spawning thread's path entirely.
//!
//! With `std`, a panic while polling is caught, recorded with its message
//! ([`TaskGuard::panicked`]) and then resumed, so the runtime sees it as
//! usual (a tokio `JoinError`, a smol task that re-panics when awaited) and
//! the exit report lists it. This is the spawn wrapper of both runtime
//! adapters; it lives here so they stay thin and agree.

use alloc::borrow::Cow;
use core::future::Future;
use core::panic::Location;
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::task::Hold;
use crate::TaskGuard;

/// Where a tracked future's task is in its life.
enum Task {
    /// Counted, not listed yet: never polled.
    Unpolled {
        hold: Hold,
        name: Cow<'static, str>,
        location: &'static Location<'static>,
    },
    /// Listed: polled at least once.
    Running(TaskGuard),
    /// The future completed (or panicked): the task has ended.
    Ended,
}

pin_project! {
    /// A future tracked as one task of a quitter. Made by
    /// [`Quitter::track_future`](crate::Quitter::track_future).
    #[must_use = "futures do nothing unless polled"]
    pub struct Tracked<F> {
        #[pin]
        future: F,
        task: Task,
    }
}

impl<F> Tracked<F> {
    pub(crate) fn new(
        future: F,
        hold: Hold,
        name: Cow<'static, str>,
        location: &'static Location<'static>,
    ) -> Self {
        Tracked {
            future,
            task: Task::Unpolled {
                hold,
                name,
                location,
            },
        }
    }

    /// The guard of the task, once it has been polled and until the future
    /// completes.
    pub fn guard(&self) -> Option<&TaskGuard> {
        match &self.task {
            Task::Running(guard) => Some(guard),
            _ => None,
        }
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Task::Unpolled { .. } = this.task {
            if let Task::Unpolled {
                hold,
                name,
                location,
            } = core::mem::replace(this.task, Task::Ended)
            {
                *this.task = Task::Running(hold.register(name, location));
            }
        }
        let future = this.future;
        #[cfg(feature = "std")]
        let polled =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
                Ok(polled) => polled,
                Err(payload) => {
                    if let Task::Running(guard) = core::mem::replace(this.task, Task::Ended) {
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
            *this.task = Task::Ended;
        }
        polled
    }
}

impl<F> core::fmt::Debug for Tracked<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut debug = f.debug_struct("Tracked");
        match &self.task {
            Task::Unpolled { name, .. } => debug.field("unpolled", name),
            Task::Running(guard) => debug.field("guard", guard),
            Task::Ended => debug.field("ended", &true),
        };
        debug.finish()
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
