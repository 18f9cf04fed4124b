//! The two clocks of the crate. [`Started`]: a precise instant, for the
//! few events of a shutdown (a stage's quit and end, a signal, the run),
//! whose durations a report prints and budgets are measured from.
//! [`TaskStart`]: when a task started, for the registry's tasks (at their
//! listing) and a task table's rows (at each start), for their age and
//! the order of a report. That one is read once per task, so per request
//! of a served connection: it must cost next to nothing.
//!
//! On Linux it is read off `CLOCK_MONOTONIC_COARSE`, the monotonic clock
//! as of its last tick (1 to 10 ms, by the kernel's `HZ`): a load of the vDSO's data page, about
//! 5 ns, where `Instant::now` (the precise clock) costs about 28 ns with a
//! fenced `rdtsc` that also stalls the pipeline around it. Elsewhere it is
//! an `Instant`. Without `std` there is no clock: no start and no age.
//!
//! Invariants:
//! - a `TaskStart` is compared only with another `TaskStart` (never with
//!   an `Instant` or a stage's `Started`): the two clocks share an origin
//!   but not a resolution;
//! - it never goes back: a later start is never less than an earlier one,
//!   and an age is never negative; two tasks that start within one tick
//!   have the same start (a report lists them in no set order between
//!   them), and an age is within one tick of the true one;
//! - `NOT_YET` (before a task starts) has no age, and sorts first.

use core::time::Duration;

/// A precise instant of a shutdown's timeline (see the module doc): an
/// `Instant` with `std`, nothing without; `NOT_YET` before.
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

/// When a task started (see the module doc); `NOT_YET` before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TaskStart(#[cfg(feature = "std")] Option<coarse::Stamp>);

impl TaskStart {
    pub(crate) const NOT_YET: TaskStart = TaskStart(
        #[cfg(feature = "std")]
        None,
    );

    /// Now, as the coarse clock reads it.
    #[inline]
    pub(crate) fn now() -> Self {
        TaskStart(
            #[cfg(feature = "std")]
            Some(coarse::Stamp::now()),
        )
    }

    /// The time since the task started, if it has (`std` only).
    pub(crate) fn age(&self) -> Option<Duration> {
        #[cfg(feature = "std")]
        return self.0.map(|started| coarse::Stamp::now().since(started));
        #[cfg(not(feature = "std"))]
        None
    }
}

/// The coarse monotonic clock: `CLOCK_MONOTONIC_COARSE` on Linux.
#[cfg(all(feature = "std", any(target_os = "linux", target_os = "android")))]
mod coarse {
    use core::time::Duration;

    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub(super) struct Stamp(Duration);

    impl Stamp {
        #[inline]
        pub(super) fn now() -> Self {
            Stamp(read(libc::CLOCK_MONOTONIC_COARSE).unwrap_or_else(precise))
        }

        pub(super) fn since(&self, earlier: Stamp) -> Duration {
            self.0.saturating_sub(earlier.0)
        }
    }

    /// A kernel that does not know the coarse clock (before 2.6.32) reads
    /// the precise one, on the same origin; the first fails only where no
    /// clock can be read at all (then every task is as old as the boot).
    #[cold]
    fn precise() -> Duration {
        read(libc::CLOCK_MONOTONIC).unwrap_or_default()
    }

    #[inline]
    fn read(clock: libc::clockid_t) -> Option<Duration> {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid, writable `timespec` for the call.
        let failed = unsafe { libc::clock_gettime(clock, &mut now) } != 0;
        // Both fields are in range for a clock that read: seconds since
        // boot, nanoseconds below a second.
        (!failed).then(|| Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
    }
}

/// The coarse monotonic clock elsewhere: an `Instant`.
#[cfg(all(feature = "std", not(any(target_os = "linux", target_os = "android"))))]
mod coarse {
    use core::time::Duration;
    use std::time::Instant;

    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    pub(super) struct Stamp(Instant);

    impl Stamp {
        #[inline]
        pub(super) fn now() -> Self {
            Stamp(Instant::now())
        }

        pub(super) fn since(&self, earlier: Stamp) -> Duration {
            self.0.saturating_duration_since(earlier.0)
        }
    }
}

#[cfg(all(test, feature = "std", not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn not_yet_has_no_age_and_sorts_first() {
        assert_eq!(TaskStart::NOT_YET.age(), None);
        assert!(TaskStart::NOT_YET < TaskStart::now());
    }

    /// The coarse clock never goes back, and moves on: an age grows past a
    /// wait, within a tick of it (10 ms at the slowest kernel tick).
    #[test]
    fn starts_never_go_back_and_an_age_grows_with_time() {
        let first = TaskStart::now();
        let mut last = first;
        for _ in 0..1_000 {
            let next = TaskStart::now();
            assert!(next >= last, "{next:?} before {last:?}");
            last = next;
        }
        let wait = Duration::from_millis(30);
        std::thread::sleep(wait);
        let age = first.age().expect("started");
        assert!(age + Duration::from_millis(10) >= wait, "{age:?}");
        assert!(TaskStart::now() > first, "the clock moved on");
    }
}
