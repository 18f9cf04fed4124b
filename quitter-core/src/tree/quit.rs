//! The quit flowing down: [`Node::quit`] sets `QUIT` on a node and every
//! descendant, in a loop with an explicit stack (no recursion, no task per
//! child), sweeps each node it is the first to quit, and wakes each node's
//! quit waiters. A waker that panics does not cut the walk short: the walk
//! finishes, then the first panic is resumed.

use alloc::vec::Vec;

use super::node::{push_children, Node};
use crate::report::QuitCause;
use crate::sync::Arc;
use crate::trace;
use crate::waiting::waiters::DeferredPanic;

impl Node {
    /// Quits this node and every descendant, iteratively. Returns `true` if
    /// this call quit `this` (first cause wins).
    pub(crate) fn quit(this: &Arc<Node>, cause: QuitCause) -> bool {
        let cause = Arc::new(cause);
        let mut stack: Vec<Arc<Node>> = Vec::new();
        let mut panic = DeferredPanic::default();
        let first = Node::quit_one(this, Some(&cause), &mut stack, &mut panic);
        if first {
            trace::quit(&this.span, || this.path(), &cause);
        }
        while let Some(node) = stack.pop() {
            Node::quit_one(&node, None, &mut stack, &mut panic);
            // `node` may be the last handle: its drop locks its parent,
            // which this loop does not hold.
        }
        // Every descendant is quitting and every waiter woken: now a
        // waker's panic may go on.
        panic.resume();
        first
    }

    /// Sets `QUIT` on one node (storing `cause` if this is the node where
    /// the quit started, and the first quit of it), pushes its children and
    /// sweeps it if nobody has yet.
    /// Children are pushed even if the node had already quit: a concurrent
    /// quit may have set the bit without having reached the children yet,
    /// and `quit()` promises that every descendant is quitting when it
    /// returns.
    ///
    /// A node without `Extra` has no children to list, unless a `child()`
    /// is creating it right now. So it sets `QUIT` and looks again: a child
    /// whose `try_hold` came before that `QUIT` made the `Extra` before its
    /// `try_hold`, and our `quit` RMW acquires that `try_hold`, so the second
    /// look sees the `Extra`, and its lock (taken after the child's critical
    /// section, which holds that `try_hold`) shows the child. The same
    /// second look finds a count word made before the quit (see
    /// `make_shard`).
    fn quit_one(
        this: &Arc<Node>,
        cause: Option<&Arc<QuitCause>>,
        stack: &mut Vec<Arc<Node>>,
        panic: &mut DeferredPanic,
    ) -> bool {
        let extra = match cause {
            Some(_) => Some(this.extra()),
            None => this.extra.get().map(|extra| &**extra),
        };
        let (outcome, zero) = match extra {
            Some(extra) => {
                let mut family = extra.family.lock();
                let outcome = this.state.quit();
                if let (true, Some(cause)) = (outcome.first, cause) {
                    family.cause = Some(cause.clone());
                }
                push_children(&family, stack);
                let zero = outcome
                    .sweeps
                    .then(|| Node::sweep(this, extra, &mut family));
                (outcome, zero)
            }
            None => {
                let outcome = this.state.quit();
                let zero = match this.extra.get() {
                    Some(extra) => {
                        let mut family = extra.family.lock();
                        push_children(&family, stack);
                        outcome
                            .sweeps
                            .then(|| Node::sweep(this, extra, &mut family))
                    }
                    // No task, no child: nothing to close or keep.
                    None => outcome.sweeps.then(|| this.state.settle(0, false)),
                };
                (outcome, zero)
            }
        };
        if outcome.first {
            // After `QUIT`, and after this node's `Extra` was looked for
            // again: a waiter that stored its waker before `QUIT` made the
            // `Extra` first (see `waiting::waiters`).
            if let Some(extra) = this.extra.get() {
                extra.waiters.wake_all(panic);
            }
        }
        if outcome.became_done || zero.flatten().is_some_and(|zero| zero.done) {
            this.became_done();
        }
        outcome.first
    }
}
