//! [`Shutdown`]: the [`MainRunner`] with a runtime's timer and the process's
//! shutdown signals, so that `main` is a few lines. The runtime adapters
//! supply a [`Runtime`] and name `Shutdown<'a, TheirRuntime>` `Shutdown`.
//!
//! Invariants:
//! - [`Shutdown::signals`] installs the handlers when it is called (so no
//!   signal is missed between setup and `run`), and holds the process-wide
//!   [`SignalClaim`] until `run` returns or the `Shutdown` is dropped: a
//!   second installation meanwhile, by either adapter, is
//!   [`SignalError::AlreadyClaimed`], not a panic;
//! - `run` quits the root on the first event, waits at most the timeout
//!   (the runtime's timer, started at the quit) for the tree, and ends at
//!   once on a second event (`forced`), by default.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::format;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::time::Duration;
use std::io;

use futures_core::Stream;

use super::main_runner::MainRunner;
use super::phase::Phase;
use super::signals::{SignalClaim, SignalError, SignalsAlreadyClaimed};
use crate::handle::quitter::Quitter;
use crate::report::{DrainProgress, EventDetail, ExitReport};

/// Where [`Shutdown::on_progress`] sends the drain's progress.
type ProgressSink<'a> = Box<dyn FnMut(&DrainProgress) + 'a>;

/// What a runtime adapter supplies to [`Shutdown`]: a timer, and the
/// process's shutdown signals as a stream of signal names.
pub trait Runtime {
    /// The timer future.
    type Sleep: Future;
    /// The shutdown signals (SIGINT and SIGTERM, or the Windows console
    /// events), each item the signal's name, e.g. `"SIGTERM"`.
    type Signals: Stream<Item = &'static str> + 'static;

    /// A timer that fires after `duration`.
    fn sleep(duration: Duration) -> Self::Sleep;

    /// Installs the handlers of the shutdown signals.
    ///
    /// # Errors
    ///
    /// When the runtime or the OS refuses.
    fn shutdown_signals() -> io::Result<Self::Signals>;

    /// Installs the handler of the signal that asks for a tree dump
    /// (SIGUSR1 on unix). A platform without one returns
    /// [`SignalStream::never`](crate::SignalStream::never): the dump is
    /// then only [`Quitter::snapshot`].
    ///
    /// # Errors
    ///
    /// When the runtime or the OS refuses. This default implementation
    /// always fails with `Unsupported` (a runtime without the signal).
    fn tree_dump_signals() -> io::Result<Self::Signals> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this runtime has no tree dump signal",
        ))
    }
}

/// Runs a program's shutdown on runtime `R`: waits for the first quit
/// source, quits the root, waits for the tree up to a timeout, and returns
/// the [`ExitReport`].
///
/// Use it through an adapter, which names it `Shutdown`:
///
/// ```ignore
/// let report = quitter_tokio::Shutdown::new(root)
///     .timeout(Duration::from_secs(5))
///     .signals()?                               // "OS interrupt/termination signal"
///     .source("HTTP server error", server_error) // an error here is a failure: exit 1
///     .run()
///     .await;
/// report.exit() // prints the report, exits with its code
/// ```
#[must_use = "the shutdown does nothing until `run` is awaited"]
pub struct Shutdown<'a, R> {
    runner: MainRunner<'a>,
    timeout: Duration,
    lame_duck: Duration,
    abort_grace: Option<Duration>,
    claim: Option<SignalClaim>,
    /// How often to report the drain's progress (`None`: never), and
    /// where to (`None`: [`trace::drain_progress`](crate::trace)).
    progress_every: Option<Duration>,
    on_progress: Option<ProgressSink<'a>>,
    /// Speak systemd's notify protocol (feature `systemd`).
    #[cfg(feature = "systemd")]
    systemd: bool,
    runtime: PhantomData<fn() -> R>,
}

impl<'a, R: Runtime> Shutdown<'a, R> {
    /// The quit timeout unless [`timeout`](Self::timeout) sets another.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// How often the drain's progress is reported unless
    /// [`progress_every`](Self::progress_every) says otherwise.
    pub const DEFAULT_PROGRESS_EVERY: Duration = Duration::from_secs(1);

    /// The label [`signals`](Self::signals) gives its source.
    pub const SIGNAL_SOURCE: &'static str = "OS interrupt/termination signal";

    /// A shutdown of the tree under `root`, with no source yet and the
    /// [default timeout](Self::DEFAULT_TIMEOUT). With no source, it waits
    /// for the root to be quit by code.
    pub fn new(root: Quitter) -> Self {
        Shutdown {
            runner: MainRunner::new(root),
            timeout: Self::DEFAULT_TIMEOUT,
            lame_duck: Duration::ZERO,
            abort_grace: None,
            claim: None,
            progress_every: Some(Self::DEFAULT_PROGRESS_EVERY),
            on_progress: None,
            #[cfg(feature = "systemd")]
            systemd: false,
            runtime: PhantomData,
        }
    }

    /// Hands `observer` each [`Phase`] of the run as it comes (`Running`,
    /// `Stopping`, `Quitting`, `Progress` at each tick, `Aborting`,
    /// `Done`): a status page, a log, a service manager of your own. The
    /// ticks come every [`progress_every`](Self::progress_every), and
    /// with [`systemd`](Self::systemd) also when the progress lines are
    /// off (then every second). It runs on the shutdown's task: it must
    /// not block.
    pub fn observe(mut self, observer: impl FnMut(&Phase<'_>) + 'a) -> Self {
        self.runner = self.runner.observe(observer);
        self
    }

    /// Speak systemd's notify protocol when the process runs under
    /// systemd (`Type=notify`: `$NOTIFY_SOCKET` is set; nothing is sent
    /// otherwise, nor off unix): `READY=1` when `run` starts waiting (call
    /// it once the listeners are bound), `STOPPING=1` at the first event,
    /// `STATUS=` lines as the stop goes on (the cause, the lame duck, the
    /// tasks left, the [progress](Self::progress_every)), and
    /// `EXTEND_TIMEOUT_USEC=` while the drain makes progress, so a long
    /// but moving drain is not killed at `TimeoutStopSec`. See
    /// [`systemd::Notifier`](crate::systemd::Notifier) for what is sent
    /// when.
    ///
    /// The timeout extensions come with the progress ticks (every second
    /// by default, also when the progress lines are turned off with
    /// `progress_every(None)`), each for three ticks.
    #[cfg(feature = "systemd")]
    pub fn systemd(mut self) -> Self {
        self.systemd = true;
        self
    }

    /// While the wait after the quit goes on, a line saying what is left
    /// (tasks per quitter, the stages being stopped, the time left) every
    /// `every` (default: [a second](Self::DEFAULT_PROGRESS_EVERY)), from
    /// `every` after the quit: on stderr, or an INFO event with the
    /// `tracing` feature. `None` turns it off.
    pub fn progress_every(mut self, every: Option<Duration>) -> Self {
        self.progress_every = every;
        self
    }

    /// Where the progress goes instead of stderr (or `tracing`): a status
    /// line, a service manager (see [`progress_every`](Self::progress_every)).
    pub fn on_progress(mut self, report: impl FnMut(&DrainProgress) + 'a) -> Self {
        self.on_progress = Some(Box::new(report));
        self
    }

    /// How long to wait for the tree after the quit.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// A lame duck of `delay` before the quit: on the first event the root
    /// is put into [draining](Quitter::start_draining) (readiness answers
    /// 503, a server sends clients away while it still serves), and the
    /// quit comes after `delay`, or at once on a second signal (a third
    /// then forces the end). Zero (the default) quits at once. The
    /// [timeout](Self::timeout) counts from the quit.
    pub fn lame_duck(mut self, delay: Duration) -> Self {
        self.lame_duck = delay;
        self
    }

    /// At the [timeout](Self::timeout), abort what is left of the tree and
    /// wait at most `grace` more for the aborted tasks to be dropped: each
    /// task spawned by the adapter's `spawn` is cancelled (tokio's
    /// `JoinHandle` says `is_cancelled`) and the report lists it as
    /// aborted; what cannot be aborted (`spawn_blocking`, a `TaskGuard`)
    /// stays listed as hung. Makes the root [abortable](Quitter::make_abortable)
    /// now: call it before spawning. Aborted tasks make the exit code 1.
    ///
    /// For one stage, see [`Stage::abort_on_overrun`](crate::Stage::abort_on_overrun).
    pub fn abort_on_timeout(mut self, grace: Duration) -> Self {
        self.runner.root().make_abortable();
        self.abort_grace = Some(grace);
        self
    }

    /// Adds a source that fires once, when `future` completes; its output
    /// (`()`, a string, an error, a `Result`, …) is the cause's detail, and
    /// an error makes the cause a [failure](crate::QuitCause::failure).
    ///
    /// Completing is the event: a channel's `recv()` that fails because
    /// every sender was dropped fires too; wait forever in that case if it
    /// is not a reason to quit.
    pub fn source<F>(mut self, label: impl Into<Cow<'static, str>>, future: F) -> Self
    where
        F: Future + 'a,
        F::Output: EventDetail,
    {
        self.runner = self.runner.source(label, future);
        self
    }

    /// Adds a source that fires on every item of `stream`: the first can be
    /// the cause, a later one forces the end of the wait.
    pub fn stream_source<S>(mut self, label: impl Into<Cow<'static, str>>, stream: S) -> Self
    where
        S: Stream + 'a,
        S::Item: EventDetail,
    {
        self.runner = self.runner.stream_source(label, stream);
        self
    }

    /// Installs the process's shutdown signal handlers
    /// ([`Runtime::shutdown_signals`]) as the source
    /// [`SIGNAL_SOURCE`](Self::SIGNAL_SOURCE); the signal's name is the
    /// cause's detail.
    ///
    /// # Errors
    ///
    /// [`SignalError::AlreadyClaimed`] if another `Shutdown` (of either
    /// adapter) holds the process's signals; [`SignalError::Install`] if
    /// the runtime or the OS refuses. Nothing is held after an error.
    pub fn signals(self) -> Result<Self, SignalError> {
        self.signals_as(Self::SIGNAL_SOURCE)
    }

    /// [`signals`](Self::signals) with another label.
    ///
    /// # Errors
    ///
    /// As [`signals`](Self::signals).
    pub fn signals_as(mut self, label: impl Into<Cow<'static, str>>) -> Result<Self, SignalError> {
        if self.claim.is_some() {
            return Err(SignalError::AlreadyClaimed(SignalsAlreadyClaimed));
        }
        let claim = SignalClaim::acquire()?;
        let stream = R::shutdown_signals()?;
        self.claim = Some(claim);
        self.runner = self.runner.stream_source(label, stream);
        Ok(self)
    }

    /// A dump of the live tree on demand: each time the process gets
    /// SIGUSR1 ([`Runtime::tree_dump_signals`]) while `run` goes on,
    /// before or during the drain, the tree as it stands
    /// ([`Quitter::snapshot`]: each quitter's path and state, each task's
    /// name, spawn location and age, a served request's method and path)
    /// is printed to stderr, or sent as a `tracing` INFO event with that
    /// feature. Nothing is quit. Like Go's SIGQUIT goroutine dump, of the
    /// quit tree. Opt-in: SIGUSR1's default action ends the process (and
    /// once the handler is installed, a SIGUSR1 after `run` returned is
    /// ignored). Off unix there is no such signal, and nothing happens:
    /// [`Quitter::snapshot`] is the dump there.
    ///
    /// # Errors
    ///
    /// [`SignalError::Install`] if the handler cannot be installed.
    pub fn dump_tree_on_signal(mut self) -> Result<Self, SignalError> {
        let requests = R::tree_dump_signals().map_err(|error| {
            io::Error::new(error.kind(), format!("the tree dump signal: {error}"))
        })?;
        self.runner = self.runner.dump_tree_on(requests, crate::trace::tree_dump);
        Ok(self)
    }

    /// Whether a second event ends the wait at once (default: `true`).
    /// Turned off, later events are taken and passed over: the sources
    /// are still polled (a one-shot source goes on to its end).
    pub fn force_on_second_event(mut self, force: bool) -> Self {
        self.runner = self.runner.force_on_second_event(force);
        self
    }

    /// The exit code of a forced end (default: 130, as after Ctrl-C).
    pub fn forced_exit_code(mut self, code: u8) -> Self {
        self.runner = self.runner.forced_exit_code(code);
        self
    }

    /// Waits for the first event (or a quit by code), drains for the lame
    /// duck if there is one, quits the root, waits for the tree until the
    /// timeout (or another event), and reports.
    /// Releases the signal claim when it returns.
    pub async fn run(self) -> ExitReport {
        let Shutdown {
            mut runner,
            timeout,
            lame_duck,
            abort_grace,
            claim,
            progress_every,
            on_progress,
            #[cfg(feature = "systemd")]
            systemd,
            ..
        } = self;
        if let Some(every) = progress_every {
            runner = match on_progress {
                Some(report) => runner.progress(every, report),
                None => runner.progress(every, crate::trace::drain_progress),
            };
        }
        #[cfg(feature = "systemd")]
        if systemd {
            let tick = progress_every.unwrap_or(Self::DEFAULT_PROGRESS_EVERY);
            let keep_alive = tick * 3;
            let notifier = super::systemd::Notifier::from_env(lame_duck, keep_alive)
                .map(|notifier| notifier.abort_grace(abort_grace.unwrap_or_default()));
            if let Some(mut notifier) = notifier {
                runner = runner
                    .progress_every(tick)
                    .observe(move |phase| notifier.observe(phase));
            }
        }
        if !lame_duck.is_zero() {
            runner = runner.lame_duck(move || async move {
                R::sleep(lame_duck).await;
            });
        }
        if let Some(grace) = abort_grace {
            runner = runner.abort_on_timeout(move || async move {
                R::sleep(grace).await;
            });
        }
        let report = runner.run_timed(timeout, R::sleep).await;
        drop(claim);
        report
    }
}

impl<R> fmt::Debug for Shutdown<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("runner", &self.runner)
            .field("timeout", &self.timeout)
            .field("lame_duck", &self.lame_duck)
            .field("abort_on_timeout", &self.abort_grace)
            .field("signals", &self.claim.is_some())
            .field("progress_every", &self.progress_every)
            .finish()
    }
}
