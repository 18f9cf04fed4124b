//! [`Work`]: what is left to do of one change to the tree, done in one
//! loop, so that no walk recurses into another (a quit that makes a node
//! done, whose done transition makes a stage due, whose quit makes another
//! node done, …: a chain of any depth, on a bounded stack).
//!
//! Invariants:
//! - Every item holds an `Arc` of its node, and items are taken with no
//!   node lock held.
//! - Wakers run only here, outside every lock: a panic of one is caught
//!   ([`DeferredPanic`]), the work goes on, and the first panic is resumed
//!   by [`finish`](Work::finish) once nothing is left.
//! - Stage events are notified last, after the quits of the stages they
//!   announce, so a driver woken by one sees the new stage quit.
//! - The wakers in `wake` (drain waiters, abort wakers) run after every
//!   quit, drain and abort of the change: whoever they wake sees the
//!   whole subtree changed.

use alloc::vec::Vec;
use core::task::Waker;

use super::node::Node;
use crate::sync::Arc;
use crate::waiting::waiters::DeferredPanic;

/// The work list of one change; see the module docs.
#[derive(Default)]
pub(super) struct Work {
    /// Nodes to quit (children reached by a quit, a stage that is due).
    pub(super) quit: Vec<Arc<Node>>,
    /// Nodes to put into draining.
    pub(super) drain: Vec<Arc<Node>>,
    /// Nodes that became done: their transition walks up.
    pub(super) done: Vec<Arc<Node>>,
    /// Nodes to abort (see `abort`).
    pub(super) abort: Vec<Arc<Node>>,
    /// Wakers to wake once the walks are over: abort wakers of aborted
    /// tasks, and drain waiters.
    pub(super) wake: Vec<Waker>,
    /// Staged nodes whose stage event is due.
    pub(super) stages_changed: Vec<Arc<Node>>,
    pub(super) panic: DeferredPanic,
}

impl Work {
    /// Does everything left, then resumes a waker's panic if one came.
    pub(super) fn finish(mut self) {
        loop {
            if let Some(node) = self.done.pop() {
                node.done_up(&mut self);
            } else if let Some(node) = self.quit.pop() {
                Node::quit_one(&node, None, &mut self);
                // `node` may be the last handle: its drop locks its
                // parent, which this loop does not hold.
            } else if let Some(node) = self.drain.pop() {
                Node::drain_one(&node, &mut self);
            } else if let Some(node) = self.abort.pop() {
                Node::abort_one(&node, &mut self);
            } else if let Some(waker) = self.wake.pop() {
                self.panic.run(|| waker.wake());
            } else if let Some(node) = self.stages_changed.pop() {
                if let Some(extra) = node.extra.get() {
                    let event = &extra.stages_changed;
                    self.panic.run(|| {
                        event.notify(usize::MAX);
                    });
                }
            } else {
                break;
            }
        }
        self.panic.resume();
    }
}
