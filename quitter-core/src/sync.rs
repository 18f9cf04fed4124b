//! The synchronisation primitives the core is built on, chosen per build.
//!
//! - under `cfg(loom)`: loom's atomics and mutex, so the models in
//!   `tests/loom.rs` explore every interleaving of the core's own code;
//! - with `std`: `core` atomics and `std::sync::Mutex`;
//! - without `std`: `core` atomics and a spin lock from the `spin` crate.
//!
//! `Arc`/`Weak` always come from `alloc`: loom's `Arc` has no `Weak`, and the
//! reference counts are not what the models check (the state word is).
//!
//! Invariant kept by every caller: no critical section runs user code or
//! panics, so a poisoned `std` mutex still guards consistent data and
//! [`Mutex::lock`] simply takes it back.

pub(crate) use alloc::sync::{Arc, Weak};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicUsize, Ordering};

#[cfg(loom)]
type RawMutex<T> = loom::sync::Mutex<T>;
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

#[cfg(all(not(loom), feature = "std"))]
type RawMutex<T> = std::sync::Mutex<T>;
#[cfg(all(not(loom), feature = "std"))]
pub(crate) type MutexGuard<'a, T> = std::sync::MutexGuard<'a, T>;

#[cfg(all(not(loom), not(feature = "std")))]
type RawMutex<T> = spin::Mutex<T>;
#[cfg(all(not(loom), not(feature = "std")))]
pub(crate) type MutexGuard<'a, T> = spin::MutexGuard<'a, T>;

/// A mutex that never reports poisoning (see the module invariant).
pub(crate) struct Mutex<T>(RawMutex<T>);

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(RawMutex::new(value))
    }

    #[cfg(any(loom, feature = "std"))]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(all(not(loom), not(feature = "std")))]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock()
    }

    #[cfg(any(loom, feature = "std"))]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(all(not(loom), not(feature = "std")))]
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}
