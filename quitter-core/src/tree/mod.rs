//! The quit tree: its nodes ([`node`]), each node's state word
//! ([`state`]), the three walks over it (the quit flowing down, [`quit`];
//! done flowing up and unlinking on drop, [`lifecycle`]; the report walks,
//! [`walk`]), the stop order of a node's children ([`stages`]), the work
//! list that keeps all of them loops ([`work`]), and a task's hold on its
//! node ([`hold`], [`slot`]).
//!
//! Layers: the tree sits on `report` (the data it fills in), `tasks` (the
//! registry and count words a node owns) and `waiting` (its quit waiters),
//! and tells them what they need; none of them imports the tree. The public
//! handles (`handle`) sit on the tree.
//!
//! Ownership: a [`Quitter`](crate::Quitter) **handle** (a `TaskGuard`
//! carries one) owns one `Arc` of the node and is counted in `handles`;
//! every child node owns one `Arc` of its parent (its link). The parent
//! owns only a `Weak` (in its `children` slab). A task (its
//! [`TaskSlot`](slot::TaskSlot)) owns no `Arc`, only a hold: a spawn must
//! not write the node's cache line (see `tasks::count`). The node lives
//! while anyone can still act on it, and the last drop unlinks it from its
//! parent: a child per connection costs nothing once the connection is
//! gone.
//!
//! Why a hold keeps the node alive:
//! - Before the sweep (see [`State`](state::State)), a handle or a child
//!   exists: the sweep runs at the latest when the node has neither, under its family
//!   lock, by the last handle's drop or the last child's unlink (whichever
//!   is second; each checks the other under that lock), which still owns
//!   an `Arc`.
//! - The sweep's settle stores a clone of that `Arc` in `family.keep` and
//!   sets `KEEP` if any hold remains. Holds never grow after the sweep, so
//!   exactly one release takes them to zero, finds `KEEP`, and drops that
//!   `Arc`, after its own last touch of the node.
//! - Once swept, the node never gets a handle again: a handle is made from
//!   a handle (a clone, a guard's own), by [`child`](crate::Quitter::child)
//!   for a new node, or by [`parent`](crate::Quitter::parent) from a live
//!   child. So nobody can add a task or a child to a swept node.
//!
//! Size: a node is made per connection, so what most nodes never use is
//! allocated on first use, as one `Extra`: the `Family` (children,
//! panics, the cause of a quit that started here) and the task
//! [registry](crate::tasks::registry). An idle child is the node alone,
//! smaller than a tokio-util child token.
//!
//! Invariants (with those of [`State`](state::State)):
//! - Lock order: a walk never holds two node locks at once. `Arc`s upgraded
//!   under a lock are dropped only after it is released (a last drop locks
//!   the parent). Registry locks are leaves but for a task table's rows,
//!   taken inside a shard's (see the registry).
//! - A child is created under its parent's `family` lock with
//!   `State::try_hold`; the quit sets `QUIT` and then lists the children
//!   under the same lock. So a child is either refused or seen by the
//!   quit: nothing is lost. (A node without `Extra` yet sets `QUIT` first
//!   and then looks again; see [`quit`] for why that is enough.) A task
//!   needs no lock for it: its hold is the `try_hold` CAS alone, which
//!   refuses once `QUIT` is set (see [`hold`]); listing it by name is a
//!   separate, later step.
//! - A child holds one hold on its parent from creation until it is done
//!   (quit and without holds) or dropped unquit, whichever comes first.
//! - The cause is stored only where a quit started (the first `quit` of that
//!   node); a node quit by an ancestor's walk finds it on the nearest
//!   ancestor that has one. That ancestor stored it before walking down.
//! - All three walks are loops with an explicit stack or a parent pointer,
//!   never recursion, so a 100 000-deep chain is fine.

mod abort;
#[allow(unsafe_code)]
pub(crate) mod hold;
mod lifecycle;
pub(crate) mod node;
mod quit;
#[allow(unsafe_code)]
pub(crate) mod slot;
pub(crate) mod stage;
pub(crate) mod stages;
pub(crate) mod state;
mod walk;
mod work;
