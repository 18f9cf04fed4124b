//! The public handles over the tree: [`Quitter`](quitter::Quitter) (one
//! node), [`TaskGuard`](guard::TaskGuard) and [`Tracked`](tracked::Tracked)
//! (one task), and the futures that wait on a node
//! ([`Quitted`](futures::Quitted), [`Done`](futures::Done),
//! [`RunUntilQuit`](futures::RunUntilQuit)), aborting ([`abort`]), and the keeper of stage
//! budgets that a timed wait runs (`budgets`), the join and the reports a
//! quitter gives (`join`), and a task record reused by one task after
//! another ([`SerialTask`](serial::SerialTask)), and a table of short
//! tasks named by rows ([`TaskTable`](table::TaskTable)).
//!
//! This layer holds no state of its own and no `unsafe`: every handle is
//! an `Arc` of a node, a task's [`TaskSlot`](crate::tree::slot::TaskSlot),
//! or a borrow of a node, and the rules they keep are the tree's.

pub(crate) mod abort;
#[cfg(feature = "std")]
pub(crate) mod budgets;
pub(crate) mod futures;
pub(crate) mod guard;
pub(crate) mod join;
pub(crate) mod quitter;
pub(crate) mod serial;
pub(crate) mod table;
pub(crate) mod tracked;
