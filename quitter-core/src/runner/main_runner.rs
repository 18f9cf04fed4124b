//! The main runner: go-quitter's `NewMainQuitter` + exit function, without
//! a runtime.
//!
//! [`MainRunner`] waits for the first of its labelled quit sources (or for
//! the root to be quit by code), quits the root with that cause, then waits
//! for the tree until a caller-made deadline, and returns an
//! [`ExitReport`]. While it waits, a second event from any source ends the
//! wait at once (`forced`), unless that is turned off.
//!
//! With a lame duck, the first event puts the root into draining first,
//! and the quit comes after the delay, or at once on a second event.
//!
//! Sources are streams (a future is a one-item stream), kept by
//! [`Sources`](super::sources): a source that ends without an event simply
//! drops out; with no source left, the runner waits for the root to quit.
//! Only a stream source's later events count as a second (or third) event:
//! a one-shot source that completes after the first event (a server
//! future ending its own drain, say) is not asked to cut anything short.
//! Tree dump requests are served in every wait, and are never events.
//! This file is the builder; one run's steps are in `run`.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::rc::Rc;
use core::future::Future;
use core::pin::Pin;

use futures_core::Stream;
use futures_util::stream;

use super::phase::Phase;
use super::sources::Sources;
#[cfg(feature = "std")]
use super::watchers::deadline_with_progress;
use super::watchers::{NoBudgets, Observers};
use crate::handle::quitter::Quitter;
use crate::report::{EventDetail, ExitReport, TreeSnapshot};

pub(super) type Delay<'a> = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + 'a>> + 'a>;

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
    pub(super) root: Quitter,
    pub(super) sources: Sources<'a>,
    pub(super) lame_duck: Option<Delay<'a>>,
    pub(super) abort_grace: Option<Delay<'a>>,
    pub(super) force_on_second_event: bool,
    pub(super) forced_exit_code: u8,
    pub(super) observers: Observers<'a>,
    /// How often the wait after the quit takes a
    /// [`DrainProgress`](crate::DrainProgress) for the observers.
    #[cfg(feature = "std")]
    pub(super) progress_every: Option<core::time::Duration>,
}

impl<'a> MainRunner<'a> {
    /// A runner for `root`, with no source yet.
    pub fn new(root: Quitter) -> Self {
        MainRunner {
            root,
            sources: Sources::new(),
            lame_duck: None,
            abort_grace: None,
            force_on_second_event: true,
            forced_exit_code: 130,
            observers: Rc::default(),
            #[cfg(feature = "std")]
            progress_every: None,
        }
    }

    /// The root this runner shuts down.
    #[cfg(feature = "std")]
    pub(crate) fn root(&self) -> &Quitter {
        &self.root
    }

    /// Adds a source that fires once, when `future` completes; its output
    /// becomes the cause's detail (an `Err` or `io::Error` output makes the
    /// cause a [failure](crate::QuitCause::failure)). Sources are indexed in the
    /// order added.
    pub fn source<F>(self, label: impl Into<Cow<'static, str>>, future: F) -> Self
    where
        F: Future + 'a,
        F::Output: EventDetail,
    {
        self.push_source(label, stream::once(future), false)
    }

    /// Adds a source that fires on every item of `stream` (a signal stream,
    /// say): the first item can be the cause, a later one forces the end.
    pub fn stream_source<S>(self, label: impl Into<Cow<'static, str>>, stream: S) -> Self
    where
        S: Stream + 'a,
        S::Item: EventDetail,
    {
        self.push_source(label, stream, true)
    }

    fn push_source<S>(
        mut self,
        label: impl Into<Cow<'static, str>>,
        stream: S,
        repeats: bool,
    ) -> Self
    where
        S: Stream + 'a,
        S::Item: EventDetail,
    {
        self.sources.push(label.into(), stream, repeats);
        self
    }

    /// Every item of `requests` (a signal, say) hands `sink` a
    /// [`TreeSnapshot`] of the root while the run goes on (before and
    /// after the quit), without quitting anything: a dump on demand.
    pub fn dump_tree_on<S: Stream + 'a>(
        mut self,
        requests: S,
        sink: impl FnMut(&TreeSnapshot) + 'a,
    ) -> Self {
        self.sources.dump_on(requests, Box::new(sink));
        self
    }

    /// A lame duck before the quit: on the first event the root is put
    /// into [draining](Quitter::start_draining) (a readiness check answers
    /// "not ready", a server sends clients away), and the quit comes when
    /// `delay()` completes, or at once on a second event. Quit by code, the
    /// root skips it. Without one, the first event quits at once.
    pub fn lame_duck<D>(mut self, delay: impl FnOnce() -> D + 'a) -> Self
    where
        D: Future<Output = ()> + 'a,
    {
        self.lame_duck = Some(Box::new(move || Box::pin(delay()) as Pin<Box<_>>));
        self
    }

    /// At the deadline, [abort](Quitter::abort) what is left of the tree
    /// (it is made [abortable](Quitter::make_abortable) now, so call this
    /// before spawning), then wait for the aborted tasks to be dropped
    /// until `grace()` completes. The report lists them as aborted, and
    /// what could not be aborted as hung. A forced end does not abort.
    pub fn abort_on_timeout<D>(mut self, grace: impl FnOnce() -> D + 'a) -> Self
    where
        D: Future<Output = ()> + 'a,
    {
        self.root.make_abortable();
        self.abort_grace = Some(Box::new(move || Box::pin(grace()) as Pin<Box<_>>));
        self
    }

    /// Whether a second event ends the wait at once (default: `true`).
    /// Turned off, later events are taken and passed over: the sources
    /// are still polled (a one-shot source goes on to its end).
    pub fn force_on_second_event(mut self, force: bool) -> Self {
        self.force_on_second_event = force;
        self
    }

    /// The exit code of a forced end (default: 130, as after Ctrl-C).
    pub fn forced_exit_code(mut self, code: u8) -> Self {
        self.forced_exit_code = code;
        self
    }

    /// While [`run_timed`](Self::run_timed) waits for the tree after the
    /// quit, hands `report` a [`DrainProgress`](crate::DrainProgress)
    /// (what is left, where, the stages being stopped, the time left)
    /// every `every`, from `every` after the quit: a wait shorter than
    /// that reports nothing. (With another, shorter period asked for, see
    /// [`progress_every`](Self::progress_every), at that one.)
    #[cfg(feature = "std")]
    pub fn progress(
        self,
        every: core::time::Duration,
        mut report: impl FnMut(&crate::DrainProgress) + 'a,
    ) -> Self {
        self.progress_every(every).observe(move |phase| {
            if let Phase::Progress(progress) = phase {
                report(progress);
            }
        })
    }

    /// Takes a [`Phase::Progress`] every `every` while
    /// [`run_timed`](Self::run_timed) waits for the tree, for the
    /// observers (see [`observe`](Self::observe)). Asked more than once
    /// (here or by [`progress`](Self::progress)), the shortest period wins,
    /// for every observer.
    #[cfg(feature = "std")]
    pub fn progress_every(mut self, every: core::time::Duration) -> Self {
        self.progress_every = Some(self.progress_every.map_or(every, |was| was.min(every)));
        self
    }

    /// Hands `observer` each [`Phase`] of the run as it comes: `Running`
    /// when the run starts waiting, `Stopping` at the first event,
    /// `Quitting` at the quit, `Progress` while the tree is waited for
    /// (see [`progress`](Self::progress)), `Done` with the report.
    /// Observers are called in the order added, on the task that runs the
    /// shutdown: they must not block.
    pub fn observe(self, observer: impl FnMut(&Phase<'_>) + 'a) -> Self {
        self.observers.borrow_mut().push(Box::new(observer));
        self
    }

    /// Runs the shutdown: waits for the first event, runs the lame duck if
    /// there is one, quits the root, calls `make_deadline` and waits for
    /// the tree until that future completes (or another event forces the
    /// end), then reports.
    pub async fn run<D, M>(self, make_deadline: M) -> ExitReport
    where
        M: FnOnce() -> D,
        D: Future,
    {
        self.run_keeping(make_deadline, |_| NoBudgets).await
    }

    /// [`run`](Self::run) with a timer: the wait after the quit lasts at
    /// most `timeout` (`sleep(timeout)`), and the stage budgets of the
    /// tree are kept meanwhile (see [`Stage`](crate::Stage)):
    /// a stage that overruns its budget has the next one quit anyway. This
    /// is what the adapters' `Shutdown::run` calls with their runtime's
    /// timer.
    #[cfg(feature = "std")]
    pub async fn run_timed<S, T>(self, timeout: core::time::Duration, sleep: T) -> ExitReport
    where
        T: Fn(core::time::Duration) -> S,
        S: Future,
    {
        let sleep = &sleep;
        let progress = self
            .progress_every
            .map(|every| (every, self.observers.clone(), self.root.clone()));
        self.run_keeping(
            move || deadline_with_progress(sleep, timeout, progress),
            |root| crate::handle::budgets::StageBudgets::new(root.node().clone(), sleep, timeout),
        )
        .await
    }
}

impl core::fmt::Debug for MainRunner<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MainRunner")
            .field("root", &self.root)
            .field("sources", &self.sources.labels)
            .field("lame_duck", &self.lame_duck.is_some())
            .field("abort_on_timeout", &self.abort_grace.is_some())
            .field("force_on_second_event", &self.force_on_second_event)
            .field("forced_exit_code", &self.forced_exit_code)
            .finish()
    }
}
