//! The two walks flowing down: [`Node::drain`] sets `DRAIN` on a node and
//! every descendant, and [`Node::quit`] sets `QUIT` (with `DRAIN`, which it
//! implies), sweeps each node it is the first to quit, and wakes each
//! node's waiters of the flags it set. Each is a loop with an explicit
//! stack (no recursion, no task per child). A waker that panics does not
//! cut a walk short: the walk finishes, then the first panic is resumed.
//!
//! Both list a node's children under its family lock after setting the
//! flag, and a child is made under that lock with an RMW of the parent's
//! word that sees the flag (see `Node::child`): so a child is either listed
//! by the walk or starts with the flag. Nothing is missed.

use alloc::vec::Vec;

use super::node::{push_children, Family, Node};
use super::state::Flag;
use crate::report::QuitCause;
use crate::sync::Arc;
use crate::trace;
use crate::waiting::waiters::DeferredPanic;

impl Node {
    /// Puts this node and every descendant into draining, iteratively.
    /// Returns `true` if this call started it on `this`.
    pub(crate) fn drain(this: &Arc<Node>) -> bool {
        let mut stack: Vec<Arc<Node>> = Vec::new();
        let mut panic = DeferredPanic::default();
        let first = Node::drain_one(this, &mut stack, &mut panic);
        Node::drain_walk(stack, &mut panic);
        panic.resume();
        first
    }

    fn drain_walk(mut stack: Vec<Arc<Node>>, panic: &mut DeferredPanic) {
        while let Some(node) = stack.pop() {
            Node::drain_one(&node, &mut stack, panic);
        }
    }

    /// Sets `DRAIN` on one node and pushes its children (even if it was
    /// draining already: a concurrent drain may not have reached them yet).
    /// A node without `Extra` sets the flag and looks again, as in
    /// [`quit_one`](Node::quit_one).
    fn drain_one(this: &Arc<Node>, stack: &mut Vec<Arc<Node>>, panic: &mut DeferredPanic) -> bool {
        let first = match this.extra.get() {
            Some(extra) => {
                let family = extra.family.lock();
                let first = this.state.drain();
                push_children(&family, stack);
                first
            }
            None => {
                let first = this.state.drain();
                this.push_children(stack);
                first
            }
        };
        if first {
            this.wake(Flag::Drain, panic);
        }
        first
    }

    /// Wakes the waiters of `flag`, which this caller set.
    fn wake(&self, flag: Flag, panic: &mut DeferredPanic) {
        // After the flag was set, and after this node's `Extra` was looked
        // for again: a waiter that stored its waker before the flag made
        // the `Extra` first (see `waiting::waiters`).
        if self.extra.get().is_some() {
            self.waiters(flag).wake_all(panic);
        }
    }

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
        Node::quit_walk(stack, &mut panic);
        // Every descendant is quitting and every waiter woken: now a
        // waker's panic may go on.
        panic.resume();
        first
    }

    /// Quits `nodes` and their descendants (a stage of their parent's
    /// order that is due), with the cause of their nearest ancestor.
    pub(super) fn quit_all(nodes: Vec<Arc<Node>>, panic: &mut DeferredPanic) {
        Node::quit_walk(nodes, panic);
    }

    fn quit_walk(mut stack: Vec<Arc<Node>>, panic: &mut DeferredPanic) {
        while let Some(node) = stack.pop() {
            Node::quit_one(&node, None, &mut stack, panic);
            // `node` may be the last handle: its drop locks its parent,
            // which this loop does not hold.
        }
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
        // Children of later stages, upgraded under the lock, drained after
        // it.
        let mut later = Vec::new();
        let (outcome, zero) = match extra {
            Some(extra) => {
                let mut family = extra.family.lock();
                let outcome = this.state.quit();
                if let (true, Some(cause)) = (outcome.first, cause) {
                    family.cause = Some(cause.clone());
                }
                reached_children(&mut family, outcome.first, stack, &mut later);
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
                        reached_children(&mut family, outcome.first, stack, &mut later);
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
        // A quit implies draining, for the stages still to come too.
        Node::drain_walk(later, panic);
        if outcome.first_drain {
            this.wake(Flag::Drain, panic);
        }
        if outcome.first {
            this.wake(Flag::Quit, panic);
        }
        if outcome.became_done || zero.flatten().is_some_and(|zero| zero.done) {
            this.became_done();
        }
        outcome.first
    }
}

/// Pushes the children a quit of their parent reaches (family locked):
/// all of them, or for a staged parent those of the stages entered so far,
/// entering the first one at the parent's `first` quit (see `stages`). The
/// others go to `later`, to be dropped once the lock is let go.
fn reached_children(
    family: &mut Family,
    first: bool,
    stack: &mut Vec<Arc<Node>>,
    later: &mut Vec<Arc<Node>>,
) {
    let start = stack.len();
    push_children(family, stack);
    let Some(stages) = family.stages.as_deref_mut() else {
        return;
    };
    let entered = if first {
        stages.enter(0, &stack[start..])
    } else {
        stages.current_number()
    };
    let mut index = start;
    while index < stack.len() {
        if stack[index].stage() > entered {
            later.push(stack.swap_remove(index));
        } else {
            index += 1;
        }
    }
}
