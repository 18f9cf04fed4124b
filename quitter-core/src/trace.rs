//! Observability (feature `tracing`, off by default): a span per quitter and
//! events for what a shutdown operator wants to see. Without the feature
//! every hook here is an empty inline function and `NodeSpan` is zero-sized.
//!
//! | what | level | where |
//! |---|---|---|
//! | a quitter is quit (first time, where `quit` was called), with the cause | INFO | `Node::quit` |
//! | a quitter is done | DEBUG | `Node::became_done` |
//! | a task panicked, with its message | ERROR | `Node::record_panic` |
//! | a task did not return in time, with path, location and age | WARN | timed joins |
//! | the final exit report | INFO if clean, WARN otherwise | `MainRunner::run` |
//! | a shutdown's drain progress, once a second (`Shutdown`'s default) | INFO | [`drain_progress`] |
//! | a tree dump asked for by a signal (`Shutdown::dump_tree_on_signal`) | INFO | [`tree_dump`] |
//! | a systemd notification that could not be sent (the first) | WARN | [`notify_failed`] |
//!
//! Events are emitted inside the quitter's span (`quitter{name=…}`, nested
//! like the tree) and also carry the full path where it is cheap to have.

use crate::report::QuitCause;
use crate::report::{AbortedTask, ExitReport, TaskPanic, TimeoutReport};

/// The quitter's span; zero-sized without the `tracing` feature.
pub(crate) struct NodeSpan(#[cfg(feature = "tracing")] tracing::Span);

impl NodeSpan {
    #[allow(unused_variables)]
    pub(crate) fn new(name: &str, parent: Option<&NodeSpan>) -> Self {
        #[cfg(feature = "tracing")]
        return NodeSpan(match parent {
            Some(parent) => {
                tracing::debug_span!(target: "quitter", parent: &parent.0, "quitter", name)
            }
            None => tracing::debug_span!(target: "quitter", parent: None, "quitter", name),
        });
        #[cfg(not(feature = "tracing"))]
        NodeSpan()
    }

    #[cfg(feature = "tracing")]
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.0
    }
}

#[inline]
#[allow(unused_variables)]
pub(crate) fn quit(
    span: &NodeSpan,
    path: impl FnOnce() -> alloc::string::String,
    cause: &QuitCause,
) {
    #[cfg(feature = "tracing")]
    span.0.in_scope(|| {
        tracing::info!(target: "quitter", quitter = %path(), cause = %cause, "quit");
    });
}

#[inline]
#[allow(unused_variables)]
pub(crate) fn done(span: &NodeSpan) {
    #[cfg(feature = "tracing")]
    span.0
        .in_scope(|| tracing::debug!(target: "quitter", "done"));
}

#[inline]
#[allow(unused_variables)]
pub(crate) fn panicked(span: &NodeSpan, panic: &TaskPanic) {
    #[cfg(feature = "tracing")]
    span.0.in_scope(|| {
        tracing::error!(
            target: "quitter",
            quitter = %panic.path,
            task = %panic.task.name,
            location = %panic.task.location,
            panic = %panic.message,
            "task panicked"
        );
    });
}

#[inline]
#[allow(unused_variables)]
pub(crate) fn aborted(span: &NodeSpan, aborted: &AbortedTask) {
    #[cfg(feature = "tracing")]
    span.0.in_scope(|| {
        tracing::warn!(
            target: "quitter",
            quitter = %aborted.path,
            task = %aborted.task.name,
            location = %aborted.task.location,
            "task aborted"
        );
    });
}

/// `Shutdown`'s default progress line: an INFO event with the feature,
/// else a line on stderr (a person watching a long drain sees it move).
#[cfg(feature = "std")]
pub(crate) fn drain_progress(progress: &crate::report::DrainProgress) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "quitter",
        tasks = progress.task_count(),
        left = ?progress.left,
        "{progress}"
    );
    #[cfg(not(feature = "tracing"))]
    std::eprintln!("{progress}");
}

/// A systemd notification that could not be sent (the first one only).
#[cfg(all(feature = "systemd", unix))]
pub(crate) fn notify_failed(error: &std::io::Error) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "quitter", %error, "cannot notify systemd ($NOTIFY_SOCKET)");
    #[cfg(not(feature = "tracing"))]
    std::eprintln!("cannot notify systemd ($NOTIFY_SOCKET): {error}");
}

/// A tree dump asked for by a signal (`Shutdown::dump_tree_on_signal`).
#[cfg(feature = "std")]
pub(crate) fn tree_dump(snapshot: &crate::report::TreeSnapshot) {
    #[cfg(feature = "tracing")]
    tracing::info!(
        target: "quitter",
        quitters = snapshot.quitters.len(),
        tasks = snapshot.task_count(),
        "{snapshot}"
    );
    // One write: the dump's lines stay together in a log.
    #[cfg(not(feature = "tracing"))]
    {
        use std::io::Write;
        let _ =
            std::io::stderr().write_all(alloc::string::ToString::to_string(snapshot).as_bytes());
    }
}

#[inline]
#[allow(unused_variables)]
pub(crate) fn timed_out(report: &TimeoutReport) {
    #[cfg(feature = "tracing")]
    for quitter in &report.quitters {
        for task in &quitter.tasks {
            tracing::warn!(
                target: "quitter",
                quitter = %quitter.path,
                task = %task.name,
                location = %task.location,
                age = ?task.age,
                "task did not return in time"
            );
        }
        for hold in quitter.unnamed_holds() {
            tracing::warn!(
                target: "quitter",
                quitter = %quitter.path,
                hold = %hold,
                "quitter held open without a named task"
            );
        }
    }
}

#[inline]
#[allow(unused_variables)]
pub(crate) fn exit(report: &ExitReport) {
    #[cfg(feature = "tracing")]
    {
        let (code, cause, forced) = (report.exit_code(), &report.cause, report.forced);
        let (hung, panicked) = (report.timed_out.len(), report.panicked.len());
        if report.is_clean() {
            tracing::info!(target: "quitter", code, %cause, "shutdown complete");
        } else {
            tracing::warn!(target: "quitter", code, %cause, forced, hung, panicked, "shutdown incomplete");
        }
    }
}
