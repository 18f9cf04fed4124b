//! An intrusive doubly linked list: its entries live inside pinned futures
//! (a tracked task's registry entry, a pending quit waiter), and the list
//! links them where they are. Listing one allocates nothing, so a tracked
//! task costs no more heap than its runtime's own task (tokio lists its
//! tasks and `Notify` waiters the same way).
//!
//! The list holds raw pointers to entries it does not own. It is sound
//! because its users (`registry`, `waiters`) keep three rules, each argued
//! where they call in, and checked by the loom models:
//!
//! 1. A list, and the links of every entry in it, are touched only under
//!    the lock that guards the list.
//! 2. An entry is pinned: from [`List::push_back`] until it leaves the list
//!    ([`List::remove`], [`List::pop_front`]) it neither moves nor ends. Its
//!    owner's `Drop` takes it out first, under the lock; `Pin` promises that
//!    `Drop` runs before the memory is reused.
//! 3. An entry is in at most one list at a time, and only the list it is in
//!    removes it.
//!
//! Entries are `!Unpin` ([`Links`] holds a `PhantomPinned`), which also
//! tells the compiler that the owner's `&mut` is not the only access while
//! another thread reads the entry through the list (the rule tokio's
//! intrusive lists rely on too).
//!
//! Under loom the links are loom cells and an entry's end counts as a write
//! of them ([`Links::end`]), so a model fails if any list operation on an
//! entry is not ordered before its owner lets it go.

use core::marker::PhantomPinned;
use core::ptr::NonNull;

use super::UnsafeCell;

/// A type whose values embed [`Links`], so a [`List`] can hold them.
///
/// # Safety
///
/// [`links`](Linked::links) must return the links embedded in the value at
/// `this`, the same field every time, without making a reference to the
/// whole value (another thread may hold one).
pub(crate) unsafe trait Linked: Sized {
    /// The links of the value at `this`.
    ///
    /// # Safety
    ///
    /// `this` points to a live value.
    unsafe fn links(this: NonNull<Self>) -> NonNull<Links<Self>>;
}

/// Implements [`Linked`] for a struct whose field `$field` holds its
/// [`Links`]: the one place that computes a field's address from an entry
/// pointer.
macro_rules! impl_linked {
    ($entry:ty, $field:ident) => {
        // SAFETY: returns the address of the field `$field`, the entry's
        // `Links`, computed without a reference to the whole value.
        unsafe impl $crate::sync::list::Linked for $entry {
            unsafe fn links(
                this: ::core::ptr::NonNull<Self>,
            ) -> ::core::ptr::NonNull<$crate::sync::list::Links<Self>> {
                // SAFETY: `this` is live (caller), so the field's address
                // is in bounds and not null.
                unsafe {
                    ::core::ptr::NonNull::new_unchecked(::core::ptr::addr_of_mut!(
                        (*this.as_ptr()).$field
                    ))
                }
            }
        }
    };
}
pub(crate) use impl_linked;

/// An entry's neighbours, while it is in a list (rule 1 guards them).
pub(crate) struct Links<T> {
    cell: UnsafeCell<Pointers<T>>,
    _pinned: PhantomPinned,
}

struct Pointers<T> {
    prev: Option<NonNull<T>>,
    next: Option<NonNull<T>>,
}

impl<T> Clone for Pointers<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Pointers<T> {}

impl<T> Pointers<T> {
    const UNLINKED: Self = Pointers {
        prev: None,
        next: None,
    };
}

impl<T> Links<T> {
    pub(crate) fn new() -> Self {
        Links {
            cell: UnsafeCell::new(Pointers::UNLINKED),
            _pinned: PhantomPinned,
        }
    }

    /// Marks the end of the entry, for loom: a write of its links, so a
    /// list operation on it that is not ordered before this fails the
    /// model. Does nothing in other builds.
    #[inline]
    pub(crate) fn end(&self) {
        #[cfg(loom)]
        self.cell.with_mut(|_| ());
    }
}

/// The links of `entry`.
///
/// # Safety
///
/// `entry` is live, and the caller holds the lock of its list (rule 1).
unsafe fn get<T: Linked>(entry: NonNull<T>) -> Pointers<T> {
    // SAFETY: `entry` is live (caller), so are its links (`Linked`); no
    // other thread writes them while we hold the lock (rule 1).
    unsafe { T::links(entry).as_ref().cell.with(|pointers| *pointers) }
}

/// Changes the links of `entry` in place.
///
/// # Safety
///
/// As for [`get`].
unsafe fn update<T: Linked>(entry: NonNull<T>, change: impl FnOnce(&mut Pointers<T>)) {
    // SAFETY: as in `get`; the only reference to the links is the one
    // `change` gets, for the length of the call.
    unsafe {
        T::links(entry)
            .as_ref()
            .cell
            .with_mut(|pointers| change(&mut *pointers))
    }
}

/// A list of pinned entries, guarded by its owner's lock.
pub(crate) struct List<T> {
    head: Option<NonNull<T>>,
    tail: Option<NonNull<T>>,
    len: usize,
}

// SAFETY: the list only carries pointers; whoever holds it (under its lock,
// rule 1) reaches entries that other threads own, so those must be `Sync`.
unsafe impl<T: Sync> Send for List<T> {}

impl<T: Linked> List<T> {
    pub(crate) const fn new() -> Self {
        List {
            head: None,
            tail: None,
            len: 0,
        }
    }

    /// How many entries are linked.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Links `entry` at the back.
    ///
    /// # Safety
    ///
    /// `entry` is live, pinned and in no list, and stays live and pinned
    /// until it leaves this one (rules 2 and 3); the caller holds this
    /// list's lock.
    pub(crate) unsafe fn push_back(&mut self, entry: NonNull<T>) {
        let prev = self.tail;
        // SAFETY: `entry` is live (caller); the lock is held (caller).
        unsafe { update(entry, |pointers| *pointers = Pointers { prev, next: None }) };
        match prev {
            // SAFETY: `prev` is in this list, so live (rule 2).
            Some(prev) => unsafe { update(prev, |pointers| pointers.next = Some(entry)) },
            None => self.head = Some(entry),
        }
        self.tail = Some(entry);
        self.len += 1;
    }

    /// Unlinks `entry`.
    ///
    /// # Safety
    ///
    /// `entry` is in this list (rule 3); the caller holds its lock.
    pub(crate) unsafe fn remove(&mut self, entry: NonNull<T>) {
        // SAFETY: `entry` is in this list, so live (rule 2); the lock is
        // held (caller). The same holds for its neighbours below.
        let pointers = unsafe { get(entry) };
        match pointers.prev {
            // SAFETY: `prev` is in this list (see above).
            Some(prev) => unsafe { update(prev, |prev| prev.next = pointers.next) },
            None => self.head = pointers.next,
        }
        match pointers.next {
            // SAFETY: `next` is in this list (see above).
            Some(next) => unsafe { update(next, |next| next.prev = pointers.prev) },
            None => self.tail = pointers.prev,
        }
        // SAFETY: as for the first `get`.
        unsafe { update(entry, |pointers| *pointers = Pointers::UNLINKED) };
        self.len -= 1;
    }

    /// Unlinks and returns the first entry. It is no longer in the list, so
    /// rule 2 no longer keeps it alive: the caller's own protocol must
    /// (see `waiters`).
    pub(crate) fn pop_front(&mut self) -> Option<NonNull<T>> {
        let head = self.head?;
        // SAFETY: `head` is in this list; `&mut self` is held under the
        // list's lock (rule 1: the list is only reached through it).
        unsafe { self.remove(head) };
        Some(head)
    }

    /// The entries, front to back. Each is live for as long as the caller
    /// holds the lock (rule 2), which the borrow of `self` ensures.
    pub(crate) fn iter(&self) -> impl Iterator<Item = NonNull<T>> + '_ {
        let mut next = self.head;
        core::iter::from_fn(move || {
            let entry = next?;
            // SAFETY: `entry` is in this list, so live (rule 2), and `&self`
            // is held under the list's lock (rule 1).
            next = unsafe { get(entry) }.next;
            Some(entry)
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec::Vec;
    use core::pin::Pin;

    struct Entry {
        links: Links<Entry>,
        value: u32,
    }

    impl_linked!(Entry, links);

    fn entries(values: &[u32]) -> Vec<Pin<Box<Entry>>> {
        values
            .iter()
            .map(|&value| {
                Box::pin(Entry {
                    links: Links::new(),
                    value,
                })
            })
            .collect()
    }

    fn values(list: &List<Entry>) -> Vec<u32> {
        // SAFETY: every entry in the list is live (the test owns them all).
        list.iter().map(|e| unsafe { e.as_ref() }.value).collect()
    }

    #[test]
    fn links_removes_and_pops_in_order() {
        let held = entries(&[1, 2, 3, 4]);
        let mut list = List::new();
        for entry in &held {
            // SAFETY: each entry is boxed and pinned, in no list, and
            // outlives the list's use of it (all are removed below).
            unsafe { list.push_back(NonNull::from(&**entry)) };
        }
        assert_eq!(values(&list), [1, 2, 3, 4]);
        assert_eq!(list.len(), 4);

        // Middle, back, then front: every neighbour link is mended.
        // SAFETY: each is in the list.
        unsafe { list.remove(NonNull::from(&*held[1])) };
        assert_eq!(values(&list), [1, 3, 4]);
        // SAFETY: as above.
        unsafe { list.remove(NonNull::from(&*held[3])) };
        assert_eq!(values(&list), [1, 3]);
        // SAFETY: as above.
        unsafe { list.remove(NonNull::from(&*held[0])) };
        assert_eq!(values(&list), [3]);
        assert_eq!(list.len(), 1);

        // A removed entry can be linked again, at the back.
        // SAFETY: in no list now; still held.
        unsafe { list.push_back(NonNull::from(&*held[1])) };
        assert_eq!(values(&list), [3, 2]);

        let popped: Vec<u32> = core::iter::from_fn(|| list.pop_front())
            // SAFETY: the test still holds every entry.
            .map(|e| unsafe { e.as_ref() }.value)
            .collect();
        assert_eq!(popped, [3, 2]);
        assert_eq!(list.len(), 0);
        assert!(list.pop_front().is_none());
        assert_eq!(values(&list), []);
    }
}
