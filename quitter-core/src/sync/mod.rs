//! The synchronisation primitives the core is built on, chosen per build,
//! and the intrusive [`list`] its registries and waiter lists are made of.
//! The bottom layer: it imports nothing of the crate.
//!
//! - under `cfg(loom)`: loom's atomics and mutex, so the models in
//!   `tests/loom.rs` explore every interleaving of the core's own code;
//! - with `std`: `core` atomics and `std::sync::Mutex`;
//! - without `std`: `core` atomics and a spin lock from the `spin` crate.
//!
//! [`UnsafeCell`] is loom's under loom (which checks every access), else
//! `core`'s with the same closure API.
//!
//! A [`OnceCell`] (a value set once, then read without a lock) is std's
//! `OnceLock`, or `spin::Once` without `std`; under loom, a model of it.
//!
//! `Arc`/`Weak` come from `alloc`. Under loom they are wrapped (loom's own
//! `Arc` has no `Weak`): the last drop of a `std` `Arc` synchronises with
//! every earlier drop through its release decrement + acquire fence, which
//! loom cannot see, so it would report the node's final drop as racing with
//! other threads' earlier accesses. The wrapper adds what the real
//! decrement does, as an AcqRel RMW on a loom atomic, at every handle drop.
//!
//! Invariant kept by every caller: no critical section runs user code or
//! panics, so a poisoned `std` mutex still guards consistent data and
//! [`Mutex::lock`] simply takes it back.

#[allow(unsafe_code)]
pub(crate) mod list;

#[cfg(not(loom))]
pub(crate) use alloc::sync::{Arc, Weak};

#[cfg(loom)]
pub(crate) use loom_arc::{Arc, Weak};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Adds `delta` (wrapping) to `word` unless one of the `stop` bits is set;
/// returns the word it added to, or `None` if it did not add. AcqRel, so an
/// add and a later RMW of the word order everything done before each. The
/// state word's holds and the per-thread count words are all taken this
/// way.
#[inline]
pub(crate) fn add_unless(word: &AtomicUsize, stop: usize, delta: usize) -> Option<usize> {
    fetch_update(word, Ordering::AcqRel, Ordering::Relaxed, |current| {
        (current & stop == 0).then(|| current.wrapping_add(delta))
    })
    .ok()
}

/// `word.fetch_update(set, fetch, update)`, the one place that names it:
/// nightly renames it `try_update` and warns on the old name (which
/// stays), and the new one is not stable at the crate's `rust-version`.
#[inline]
#[allow(deprecated)]
pub(crate) fn fetch_update(
    word: &AtomicUsize,
    set: Ordering,
    fetch: Ordering,
    update: impl FnMut(usize) -> Option<usize>,
) -> Result<usize, usize> {
    word.fetch_update(set, fetch, update)
}

/// Under loom, its `UnsafeCell`: every access is checked against the
/// happens-before order, so a link or waker read racing with its write, or
/// with the end of its entry (see `list`), fails the model.
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `core`'s `UnsafeCell` behind loom's closure API, so that the same code
/// runs in both builds.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(core::cell::UnsafeCell::new(value))
    }

    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

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

/// A value set at most once, then read with one atomic load.
#[cfg(not(loom))]
pub(crate) struct OnceCell<T>(
    #[cfg(feature = "std")] std::sync::OnceLock<T>,
    #[cfg(not(feature = "std"))] spin::Once<T>,
);

#[cfg(not(loom))]
impl<T> OnceCell<T> {
    pub(crate) const fn new() -> Self {
        #[cfg(feature = "std")]
        return OnceCell(std::sync::OnceLock::new());
        #[cfg(not(feature = "std"))]
        OnceCell(spin::Once::new())
    }

    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        self.0.get()
    }

    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        self.0.get_mut()
    }

    #[inline]
    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        #[cfg(feature = "std")]
        return self.0.get_or_init(init);
        #[cfg(not(feature = "std"))]
        self.0.call_once(init)
    }
}

/// Under loom: std's `OnceLock` holds the value, and a loom mutex and flag
/// carry the ordering (initialise under the mutex, publish with a release
/// store, read after an acquire load), so loom sees the happens-before edge
/// that std's `OnceLock` provides for real.
#[cfg(loom)]
pub(crate) struct OnceCell<T> {
    value: std::sync::OnceLock<T>,
    init: loom::sync::Mutex<()>,
    published: loom::sync::atomic::AtomicBool,
}

#[cfg(loom)]
impl<T> OnceCell<T> {
    pub(crate) fn new() -> Self {
        OnceCell {
            value: std::sync::OnceLock::new(),
            init: loom::sync::Mutex::new(()),
            published: loom::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(crate) fn get(&self) -> Option<&T> {
        if self.published.load(Ordering::Acquire) {
            self.value.get()
        } else {
            None
        }
    }

    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        let _init = self.init.lock().unwrap();
        let value = self.value.get_or_init(init);
        self.published.store(true, Ordering::Release);
        value
    }
}

#[cfg(loom)]
mod loom_arc {
    //! `std` `Arc`/`Weak` with each handle's end made visible to loom.
    use loom::sync::atomic::{AtomicUsize, Ordering};

    struct Shared<T> {
        value: T,
        handle_ends: AtomicUsize,
    }

    /// Always `Some` but while being dropped or unwrapped.
    pub(crate) struct Arc<T>(Option<std::sync::Arc<Shared<T>>>);

    pub(crate) struct Weak<T>(std::sync::Weak<Shared<T>>);

    impl<T> Arc<T> {
        pub(crate) fn new(value: T) -> Self {
            let handle_ends = AtomicUsize::new(0);
            Arc(Some(std::sync::Arc::new(Shared { value, handle_ends })))
        }

        fn shared(&self) -> &std::sync::Arc<Shared<T>> {
            self.0.as_ref().expect("loom Arc shim used after drop")
        }

        pub(crate) fn downgrade(this: &Self) -> Weak<T> {
            Weak(std::sync::Arc::downgrade(this.shared()))
        }

        pub(crate) fn ptr_eq(a: &Self, b: &Self) -> bool {
            std::sync::Arc::ptr_eq(a.shared(), b.shared())
        }

        pub(crate) fn try_unwrap(mut this: Self) -> Result<T, Self> {
            let shared = this.0.take().expect("loom Arc shim used after drop");
            shared.handle_ends.fetch_add(1, Ordering::AcqRel);
            match std::sync::Arc::try_unwrap(shared) {
                Ok(shared) => Ok(shared.value),
                Err(shared) => Err(Arc(Some(shared))),
            }
        }
    }

    impl<T> Clone for Arc<T> {
        fn clone(&self) -> Self {
            Arc(Some(self.shared().clone()))
        }
    }

    impl<T> core::ops::Deref for Arc<T> {
        type Target = T;
        fn deref(&self) -> &T {
            &self.shared().value
        }
    }

    impl<T> Drop for Arc<T> {
        fn drop(&mut self) {
            if let Some(shared) = self.0.take() {
                shared.handle_ends.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    impl<T> Weak<T> {
        pub(crate) fn upgrade(&self) -> Option<Arc<T>> {
            self.0.upgrade().map(|shared| Arc(Some(shared)))
        }

        /// The value has not been dropped (loom runs one thread at a time,
        /// so this plain read is exact at the point it is made).
        pub(crate) fn is_alive(&self) -> bool {
            self.0.strong_count() > 0
        }
    }
}
