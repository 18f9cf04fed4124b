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
//! Sources are streams (a future is a one-item stream), polled fairly by
//! `futures_util`'s `SelectAll`. A source that ends without an event simply
//! drops out; with no source left, the runner waits for the root to quit.
//! Only a stream source's later events count as a second (or third) event:
//! a one-shot source that completes after the first event (a server
//! future ending its own drain, say) is not asked to cut anything short.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::{self, SelectAll, StreamExt};

use crate::handle::quitter::Quitter;
use crate::report::{EventDetail, ExitReport, LameDuck, QuitCause};
use crate::tasks::meta::Started;

/// One event of a source.
struct SourceEvent {
    index: usize,
    detail: Option<String>,
    failure: bool,
    /// From a stream source, which can fire again: a later event of it is
    /// a second event (a one-shot source's is not).
    repeats: bool,
}

type Source<'a> = Pin<Box<dyn Stream<Item = SourceEvent> + 'a>>;
type Delay<'a> = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + 'a>> + 'a>;

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
    lame_duck: Option<Delay<'a>>,
    abort_grace: Option<Delay<'a>>,
    force_on_second_event: bool,
    forced_exit_code: u8,
    #[cfg(feature = "std")]
    progress: Option<Progress<'a>>,
}

/// What is done with each [`DrainProgress`](crate::DrainProgress).
#[cfg(feature = "std")]
pub(crate) type ProgressReport<'a> = Box<dyn FnMut(&crate::DrainProgress) + 'a>;

/// How often to take a [`DrainProgress`](crate::DrainProgress), and what
/// to do with it.
#[cfg(feature = "std")]
type Progress<'a> = (core::time::Duration, ProgressReport<'a>);

impl<'a> MainRunner<'a> {
    /// A runner for `root`, with no source yet.
    pub fn new(root: Quitter) -> Self {
        MainRunner {
            root,
            labels: alloc::vec::Vec::new(),
            sources: SelectAll::new(),
            lame_duck: None,
            abort_grace: None,
            force_on_second_event: true,
            forced_exit_code: 130,
            #[cfg(feature = "std")]
            progress: None,
        }
    }

    /// The root this runner shuts down.
    #[cfg(feature = "std")]
    pub(crate) fn root(&self) -> &Quitter {
        &self.root
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
        let index = self.labels.len();
        self.labels.push(label.into());
        self.sources
            .push(Box::pin(stream.map(move |item| SourceEvent {
                index,
                failure: item.is_failure(),
                detail: item.into_detail(),
                repeats,
            })));
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
    /// that reports nothing.
    #[cfg(feature = "std")]
    pub fn progress(
        mut self,
        every: core::time::Duration,
        report: impl FnMut(&crate::DrainProgress) + 'a,
    ) -> Self {
        self.progress = Some((every, Box::new(report)));
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
        let mut this = self;
        let progress = this.progress.take();
        let root = this.root.clone();
        this.run_keeping(
            move || deadline_with_progress(sleep, timeout, progress, root),
            |root| crate::handle::budgets::StageBudgets::new(root.node().clone(), sleep, timeout),
        )
        .await
    }

    async fn run_keeping<D, M, B>(
        self,
        make_deadline: M,
        make_budgets: impl FnOnce(&Quitter) -> B,
    ) -> ExitReport
    where
        M: FnOnce() -> D,
        D: Future,
        B: KeepBudgets,
    {
        let MainRunner {
            root,
            labels,
            mut sources,
            lame_duck,
            abort_grace,
            force_on_second_event,
            forced_exit_code,
            ..
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

        // The timeline's origin.
        let first_event = Started::now();

        // 2. The lame duck: draining until the delay, a second event, or a
        // quit by code.
        let mut lame_duck_report = None;
        if let (Some(_), Some(delay)) = (&event, lame_duck) {
            root.start_draining();
            let started = Started::now();
            let mut delay = delay();
            let mut quitted = pin!(root.quitted());
            let cut_short = poll_fn(|cx| {
                if delay.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(false);
                }
                if quitted.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                poll_second_event(&mut sources, cx).map(|()| true)
            })
            .await;
            lame_duck_report = Some(LameDuck {
                lasted: started.age(),
                cut_short,
            });
        }
        if let Some(event) = event {
            let label = labels.get(event.index).cloned().unwrap_or_default();
            let mut cause = QuitCause::new(label).with_index(event.index);
            cause.detail = event.detail;
            cause.failure = event.failure;
            root.quit_with(cause);
        }
        let mut budgets = make_budgets(&root);

        // 3. The wait for the tree, until the deadline or another event.
        let mut forced = false;
        let done = {
            let mut done = root.done();
            let mut deadline = pin!(make_deadline());
            poll_fn(|cx| {
                if Pin::new(&mut done).poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                budgets.keep(cx);
                if force_on_second_event && poll_second_event(&mut sources, cx).is_ready() {
                    forced = true;
                    return Poll::Ready(false);
                }
                deadline.as_mut().poll(cx).map(|_| false)
            })
            .await
        };
        let mut done = done || root.is_done();
        // 4. At the deadline, the abort: drop what is left, then wait a
        // grace for it to go.
        if let (false, false, Some(grace)) = (done, forced, abort_grace) {
            root.abort();
            let mut done_now = root.done();
            let mut grace = grace();
            done = poll_fn(|cx| {
                if Pin::new(&mut done_now).poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                if force_on_second_event && poll_second_event(&mut sources, cx).is_ready() {
                    forced = true;
                    return Poll::Ready(false);
                }
                grace.as_mut().poll(cx).map(|()| false)
            })
            .await
                || root.is_done();
        }
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
            lame_duck: lame_duck_report,
            stages: root.stage_timeline(first_event),
            timed_out,
            panicked: root.panics(),
            aborted: root.aborted(),
            forced: forced && !done,
            forced_exit_code,
        };
        crate::trace::exit(&report);
        report
    }
}

/// What the wait after the quit runs beside it to keep stage budgets.
trait KeepBudgets {
    fn keep(&mut self, cx: &mut Context<'_>);
}

/// No timer, no budgets: stages move on only when done.
struct NoBudgets;

impl KeepBudgets for NoBudgets {
    fn keep(&mut self, _: &mut Context<'_>) {}
}

#[cfg(feature = "std")]
impl<T: crate::handle::budgets::Timer> KeepBudgets for crate::handle::budgets::StageBudgets<'_, T> {
    fn keep(&mut self, cx: &mut Context<'_>) {
        let _ = self.poll(cx);
    }
}

/// Ready on the next event of a stream source; a one-shot source that
/// completes meanwhile is passed over (see the module docs).
fn poll_second_event(sources: &mut SelectAll<Source<'_>>, cx: &mut Context<'_>) -> Poll<()> {
    loop {
        match sources.poll_next_unpin(cx) {
            Poll::Ready(Some(event)) if event.repeats => return Poll::Ready(()),
            Poll::Ready(Some(_)) => continue,
            // No source left: nothing more can come.
            Poll::Ready(None) | Poll::Pending => return Poll::Pending,
        }
    }
}

impl core::fmt::Debug for MainRunner<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MainRunner")
            .field("root", &self.root)
            .field("sources", &self.labels)
            .field("lame_duck", &self.lame_duck.is_some())
            .field("abort_on_timeout", &self.abort_grace.is_some())
            .field("force_on_second_event", &self.force_on_second_event)
            .field("forced_exit_code", &self.forced_exit_code)
            .finish()
    }
}

/// `sleep(timeout)`, taking a [`DrainProgress`](crate::DrainProgress) of
/// `root` every so often meanwhile, if asked to.
#[cfg(feature = "std")]
async fn deadline_with_progress<S: Future>(
    sleep: &impl Fn(core::time::Duration) -> S,
    timeout: core::time::Duration,
    progress: Option<Progress<'_>>,
    root: Quitter,
) {
    let mut deadline = pin!(sleep(timeout));
    let Some((every, mut report)) = progress else {
        deadline.await;
        return;
    };
    let quit_at = std::time::Instant::now();
    loop {
        let mut tick = pin!(sleep(every));
        let over = poll_fn(|cx| {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            tick.as_mut().poll(cx).map(|_| false)
        })
        .await;
        if over {
            return;
        }
        let waited = quit_at.elapsed();
        let since = Started::now();
        let stages = root
            .stage_timeline(since)
            .into_iter()
            .filter(|stage| stage.quit && !stage.done)
            .collect();
        report(&crate::DrainProgress {
            waited,
            left: timeout.saturating_sub(waited),
            tasks: root.live_tasks(),
            stages,
        });
    }
}
