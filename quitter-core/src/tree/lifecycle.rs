//! The node's end of life: the drop of its last handle (which sweeps it),
//! the done transition flowing up the tree ([`Node::became_done`]), and the
//! unlinking of a dropped child from its parent, in a loop up the chain.
//! The rules they keep are in the module docs of `tree`.

use alloc::boxed::Box;

use super::node::{Extra, Family, Link, Node};
use super::state::{State, Zero};
use super::work::Work;
use crate::sync::{Arc, OnceCell, Ordering};
use crate::trace;

impl Node {
    /// Drops one handle of `this` (the caller drops its `Arc` after). The
    /// last one sweeps the node, unless a child still lives (then the last
    /// child's unlink will): nobody can add a task or a child any more.
    pub(crate) fn drop_handle(this: &Arc<Node>) {
        if this.handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let Some(extra) = this.extra.get() else {
            // No `Extra`: no task, no child, so no hold, and with no handle
            // left nobody can make one (see `State::close_idle`).
            this.state.close_idle();
            return;
        };
        let zero = {
            let mut family = extra.family.lock();
            if !family.children.is_empty() || !this.state.close() {
                return;
            }
            Node::sweep(this, extra, &mut family)
        };
        // Done if a quit came between (an ancestor's walk).
        if zero.is_some_and(|zero| zero.done) {
            this.became_done();
        }
    }

    /// The sweep (see [`State`]): closes the per-thread count words and
    /// settles the state word. Run once, by the caller whose `quit` or
    /// `close` set `SWEPT`, with `family` (of `extra`, the node's) locked.
    pub(super) fn sweep(this: &Arc<Node>, extra: &Extra, family: &mut Family) -> Option<Zero> {
        let shares = if family.sharded {
            extra.tasks.close_counts()
        } else {
            0
        };
        // Stored before the settle can set `KEEP`; a release that finds
        // `KEEP` takes it under this lock, so after we let go.
        family.keep = Some(this.clone());
        let zero = this.state.settle(shares, family.sharded);
        if zero.is_some() {
            // No hold left: not kept. Not the last `Arc` (`this` is ours).
            family.keep = None;
        }
        zero
    }

    /// Runs the done transition of `self` and of every ancestor it
    /// completes: wake the done-waiters, release the hold on the parent,
    /// and tell a staged parent that a member is gone (which may quit its
    /// next stage). Ancestors stay alive through `self`'s chain of links.
    pub(super) fn became_done(&self) {
        let mut work = Work::default();
        self.done_up(&mut work);
        work.finish();
    }

    /// [`became_done`](Self::became_done)'s walk up, a loop; what it
    /// makes due (a stage's quit) goes to `work`.
    pub(super) fn done_up(&self, work: &mut Work) {
        let mut node = self;
        loop {
            trace::done(&node.span);
            let done_event = &node.done_event;
            work.panic.run(|| {
                done_event.notify(usize::MAX);
            });
            let Some(link) = &node.link else { return };
            let (zero, staged) = link.parent.state.release_staged();
            if let Some(Zero { keep: true, .. }) = zero {
                // Not the last `Arc`: `link` owns one.
                drop(link.parent.take_keep());
            }
            // A member of the parent's stop order is gone: its stage may
            // be done and the next one due.
            Node::stage_member_gone(&link.parent, staged, link.stage, &node.state, work);
            if !zero.is_some_and(|zero| zero.done) {
                return;
            }
            node = &link.parent;
        }
    }
}

impl Drop for Node {
    /// Unlinks this node from its parent; if that drops the parent's last
    /// `Arc`, unlinks the parent too, and so on up, in a loop.
    fn drop(&mut self) {
        let Some(link) = self.link.take() else { return };
        let ended = family_of(&mut self.extra);
        let mut parent = unlink(link, &self.state, ended);
        loop {
            match Arc::try_unwrap(parent) {
                Ok(mut node) => {
                    let Some(link) = node.link.take() else { return };
                    let ended = family_of(&mut node.extra);
                    parent = unlink(link, &node.state, ended);
                    // `node` drops here with no link: its own `drop` is a no-op.
                }
                // Someone else still holds the parent. Should they drop it
                // between `try_unwrap` and here, this drop runs the parent's
                // `Drop`, which loops the same way: the depth stays bounded.
                Err(_) => return,
            }
        }
    }
}

/// Removes a dropped child (no handles, no tasks, no children) from its
/// parent, hands its panics and aborted tasks up, sweeps the parent if that was its last
/// child and it has no handle left (see the module docs), and releases the
/// child's hold unless it was quit (a quit child with no holds is done and
/// released that hold already).
fn unlink(link: Link, state: &State, ended: Option<&mut Family>) -> Arc<Node> {
    let was_quit = state.is_quit_rmw();
    let Link {
        parent,
        slot,
        stage,
    } = link;
    // The parent's `Extra` exists (it holds our slot), and the slot holds
    // our `Weak`: nobody else removes it.
    let mut zero = None;
    if let Some(extra) = parent.extra.get() {
        let mut family = extra.family.lock();
        let _ = family.children.try_remove(slot as usize);
        if let Some(ended) = ended {
            hand_up(&mut family, ended);
        }
        // Under the lock, against the last handle's drop (which decrements
        // and then takes this lock): one of the two sees the other done.
        if family.children.is_empty()
            && parent.handles.load(Ordering::Acquire) == 0
            && parent.state.close()
        {
            zero = Node::sweep(&parent, extra, &mut family);
        }
    }
    if zero.is_some_and(|zero| zero.done) {
        parent.became_done();
    }
    if !was_quit {
        let (zero, staged) = parent.state.release_staged();
        if let Some(zero) = zero {
            // Not the last `Arc`: we return one.
            drop(parent.released_last_hold(zero));
        }
        // A member of the parent's stop order gone unquit (nothing to do,
        // and no work list, for a parent without stages).
        if staged {
            let mut work = Work::default();
            Node::stage_member_gone(&parent, staged, stage, state, &mut work);
            work.finish();
        }
    }
    parent
}

/// A dropped node's family (if it had one), whose panicked and aborted
/// tasks its parent takes over. Borrowed, not moved out: a plain child
/// has none, and its unlink should not pay for two empty lists.
fn family_of(extra: &mut OnceCell<Box<Extra>>) -> Option<&mut Family> {
    extra.get_mut().map(|extra| extra.family.get_mut())
}

/// Moves `ended`'s panicked and aborted tasks to `family`.
fn hand_up(family: &mut Family, ended: &mut Family) {
    if !ended.panics.is_empty() {
        family.panics.append(&mut ended.panics);
    }
    if !ended.aborted.is_empty() {
        family.aborted.append(&mut ended.aborted);
    }
}
