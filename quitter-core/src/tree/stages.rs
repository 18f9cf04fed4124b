//! Ordered stages: a node's children stopped in a sequence ([`Stage`]).
//!
//! A child may be given a place in its parent's stop order when it is made
//! ([`Stage`]: a number, and optionally a budget). When the parent quits,
//! its own tasks and the children of its first stage quit at once; each
//! later stage quits when every child of the one before is done. A stage
//! with no child left is passed over. A driver with a timer (the main
//! runner, a timed wait) quits the next stage early when a stage overruns
//! its budget ([`Node::advance_stage`]). Children without a stage are in
//! stage 0, the first.
//!
//! A node keeps its stage table ([`Stages`]) in its family, made at its
//! first child with a stage other than 0, and marks its state word
//! `STAGED` then: nodes without one pay nothing (one load when a child of
//! theirs becomes done).
//!
//! Invariants:
//! - A stage is quit only once every earlier stage is (`current` only
//!   grows, under the family lock, and the children of the new stage are
//!   collected under that lock and quit after it is let go, by the
//!   caller's [`Work`]).
//! - A later stage's child never sees the quit before its stage is
//!   reached: the quit walk queues only the stages entered.
//! - Counting, so that a child done costs its parent O(1): a stage
//!   entered counts its members that are not done (`pending`) and marks
//!   each `COUNTED` (under the family lock). A member tells its parent once
//!   that it is gone, when it becomes done or is dropped unquit, under the
//!   same lock; a counted one counts down, and the one that takes the stage
//!   to zero makes it done and, if it is the current one, enters the next.
//!   A member done before its stage was entered is not counted: either its
//!   telling came first (then its done preceded the entering, under the
//!   lock, and entering sees it done), or it told nothing because the
//!   parent was not staged yet as its release RMW on the parent found it
//!   (then that RMW precedes the marking of the parent as staged, which
//!   the entering follows: entering sees it done too).
//! - The stage event is notified after that lock is let go, and after the
//!   new stage's members are quit (see `work`): a driver woken by it sees
//!   them quit.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::time::Duration;

#[cfg(feature = "std")]
use event_listener::EventListener;

use super::node::{Family, Node};
use super::stage::Stage;
use super::state::State;
use super::work::Work;
use crate::sync::Arc;
use crate::tasks::clock::Started;

/// One stage of a node's table.
pub(crate) struct StageRecord {
    pub(crate) number: u32,
    pub(crate) budget: Option<Duration>,
    /// Members not gone yet, counted when the stage is entered.
    pending: usize,
    /// When it was quit, when every child of it was done.
    pub(crate) quit_at: Started,
    pub(crate) done_at: Started,
    /// Every child of it is done (a flag of its own: without `std` there
    /// are no times to tell).
    pub(crate) done: bool,
    /// A driver quit the next stage before this one was done.
    pub(crate) overran: bool,
    /// Its members are aborted when it overruns (any member asked).
    pub(crate) abort: bool,
    /// The names of the first children it stopped, and how many more.
    pub(crate) members: Vec<Cow<'static, str>>,
    pub(crate) more: usize,
}

/// How many children's names a stage keeps for the report.
pub(super) const MEMBER_NAMES: usize = 4;

/// A node's stage table (see the module docs).
pub(crate) struct Stages {
    /// Sorted by number; stage 0 is always the first.
    pub(crate) records: Vec<StageRecord>,
    /// Index of the stage entered last (meaningful once the node quit).
    pub(crate) current: usize,
}

impl Stages {
    fn new() -> Stages {
        Stages {
            records: alloc::vec![StageRecord::new(Stage::FIRST)],
            current: 0,
        }
    }

    /// Adds `stage` to the table (or its budget to the stage's).
    fn add(&mut self, stage: Stage) {
        match self
            .records
            .binary_search_by_key(&stage.number, |record| record.number)
        {
            Ok(index) => {
                let record = &mut self.records[index];
                record.budget = record.budget.max(stage.budget);
                record.abort |= stage.abort;
            }
            Err(index) => self.records.insert(index, StageRecord::new(stage)),
        }
    }

    fn index_of(&self, number: u32) -> Option<usize> {
        self.records
            .binary_search_by_key(&number, |record| record.number)
            .ok()
    }

    /// The number of the stage entered last.
    pub(super) fn current_number(&self) -> u32 {
        self.records[self.current].number
    }

    /// Enters stage `index` and, while it has no member left, the ones
    /// after it (each recorded as quit and done at once); `children` are
    /// all the node's live children. Returns the number of the stage
    /// entered last, whose members are to be quit.
    pub(super) fn enter(&mut self, mut index: usize, children: &[Arc<Node>]) -> u32 {
        loop {
            self.current = index;
            let last = index + 1 == self.records.len();
            let record = &mut self.records[index];
            record.quit_at = Started::now();
            let number = record.number;
            for member in members(children, number).filter(|child| !child.state.is_done()) {
                member.state.mark_counted();
                if record.pending < MEMBER_NAMES {
                    record.members.push(member.name.clone());
                } else {
                    record.more += 1;
                }
                record.pending += 1;
            }
            if record.pending > 0 {
                return number;
            }
            record.done = true;
            record.done_at = record.quit_at;
            if last {
                return number;
            }
            index += 1;
        }
    }
}

impl StageRecord {
    fn new(stage: Stage) -> StageRecord {
        StageRecord {
            number: stage.number,
            budget: stage.budget,
            pending: 0,
            quit_at: Started::NOT_YET,
            done_at: Started::NOT_YET,
            done: false,
            overran: false,
            abort: stage.abort,
            members: Vec::new(),
            more: 0,
        }
    }
}

/// What a driver needs to know of one node's stage being stopped now.
#[cfg(feature = "std")]
pub(crate) struct StageProgress {
    pub(crate) index: usize,
    /// Stages after this one (0 for the last).
    pub(crate) after: usize,
    pub(crate) budget: Option<Duration>,
    pub(crate) quit_at: Started,
}

impl Node {
    /// This node's number in its parent's stop order (0 for a root).
    pub(crate) fn stage(&self) -> u32 {
        self.link.as_ref().map_or(0, |link| link.stage)
    }

    /// Records `stage` for a new child of this node (family locked), and
    /// marks the node staged at its first later stage.
    #[inline]
    pub(super) fn add_stage(&self, family: &mut Family, stage: Stage) {
        if stage == Stage::FIRST && family.stages.is_none() {
            return;
        }
        self.add_stage_slow(family, stage);
    }

    /// [`add_stage`](Self::add_stage) past its check, out of line: a
    /// plain child pays only the check.
    #[inline(never)]
    fn add_stage_slow(&self, family: &mut Family, stage: Stage) {
        if family.stages.is_none() {
            self.state.mark_staged();
        }
        family
            .stages
            .get_or_insert_with(|| Box::new(Stages::new()))
            .add(stage);
    }

    /// A child of this node in stage `number` (its state word `member`)
    /// became done or was dropped unquit: it is gone from the order. If it
    /// was the last one of the current stage, the next stage is entered
    /// and its members queued to quit on `work`.
    ///
    /// `staged` is what the member's release RMW on this node found (see
    /// the module docs): nothing to do, and no lock, without stages (the
    /// hot path of a child per connection).
    #[inline]
    pub(super) fn stage_member_gone(
        this: &Arc<Node>,
        staged: bool,
        number: u32,
        member: &State,
        work: &mut Work,
    ) {
        if staged {
            Node::staged_member_gone(this, number, member, work);
        }
    }

    #[inline(never)]
    fn staged_member_gone(this: &Arc<Node>, number: u32, member: &State, work: &mut Work) {
        let Some(extra) = this.extra.get() else {
            return;
        };
        let mut children = Vec::new();
        let entered = {
            let mut family = extra.family.lock();
            if !member.is_counted() {
                // Not counted: its stage was not entered, or it was done
                // when it was (see the module docs).
                return;
            }
            let quit = this.state.is_quit();
            // Split borrows: the stage table, and the children to enter with.
            let family = &mut *family;
            let Some(stages) = family.stages.as_deref_mut() else {
                return;
            };
            let Some(index) = stages.index_of(number) else {
                return;
            };
            if !quit || index > stages.current {
                // Not counted yet: entering the stage will pass it over.
                return;
            }
            let record = &mut stages.records[index];
            record.pending -= 1;
            if record.pending > 0 {
                return;
            }
            record.done = true;
            record.done_at = Started::now();
            if index == stages.current && index + 1 < stages.records.len() {
                super::node::push_children(&family.children, &mut children);
                Some(stages.enter(index + 1, &children))
            } else {
                None
            }
        };
        // The lock is let go: the next stage's members may be quit (and the
        // other children dropped).
        if let Some(number) = entered {
            work.quit.extend(members(&children, number).cloned());
        }
        work.stages_changed.push(this.clone());
    }

    /// Quits the stage after `index` now, although stage `index` is not
    /// done: a driver's call when it overran its budget. A stage that
    /// [aborts on overrun](Stage::abort_on_overrun) has its members
    /// aborted (the last stage too, which has no next one). Returns
    /// `false` (and does nothing) if the node has moved past it already.
    #[cfg(feature = "std")]
    pub(crate) fn advance_stage(this: &Arc<Node>, index: usize) -> bool {
        let mut work = Work::default();
        let advanced = Node::overrun_stage_in(this, Some(index), true, &mut work);
        work.finish();
        advanced
    }

    /// The stage being stopped now overran (`index`, if given, must be
    /// it): marks it so, queues the next one's members to quit on `work`
    /// and, if it aborts on overrun and `abort_members`, its own members
    /// to abort. Returns `false` if there was nothing to do.
    pub(super) fn overrun_stage_in(
        this: &Arc<Node>,
        index: Option<usize>,
        abort_members: bool,
        work: &mut Work,
    ) -> bool {
        let Some(extra) = this.extra.get() else {
            return false;
        };
        let mut children = Vec::new();
        let (overran, aborts, entered) = {
            let mut family = extra.family.lock();
            let family = &mut *family;
            let Some(stages) = family.stages.as_deref_mut() else {
                return false;
            };
            let current = stages.current;
            let last = current + 1 == stages.records.len();
            let record = &mut stages.records[current];
            if index.is_some_and(|index| index != current)
                || !this.state.is_quit()
                || record.done
                || (last && (record.overran || !record.abort))
            {
                return false;
            }
            record.overran = true;
            let (number, aborts) = (record.number, record.abort);
            super::node::push_children(&family.children, &mut children);
            let entered = (!last).then(|| stages.enter(current + 1, &children));
            (number, aborts, entered)
        };
        if let Some(entered) = entered {
            work.quit.extend(members(&children, entered).cloned());
        }
        if aborts && abort_members {
            work.abort.extend(members(&children, overran).cloned());
        }
        work.stages_changed.push(this.clone());
        true
    }

    /// The stage being stopped now, for a driver; `None` if the node is
    /// not staged, not quit, or its current stage is its last or done.
    #[cfg(feature = "std")]
    pub(crate) fn stage_progress(&self) -> Option<StageProgress> {
        if !self.state.is_staged() || !self.state.is_quit() {
            return None;
        }
        let family = self.extra.get()?.family.lock();
        let stages = family.stages.as_deref()?;
        let record = &stages.records[stages.current];
        let after = stages.records.len() - 1 - stages.current;
        // The last stage has a budget to keep only if it aborts.
        if record.done || (after == 0 && (record.overran || !record.abort)) {
            return None;
        }
        Some(StageProgress {
            index: stages.current,
            after,
            budget: record.budget,
            quit_at: record.quit_at,
        })
    }

    /// A listener for changes of this node's stages (a stage quit or
    /// done), made before a driver looks at [`stage_progress`](Node::stage_progress)
    /// (event-listener's pattern). `None` if the node is not staged.
    #[cfg(feature = "std")]
    pub(crate) fn listen_stages(&self) -> Option<EventListener> {
        if !self.state.is_staged() {
            return None;
        }
        Some(self.extra.get()?.stages_changed.listen())
    }
}

/// The children in stage `number`.
pub(super) fn members(children: &[Arc<Node>], number: u32) -> impl Iterator<Item = &Arc<Node>> {
    children.iter().filter(move |child| child.stage() == number)
}
