//! The two walks flowing down: [`Node::drain`] sets `DRAIN` on a node and
//! every descendant, and [`Node::quit`] sets `QUIT` (with `DRAIN`, which it
//! implies), sweeps each node it is the first to quit, and wakes each
//! node's waiters of the flags it set. Each goes through a [`Work`] list
//! (no recursion, no task per child). A waker that panics does not cut a
//! walk short: the walk finishes, then the first panic is resumed.
//!
//! Both list a node's children under its family lock after setting the
//! flag, and a child is made under that lock with an RMW of the parent's
//! word that sees the flag (see `Node::child`): so a child is either listed
//! by the walk or starts with the flag. Nothing is missed.

use alloc::vec::Vec;

use super::node::{push_children, Family, Node};
use super::state::Flag;
use super::work::Work;
use crate::report::QuitCause;
use crate::sync::Arc;
use crate::trace;

impl Node {
    /// Puts this node and every descendant into draining. Returns `true`
    /// if this call started it on `this`.
    pub(crate) fn drain(this: &Arc<Node>) -> bool {
        let mut work = Work::default();
        let first = Node::drain_one(this, &mut work);
        work.finish();
        first
    }

    /// Sets `DRAIN` on one node and queues its children (even if it was
    /// draining already: a concurrent drain may not have reached them yet).
    /// A node without `Extra` sets the flag and looks again, as in
    /// [`quit_one`](Node::quit_one).
    pub(super) fn drain_one(this: &Arc<Node>, work: &mut Work) -> bool {
        let first = match this.extra.get() {
            Some(extra) => {
                let family = extra.family.lock();
                let first = this.state.drain();
                push_children(&family.children, &mut work.drain);
                first
            }
            None => {
                let first = this.state.drain();
                this.push_children(&mut work.drain);
                first
            }
        };
        if first {
            this.wake(Flag::Drain, work);
        }
        first
    }

    /// Wakes the waiters of `flag`, which this caller set. Drain waiters
    /// are woken at the end of the walk (from `work`), once every node it
    /// reaches is draining: whoever a drain wakes (a readiness endpoint's
    /// log, a test) finds the whole subtree draining. Quit waiters are
    /// woken at once, in batches, with nothing allocated (a quit may wake
    /// very many).
    fn wake(&self, flag: Flag, work: &mut Work) {
        // After the flag was set, and after this node's `Extra` was looked
        // for again: a waiter that stored its waker before the flag made
        // the `Extra` first (see `waiting::waiters`).
        if self.extra.get().is_some() {
            match flag {
                Flag::Drain => self.waiters(flag).take_all(|waker| work.wake.push(waker)),
                Flag::Quit => self.waiters(flag).wake_all(&mut work.panic),
            }
        }
    }

    /// Quits this node and every descendant it reaches (all of them, or
    /// the stages due: see `stages`). Returns `true` if this call quit
    /// `this` (first cause wins).
    pub(crate) fn quit(this: &Arc<Node>, cause: QuitCause) -> bool {
        let cause = Arc::new(cause);
        let mut work = Work::default();
        let first = Node::quit_one(this, Some(&cause), &mut work);
        if first {
            trace::quit(&this.span, || this.path(), &cause);
        }
        // Every descendant reached is quitting and every waiter woken when
        // this returns; a waker's panic goes on after that.
        work.finish();
        first
    }

    /// Sets `QUIT` on one node (storing `cause` if this is the node where
    /// the quit started, and the first quit of it), queues the children it
    /// reaches and sweeps it if nobody has yet.
    /// Children are queued even if the node had already quit: a concurrent
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
    pub(super) fn quit_one(
        this: &Arc<Node>,
        cause: Option<&Arc<QuitCause>>,
        work: &mut Work,
    ) -> bool {
        let extra = match cause {
            Some(_) => Some(this.extra()),
            None => this.extra.get().map(|extra| &**extra),
        };
        // Children of later stages, upgraded under the lock, drained after
        // it (a quit implies draining, for the stages to come too).
        let mut later = Vec::new();
        let (outcome, zero) = match extra {
            Some(extra) => {
                let mut family = extra.family.lock();
                let outcome = this.state.quit();
                if let (true, Some(cause)) = (outcome.first, cause) {
                    family.cause = Some(cause.clone());
                }
                if reached_children(&mut family, outcome.first, &mut work.quit, &mut later) {
                    work.stages_changed.push(this.clone());
                }
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
                        if reached_children(&mut family, outcome.first, &mut work.quit, &mut later)
                        {
                            work.stages_changed.push(this.clone());
                        }
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
        work.drain.append(&mut later);
        if outcome.first_drain {
            this.wake(Flag::Drain, work);
        }
        if outcome.first {
            this.wake(Flag::Quit, work);
        }
        if outcome.became_done || zero.flatten().is_some_and(|zero| zero.done) {
            work.done.push(this.clone());
        }
        outcome.first
    }
}

/// Queues the children a quit of their parent reaches (family locked):
/// all of them, or for a staged parent those of the stages entered so far,
/// entering the first one at the parent's `first` quit (see `stages`). The
/// others go to `later`, to be drained once the lock is let go. Returns
/// whether it entered a stage (the parent's stage event is then due).
fn reached_children(
    family: &mut Family,
    first: bool,
    queue: &mut Vec<Arc<Node>>,
    later: &mut Vec<Arc<Node>>,
) -> bool {
    let start = queue.len();
    push_children(&family.children, queue);
    let Some(stages) = family.stages.as_deref_mut() else {
        return false;
    };
    let entered = if first {
        stages.enter(0, &queue[start..])
    } else {
        stages.current_number()
    };
    let mut index = start;
    while index < queue.len() {
        if queue[index].stage() > entered {
            later.push(queue.swap_remove(index));
        } else {
            index += 1;
        }
    }
    first
}
