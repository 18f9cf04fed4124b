//! The futures that wait on a quitter: [`Quitted`] (quit has been called),
//! [`Done`] (quit, and every task of the subtree ended) and
//! [`RunUntilQuit`].
//!
//! All are cancel-safe: dropping one loses nothing, and a new one sees the
//! same state. They check the state word first, so a waiter on a quitter
//! that is already quit (or done) is ready at once and allocates nothing.
//! Otherwise [`Quitted`] stores its waker in the node's quit waiters (a
//! one-shot list, see `waiters`), which check `QUIT` again under their lock;
//! [`Done`] uses event-listener's pattern: listen, check again, then sleep.
//! Either way no wake-up falls between the check and the sleep.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::EventListener;
use pin_project_lite::pin_project;

use crate::node::Node;
use crate::waiters::Waiting;

/// Ready once the quitter has been told to quit. See
/// [`Quitter::quitted`](crate::Quitter::quitted).
#[must_use = "futures do nothing unless polled"]
pub struct Quitted<'a> {
    node: &'a Node,
    /// This waiter's key in the node's quit waiters once it has waited,
    /// else [`NO_SLOT`] (a slab key never reaches it): two words in all.
    slot: usize,
}

const NO_SLOT: usize = usize::MAX;

impl<'a> Quitted<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Quitted {
            node,
            slot: NO_SLOT,
        }
    }
}

impl Future for Quitted<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.node.state.is_quit() {
            // The quit took (or is taking) the list with our waker in it.
            self.slot = NO_SLOT;
            return Poll::Ready(());
        }
        let waiters = &self.node.extra().waiters;
        let slot = (self.slot != NO_SLOT).then_some(self.slot);
        match waiters.wait(&self.node.state, slot, cx.waker()) {
            Waiting::Quit => {
                self.slot = NO_SLOT;
                Poll::Ready(())
            }
            Waiting::Pending(key) => {
                self.slot = key;
                Poll::Pending
            }
        }
    }
}

impl Drop for Quitted<'_> {
    fn drop(&mut self) {
        // After the quit the list is gone: nothing to unlink.
        if self.slot != NO_SLOT && !self.node.state.is_quit() {
            self.node.extra().waiters.cancel(self.slot);
        }
    }
}

impl core::fmt::Debug for Quitted<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Quitted")
            .field("quit", &self.node.state.is_quit())
            .finish()
    }
}

/// Ready once the quitter has quit and every task of its subtree ended. See
/// [`Quitter::done`](crate::Quitter::done).
#[must_use = "futures do nothing unless polled"]
pub struct Done<'a> {
    node: &'a Node,
    /// Event-listener's pattern: listen, check again, then sleep.
    listener: Option<EventListener>,
}

impl<'a> Done<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Done {
            node,
            listener: None,
        }
    }
}

impl Future for Done<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.node.state.is_done() {
                self.listener = None;
                return Poll::Ready(());
            }
            match &mut self.listener {
                None => self.listener = Some(self.node.done_event.listen()),
                Some(listener) => {
                    if Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.listener = None;
                }
            }
        }
    }
}

impl core::fmt::Debug for Done<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Done")
            .field("done", &self.node.state.is_done())
            .finish()
    }
}

pin_project! {
    /// Runs a future until it completes (`Some(output)`) or the quitter
    /// quits (`None`, and the future is dropped unfinished). Quit is checked
    /// first. See [`Quitter::run_until_quit`](crate::Quitter::run_until_quit).
    #[must_use = "futures do nothing unless polled"]
    pub struct RunUntilQuit<'a, F> {
        #[pin]
        future: F,
        quitted: Quitted<'a>,
    }
}

impl<'a, F> RunUntilQuit<'a, F> {
    pub(crate) fn new(node: &'a Node, future: F) -> Self {
        RunUntilQuit {
            future,
            quitted: Quitted::new(node),
        }
    }
}

impl<F: Future> Future for RunUntilQuit<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if Pin::new(this.quitted).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll(cx).map(Some)
    }
}
