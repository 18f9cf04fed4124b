//! [`NodeHold`]: one task's hold on its node, the only owner of the raw
//! pointer a task keeps to its node, and of the `unsafe` that uses it.
//!
//! Why a pointer and not an `Arc`: a spawn must not write the node's cache
//! line (see `tasks::count`), and an `Arc` clone per task would. The hold
//! (counted in a per-thread word or the state word) is what keeps the node
//! alive instead; `tree` (the module docs) says why that is enough.
//!
//! Invariants:
//! - While a `NodeHold` exists, its hold is counted, so the node lives:
//!   [`node`](NodeHold::node) hands out a `&Node` bound to the borrow of
//!   the hold, and the borrow checker ends every such reference before the
//!   hold can be released (releasing consumes it: its `Drop`).
//! - The release is the hold's `Drop`, and runs there, not in a method of
//!   `Node`: once the count is decremented another thread may free the
//!   node, so no `&Node` may be a live *function argument* at that point
//!   (it would be a protected reference to freed memory: the pattern std's
//!   `Arc::drop` avoids, rust-lang/rust#55005). The decrement goes through
//!   `&ShardCount`/`&State` (atomics only, which the aliasing model does
//!   not protect), and the node's methods that run after it, with the node
//!   kept alive by its own `Arc`, hand that `Arc` back here to be dropped
//!   last. So no method taking `&self` can free `self`.

use core::ptr::NonNull;

use super::node::Node;
use crate::sync::Arc;
use crate::tasks::count::ShardCount;

/// One task's counted hold on its node (see the module docs).
pub(crate) struct NodeHold {
    node: NonNull<Node>,
    /// Under loom, a `Weak` that checks at every use that the node is
    /// still alive, so the models catch a node freed under a task.
    #[cfg(loom)]
    alive: crate::sync::Weak<Node>,
}

// SAFETY: the pointer is only ever used as a `&Node` (and `Node` is `Send`
// and `Sync`), while the hold keeps the node alive.
unsafe impl Send for NodeHold {}
// SAFETY: as for `Send`.
unsafe impl Sync for NodeHold {}

impl NodeHold {
    /// Takes a hold on `node` for one task, unless it has quit.
    #[inline]
    pub(crate) fn take(node: &Arc<Node>) -> Option<NodeHold> {
        node.try_hold_task().then(|| NodeHold {
            node: NonNull::from(&**node),
            #[cfg(loom)]
            alive: Arc::downgrade(node),
        })
    }

    /// The node, for as long as the hold is borrowed.
    #[inline]
    pub(crate) fn node(&self) -> &Node {
        #[cfg(loom)]
        assert!(
            self.alive.is_alive(),
            "a task touched its node after it was freed"
        );
        // SAFETY: the hold is counted until `drop`, which cannot run while
        // `self` is borrowed, so the node lives (module docs).
        unsafe { self.node.as_ref() }
    }
}

impl Drop for NodeHold {
    /// Releases the hold: on this thread's count word if it is open, else
    /// on the state word; the last hold of a quit node makes it done, and
    /// the node's `Arc` of itself, if it kept one, is dropped here, last.
    #[inline]
    fn drop(&mut self) {
        // A local reference, not an argument: it is not used after the
        // decrement that may let another thread free the node.
        let node = self.node();
        if node.own_shard_count().is_some_and(ShardCount::try_sub) {
            return;
        }
        let Some(zero) = node.state.release() else {
            return;
        };
        // Zero comes only after the sweep, which kept the node alive by its
        // own `Arc` for the holds it left: alive until `kept` drops.
        let kept = node.released_last_hold(zero);
        drop(kept);
    }
}
