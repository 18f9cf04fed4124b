//! The task registry of one node ([`TaskRegistry`]) and a task's entry in
//! it ([`TaskEntry`]): the name, location and start of every live tracked
//! task, so that a report can say which tasks did not return.
//!
//! The registry knows nothing of the tree: the node owns one, and a task's
//! slot (`tree::slot`), which holds the node, tells it which shard to list
//! an entry in and when to take it out.
//!
//! Why it is intrusive: a task's entry lives inside the task's own pinned
//! future (or a `TaskGuard`'s box), and the registry links it there (see
//! `sync::list`). Listing a task allocates nothing, so a tracked task costs
//! the heap no more than the runtime's task does (a slab of entries cost
//! about 80 bytes a task).
//!
//! Why it is sharded by thread: a tracked future lists its task at its
//! first poll, on the thread that polls it, and the task usually ends on
//! that same thread. Each thread lists in its own shard (a list behind a
//! lock, on a cache line pair of its own: x86 fetches lines in pairs), so
//! listing and unlisting touch memory that stays in that thread's cache.
//! The shard also holds the thread's share of the node's task count (see
//! [`count`](super::count)): the spawning thread adds to its own shard's
//! word and the ending thread subtracts from its own, so neither writes a
//! line the other writes. Threads get shard numbers round-robin, so up to
//! [`SHARDS`] threads never share one; more threads share, which is
//! correct, only slower. A thread's shard is made (by the node, under its
//! lock) when it first spawns or lists a task there. Without `std` there
//! are no threads to tell apart, and every task uses shard 0.
//!
//! Invariants (the callers' side is argued in `tree::slot`):
//! - An entry is listed at most once at a time, and only in the registry
//!   its caller names; [`TaskRegistry::unlist`] takes it out of that same
//!   registry before the entry ends or the registry goes. Its `status`
//!   (the shard it is in) is read and written by its owner alone.
//! - The list rules hold (see `sync::list`): entries are pinned where they
//!   are, and a shard's list is only touched under its lock.
//! - `meta` is written only while the entry is unlisted.
//! - A shard is never locked while another is, and nothing else is locked
//!   while one is held but the rows of a task table listed there (a
//!   report, a count): shard, then rows, is the only nesting, and the
//!   rows' lock is a leaf (see `rows`).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::panic::Location;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::Waker;

use futures_util::task::AtomicWaker;

use pin_project_lite::pin_project;

use super::clock::TaskStart;
use super::count::ShardCount;
use super::meta::{TaskMeta, TaskName};
use crate::report::TaskInfo;
use crate::sync::list::{impl_linked, Links, List};
use crate::sync::{AtomicU8, Mutex, OnceCell, Ordering};

/// The most shards a registry spreads over.
const SHARDS: usize = 8;
/// [`TaskEntry::status`]: in no shard.
const UNLISTED: u8 = 0xff;

pin_project! {
    /// One task's registry entry: what a report shows of it.
    pub(crate) struct TaskEntry {
        #[pin]
        links: Links<TaskEntry>,
        // Written only while unlisted (the start, at listing), then read.
        meta: TaskMeta,
        // The shard the entry is listed in, or `UNLISTED`. Only its owner
        // reads or writes it; atomic (relaxed) only so that the entry
        // is `Sync`.
        status: AtomicU8,
        // What an abort wakes, out of line (`None`: the task cannot be
        // aborted, and pays one word for it). Set only while unlisted.
        abort: Option<Box<AbortCell>>,
    }

    impl PinnedDrop for TaskEntry {
        fn drop(this: Pin<&mut Self>) {
            this.links.end();
        }
    }
}

impl_linked!(TaskEntry, links);

impl TaskEntry {
    /// An unlisted entry for a task named `name`, tracked at `location`.
    pub(crate) fn new(name: TaskName, location: &'static Location<'static>) -> Self {
        TaskEntry {
            links: Links::new(),
            meta: TaskMeta {
                name,
                location,
                started: TaskStart::NOT_YET,
            },
            status: AtomicU8::new(UNLISTED),
            abort: None,
        }
    }

    /// Makes the task abortable (see `tree::abort`): an abort wakes
    /// `hook` if given (the runtime's cancel hook), else the waker the task
    /// registers at each poll, and the task then unwinds if `unwind`.
    /// Only while unlisted (it is `&mut`: not pinned yet).
    pub(crate) fn make_abortable(&mut self, unwind: bool, hook: Option<&Waker>) {
        let cell = AbortCell {
            waker: AtomicWaker::new(),
            unwind,
        };
        if let Some(hook) = hook {
            cell.waker.register(hook);
        }
        self.abort = Some(Box::new(cell));
    }

    /// What an abort of the task's node wakes, if it is abortable.
    pub(crate) fn abort_cell(&self) -> Option<&AbortCell> {
        self.abort.as_deref()
    }

    /// Renames the entry for the next task that uses it, reusing the
    /// name's buffer: `write` writes the new name into it, cleared. Only
    /// while unlisted (asserted in debug builds), so no report reads it.
    pub(crate) fn rename(self: Pin<&mut Self>, write: impl FnOnce(&mut String)) {
        debug_assert!(!self.is_listed(), "renaming a listed task entry");
        let meta = self.project().meta;
        // The last task's start is not this one's: none until it is listed.
        meta.started = TaskStart::NOT_YET;
        let mut name = match core::mem::take(&mut meta.name) {
            TaskName::Task(Cow::Owned(buffer)) => buffer,
            _ => String::new(),
        };
        name.clear();
        write(&mut name);
        meta.name = TaskName::Task(Cow::Owned(name));
    }

    /// Whether the entry is listed (so a report names it).
    #[inline]
    pub(crate) fn is_listed(&self) -> bool {
        usize::from(self.status.load(Ordering::Relaxed)) < SHARDS
    }

    /// A snapshot of the task: name, location and age.
    pub(crate) fn info(&self) -> TaskInfo {
        self.meta.snapshot()
    }
}

/// An abortable task's abort waker, and how it ends once aborted.
pub(crate) struct AbortCell {
    pub(crate) waker: AtomicWaker,
    /// It unwinds (else its runtime's hook, in `waker`, cancels it).
    pub(crate) unwind: bool,
}

// SAFETY: `links` are touched only under the lock of the list the entry is
// in (list rule 1); `meta` is written only while the entry is in no list
// (so only its slot can reach it); `status` is atomic; `abort` is written only
// while unlisted, and its cell is atomic. So sharing or
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

    /// Lists `entry` in shard `index` (the calling thread's, `shard`), and
    /// stamps its start: the task runs from now. Does nothing if it is
    /// listed already.
    ///
    /// # Safety
    ///
    /// `shard` is shard `index` of this registry. `entry` is in no other
    /// registry, and stays live and pinned until [`unlist`](Self::unlist)
    /// on this registry takes it out.
    pub(crate) unsafe fn list(&self, index: usize, shard: &Shard, mut entry: Pin<&mut TaskEntry>) {
        if entry.is_listed() {
            return;
        }
        let fields = entry.as_mut().project();
        // In no list yet, so ours alone.
        fields.meta.started = TaskStart::now();
        fields.status.store(index as u8, Ordering::Relaxed);
        let entry = entry.into_ref();
        let mut list = shard.list.lock();
        // SAFETY: the entry was unlisted (checked above) and is pinned; it
        // stays live and pinned until `unlist` (caller), and we hold this
        // shard's lock.
        unsafe { list.push_back(NonNull::from(&*entry)) };
    }

    /// Takes `entry` out of the shard it is listed in, if any.
    ///
    /// # Safety
    ///
    /// If `entry` is listed, it was listed in this registry by
    /// [`list`](Self::list).
    pub(crate) unsafe fn unlist(&self, entry: Pin<&TaskEntry>) {
        let index = usize::from(entry.status.load(Ordering::Relaxed));
        // Made before the entry was listed in it; `None` if unlisted.
        let Some(shard) = self.shards.get(index).and_then(|shard| shard.get()) else {
            return;
        };
        let mut list = shard.list.lock();
        // SAFETY: the status names the shard of this registry (caller) that
        // `list` put the entry in, and we hold the shard's lock.
        unsafe { list.remove(NonNull::from(&*entry)) };
        drop(list);
        entry.status.store(UNLISTED, Ordering::Relaxed);
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

    /// How many tasks are listed (a task table's live rows each count),
    /// and in how many entries.
    pub(crate) fn tasks(&self) -> (usize, usize) {
        let mut tasks = 0;
        let mut entries = 0;
        for shard in self.shards() {
            let list = shard.lock();
            entries += list.len();
            tasks += list
                .iter()
                // SAFETY: as in `snapshot`.
                .map(|entry| unsafe { &entry.as_ref().meta }.tasks())
                .sum::<usize>();
        }
        (tasks, entries)
    }

    /// Takes the abort waker of every listed task into `into` (to be woken
    /// by the caller, outside the locks).
    pub(crate) fn take_abort_wakers(&self, into: &mut Vec<Waker>) {
        for shard in self.shards() {
            let list = shard.lock();
            into.extend(list.iter().filter_map(|entry| {
                // SAFETY: an entry in the list is live while we hold its
                // lock (list rule 2); `abort` is not written while listed.
                let abort = unsafe { &entry.as_ref().abort };
                abort.as_ref().and_then(|cell| cell.waker.take())
            }));
        }
    }

    /// Every listed task (a task table's live rows each one), oldest
    /// first (with `std`; without, in shard order), how many entries they
    /// were listed in, and how many of those were task tables with no
    /// live row.
    pub(crate) fn snapshot(&self) -> Listed {
        let mut found = Vec::new();
        let mut listed = Listed::default();
        for shard in self.shards() {
            let list = shard.lock();
            listed.entries += list.len();
            for entry in list.iter() {
                // SAFETY: an entry in the list is live while we hold its
                // lock (list rule 2); `meta` is not written while listed.
                // A table's rows are read under their own lock, a leaf
                // (`rows`), inside this one.
                let meta = unsafe { &entry.as_ref().meta };
                if !meta.collect(&mut found) {
                    listed.idle_tables += 1;
                }
            }
        }
        found.sort_by_key(|(started, _)| *started);
        listed.tasks = found.into_iter().map(|(_, info)| info).collect();
        listed
    }
}

/// What a registry lists, as [`TaskRegistry::snapshot`] read it.
#[derive(Default)]
pub(crate) struct Listed {
    /// The named tasks (a task table's live rows each one).
    pub(crate) tasks: Vec<TaskInfo>,
    /// The entries (a task, or a task table: one hold each).
    pub(crate) entries: usize,
    /// Task tables that named no task (no live row): each holds its node.
    pub(crate) idle_tables: usize,
}

/// This thread's shard number: handed out round-robin at a thread's first
/// spawn or listing (in any registry), then fixed.
#[cfg(all(not(loom), feature = "std"))]
#[inline]
pub(crate) fn this_thread_shard() -> usize {
    use core::cell::Cell;
    use core::sync::atomic::AtomicUsize;
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
