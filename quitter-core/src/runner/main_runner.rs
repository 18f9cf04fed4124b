//! The main runner: go-quitter's `NewMainQuitter` + exit function, without
//! a runtime.
//!
//! [`MainRunner`] waits for the first of its labelled quit sources (or for
//! the root to be quit by code), quits the root with that cause, then waits
//! for the tree until a caller-made deadline, and returns an
//! [`ExitReport`]. While it waits, a second event from any source ends the
//! wait at once (`forced`), unless that is turned off.
//!
//! Sources are streams (a future is a one-item stream), polled fairly by
//! `futures_util`'s `SelectAll`. A source that ends without an event simply
//! drops out; with no source left, the runner waits for the root to quit.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::Poll;

use futures_core::Stream;
use futures_util::stream::{self, SelectAll, StreamExt};

use crate::handle::quitter::Quitter;
use crate::report::ExitReport;
use crate::report::{EventDetail, QuitCause};

/// A source's event: its index, detail and whether it is a failure.
type SourceEvent = (usize, Option<String>, bool);
type Source<'a> = Pin<Box<dyn Stream<Item = SourceEvent> + 'a>>;

/// Waits for the first quit source, quits the tree, waits for it up to a
/// deadline, and reports: go-quitter's main quitter and exit function.
///
/// Sources are futures (they fire once) or streams (every item is an
/// event). The first event, or a quit of the root by code, is the cause.
/// While the runner waits for the tree, a second event ends the wait at
/// once (`forced`, exit code 130) unless
/// [`force_on_second_event(false)`](Self::force_on_second_event). A source
/// that ends without an event drops out; with none left the runner waits
/// for the root to be quit by code.
#[must_use = "the runner does nothing until `run` is awaited"]
pub struct MainRunner<'a> {
    root: Quitter,
    labels: alloc::vec::Vec<Cow<'static, str>>,
    sources: SelectAll<Source<'a>>,
    force_on_second_event: bool,
    forced_exit_code: u8,
}

impl<'a> MainRunner<'a> {
    /// A runner for `root`, with no source yet.
    pub fn new(root: Quitter) -> Self {
        MainRunner {
            root,
            labels: alloc::vec::Vec::new(),
            sources: SelectAll::new(),
            force_on_second_event: true,
            forced_exit_code: 130,
        }
    }

    /// Adds a source that fires once, when `future` completes; its output
    /// becomes the cause's detail (an `Err` or `io::Error` output makes the
    /// cause a [failure](QuitCause::failure)). Sources are indexed in the
    /// order added.
    pub fn source<F>(self, label: impl Into<Cow<'static, str>>, future: F) -> Self
    where
        F: Future + 'a,
        F::Output: EventDetail,
    {
        self.stream_source(label, stream::once(future))
    }

    /// Adds a source that fires on every item of `stream` (a signal stream,
    /// say): the first item can be the cause, a later one forces the end.
    pub fn stream_source<S>(mut self, label: impl Into<Cow<'static, str>>, stream: S) -> Self
    where
        S: Stream + 'a,
        S::Item: EventDetail,
    {
        let index = self.labels.len();
        self.labels.push(label.into());
        self.sources.push(Box::pin(stream.map(move |item| {
            let failure = item.is_failure();
            (index, item.into_detail(), failure)
        })));
        self
    }

    /// Whether a second event ends the wait at once (default: `true`).
    pub fn force_on_second_event(mut self, force: bool) -> Self {
        self.force_on_second_event = force;
        self
    }

    /// The exit code of a forced end (default: 130, as after Ctrl-C).
    pub fn forced_exit_code(mut self, code: u8) -> Self {
        self.forced_exit_code = code;
        self
    }

    /// Runs the shutdown: waits for the first event, quits the root, calls
    /// `make_deadline` and waits for the tree until that future completes
    /// (or a second event forces the end), then reports.
    pub async fn run<D, M>(self, make_deadline: M) -> ExitReport
    where
        M: FnOnce() -> D,
        D: Future,
    {
        let MainRunner {
            root,
            labels,
            mut sources,
            force_on_second_event,
            forced_exit_code,
        } = self;

        // 1. The first event, or a quit by code.
        let event = {
            let mut quitted = pin!(root.quitted());
            poll_fn(|cx| {
                if quitted.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                match sources.poll_next_unpin(cx) {
                    Poll::Ready(Some(event)) => Poll::Ready(Some(event)),
                    // Every source ended (or there were none): only a quit
                    // by code is left to wait for, and `quitted` has
                    // registered for it.
                    Poll::Ready(None) | Poll::Pending => Poll::Pending,
                }
            })
            .await
        };
        if let Some((index, detail, failure)) = event {
            let label = labels.get(index).cloned().unwrap_or_default();
            let mut cause = QuitCause::new(label).with_index(index);
            cause.detail = detail;
            cause.failure = failure;
            root.quit_with(cause);
        }

        // 2. The wait for the tree, until the deadline or a second event.
        let mut forced = false;
        let done = {
            let mut done = root.done();
            let mut deadline = pin!(make_deadline());
            poll_fn(|cx| {
                if Pin::new(&mut done).poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                if force_on_second_event {
                    if let Poll::Ready(Some(_)) = sources.poll_next_unpin(cx) {
                        forced = true;
                        return Poll::Ready(false);
                    }
                }
                deadline.as_mut().poll(cx).map(|_| false)
            })
            .await
        };
        let done = done || root.is_done();
        let timed_out = if done {
            alloc::vec::Vec::new()
        } else {
            let hung = root.live_tasks();
            crate::trace::timed_out(&hung);
            hung.quitters
        };

        let report = ExitReport {
            cause: root
                .cause()
                .unwrap_or_else(|| QuitCause::new(QuitCause::REQUESTED)),
            timed_out,
            panicked: root.panics(),
            forced: forced && !done,
            forced_exit_code,
        };
        crate::trace::exit(&report);
        report
    }
}

impl core::fmt::Debug for MainRunner<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MainRunner")
            .field("root", &self.root)
            .field("sources", &self.labels)
            .field("force_on_second_event", &self.force_on_second_event)
            .field("forced_exit_code", &self.forced_exit_code)
            .finish()
    }
}
