//! [`Notifier`]: systemd's notify protocol (`sd_notify(3)`), spoken by a
//! shutdown run as it moves: an observer of its [`Phase`]s.
//!
//! What is sent, in order (each row one datagram):
//!
//! | phase | message |
//! |---|---|
//! | `Running` | `READY=1`, `STATUS=Running` |
//! | `Stopping` | `STOPPING=1`, `STATUS=Stopping: …` (the cause; the lame duck), and with a lame duck `EXTEND_TIMEOUT_USEC=` its length plus the keep-alive |
//! | `Quitting` | `STATUS=Quitting: N task(s) left`, `EXTEND_TIMEOUT_USEC=` the keep-alive |
//! | `Progress` | `STATUS=` the progress line, and `EXTEND_TIMEOUT_USEC=` the keep-alive only if fewer tasks are left, or less holds the tree open (tasks and idle task tables), than ever at an extension |
//! | `Aborting` | `STATUS=Aborting: …`, `EXTEND_TIMEOUT_USEC=` the abort's grace plus the keep-alive |
//! | `Done` | `STATUS=` the report's headline |
//!
//! `EXTEND_TIMEOUT_USEC=N` tells systemd that the next message comes
//! within N µs from now: once the stop has lasted longer than
//! `TimeoutStopSec`, systemd kills the service only when such a promise
//! runs out. It is re-sent only while the drain makes progress (fewer
//! tasks are left, or less holds the tree open: an idle task table
//! dropped), so a long but moving drain is not killed, and a stuck one
//! is, a keep-alive after its last progress (if that is past
//! `TimeoutStopSec`).
//!
//! Invariants: a notifier exists only where `$NOTIFY_SOCKET` names a
//! usable address when it is made (and only on unix); a message that
//! cannot be sent is dropped (systemd acts on what it does not hear: a
//! missing `READY=1` is a failed start), never an error of the shutdown,
//! and the first such failure is said once (`trace`); a status is one line.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use super::phase::Phase;

/// Speaks systemd's notify protocol for a shutdown run (see the module
/// docs for what is sent when). Made by the adapters' `Shutdown::systemd`;
/// [`observe`](Self::observe) is its observer.
#[derive(Debug)]
pub struct Notifier {
    lame_duck: Duration,
    keep_alive: Duration,
    abort_grace: Duration,
    /// The least left at an extension so far, each count apart.
    least_left: Option<Left>,
    #[cfg(unix)]
    socket: super::notify_socket::NotifySocket,
    /// A send failed already (said once).
    #[cfg(unix)]
    failed: bool,
}

/// One line of a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Line {
    Ready,
    Stopping,
    Status(String),
    ExtendTimeout(Duration),
}

impl Notifier {
    /// A notifier if `$NOTIFY_SOCKET` is set (the process runs under
    /// systemd with `Type=notify`), else `None`. `lame_duck` is the
    /// shutdown's lame duck; `keep_alive` how long systemd is told to
    /// wait for the next sign of progress. An address that cannot be used
    /// is said once (`trace`), and no notifier is made.
    pub fn from_env(lame_duck: Duration, keep_alive: Duration) -> Option<Notifier> {
        #[cfg(unix)]
        return match super::notify_socket::NotifySocket::from_env()? {
            Ok(socket) => Some(Notifier {
                lame_duck,
                keep_alive,
                abort_grace: Duration::ZERO,
                least_left: None,
                socket,
                failed: false,
            }),
            Err(error) => {
                crate::trace::notify_failed(&error);
                None
            }
        };
        #[cfg(not(unix))]
        {
            let _ = (lame_duck, keep_alive);
            None
        }
    }

    /// How long an abort at the deadline waits for what it aborted (the
    /// shutdown's `abort_on_timeout` grace): systemd is told to wait that
    /// much more, with the keep-alive.
    pub fn abort_grace(mut self, grace: Duration) -> Self {
        self.abort_grace = grace;
        self
    }

    /// Sends what `phase` means to systemd.
    pub fn observe(&mut self, phase: &Phase<'_>) {
        let lines = self.lines(phase);
        if lines.is_empty() {
            return;
        }
        let message = Line::message(&lines);
        #[cfg(unix)]
        if let Err(error) = self.socket.send(&message) {
            if !core::mem::replace(&mut self.failed, true) {
                crate::trace::notify_failed(&error);
            }
        }
        // Off unix no notifier is made (`from_env`): nothing to send to.
        #[cfg(not(unix))]
        drop(message);
    }

    fn lines(&mut self, phase: &Phase<'_>) -> Vec<Line> {
        match phase {
            Phase::Running => alloc::vec![Line::Ready, Line::Status("Running".into())],
            Phase::Stopping {
                cause, lame_duck, ..
            } => {
                let mut status = format!("Stopping: quit from {cause}");
                let mut lines = alloc::vec![Line::Stopping];
                if *lame_duck {
                    status += &format!(", draining for {:?} first (lame duck)", self.lame_duck);
                    lines.push(Line::ExtendTimeout(self.lame_duck + self.keep_alive));
                }
                lines.insert(1, Line::Status(status));
                lines
            }
            Phase::Quitting { root, .. } => {
                let left = Left::of(&root.live_tasks());
                self.least_left = Some(left);
                alloc::vec![
                    Line::Status(format!("Quitting: {} task(s) left", left.tasks)),
                    Line::ExtendTimeout(self.keep_alive),
                ]
            }
            Phase::Progress(progress) => {
                let left = Left::of(&progress.tasks);
                let mut lines = alloc::vec![Line::Status(progress.to_string())];
                if left.fell_below(self.least_left) {
                    self.least_left = Some(self.least_left.map_or(left, |least| least.min(left)));
                    lines.push(Line::ExtendTimeout(self.keep_alive));
                }
                lines
            }
            Phase::Aborting { root, .. } => {
                let tasks = root.live_tasks().task_count();
                alloc::vec![
                    Line::Status(format!(
                        "Aborting at the deadline: {tasks} task(s) left, {:?} for them to go",
                        self.abort_grace
                    )),
                    Line::ExtendTimeout(self.abort_grace + self.keep_alive),
                ]
            }
            Phase::Done(report) => alloc::vec![Line::Status(report.headline().into())],
        }
    }
}

/// What is left of a drain, as the timeout extensions count it. A task
/// table's last row ending makes the table idle (one task fewer, the same
/// holds); the table dropped then holds nothing (the same tasks, one hold
/// fewer): each is progress, each seen by one count.
#[derive(Clone, Copy, Debug)]
struct Left {
    /// Tasks (named, and not polled yet).
    tasks: usize,
    /// What holds the tree open: the tasks, and idle task tables (each
    /// holds its quitter until dropped).
    holds: usize,
}

impl Left {
    fn of(report: &crate::TimeoutReport) -> Left {
        let tasks = report.task_count();
        let idle_tables: usize = report.quitters.iter().map(|q| q.idle_tables).sum();
        Left {
            tasks,
            holds: tasks + idle_tables,
        }
    }

    /// Either count is below its least so far (or there is none yet).
    fn fell_below(self, least: Option<Left>) -> bool {
        least.map_or(true, |least| {
            self.tasks < least.tasks || self.holds < least.holds
        })
    }

    /// The lesser of each count.
    fn min(self, other: Left) -> Left {
        Left {
            tasks: self.tasks.min(other.tasks),
            holds: self.holds.min(other.holds),
        }
    }
}

impl Line {
    /// One datagram's text: every line, in order.
    fn message(lines: &[Line]) -> String {
        let mut message = String::new();
        for line in lines {
            line.write(&mut message);
        }
        message
    }

    /// The line, `VARIABLE=value\n`.
    fn write(&self, message: &mut String) {
        use core::fmt::Write;
        let _ = match self {
            Line::Ready => message.write_str("READY=1\n"),
            Line::Stopping => message.write_str("STOPPING=1\n"),
            // A newline would end the assignment early.
            Line::Status(status) => {
                writeln!(message, "STATUS={}", status.lines().next().unwrap_or(""))
            }
            Line::ExtendTimeout(by) => writeln!(message, "EXTEND_TIMEOUT_USEC={}", by.as_micros()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::QuitCause;

    fn notifier() -> Notifier {
        Notifier {
            lame_duck: Duration::from_secs(2),
            keep_alive: Duration::from_secs(3),
            abort_grace: Duration::from_secs(1),
            least_left: None,
            #[cfg(unix)]
            socket: unused_socket(),
            #[cfg(unix)]
            failed: false,
        }
    }

    #[cfg(unix)]
    fn unused_socket() -> crate::runner::notify_socket::NotifySocket {
        crate::runner::notify_socket::NotifySocket::new(std::ffi::OsStr::new("/nonexistent"))
            .unwrap()
    }

    /// A progress tick of `root`'s drain, one second in, nine left.
    fn progress(root: &crate::Quitter) -> crate::DrainProgress {
        crate::DrainProgress {
            waited: Duration::from_secs(1),
            left: Duration::from_secs(9),
            tasks: root.live_tasks(),
            stages: Vec::new(),
        }
    }

    #[test]
    fn the_quit_progress_and_done_say_what_is_left_and_extend_only_on_progress() {
        use crate::Quitter;
        let root = Quitter::new("main");
        let a = root.track("a").unwrap();
        let b = root.track("b").unwrap();
        let mut notifier = notifier();
        let quitting = Line::message(&notifier.lines(&Phase::Quitting { root: &root }));
        assert_eq!(
            quitting,
            "STATUS=Quitting: 2 task(s) left\nEXTEND_TIMEOUT_USEC=3000000\n"
        );
        // Two left, as at the last extension: no extension.
        let still = Line::message(&notifier.lines(&Phase::Progress(&progress(&root))));
        assert!(
            still.starts_with("STATUS=Shutting down: 2 task(s) left"),
            "{still}"
        );
        assert!(!still.contains("EXTEND_TIMEOUT_USEC"), "{still}");
        drop(a);
        let moved = Line::message(&notifier.lines(&Phase::Progress(&progress(&root))));
        assert!(
            moved.ends_with("\nEXTEND_TIMEOUT_USEC=3000000\n"),
            "{moved}"
        );
        let aborting = Line::message(&notifier.lines(&Phase::Aborting { root: &root }));
        assert!(
            aborting.starts_with("STATUS=Aborting at the deadline: 1 task(s) left"),
            "{aborting}"
        );
        assert!(
            aborting.ends_with("\nEXTEND_TIMEOUT_USEC=4000000\n"),
            "{aborting}"
        );
        drop(b);
    }

    /// An idle task table dropped is progress too: it held the quit.
    #[test]
    fn a_dropped_idle_task_table_extends_the_timeout() {
        use crate::Quitter;
        let root = Quitter::new("main");
        let task = root.track("task").unwrap();
        let jobs = root.child("jobs").unwrap();
        let table = jobs.task_table().unwrap();
        let mut notifier = notifier();
        let quitting = Line::message(&notifier.lines(&Phase::Quitting { root: &root }));
        assert!(quitting.starts_with("STATUS=Quitting: 1 task(s) left\n"));
        let still = Line::message(&notifier.lines(&Phase::Progress(&progress(&root))));
        assert!(!still.contains("EXTEND_TIMEOUT_USEC"), "{still}");
        drop(table);
        let moved = Line::message(&notifier.lines(&Phase::Progress(&progress(&root))));
        assert!(
            moved.starts_with("STATUS=Shutting down: 1 task(s) left"),
            "{moved}"
        );
        assert!(
            moved.ends_with("\nEXTEND_TIMEOUT_USEC=3000000\n"),
            "{moved}"
        );
        drop(task);
    }

    /// A table's last row ending (the table kept, now idle) is progress:
    /// one task fewer, though as much holds the tree open.
    #[test]
    fn a_table_row_ending_extends_the_timeout() {
        use crate::Quitter;
        let root = Quitter::new("main");
        let table = root.task_table().unwrap();
        let row = table.start(["GET /slow"]);
        let mut notifier = notifier();
        let quitting = Line::message(&notifier.lines(&Phase::Quitting { root: &root }));
        assert!(quitting.starts_with("STATUS=Quitting: 1 task(s) left\n"));
        drop(row);
        let moved = Line::message(&notifier.lines(&Phase::Progress(&progress(&root))));
        assert!(
            moved.starts_with("STATUS=Shutting down: 0 task(s) left"),
            "{moved}"
        );
        assert!(
            moved.ends_with("\nEXTEND_TIMEOUT_USEC=3000000\n"),
            "{moved}"
        );
        drop(table);
    }

    #[test]
    fn stopping_with_a_lame_duck_extends_by_it_and_the_keep_alive() {
        let cause = QuitCause::new("OS interrupt/termination signal");
        let lines = notifier().lines(&Phase::Stopping {
            cause: &cause,
            lame_duck: true,
        });
        assert_eq!(lines[0], Line::Stopping);
        assert!(matches!(&lines[1], Line::Status(s) if s.contains("lame duck")));
        assert_eq!(lines[2], Line::ExtendTimeout(Duration::from_secs(5)));
        assert!(Line::message(&lines)
            .starts_with("STOPPING=1\nSTATUS=Stopping: quit from 'OS interrupt"));
    }
}
