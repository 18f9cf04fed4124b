//! The task registry of one node: the name, location and start of every
//! live tracked task, so that a report can say which tasks did not return.
//!
//! Why it is sharded by thread: a tracked future registers its task at its
//! first poll, on the thread that polls it, and the task usually ends on
//! that same thread. Each thread registers in its own shard (a slab behind a
//! lock, on a cache line pair of its own: x86 fetches lines in pairs), so
//! the registration and the removal of a task touch memory that stays in
//! that thread's cache, and the thread that *spawns* touches the registry not
//! at all. Behind one shared lock, the spawner and the workers passed its
//! cache line back and forth for every task: that made a tracked spawn cost
//! 1.4x a `TaskTracker::spawn`.
//!
//! Threads get shard numbers round-robin, so up to [`SHARDS`] threads never
//! share one; more threads share, which is correct, only slower. Shards
//! are allocated when a thread first registers in this registry. Without
//! `std` there are no threads to tell apart, and every task uses shard 0.
//!
//! Invariants:
//! - A [`TaskKey`] names a shard and a slot. Its entry is present from
//!   [`TaskRegistry::register`] until [`TaskRegistry::remove`] with that
//!   key; only the key's owner (one `TaskGuard`) removes it.
//! - Shards, once allocated, live as long as the registry, so a key stays
//!   valid whichever thread uses it.
//! - An entry exists only for a task that holds its node (the hold is taken
//!   first and released after the entry is removed: see `task`), so the
//!   registry never lists more tasks than the node's hold count says.
//! - Locks here are leaves: nothing else is locked while a shard is held,
//!   and a shard is never locked while another is.

use alloc::boxed::Box;
use alloc::vec::Vec;

use slab::Slab;

use crate::sync::{Mutex, OnceCell};
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
    shards: [OnceCell<Box<Shard>>; SHARDS],
}

impl TaskRegistry {
    pub(crate) fn new() -> Self {
        TaskRegistry {
            shards: core::array::from_fn(|_| OnceCell::new()),
        }
    }

    /// Records a task that holds the node; returns its key.
    pub(crate) fn register(&self, meta: TaskMeta) -> TaskKey {
        let index = this_thread_shard();
        let shard = self.shards[index].get_or_init(|| Box::new(Shard(Mutex::new(Slab::new()))));
        TaskKey::new(index, shard.0.lock().insert(meta))
    }

    /// The shard `key` names (allocated: its entry was registered there).
    fn shard_of(&self, key: TaskKey) -> Option<&Mutex<Slab<TaskMeta>>> {
        self.shards[key.shard()].get().map(|shard| &shard.0)
    }

    /// Removes the entry of `key`, returning it (to be dropped outside the
    /// lock).
    pub(crate) fn remove(&self, key: TaskKey) -> Option<TaskMeta> {
        let meta = self.shard_of(key)?.lock().try_remove(key.slot());
        meta
    }

    /// A snapshot of the entry of `key`.
    pub(crate) fn info(&self, key: TaskKey) -> Option<TaskInfo> {
        let slab = self.shard_of(key)?.lock();
        slab.get(key.slot()).map(TaskMeta::snapshot)
    }

    /// Every allocated shard, in order.
    fn shards(&self) -> impl Iterator<Item = &Mutex<Slab<TaskMeta>>> {
        self.shards
            .iter()
            .filter_map(|shard| shard.get().map(|shard| &shard.0))
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

/// This thread's shard number: handed out round-robin at a thread's first
/// registration (in any registry), then fixed.
#[cfg(all(not(loom), feature = "std"))]
fn this_thread_shard() -> usize {
    use core::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    // A thread tearing down its thread-locals (a runtime dropping tasks from
    // a destructor, say) has no shard number any more: any shard is correct.
    SHARD.try_with(|shard| *shard).unwrap_or(0)
}

/// Under loom, the same with loom's statics, which start afresh in every
/// execution (a process-wide counter would make the model nondeterministic).
#[cfg(loom)]
fn this_thread_shard() -> usize {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    loom::lazy_static! {
        static ref NEXT: AtomicUsize = AtomicUsize::new(0);
    }
    loom::thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

#[cfg(not(any(loom, feature = "std")))]
fn this_thread_shard() -> usize {
    0
}
