//! The futures that wait on a quitter: [`Quitted`] (quit has been called),
//! [`Draining`] (draining started, or the quit), [`Done`] (quit, and every
//! task of the subtree ended), their owned (`'static`) forms
//! ([`QuittedOwned`], [`DrainingOwned`], [`DoneOwned`]) and
//! [`RunUntilQuit`].
//!
//! All are cancel-safe: dropping one loses nothing, and a new one sees the
//! same state. They check the state word first, so a waiter on a quitter
//! that is already quit (or draining, or done) is ready at once and
//! allocates nothing. Otherwise [`Quitted`] and [`Draining`] link their
//! entry, with its waker, into the node's waiters of that flag (an
//! intrusive one-shot list, see `waiting::waiters`), which ask again,
//! under their lock, whether the flag is set; [`Done`] uses
//! event-listener's pattern: listen, check again, then sleep. Either way no
//! wake-up falls between the check and the sleep.
//!
//! A borrowed form holds `&Node`; an owned form holds a [`Quitter`] handle
//! (so it keeps a child linked while it waits, as a handle does) and
//! costs no more: the same entry, no allocation, no task.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use event_listener::EventListener;
use pin_project_lite::pin_project;

use super::quitter::Quitter;
use crate::tree::node::Node;
use crate::tree::state::Flag;
use crate::waiting::waiters::WaiterEntry;

/// Which flag a [`FlagWait`] waits for, as a type: a field would make
/// every pending `Quitted` a word larger (and a task holding one can
/// cross a size class of the runtime's allocator).
pub(crate) trait FlagKind {
    const FLAG: Flag;
}

/// Waits for `QUIT`.
pub(crate) struct QuitKind;

/// Waits for `DRAIN`.
pub(crate) struct DrainKind;

impl FlagKind for QuitKind {
    const FLAG: Flag = Flag::Quit;
}

impl FlagKind for DrainKind {
    const FLAG: Flag = Flag::Drain;
}

/// What a waiting future holds its node by: a borrow or a handle.
pub(crate) trait NodeRef {
    fn node(&self) -> &Node;
}

impl NodeRef for &Node {
    fn node(&self) -> &Node {
        self
    }
}

impl NodeRef for Quitter {
    fn node(&self) -> &Node {
        Quitter::node(self)
    }
}

pin_project! {
    /// A wait for one of the node's flags; the inside of [`Quitted`],
    /// [`Draining`] and their owned forms.
    pub(crate) struct FlagWait<R: NodeRef, K: FlagKind> {
        handle: R,
        kind: core::marker::PhantomData<fn() -> K>,
        // Its place in the node's waiters of `flag`, linked at the first
        // pending poll; the `Drop` takes it out if the flag's walk has not.
        #[pin]
        entry: WaiterEntry,
    }

    impl<R: NodeRef, K: FlagKind> PinnedDrop for FlagWait<R, K> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let entry = this.entry.into_ref();
            // In no list: ours to end (after the walk's last touch, see
            // `is_linked`). Linked: take it out first.
            if entry.is_linked() {
                this.handle.node().waiters(K::FLAG).cancel(entry);
            }
        }
    }
}

impl<R: NodeRef, K: FlagKind> FlagWait<R, K> {
    const FLAG: Flag = K::FLAG;

    fn new(handle: R) -> Self {
        FlagWait {
            handle,
            kind: core::marker::PhantomData,
            entry: WaiterEntry::new(),
        }
    }

    fn is_set(&self) -> bool {
        Self::FLAG.is_set(&self.handle.node().state)
    }
}

impl<R: NodeRef, K: FlagKind> Future for FlagWait<R, K> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let (node, flag) = (this.handle.node(), Self::FLAG);
        if flag.is_set(&node.state) {
            // If linked, the walk takes the entry out, or our drop will.
            return Poll::Ready(());
        }
        // Asked under the waiters' lock with an RMW, which orders this
        // node's `Extra` (made by `waiters()`) before the walk's look for
        // it (see `tree::quit`).
        node.waiters(flag)
            .wait(this.entry.into_ref(), cx.waker(), || {
                flag.is_set_rmw(&node.state)
            })
    }
}

/// The wait for done (the node quit, and no hold left): the inside of
/// [`Done`] and [`DoneOwned`].
pub(crate) struct DoneWait<R: NodeRef> {
    handle: R,
    /// Event-listener's pattern: listen, check again, then sleep.
    listener: Option<EventListener>,
}

impl<R: NodeRef> DoneWait<R> {
    fn new(handle: R) -> Self {
        DoneWait {
            handle,
            listener: None,
        }
    }

    fn is_set(&self) -> bool {
        self.handle.node().state.is_done()
    }

    fn poll_done(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let node = self.handle.node();
            if node.state.is_done() {
                self.listener = None;
                return Poll::Ready(());
            }
            match &mut self.listener {
                None => self.listener = Some(node.done_event.listen()),
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

/// Defines a public waiting future over an inner wait: its struct (docs
/// from the call), `Future` and `Debug`.
macro_rules! waiting_future {
    ($(#[$meta:meta])* $name:ident$(<$lt:lifetime>)?, $inner:ty, $field:literal) => {
        pin_project! {
            $(#[$meta])*
            #[must_use = "futures do nothing unless polled"]
            pub struct $name$(<$lt>)? {
                #[pin]
                wait: $inner,
            }
        }

        impl$(<$lt>)? Future for $name$(<$lt>)? {
            type Output = ();

            #[inline]
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                self.project().wait.poll(cx)
            }
        }

        impl$(<$lt>)? fmt::Debug for $name$(<$lt>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field($field, &self.wait.is_set())
                    .finish()
            }
        }
    };
}

waiting_future! {
    /// Ready once the quitter has been told to quit. See
    /// [`Quitter::quitted`].
    ///
    /// While pending it is linked, in place, into the quitter's list of
    /// waiters (it allocates nothing), so it is `!Unpin`: pin it
    /// (`std::pin::pin!`, `Box::pin`) to poll it by hand; `.await` and
    /// `select!` do that already.
    Quitted<'a>, FlagWait<&'a Node, QuitKind>, "quit"
}

waiting_future! {
    /// [`Quitted`] holding its own handle, so it is `'static`: to hand to
    /// `tokio::spawn` or to a server's graceful-shutdown hook. See
    /// [`Quitter::quitted_owned`].
    QuittedOwned, FlagWait<Quitter, QuitKind>, "quit"
}

waiting_future! {
    /// Ready once the quitter is draining (or quitting, which implies it).
    /// See [`Quitter::draining`]. `!Unpin`, as [`Quitted`].
    Draining<'a>, FlagWait<&'a Node, DrainKind>, "draining"
}

waiting_future! {
    /// [`Draining`] holding its own handle, so it is `'static`. See
    /// [`Quitter::draining_owned`].
    DrainingOwned, FlagWait<Quitter, DrainKind>, "draining"
}

impl<'a> Quitted<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Quitted {
            wait: FlagWait::new(node),
        }
    }
}

impl QuittedOwned {
    pub(crate) fn new(quitter: Quitter) -> Self {
        QuittedOwned {
            wait: FlagWait::new(quitter),
        }
    }
}

impl<'a> Draining<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Draining {
            wait: FlagWait::new(node),
        }
    }
}

impl DrainingOwned {
    pub(crate) fn new(quitter: Quitter) -> Self {
        DrainingOwned {
            wait: FlagWait::new(quitter),
        }
    }
}

/// Ready once the quitter has quit and every task of its subtree ended. See
/// [`Quitter::done`].
#[must_use = "futures do nothing unless polled"]
pub struct Done<'a> {
    wait: DoneWait<&'a Node>,
}

/// [`Done`] holding its own handle, so it is `'static`. See
/// [`Quitter::done_owned`].
#[must_use = "futures do nothing unless polled"]
pub struct DoneOwned {
    wait: DoneWait<Quitter>,
}

impl<'a> Done<'a> {
    pub(crate) fn new(node: &'a Node) -> Self {
        Done {
            wait: DoneWait::new(node),
        }
    }
}

impl DoneOwned {
    pub(crate) fn new(quitter: Quitter) -> Self {
        DoneOwned {
            wait: DoneWait::new(quitter),
        }
    }
}

impl Future for Done<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.wait.poll_done(cx)
    }
}

impl Future for DoneOwned {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.wait.poll_done(cx)
    }
}

impl fmt::Debug for Done<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Done")
            .field("done", &self.wait.is_set())
            .finish()
    }
}

impl fmt::Debug for DoneOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoneOwned")
            .field("done", &self.wait.is_set())
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
