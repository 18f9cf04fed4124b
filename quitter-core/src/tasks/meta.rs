//! What the registry records of a task ([`TaskMeta`]): its name, where it
//! was tracked, and when it started running ([`Started`]).

use alloc::borrow::Cow;
use core::panic::Location;
use core::time::Duration;

use crate::report::TaskInfo;

/// When a task started running (its listing): an `Instant` with `std`,
/// nothing without; `NOT_YET` before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Started(#[cfg(feature = "std")] Option<std::time::Instant>);

impl Started {
    pub(crate) const NOT_YET: Started = Started(
        #[cfg(feature = "std")]
        None,
    );

    pub(crate) fn now() -> Self {
        Started(
            #[cfg(feature = "std")]
            Some(std::time::Instant::now()),
        )
    }

    /// The time from `earlier` to this, if both are set (`std` only).
    pub(crate) fn since(&self, earlier: Started) -> Option<Duration> {
        #[cfg(feature = "std")]
        return Some(self.0?.saturating_duration_since(earlier.0?));
        #[cfg(not(feature = "std"))]
        {
            let _ = earlier;
            None
        }
    }

    /// The instant, if set (`std` only).
    #[cfg(feature = "std")]
    pub(crate) fn instant(&self) -> Option<std::time::Instant> {
        self.0
    }

    pub(crate) fn age(&self) -> Option<Duration> {
        #[cfg(feature = "std")]
        return self.0.map(|started| started.elapsed());
        #[cfg(not(feature = "std"))]
        None
    }
}

/// The registry's record of one task.
pub(crate) struct TaskMeta {
    pub(crate) name: Cow<'static, str>,
    pub(crate) location: &'static Location<'static>,
    pub(crate) started: Started,
}

impl TaskMeta {
    pub(crate) fn snapshot(&self) -> TaskInfo {
        TaskInfo {
            name: self.name.clone(),
            location: self.location,
            age: self.started.age(),
        }
    }
}
