//! The futures that wait on a quitter: [`Quitted`] (quit has been called),
//! [`Done`] (quit, and every task of the subtree ended) and
//! [`RunUntilQuit`].
//!
//! All are cancel-safe: dropping one loses nothing, and a new one sees the
//! same state. They check the state word first, so a waiter on a quitter
//! that is already quit (or done) is ready at once and allocates nothing.
//! Otherwise [`Quitted`] links its entry, with its waker, into the node's
//! quit waiters (an intrusive one-shot list, see `waiting::waiters`), which
//! ask again, under their lock, whether the node has quit;
//! [`Done`] uses event-listener's pattern: listen, check again, then sleep.
//! Either way no wake-up falls between the check and the sleep.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::EventListener;
use pin_project_lite::pin_project;

use crate::tree::node::Node;
use crate::waiting::waiters::WaiterEntry;

pin_project! {
    /// Ready once the quitter has been told to quit. See
    /// [`Quitter::quitted`](crate::Quitter::quitted).
    ///
    /// While pending it is linked, in place, into the quitter's list of
    /// waiters (it allocates nothing), so it is `!Unpin`: pin it
    /// (`std::pin::pin!`, `Box::pin`) to poll it by hand; `.await` and
    /// `select!` do that already.
    #[must_use = "futures do nothing unless polled"]
    pub struct Quitted<'a> {
        node: &'a Node,
        // Its place in the node's quit waiters, linked at the first pending
        // poll; the `Drop` takes it out if the quit has not.
        #[pin]
        entry: WaiterEntry,
    }

    impl PinnedDrop for Quitted<'_> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let entry = this.entry.into_ref();
            // In no list: ours to end (after the quit's last touch, see
            // `is_linked`). Linked: take it out first.
            if entry.is_linked() {
                this.node.waiters().cancel(entry);
            }
        }
    }
}

impl<'a> Quitted<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Quitted {
            node,
            entry: WaiterEntry::new(),
        }
    }
}

impl Future for Quitted<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let node = *this.node;
        if node.state.is_quit() {
            // If linked, the quit takes the entry out, or our drop will.
            return Poll::Ready(());
        }
        // Asked under the waiters' lock with an RMW, which orders this
        // node's `Extra` (made by `waiters()`) before the quit's look for
        // it (see `tree::quit`).
        node.waiters().wait(this.entry.into_ref(), cx.waker(), || {
            node.state.is_quit_rmw()
        })
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
        #[pin]
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
        if this.quitted.poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll(cx).map(Some)
    }
}
