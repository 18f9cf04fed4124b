//! [`Sources`]: a runner's quit sources (streams; a future is a one-item
//! stream), polled fairly by `futures_util`'s `SelectAll`, and its tree
//! dump requests, served while it waits.
//!
//! Invariants: a source is indexed in the order added (its label is
//! `labels[index]`); a source that ends simply drops out; only a stream
//! source's later events count as a second (or third) event, a one-shot
//! source that completes after the first event is passed over; a dump
//! request is never an event: it prints a [`TreeSnapshot`] of the root and
//! the wait goes on. Every poll loops until the streams are pending, so
//! an event passed over never loses a wake-up.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::{SelectAll, StreamExt};

use crate::handle::quitter::Quitter;
use crate::report::{EventDetail, TreeSnapshot};

/// One event of a source.
pub(crate) struct SourceEvent {
    pub(crate) index: usize,
    pub(crate) detail: Option<String>,
    pub(crate) failure: bool,
    /// From a stream source, which can fire again: a later event of it is
    /// a second event (a one-shot source's is not).
    repeats: bool,
    /// A request for a tree dump, not an event.
    dump: bool,
}

type Source<'a> = Pin<Box<dyn Stream<Item = SourceEvent> + 'a>>;

/// Where tree dumps go.
pub(crate) type DumpSink<'a> = Box<dyn FnMut(&TreeSnapshot) + 'a>;

/// The quit sources and dump requests of a runner.
pub(crate) struct Sources<'a> {
    pub(crate) labels: Vec<Cow<'static, str>>,
    streams: SelectAll<Source<'a>>,
    /// Where dumps go: a dump request's `index` is its sink's.
    dumps: Vec<DumpSink<'a>>,
}

impl<'a> Sources<'a> {
    pub(crate) fn new() -> Self {
        Sources {
            labels: Vec::new(),
            streams: SelectAll::new(),
            dumps: Vec::new(),
        }
    }

    /// Adds a source labelled `label`; `repeats` for a stream source.
    pub(crate) fn push<S>(&mut self, label: Cow<'static, str>, stream: S, repeats: bool)
    where
        S: Stream + 'a,
        S::Item: EventDetail,
    {
        let index = self.labels.len();
        self.labels.push(label);
        self.streams
            .push(Box::pin(stream.map(move |item| SourceEvent {
                index,
                failure: item.is_failure(),
                detail: item.into_detail(),
                repeats,
                dump: false,
            })));
    }

    /// Every item of `requests` dumps the tree to `sink`.
    pub(crate) fn dump_on<S: Stream + 'a>(&mut self, requests: S, sink: DumpSink<'a>) {
        let index = self.dumps.len();
        self.dumps.push(sink);
        self.streams
            .push(Box::pin(requests.map(move |_| SourceEvent {
                index,
                detail: None,
                failure: false,
                repeats: true,
                dump: true,
            })));
    }

    /// The first event of any source.
    pub(crate) fn poll_first(&mut self, cx: &mut Context<'_>, root: &Quitter) -> Poll<SourceEvent> {
        self.poll_until(cx, root, |_| true)
    }

    /// The next event of a stream source (a second event), if `counts`;
    /// otherwise events are taken and passed over (dumps still served).
    pub(crate) fn poll_second(
        &mut self,
        cx: &mut Context<'_>,
        root: &Quitter,
        counts: bool,
    ) -> Poll<()> {
        self.poll_until(cx, root, |event| counts && event.repeats)
            .map(drop)
    }

    fn poll_until(
        &mut self,
        cx: &mut Context<'_>,
        root: &Quitter,
        wanted: impl Fn(&SourceEvent) -> bool,
    ) -> Poll<SourceEvent> {
        loop {
            match self.streams.poll_next_unpin(cx) {
                Poll::Ready(Some(event)) if event.dump => {
                    if let Some(sink) = self.dumps.get_mut(event.index) {
                        sink(&root.snapshot());
                    }
                }
                Poll::Ready(Some(event)) if wanted(&event) => return Poll::Ready(event),
                Poll::Ready(Some(_)) => {}
                // Every source ended (or there were none): nothing more can
                // come.
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
    }
}
