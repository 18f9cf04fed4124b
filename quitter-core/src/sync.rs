//! The synchronisation primitives the core is built on, chosen per build.
//!
//! - under `cfg(loom)`: loom's atomics and mutex, so the models in
//!   `tests/loom.rs` explore every interleaving of the core's own code;
//! - with `std`: `core` atomics and `std::sync::Mutex`;
//! - without `std`: `core` atomics and a spin lock from the `spin` crate.
//!
//! A [`OnceCell`] (a value set once, then read without a lock) is std's
//! `OnceLock`, or `spin::Once` without `std`; under loom, a model of it.
//!
//! `Arc`/`Weak` come from `alloc`. Under loom they are a model (loom's own
//! `Arc` has no `Weak`): the counts are loom atomics with std's orderings
//! (release decrement, acquire fence before the drop), and the memory is
//! never really freed, so a use after the drop is caught by an assertion
//! instead of being undefined behaviour.
//!
//! [`RawArc`] is a counted pointer that does not own its count: the core
//! uses it for a node's *busy reference* (see `node`), the one strong count
//! a node holds on itself while tasks or children hold it open, so that a
//! task's hold needs no `Arc` clone of its own.
//!
//! Invariant kept by every caller: no critical section runs user code or
//! panics, so a poisoned `std` mutex still guards consistent data and
//! [`Mutex::lock`] simply takes it back.

#[cfg(not(loom))]
pub(crate) use alloc::sync::{Arc, Weak};

#[cfg(loom)]
pub(crate) use loom_arc::{Arc, Weak};

/// A pointer to the value of an [`Arc`] that owns no count by itself: its
/// user keeps track of which strong count it stands for.
pub(crate) struct RawArc<T>(
    #[cfg(not(loom))] core::ptr::NonNull<T>,
    #[cfg(loom)] loom_arc::RawArc<T>,
);

impl<T> Clone for RawArc<T> {
    fn clone(&self) -> Self {
        *self
    }
}

/// Copying the pointer changes no count.
impl<T> Copy for RawArc<T> {}

// SAFETY: a `RawArc` is used like the `Arc` whose count it stands for, so
// it may cross threads exactly when an `Arc<T>` may.
#[allow(unsafe_code)]
unsafe impl<T: Send + Sync> Send for RawArc<T> {}
// SAFETY: as for `Send`.
#[allow(unsafe_code)]
unsafe impl<T: Send + Sync> Sync for RawArc<T> {}

#[allow(unsafe_code)]
impl<T> RawArc<T> {
    /// The pointer of `arc`; no count changes.
    #[inline]
    pub(crate) fn of(arc: &Arc<T>) -> Self {
        #[cfg(not(loom))]
        return RawArc(core::ptr::NonNull::from(&**arc));
        #[cfg(loom)]
        RawArc(loom_arc::RawArc::of(arc))
    }

    /// Adds one strong count that no handle owns (to be given back with
    /// [`RawArc::release`]). Safe: the worst misuse is a leak.
    #[inline]
    pub(crate) fn leak_count(arc: &Arc<T>) {
        core::mem::forget(arc.clone());
    }

    /// The value.
    ///
    /// # Safety
    /// Some strong count (a handle's, or one the caller stands for) is
    /// outstanding for the whole lifetime of the returned reference.
    #[inline]
    pub(crate) unsafe fn get(&self) -> &T {
        #[cfg(not(loom))]
        // SAFETY: the pointer came from a live `Arc`, and by the caller's
        // contract the value has not been dropped since.
        return unsafe { self.0.as_ref() };
        #[cfg(loom)]
        // SAFETY: as above; the model asserts it.
        unsafe {
            self.0.get()
        }
    }

    /// A new handle (one more strong count).
    ///
    /// # Safety
    /// As for [`RawArc::get`]: the value is alive.
    #[inline]
    pub(crate) unsafe fn upgrade(&self) -> Arc<T> {
        #[cfg(not(loom))]
        // SAFETY: the pointer came from `Arc` (`of`) and the value is alive,
        // so the count is at least one: incrementing it and taking that new
        // count as a handle is `Arc::clone`.
        return unsafe {
            Arc::increment_strong_count(self.0.as_ptr());
            Arc::from_raw(self.0.as_ptr())
        };
        #[cfg(loom)]
        // SAFETY: as above.
        unsafe {
            self.0.upgrade()
        }
    }

    /// Gives back one strong count; the last one drops the value.
    ///
    /// # Safety
    /// The caller stands for one outstanding strong count (added by
    /// [`RawArc::leak_count`]) and gives it up; it must not use the value
    /// after this call unless another count keeps it alive.
    #[inline]
    pub(crate) unsafe fn release(&self) {
        #[cfg(not(loom))]
        // SAFETY: the pointer came from `Arc` and the caller's count is
        // outstanding, so this decrement is that of a handle being dropped.
        unsafe {
            Arc::decrement_strong_count(self.0.as_ptr())
        };
        #[cfg(loom)]
        // SAFETY: as above.
        unsafe {
            self.0.release()
        }
    }
}

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
#[allow(unsafe_code)]
mod loom_arc {
    //! A model of `Arc`/`Weak` on loom atomics. The allocation is leaked,
    //! never freed: `dropped` records the value's drop, and every access
    //! through a [`RawArc`] asserts it has not happened, so a use after free
    //! fails the model instead of being undefined behaviour.
    use alloc::boxed::Box;
    use core::cell::UnsafeCell;
    use core::mem::ManuallyDrop;
    use core::ptr::NonNull;

    use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};

    struct Inner<T> {
        strong: AtomicUsize,
        dropped: AtomicBool,
        value: UnsafeCell<ManuallyDrop<T>>,
    }

    pub(crate) struct Arc<T>(NonNull<Inner<T>>);
    pub(crate) struct Weak<T>(NonNull<Inner<T>>);
    pub(crate) struct RawArc<T>(NonNull<Inner<T>>);

    impl<T> Clone for RawArc<T> {
        fn clone(&self) -> Self {
            *self
        }
    }

    impl<T> Copy for RawArc<T> {}

    // SAFETY: as `std`'s `Arc`/`Weak`: shared ownership of a `Send + Sync`
    // value.
    unsafe impl<T: Send + Sync> Send for Arc<T> {}
    // SAFETY: as above.
    unsafe impl<T: Send + Sync> Sync for Arc<T> {}
    // SAFETY: as above.
    unsafe impl<T: Send + Sync> Send for Weak<T> {}
    // SAFETY: as above.
    unsafe impl<T: Send + Sync> Sync for Weak<T> {}

    fn inner<'a, T>(ptr: NonNull<Inner<T>>) -> &'a Inner<T> {
        // SAFETY: the allocation is leaked, so it is valid for ever.
        unsafe { &*ptr.as_ptr() }
    }

    /// The value; `check` asserts it has not been dropped (an RMW, which
    /// reads the newest value of the flag). Handles skip the check: they
    /// own a count. Raw pointers make it.
    fn value<'a, T>(ptr: NonNull<Inner<T>>, check: bool) -> &'a T {
        let inner = inner(ptr);
        if check {
            assert!(
                !inner.dropped.fetch_or(false, Ordering::Relaxed),
                "use after free of an Arc's value"
            );
        }
        // SAFETY: not dropped (a handle's count, or asserted), and only the
        // last count's drop takes `&mut`, when no one else can hold this.
        unsafe { &*inner.value.get() }
    }

    /// Drops one strong count, and the value with the last (as `std`).
    fn drop_count<T>(ptr: NonNull<Inner<T>>) {
        let inner = inner(ptr);
        if inner.strong.fetch_sub(1, Ordering::Release) == 1 {
            fence(Ordering::Acquire);
            inner.dropped.store(true, Ordering::Relaxed);
            // SAFETY: the last count: no other handle can reach the value.
            unsafe { ManuallyDrop::drop(&mut *inner.value.get()) };
        }
    }

    impl<T> Arc<T> {
        pub(crate) fn new(value: T) -> Self {
            let inner = Box::leak(Box::new(Inner {
                strong: AtomicUsize::new(1),
                dropped: AtomicBool::new(false),
                value: UnsafeCell::new(ManuallyDrop::new(value)),
            }));
            Arc(NonNull::from(inner))
        }

        pub(crate) fn downgrade(this: &Self) -> Weak<T> {
            Weak(this.0)
        }

        pub(crate) fn ptr_eq(a: &Self, b: &Self) -> bool {
            a.0 == b.0
        }

        pub(crate) fn try_unwrap(this: Self) -> Result<T, Self> {
            let shared = inner(this.0);
            match shared
                .strong
                .compare_exchange(1, 0, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    core::mem::forget(this);
                    shared.dropped.store(true, Ordering::Relaxed);
                    // SAFETY: the count was ours alone and is now zero.
                    Ok(unsafe { ManuallyDrop::take(&mut *shared.value.get()) })
                }
                Err(_) => Err(this),
            }
        }
    }

    impl<T> Clone for Arc<T> {
        fn clone(&self) -> Self {
            inner(self.0).strong.fetch_add(1, Ordering::Relaxed);
            Arc(self.0)
        }
    }

    impl<T> core::ops::Deref for Arc<T> {
        type Target = T;
        fn deref(&self) -> &T {
            value(self.0, false)
        }
    }

    impl<T> Drop for Arc<T> {
        fn drop(&mut self) {
            drop_count(self.0);
        }
    }

    impl<T> Weak<T> {
        pub(crate) fn upgrade(&self) -> Option<Arc<T>> {
            let strong = &inner(self.0).strong;
            let mut count = strong.load(Ordering::Relaxed);
            loop {
                if count == 0 {
                    return None;
                }
                match strong.compare_exchange_weak(
                    count,
                    count + 1,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Some(Arc(self.0)),
                    Err(actual) => count = actual,
                }
            }
        }
    }

    impl<T> RawArc<T> {
        pub(crate) fn of(arc: &Arc<T>) -> Self {
            RawArc(arc.0)
        }

        pub(crate) unsafe fn get(&self) -> &T {
            value(self.0, true)
        }

        pub(crate) unsafe fn upgrade(&self) -> Arc<T> {
            let _ = value(self.0, true);
            inner(self.0).strong.fetch_add(1, Ordering::Relaxed);
            Arc(self.0)
        }

        pub(crate) unsafe fn release(&self) {
            drop_count(self.0);
        }
    }
}
