//! The task registry of one node, and each task's place in it
//! ([`TaskSlot`]): the name, location and start of every live tracked task,
//! so that a report can say which tasks did not return.
//!
//! Why it is intrusive: a task's entry ([`TaskEntry`]) lives in its
//! [`TaskSlot`], inside the task's own pinned future (or a `TaskGuard`'s
//! box), and the registry links it there (see `list`). Listing a task
//! allocates nothing, so a tracked task costs the heap no more than the
//! runtime's task does (a slab of entries cost about 80 bytes a task).
//!
//! Why it is sharded by thread: a tracked future lists its task at its
//! first poll, on the thread that polls it, and the task usually ends on
//! that same thread. Each thread lists in its own shard (a list behind a
//! lock, on a cache line pair of its own: x86 fetches lines in pairs), so
//! listing and unlisting touch memory that stays in that thread's cache.
//! The shard also holds the thread's share of the node's task count (see
//! [`count`](crate::count)): the spawning thread adds to its own shard's
//! word and the ending thread subtracts from its own, so neither writes a
//! line the other writes. Threads get shard numbers round-robin, so up to
//! [`SHARDS`] threads never share one; more threads share, which is
//! correct, only slower. A thread's shard is made (by the node, see
//! `Node::own_shard`) when it first spawns or lists a task there. Without
//! `std` there are no threads to tell apart, and every task uses shard 0.
//!
//! Invariants:
//! - A slot owns one hold on its node from [`TaskSlot::take`] until
//!   [`TaskSlot::end`] (at the latest its `Drop`), counted in a shard's
//!   word or in the node's state word. The hold keeps the node alive: the
//!   slot keeps only a pointer (an `Arc` per task would be one more write
//!   of the node's line per spawn), and `node` explains why a hold is
//!   enough. So the registry outlives every entry listed in it, and it
//!   never lists more tasks than the node's holds. After its hold is
//!   released the slot never touches the node again.
//! - An entry is listed at most once, by its slot, and only while the slot
//!   holds its node; `end` unlists it *before* releasing the hold, so a
//!   report taken after `done()` never shows an ended task. Its `status`
//!   (the shard it is in) is read and written by its slot alone.
//! - The list rules hold (see `list`): entries are pinned in their slot,
//!   and the slot's `Drop` unlists before the memory can go; a shard's list
//!   is only touched under its lock.
//! - Locks here are leaves: nothing else is locked while a shard is held,
//!   and a shard is never locked while another is.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::panic::Location;
use core::pin::Pin;
use core::ptr::NonNull;

use pin_project_lite::pin_project;

use crate::count::ShardCount;
use crate::list::{impl_linked, Links, List};
use crate::node::Node;
use crate::sync::{Arc, AtomicU8, Mutex, OnceCell, Ordering};
use crate::task::{Started, TaskInfo, TaskMeta};

/// The most shards a registry spreads over.
const SHARDS: usize = 8;
/// [`TaskEntry::status`]: counted, not listed (yet).
const UNLISTED: u8 = 0xfe;
/// [`TaskEntry::status`]: the task has ended and released its hold.
const ENDED: u8 = 0xff;

pin_project! {
    /// One task's registry entry: what a report shows of it.
    struct TaskEntry {
        #[pin]
        links: Links<TaskEntry>,
        // Written only while unlisted (the start, at listing), then read.
        meta: TaskMeta,
        // The shard the entry is listed in, `UNLISTED` or `ENDED`. Only its
        // slot reads or writes it; atomic (relaxed) only so that the entry
        // is `Sync`.
        status: AtomicU8,
    }

    impl PinnedDrop for TaskEntry {
        fn drop(this: Pin<&mut Self>) {
            this.links.end();
        }
    }
}

impl_linked!(TaskEntry, links);

// SAFETY: `links` are touched only under the lock of the list the entry is
// in (list rule 1); `meta` is written only while the entry is in no list
// (so only its slot can reach it); `status` is atomic. So sharing or
// sending an entry races on nothing.
unsafe impl Send for TaskEntry {}
// SAFETY: as for `Send`.
unsafe impl Sync for TaskEntry {}

/// One thread's shard: its listed entries and its share of the task
/// count, on a cache line (pair) of its own.
#[repr(align(128))]
pub(crate) struct Shard {
    list: Mutex<List<TaskEntry>>,
    pub(crate) count: ShardCount,
}

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

    /// Shard `index`, if it has been made.
    #[inline]
    pub(crate) fn shard(&self, index: usize) -> Option<&Shard> {
        self.shards[index].get().map(|shard| &**shard)
    }

    /// Shard `index`, made now if it does not exist, with its count word
    /// `dead` from the start or not. Called under the node's family lock
    /// (see `Node::own_shard`).
    pub(crate) fn make_shard(&self, index: usize, dead: bool) -> &Shard {
        self.shards[index].get_or_init(|| {
            Box::new(Shard {
                list: Mutex::new(List::new()),
                count: ShardCount::new(dead),
            })
        })
    }

    /// Closes every shard's count word; returns their sum (wrapping).
    /// Called once, by the node's sweep, under its family lock.
    pub(crate) fn close_counts(&self) -> usize {
        self.made()
            .fold(0, |sum: usize, shard| sum.wrapping_add(shard.count.close()))
    }

    /// The sum of the open count words now (a report's estimate).
    pub(crate) fn open_counts(&self) -> usize {
        self.made().fold(0, |sum: usize, shard| {
            sum.wrapping_add(shard.count.peek().unwrap_or(0))
        })
    }

    /// Lists `entry` in shard `index`, which the calling thread uses.
    ///
    /// # Safety
    ///
    /// `entry` is unlisted, and stays live and pinned until
    /// [`remove`](Self::remove) on this registry takes it out.
    unsafe fn register(&self, index: usize, shard: &Shard, entry: Pin<&TaskEntry>) {
        entry.status.store(index as u8, Ordering::Relaxed);
        let mut list = shard.list.lock();
        // SAFETY: `entry` is unlisted, live and pinned until `remove`
        // (caller), and we hold this shard's lock.
        unsafe { list.push_back(NonNull::from(&*entry)) };
    }

    /// Unlists `entry` from shard `index`.
    ///
    /// # Safety
    ///
    /// `entry` is in shard `index` of this registry, listed there by
    /// [`register`](Self::register).
    unsafe fn remove(&self, index: usize, entry: Pin<&TaskEntry>) {
        // The shard was made before the entry was listed in it.
        if let Some(shard) = self.shard(index) {
            let mut list = shard.list.lock();
            // SAFETY: `entry` is in this shard's list (caller), and we hold
            // the shard's lock.
            unsafe { list.remove(NonNull::from(&*entry)) };
        }
    }

    /// Every shard made, in order.
    fn made(&self) -> impl Iterator<Item = &Shard> {
        self.shards
            .iter()
            .filter_map(|shard| shard.get().map(|shard| &**shard))
    }

    /// Every shard's list, in order.
    fn shards(&self) -> impl Iterator<Item = &Mutex<List<TaskEntry>>> {
        self.made().map(|shard| &shard.list)
    }

    /// How many tasks are listed.
    pub(crate) fn len(&self) -> usize {
        self.shards().map(|shard| shard.lock().len()).sum()
    }

    /// Every listed task, oldest first (with `std`; without, in shard
    /// order).
    pub(crate) fn snapshot(&self) -> Vec<TaskInfo> {
        let mut found = Vec::new();
        for shard in self.shards() {
            let list = shard.lock();
            found.extend(list.iter().map(|entry| {
                // SAFETY: an entry in the list is live while we hold its
                // lock (list rule 2); `meta` is not written while listed.
                let meta = unsafe { &entry.as_ref().meta };
                (meta.started, meta.snapshot())
            }));
        }
        found.sort_by_key(|(started, _)| *started);
        found.into_iter().map(|(_, info)| info).collect()
    }
}

pin_project! {
    /// One task's place in its node: it owns one hold on the node (so the
    /// node is not done, and lives, while the task lives) and the task's
    /// entry, which [`list`](TaskSlot::list) links into the node's
    /// registry. Pinned, because the registry points at the entry where it
    /// is. Ending the task, or dropping the slot, unlists the entry and then
    /// releases the hold.
    pub(crate) struct TaskSlot {
        node: NodePtr,
        #[pin]
        entry: TaskEntry,
    }

    impl PinnedDrop for TaskSlot {
        fn drop(this: Pin<&mut Self>) {
            this.end();
        }
    }
}

/// A task's pointer to its node: valid while the task holds its hold
/// (until `end`), see the module docs and `node`. Under loom it also keeps
/// a `Weak`, and checks at every use that the node is still alive, so the
/// models catch a node freed under a task.
struct NodePtr {
    ptr: NonNull<Node>,
    #[cfg(loom)]
    alive: crate::sync::Weak<Node>,
}

// SAFETY: the pointer is only ever used as a `&Node` (and `Node` is `Send`
// and `Sync`), while the slot's hold keeps the node alive.
unsafe impl Send for NodePtr {}
// SAFETY: as for `Send`.
unsafe impl Sync for NodePtr {}

impl NodePtr {
    fn new(node: &Arc<Node>) -> Self {
        NodePtr {
            ptr: NonNull::from(&**node),
            #[cfg(loom)]
            alive: Arc::downgrade(node),
        }
    }

    /// The pointer, for a slot that still holds its hold.
    fn get(&self) -> NonNull<Node> {
        #[cfg(loom)]
        assert!(
            self.alive.is_alive(),
            "a task touched its node after it was freed"
        );
        self.ptr
    }
}

impl TaskSlot {
    /// Takes a hold on `node` for a task named `name`, unless the node has
    /// quit. The task counts at once; it is listed by [`list`](Self::list).
    #[inline]
    pub(crate) fn take(
        node: &Arc<Node>,
        name: Cow<'static, str>,
        location: &'static Location<'static>,
    ) -> Option<TaskSlot> {
        node.try_hold_task().then(|| TaskSlot {
            node: NodePtr::new(node),
            entry: TaskEntry {
                links: Links::new(),
                meta: TaskMeta {
                    name,
                    location,
                    started: Started::NOT_YET,
                },
                status: AtomicU8::new(UNLISTED),
            },
        })
    }

    /// The node, while the slot holds it.
    fn node(&self) -> &Node {
        debug_assert_ne!(self.entry.status.load(Ordering::Relaxed), ENDED);
        // SAFETY: the slot has not ended (every caller checks), so it still
        // holds its hold, which keeps the node alive (see `node`).
        unsafe { self.node.get().as_ref() }
    }

    /// Lists the task in its node's registry, on this thread's shard. Does
    /// nothing if it is listed already or has ended.
    pub(crate) fn list(self: Pin<&mut Self>) {
        if self.entry.status.load(Ordering::Relaxed) != UNLISTED {
            return;
        }
        let node = self.node.get();
        // SAFETY: not ended (checked above), so as in `node`; a copy of the
        // pointer, since `self` is borrowed mutably below.
        let node = unsafe { node.as_ref() };
        let (index, shard) = node.own_shard();
        let mut entry = self.project().entry;
        // In no list yet, so ours alone: the task starts running now.
        entry.as_mut().project().meta.started = Started::now();
        let entry = entry.into_ref();
        // SAFETY: the entry is unlisted (checked above) and pinned. It stays
        // live and pinned until `end` removes it from this same registry:
        // `end` runs in the slot's `Drop`, which `Pin` guarantees before the
        // memory is reused, and the node (so its registry) lives until
        // `end` releases the hold, after the removal.
        unsafe { node.extra().tasks.register(index, shard, entry) };
    }

    /// Whether the task is listed (so a report names it).
    pub(crate) fn is_listed(&self) -> bool {
        usize::from(self.entry.status.load(Ordering::Relaxed)) < SHARDS
    }

    /// A snapshot of the task: name, location and age.
    pub(crate) fn info(&self) -> TaskInfo {
        self.entry.meta.snapshot()
    }

    /// Ends the task: unlists it, then releases its hold (which may make
    /// the node done). Does nothing the second time.
    pub(crate) fn end(self: Pin<&mut Self>) {
        // A load and a store, not a swap (a locked instruction): only the
        // slot touches `status`.
        let status = self.entry.status.load(Ordering::Relaxed);
        if status == ENDED {
            return;
        }
        let node = self.node.get();
        // SAFETY: not ended (checked above), so as in `node`; a copy of the
        // pointer, since `self` is borrowed mutably below.
        let node = unsafe { node.as_ref() };
        let this = self.project();
        let entry = this.entry.into_ref();
        let shard = usize::from(status);
        if shard < SHARDS {
            // SAFETY: the status names the shard of this node's registry
            // that `list` put the entry in.
            unsafe { node.extra().tasks.remove(shard, entry) };
        }
        entry.status.store(ENDED, Ordering::Relaxed);
        // The last touch of the node: it may be freed as soon as the hold
        // is gone.
        node.release_task();
    }

    /// Records that the task panicked with `message`, then ends it.
    pub(crate) fn panicked(self: Pin<&mut Self>, message: String) {
        if self.entry.status.load(Ordering::Relaxed) != ENDED {
            self.node().record_panic(self.info(), message);
        }
        self.end();
    }
}

/// This thread's shard number: handed out round-robin at a thread's first
/// spawn or listing (in any registry), then fixed.
#[cfg(all(not(loom), feature = "std"))]
#[inline]
pub(crate) fn this_thread_shard() -> usize {
    use core::cell::Cell;
    use core::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        // A `const` thread-local (no lazy-init check on each use); `SHARDS`
        // until the thread first asks.
        static SHARD: Cell<usize> = const { Cell::new(SHARDS) };
    }
    // A thread tearing down its thread-locals (a runtime dropping tasks from
    // a destructor, say) has no shard number any more: any shard is correct.
    SHARD
        .try_with(|shard| {
            let mut index = shard.get();
            if index == SHARDS {
                index = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
                shard.set(index);
            }
            index
        })
        .unwrap_or(0)
}

/// Under loom, the same with loom's statics, which start afresh in every
/// execution (a process-wide counter would make the model nondeterministic).
#[cfg(loom)]
pub(crate) fn this_thread_shard() -> usize {
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
pub(crate) fn this_thread_shard() -> usize {
    0
}
