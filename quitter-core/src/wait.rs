//! The futures that wait on a quitter: [`Quitted`] (quit has been called),
//! [`Done`] (quit, and every task of the subtree ended) and
//! [`RunUntilQuit`].
//!
//! All are cancel-safe: dropping one loses nothing, and a new one sees the
//! same state. They check the state word before listening, so a waiter on a
//! quitter that is already quit (or done) is ready at once and allocates
//! nothing; otherwise the pattern is event-listener's: listen, check again,
//! then sleep, so no notification falls between the check and the sleep.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::EventListener;
use pin_project_lite::pin_project;

use crate::node::Node;

/// The shared engine of [`Quitted`] (`DONE = false`) and [`Done`]. The
/// condition is a type parameter, so a waiter is two words: the node and
/// the listener.
struct StateWait<'a, const DONE: bool> {
    node: &'a Node,
    listener: Option<EventListener>,
}

impl<'a, const DONE: bool> StateWait<'a, DONE> {
    fn new(node: &'a Node) -> Self {
        StateWait {
            node,
            listener: None,
        }
    }

    fn reached(&self) -> bool {
        if DONE {
            self.node.state.is_done()
        } else {
            self.node.state.is_quit()
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.reached() {
                self.listener = None;
                return Poll::Ready(());
            }
            match &mut self.listener {
                None => self.listener = Some(self.node.event.listen()),
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

/// Ready once the quitter has been told to quit. See
/// [`Quitter::quitted`](crate::Quitter::quitted).
#[must_use = "futures do nothing unless polled"]
pub struct Quitted<'a>(StateWait<'a, false>);

impl<'a> Quitted<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Quitted(StateWait::new(node))
    }
}

impl Future for Quitted<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll(cx)
    }
}

impl core::fmt::Debug for Quitted<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Quitted")
            .field("quit", &self.0.reached())
            .finish()
    }
}

/// Ready once the quitter has quit and every task of its subtree ended. See
/// [`Quitter::done`](crate::Quitter::done).
#[must_use = "futures do nothing unless polled"]
pub struct Done<'a>(StateWait<'a, true>);

impl<'a> Done<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Done(StateWait::new(node))
    }
}

impl Future for Done<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll(cx)
    }
}

impl core::fmt::Debug for Done<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Done")
            .field("done", &self.0.reached())
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
