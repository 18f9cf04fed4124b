//! [`TaskSlot`]: one task's place in its node, where the tree meets the
//! task registry. It owns the task's [`NodeHold`] (so the node is not
//! done, and lives, while the task lives) and the task's registry entry,
//! which [`list`](TaskSlot::list) links into the node's registry in place.
//!
//! Invariants:
//! - The entry is listed only in its own node's registry, only while the
//!   slot holds the node, and [`end`](TaskSlot::end) unlists it *before*
//!   releasing the hold: so a report taken after `done()` never shows an
//!   ended task, and the registry outlives every entry listed in it.
//! - The slot is pinned (the registry points at the entry where it is),
//!   and its `Drop` ends it: `Pin` promises that runs before the memory is
//!   reused. After `end` the slot never touches the node again, unless it
//!   is [`restart`](TaskSlot::restart)ed (a reused slot, `SerialTask`):
//!   with a hold of its own, so its entry is listed only in the registry
//!   of the node it holds, and renamed only while unlisted.

use alloc::string::String;
use core::panic::Location;
use core::pin::Pin;

use pin_project_lite::pin_project;

use super::hold::NodeHold;
use super::node::Node;
use crate::report::TaskInfo;
use crate::sync::Arc;
use crate::tasks::meta::TaskName;
use crate::tasks::registry::{AbortCell, TaskEntry};

pin_project! {
    /// One task's hold on its node and its registry entry; see the module
    /// docs.
    pub(crate) struct TaskSlot {
        // `None` once the task has ended.
        hold: Option<NodeHold>,
        #[pin]
        entry: TaskEntry,
    }

    impl PinnedDrop for TaskSlot {
        fn drop(this: Pin<&mut Self>) {
            this.end();
        }
    }
}

impl TaskSlot {
    /// Takes a hold on `node` for a task named `name`, unless the node has
    /// quit. The task counts at once; it is listed by [`list`](Self::list).
    #[inline]
    pub(crate) fn take(
        node: &Arc<Node>,
        name: impl Into<TaskName>,
        location: &'static Location<'static>,
    ) -> Option<TaskSlot> {
        Some(TaskSlot {
            hold: Some(NodeHold::take(node)?),
            entry: TaskEntry::new(name.into(), location),
        })
    }

    /// A slot with no task yet (holding nothing, unlisted), for
    /// [`restart`](Self::restart): a record reused by one task after
    /// another.
    pub(crate) fn idle(location: &'static Location<'static>) -> TaskSlot {
        TaskSlot {
            hold: None,
            entry: TaskEntry::new(TaskName::default(), location),
        }
    }

    /// Starts the next task in the slot, ending the one it holds first
    /// (if any): renames the entry (`name` writes into the reused buffer)
    /// and takes a hold on `node`; the task counts at once, and is listed
    /// in `node`'s registry by [`list`](Self::list). `false` if the node
    /// has quit (nothing is held). `node` may differ from the last one:
    /// `end` unlisted the entry from that node's registry before releasing
    /// its hold, so the entry is only ever listed in the registry of the
    /// node it holds.
    pub(crate) fn restart(
        mut self: Pin<&mut Self>,
        node: &Arc<Node>,
        name: impl FnOnce(&mut String),
    ) -> bool {
        self.as_mut().end();
        // Renamed before the hold is taken: a panic in `name` leaves
        // nothing held.
        self.as_mut().project().entry.rename(name);
        let Some(hold) = NodeHold::take(node) else {
            return false;
        };
        *self.project().hold = Some(hold);
        true
    }

    /// Lists the task in its node's registry, on this thread's shard. Does
    /// nothing if it is listed already or has ended.
    #[inline(always)]
    pub(crate) fn list(self: Pin<&mut Self>) {
        // The check inline (a tracked future asks at every poll), the
        // listing out of line (once per task).
        if !self.entry.is_listed() {
            self.list_now();
        }
    }

    /// [`list`](Self::list) past its check.
    #[inline(never)]
    fn list_now(self: Pin<&mut Self>) {
        let this = self.project();
        let Some(hold) = this.hold.as_ref() else {
            return;
        };
        let node = hold.node();
        let (index, shard) = node.own_shard();
        // SAFETY: `shard` is shard `index` of this node's registry, and the
        // entry is in no other. It stays live and pinned until `end` takes
        // it out of this registry: `end` runs in the slot's `Drop` at the
        // latest, and the node (so its registry) lives until `end` releases
        // the hold, after that.
        unsafe { node.tasks().list(index, shard, this.entry) };
    }

    /// Whether the task is listed (so a report names it).
    pub(crate) fn is_listed(&self) -> bool {
        self.entry.is_listed()
    }

    /// A snapshot of the task: name, location and age.
    pub(crate) fn info(&self) -> TaskInfo {
        self.entry.info()
    }

    /// Ends the task: unlists it, then releases its hold (which may make
    /// the node done, or free it). Does nothing the second time.
    pub(crate) fn end(self: Pin<&mut Self>) {
        let this = self.project();
        let Some(hold) = this.hold.take() else {
            return;
        };
        let entry = this.entry.into_ref();
        if entry.is_listed() {
            // SAFETY: a listed entry was listed by `list`, in this node's
            // registry.
            unsafe { hold.node().tasks().unlist(entry) };
        }
        // The last touch of the node: it may be freed as soon as the hold
        // is gone.
        drop(hold);
    }

    /// Makes the task abortable (see `TaskEntry::make_abortable`); before
    /// it is pinned.
    pub(crate) fn make_abortable(&mut self, unwind: bool, hook: Option<&core::task::Waker>) {
        self.entry.make_abortable(unwind, hook);
    }

    /// What an abort of the task's node wakes, if it is abortable.
    pub(crate) fn abort_cell(&self) -> Option<&AbortCell> {
        self.entry.abort_cell()
    }

    /// Has the task's node been aborted? `false` once the task ended.
    #[inline]
    pub(crate) fn is_aborted(&self) -> bool {
        self.hold
            .as_ref()
            .is_some_and(|hold| hold.node().state.is_aborted())
    }

    /// Records that the task is being aborted (its future is dropped
    /// next, then the slot ends).
    pub(crate) fn record_abort(&self) {
        if let Some(hold) = &self.hold {
            hold.node().record_abort(self.info());
        }
    }

    /// Records `task` (one of this slot's task table's rows, ending) as
    /// aborted.
    pub(crate) fn record_abort_of(&self, task: TaskInfo) {
        if let Some(hold) = &self.hold {
            hold.node().record_abort(task);
        }
    }

    /// Records that the task panicked with `message`, then ends it.
    pub(crate) fn panicked(self: Pin<&mut Self>, message: String) {
        if let Some(hold) = &self.hold {
            hold.node().record_panic(self.info(), message);
        }
        self.end();
    }
}
