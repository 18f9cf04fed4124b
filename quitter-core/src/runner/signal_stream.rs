//! [`SignalStream`]: the process's signals (or console events) as one
//! stream of signal names, merged from the runtime adapters' listeners.
//!
//! The adapters turn each of their runtime's listeners into a stream of
//! names and hand it to [`SignalStream::from_listener`]; merging
//! ([`SignalStream::or`]) is `futures_util`'s `SelectAll`, which polls the
//! listeners fairly, so no signal starves another. A listener that breaks
//! (its stream ends) drops out; the merged stream ends only when every
//! listener has.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::{SelectAll, StreamExt};

type Listener = Pin<Box<dyn Stream<Item = &'static str> + Send>>;

/// A stream of received signals, by name (`"SIGINT"`, `"CTRL_C"`, …): a quit
/// source for the main runner, which sees a second signal too.
#[must_use = "streams do nothing unless polled"]
pub struct SignalStream {
    listeners: SelectAll<Listener>,
    names: Vec<&'static str>,
}

impl SignalStream {
    /// A stream of one listener, which yields the name of each signal it
    /// receives (among `names`) and ends if it breaks.
    pub fn from_listener<L>(names: &[&'static str], listener: L) -> SignalStream
    where
        L: Stream<Item = &'static str> + Send + 'static,
    {
        let mut listeners = SelectAll::new();
        listeners.push(Box::pin(listener) as Listener);
        SignalStream {
            listeners,
            names: names.to_vec(),
        }
    }

    /// A stream of no signal that never ends: where a platform has no
    /// such signal.
    pub fn never() -> SignalStream {
        SignalStream::from_listener(&[], futures_util::stream::pending())
    }

    /// This stream and `other`, merged.
    pub fn or(mut self, other: SignalStream) -> SignalStream {
        self.listeners.extend(other.listeners);
        self.names.extend(other.names);
        self
    }

    /// The names of the signals listened to.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// The next signal's name; `None` once every listener has broken.
    pub async fn recv(&mut self) -> Option<&'static str> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next signal's name.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<&'static str>> {
        self.listeners.poll_next_unpin(cx)
    }
}

impl Stream for SignalStream {
    type Item = &'static str;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<&'static str>> {
        self.get_mut().poll_recv(cx)
    }
}

impl fmt::Debug for SignalStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalStream")
            .field("signals", &self.names)
            .finish()
    }
}
