//! The task registry of one node: the name, location and start of every
//! live tracked task, so that a report can say which tasks did not return.
//!
//! Why it is sharded: a task is usually registered on one thread (the
//! spawner) and unregistered on another (the worker that ran it). Behind a
//! single lock, those two threads pass the lock's cache line back and forth
//! for every task, which made a tracked spawn cost twice what
//! `TaskTracker::spawn` adds. So the registry is up to [`SHARDS`] slabs,
//! each behind its own lock on its own cache line (128 bytes: x86 fetches
//! lines in pairs). Registrations go round-robin over the shards in use, so
//! a task's registration and the end of an earlier one rarely meet.
//!
//! It starts small: the node allocates it on first use (an idle child has
//! none), and shards are allocated as they come into use, one at first. The number in use
//! (the *width*) doubles, up to [`SHARDS`], whenever a thread finds a shard's
//! lock taken: a quitter that tracks a connection's task or two never pays
//! for eight shards, a busy one spreads out after its first collisions.
//!
//! Invariants:
//! - A [`TaskKey`] names a shard and a slot. Its entry is present from
//!   [`TaskRegistry::register`] until [`TaskRegistry::remove`] with that
//!   key; only the key's owner (one `TaskGuard`) removes it.
//! - Shards, once allocated, live as long as the registry, and the width only
//!   grows, so a key stays valid whatever happens to the width.
//! - [`register`](TaskRegistry::register) takes the node's hold
//!   ([`State::try_hold`]) while holding the shard's lock, so a report, which
//!   locks each shard in turn, sees a task's entry if and only if it sees
//!   its hold taken on that shard; a refused task leaves no entry.
//! - Locks here are leaves: nothing else is locked while a shard is held,
//!   and a shard is never locked while another is.

use alloc::boxed::Box;
use alloc::vec::Vec;

use slab::Slab;

use crate::state::State;
use crate::sync::{AtomicUsize, Mutex, MutexGuard, OnceCell, Ordering};
use crate::task::{TaskInfo, TaskMeta};

/// The most shards a registry spreads over (a power of two).
const SHARDS: usize = 8;
/// Low bits of a key that name the shard.
const SHARD_BITS: u32 = SHARDS.trailing_zeros();

/// Where one live task's entry is: its shard and its slot there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TaskKey(usize);

impl TaskKey {
    fn new(shard: usize, slot: usize) -> Self {
        TaskKey(slot << SHARD_BITS | shard)
    }

    fn shard(self) -> usize {
        self.0 & (SHARDS - 1)
    }

    fn slot(self) -> usize {
        self.0 >> SHARD_BITS
    }
}

/// One shard: a slab of entries on a cache line (pair) of its own.
#[repr(align(128))]
struct Shard(Mutex<Slab<TaskMeta>>);

/// The live tasks of one node. See the module docs.
pub(crate) struct TaskRegistry {
    /// Shards in use for new registrations: 1, 2, 4 … [`SHARDS`].
    width: AtomicUsize,
    /// The next shard to use, modulo `width`. A hint, so it is advanced
    /// with a plain load and store: a lost increment only repeats a shard.
    cursor: AtomicUsize,
    shards: [OnceCell<Box<Shard>>; SHARDS],
}

impl TaskRegistry {
    pub(crate) fn new() -> Self {
        TaskRegistry {
            width: AtomicUsize::new(1),
            cursor: AtomicUsize::new(0),
            shards: core::array::from_fn(|_| OnceCell::new()),
        }
    }

    fn shard(&self, index: usize) -> &Mutex<Slab<TaskMeta>> {
        &self.shards[index]
            .get_or_init(|| Box::new(Shard(Mutex::new(Slab::new()))))
            .0
    }

    /// Locks a shard; finding it taken widens the table.
    fn lock<'a>(&self, shard: &'a Mutex<Slab<TaskMeta>>) -> MutexGuard<'a, Slab<TaskMeta>> {
        if let Some(guard) = shard.try_lock() {
            return guard;
        }
        let width = self.width.load(Ordering::Relaxed);
        if width < SHARDS {
            // Losing this race means someone else widened it: fine.
            let _ =
                self.width
                    .compare_exchange(width, width * 2, Ordering::Relaxed, Ordering::Relaxed);
        }
        shard.lock()
    }

    /// Every allocated shard, in order.
    fn shards(&self) -> impl Iterator<Item = &Mutex<Slab<TaskMeta>>> {
        self.shards
            .iter()
            .filter_map(|shard| shard.get().map(|shard| &shard.0))
    }

    /// Takes a hold on `state` and records `meta`, or refuses (`None`) if
    /// the node has quit.
    pub(crate) fn register(&self, meta: TaskMeta, state: &State) -> Option<TaskKey> {
        let width = self.width.load(Ordering::Relaxed);
        let index = if width == 1 {
            0
        } else {
            let cursor = self.cursor.load(Ordering::Relaxed);
            self.cursor.store(cursor.wrapping_add(1), Ordering::Relaxed);
            cursor % width
        };
        let shard = self.shard(index);
        let mut slab = self.lock(shard);
        if !state.try_hold() {
            return None;
        }
        Some(TaskKey::new(index, slab.insert(meta)))
    }

    /// Removes the entry of `key`, returning it (to be dropped outside the
    /// lock).
    pub(crate) fn remove(&self, key: TaskKey) -> Option<TaskMeta> {
        let shard = self.shards[key.shard()].get()?;
        self.lock(&shard.0).try_remove(key.slot())
    }

    /// A snapshot of the entry of `key`.
    pub(crate) fn info(&self, key: TaskKey) -> Option<TaskInfo> {
        let shard = self.shards[key.shard()].get()?;
        let slab = shard.0.lock();
        slab.get(key.slot()).map(TaskMeta::snapshot)
    }

    /// How many tasks are registered.
    pub(crate) fn len(&self) -> usize {
        self.shards().map(|shard| shard.lock().len()).sum()
    }

    /// Every live task, oldest first (with `std`; without, in shard order).
    pub(crate) fn snapshot(&self) -> Vec<TaskInfo> {
        let mut found = Vec::new();
        for shard in self.shards() {
            let slab = shard.lock();
            found.extend(slab.iter().map(|(_, meta)| (meta.started, meta.snapshot())));
        }
        found.sort_by_key(|(started, _)| *started);
        found.into_iter().map(|(_, info)| info).collect()
    }
}
