//! Windows console control events as streams of event names, for
//! [`signals`](crate::signals) on Windows.
//!
//! `async-signal` listens only for `CTRL_C_EVENT` on Windows, so this
//! module registers its own handler with `SetConsoleCtrlHandler` and
//! forwards all five events: `CTRL_C`, `CTRL_BREAK`, `CTRL_CLOSE`,
//! `CTRL_LOGOFF` and `CTRL_SHUTDOWN`.
//!
//! It owns two process-wide statics: the flag that says [`handler`] is
//! registered with the OS, and the list of listeners (one channel sender
//! per [`listen`] call, with the events it wants) that the handler
//! forwards to.
//!
//! Invariants:
//! - [`handler`] is registered at most once per process, by the first
//!   successful [`listen`], and never unregistered; a failed registration
//!   is retried by the next [`listen`].
//! - The handler never holds a lock of this module while it blocks, and
//!   `SetConsoleCtrlHandler` is never called with the listener list
//!   locked, so the OS's handler thread and [`listen`] cannot deadlock.
//! - An event is *delivered* when at least one live listener wants it
//!   (a full channel counts: the listener has events pending, which are
//!   coalesced). A listener whose stream was dropped is removed at the
//!   next event.
//! - Undelivered (no live listener): the handler returns `FALSE` and the
//!   next handler runs, by default the OS's, which ends the process; so
//!   once the last stream is dropped, Ctrl-C kills the process again.
//! - Delivered `CTRL_C` or `CTRL_BREAK`: the handler returns `TRUE` and
//!   the process carries on.
//! - Delivered `CTRL_CLOSE`, `CTRL_LOGOFF` or `CTRL_SHUTDOWN`: Windows
//!   ends the process as soon as the handler returns, whatever it returns,
//!   so the handler does not return: its thread (a fresh one the OS
//!   created for the event) parks until the process exits. That lets the
//!   shutdown the stream's reader started run to its end and the program
//!   exit with its own report and code. The wait is bounded by the OS,
//!   not here: Windows terminates the process when its time for the event
//!   is up (by default 5 s for `CTRL_CLOSE`, 5 s for logoff and shutdown,
//!   20 s for a service at shutdown). A bound of ours could only end the
//!   process sooner, since returning is what ends it. This is what
//!   `tokio::signal::windows` does as well.

use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};

use quitter_core::SignalStream;
use smol::channel::{self, Sender, TrySendError};
use windows_sys::core::BOOL;
use windows_sys::Win32::System::Console::{
    SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT, CTRL_C_EVENT, CTRL_LOGOFF_EVENT,
    CTRL_SHUTDOWN_EVENT,
};

/// A console control event, as `HandlerRoutine` receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// `CTRL_C_EVENT`: Ctrl-C, or `GenerateConsoleCtrlEvent`.
    CtrlC,
    /// `CTRL_BREAK_EVENT`: Ctrl-Break, or `GenerateConsoleCtrlEvent`.
    CtrlBreak,
    /// `CTRL_CLOSE_EVENT`: the console was closed (its window, or End task).
    CtrlClose,
    /// `CTRL_LOGOFF_EVENT`: a user is logging off (services only).
    CtrlLogoff,
    /// `CTRL_SHUTDOWN_EVENT`: the system is shutting down (services only).
    CtrlShutdown,
}

impl Event {
    fn from_raw(raw: u32) -> Option<Event> {
        match raw {
            CTRL_C_EVENT => Some(Event::CtrlC),
            CTRL_BREAK_EVENT => Some(Event::CtrlBreak),
            CTRL_CLOSE_EVENT => Some(Event::CtrlClose),
            CTRL_LOGOFF_EVENT => Some(Event::CtrlLogoff),
            CTRL_SHUTDOWN_EVENT => Some(Event::CtrlShutdown),
            _ => None,
        }
    }

    /// The name a stream yields, as `quitter-tokio` names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Event::CtrlC => "CTRL_C",
            Event::CtrlBreak => "CTRL_BREAK",
            Event::CtrlClose => "CTRL_CLOSE",
            Event::CtrlLogoff => "CTRL_LOGOFF",
            Event::CtrlShutdown => "CTRL_SHUTDOWN",
        }
    }

    /// Whether Windows ends the process once the handler returns.
    fn terminates(self) -> bool {
        matches!(
            self,
            Event::CtrlClose | Event::CtrlLogoff | Event::CtrlShutdown
        )
    }
}

/// Events a listener holds before more of them are coalesced: more than a
/// hand can press before the reader runs.
const CAPACITY: usize = 16;

/// One [`listen`] call's stream, seen from the handler.
struct Listener {
    events: &'static [Event],
    sender: Sender<&'static str>,
}

/// Whether [`handler`] is registered with the OS. Never locked by it.
static REGISTERED: Mutex<bool> = Mutex::new(false);

/// Where the handler forwards events. Never locked across
/// `SetConsoleCtrlHandler` or while the handler blocks.
static LISTENERS: Mutex<Vec<Listener>> = Mutex::new(Vec::new());

/// A stream of the names of `events`, from now on.
///
/// # Errors
///
/// When `SetConsoleCtrlHandler` fails (the OS's error).
pub(crate) fn listen(events: &'static [Event]) -> io::Result<SignalStream> {
    register()?;
    let (sender, receiver) = channel::bounded(CAPACITY);
    lock(&LISTENERS).push(Listener { events, sender });
    let names: Vec<&'static str> = events.iter().map(|event| event.name()).collect();
    Ok(SignalStream::from_listener(&names, receiver))
}

/// Registers [`handler`] once per process.
fn register() -> io::Result<()> {
    let mut registered = lock(&REGISTERED);
    if !*registered {
        // SAFETY: `handler` has the `HandlerRoutine` signature and is a
        // `'static` function, valid for the whole life of the process
        // (it is never unregistered). It does not unwind into the OS: a
        // panic in it aborts. Adding a handler has no other precondition.
        #[allow(unsafe_code)]
        let ok = unsafe { SetConsoleCtrlHandler(Some(handler), 1) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        *registered = true;
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The lists stay consistent at every step, so a panic elsewhere while
    // holding them leaves nothing half done.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The `HandlerRoutine`: the OS calls it on a new thread of its own for
/// each console control event.
extern "system" fn handler(raw: u32) -> BOOL {
    // Unwinding into the OS's frames would be undefined behaviour.
    std::panic::catch_unwind(|| on_event(raw)).unwrap_or_else(|_| std::process::abort())
}

fn on_event(raw: u32) -> BOOL {
    let Some(event) = Event::from_raw(raw) else {
        return 0; // not ours: the next handler decides
    };
    if !forward(event) {
        return 0; // nobody listens: the default handler ends the process
    }
    if event.terminates() {
        // Returning would end the process now: hold it open while the
        // shutdown runs, until the program exits or the OS's time for this
        // event is up (see the module docs). No lock is held here.
        loop {
            std::thread::park();
        }
    }
    1
}

/// Sends `event`'s name to every live listener that wants it; drops the
/// listeners whose stream is gone. Whether one was sent (or had it
/// pending).
fn forward(event: Event) -> bool {
    let mut delivered = false;
    lock(&LISTENERS).retain(|listener| {
        if !listener.events.contains(&event) {
            return !listener.sender.is_closed();
        }
        match listener.sender.try_send(event.name()) {
            Ok(()) | Err(TrySendError::Full(_)) => {
                delivered = true;
                true
            }
            Err(TrySendError::Closed(_)) => false,
        }
    });
    delivered
}
