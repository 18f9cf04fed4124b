//! The bookkeeping of tracked tasks inside one node, below the tree: the
//! per-thread count words ([`count`]) that say how many tasks hold the
//! node open, and the [`registry`] that lists them by name for reports.
//!
//! Nothing here knows the tree. The node owns a registry and asks it for
//! its shards and counts; a task's slot (`tree::slot`), which owns the
//! task's hold on the node, tells the registry where to list its entry and
//! when to take it out. The `unsafe` of the intrusive lists lives in
//! `registry`, that of a task table's lock-free row in `first_row`, and
//! the clock call of a task's start in `clock`, each argued there.

#[allow(unsafe_code)]
pub(crate) mod clock;
pub(crate) mod count;
#[allow(unsafe_code)]
pub(crate) mod first_row;
pub(crate) mod meta;
#[allow(unsafe_code)]
pub(crate) mod registry;
pub(crate) mod rows;
