//! [`Tracked`]: a future that carries its task, so the task ends exactly
//! when the future completes or is dropped (a cancelled or aborted task is
//! never reported as hung).
//!
//! The task's [`TaskSlot`] (its hold and registry entry) lives inside the
//! future, so tracking allocates nothing. The task is counted from the
//! start and listed in the registry at the first poll, on the polling
//! thread, just before the inner future first runs (so a task stuck in its
//! very first poll is named). A task is spawned on one thread and run on
//! another: listing it where it runs keeps the registry off the spawning
//! thread's path entirely. The inner future is dropped before the slot, so
//! the task ends after its future's own cleanup.
//!
//! With `std`, a panic while polling is caught, recorded with its message
//! and then resumed, so the runtime sees it as usual (a tokio `JoinError`, a smol task that re-panics when awaited) and
//! the exit report lists it. This is the spawn wrapper of both runtime
//! adapters; it lives here so they stay thin and agree.
//!
//! A tracked future made abortable ([`Tracked::abort_by`]) looks at its
//! node's `ABORT` bit at each poll, after registering where an abort
//! wakes it; once set, it polls its future no more and ends its runtime
//! task as told ([`OnAbort`]: a cancel hook, or an unwind), whose drop of
//! the future records the task as aborted. One that is not abortable pays
//! one word (its entry's empty abort cell) and one branch a poll.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use pin_project_lite::pin_project;

#[cfg(feature = "std")]
use super::abort::Aborted;
use super::abort::OnAbort;
use crate::report::TaskInfo;
use crate::tree::slot::TaskSlot;

pin_project! {
    /// A future tracked as one task of a quitter. Made by
    /// [`Quitter::track_future`](crate::Quitter::track_future).
    #[must_use = "futures do nothing unless polled"]
    pub struct Tracked<F> {
        #[pin]
        future: F,
        // The task's hold and registry entry, inline: the entry is listed
        // where it is, which is why the future must be pinned anyway.
        #[pin]
        slot: TaskSlot,
    }

    impl<F> PinnedDrop for Tracked<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped unfinished after an abort (its runtime cancelled it, or
            // its executor caught the unwind): the task was aborted. The
            // future is dropped next, then the slot ends.
            if this.slot.abort_cell().is_some() && this.slot.is_aborted() {
                this.slot.record_abort();
            }
        }
    }
}

impl<F> Tracked<F> {
    pub(crate) fn new(future: F, slot: TaskSlot) -> Self {
        Tracked { future, slot }
    }

    /// Makes the task abortable: when its quitter is aborted
    /// ([`Quitter::abort`](crate::Quitter::abort), a stage that
    /// [aborts on overrun](crate::Stage::abort_on_overrun)), the future is
    /// no longer polled, `on_abort` ends its runtime's task (which drops
    /// the future: its cleanup runs), and the task is reported as aborted.
    /// The runtime adapters' `spawn` do this in an
    /// [abortable](crate::Quitter::is_abortable) quitter; a future tracked
    /// without it is never aborted (it stays listed as hung). Costs one
    /// small allocation.
    pub fn abort_by(mut self, on_abort: OnAbort) -> Self {
        match on_abort {
            OnAbort::Wake(hook) => self.slot.make_abortable(false, Some(&hook)),
            #[cfg(feature = "std")]
            OnAbort::Unwind => self.slot.make_abortable(true, None),
        }
        self
    }

    /// A snapshot of the task (name, location, age) once it has been
    /// polled, until the future completes: while a report would list it.
    pub fn info(&self) -> Option<TaskInfo> {
        self.slot.is_listed().then(|| self.slot.info())
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut slot = this.slot;
        // At the first poll (a no-op after it, and once ended).
        slot.as_mut().list();
        if let Some(abort) = slot.abort_cell() {
            // Register, then look (see `tree::abort`).
            if abort.unwind {
                abort.waker.register(cx.waker());
            }
            if slot.is_aborted() {
                #[cfg(feature = "std")]
                if abort.unwind {
                    std::panic::resume_unwind(alloc::boxed::Box::new(Aborted));
                }
                // Pending until the runtime cancels the task (its hook is
                // woken here, unless the abort walk took it first).
                if let Some(hook) = abort.waker.take() {
                    hook.wake();
                }
                return Poll::Pending;
            }
        }
        let future = this.future;
        #[cfg(feature = "std")]
        let polled =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
                Ok(polled) => polled,
                Err(payload) => {
                    slot.panicked(panic_message(&*payload));
                    std::panic::resume_unwind(payload)
                }
            };
        #[cfg(not(feature = "std"))]
        let polled = future.poll(cx);
        if polled.is_ready() {
            // The task ends when its output is ready, not when the runtime
            // gets round to dropping the future.
            slot.end();
        }
        polled
    }
}

impl<F> core::fmt::Debug for Tracked<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tracked")
            .field("task", &self.slot.info())
            .field("listed", &self.slot.is_listed())
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
