//! The report walks: every node of a subtree, depth first, in a loop with
//! an explicit stack, each visited with no lock held, to gather its live
//! tasks ([`Node::live_tasks`]), its panics ([`Node::panics`]), its
//! aborted tasks ([`Node::aborted`]), its state and tasks
//! ([`Node::snapshot`]) or its staged nodes; and one staged node's timeline ([`Node::stage_reports`]).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use super::node::{join_path, Node};
use super::stages::{members, MEMBER_NAMES};
use crate::report::{
    AbortedTask, QuitterSnapshot, QuitterState, QuitterTasks, StageReport, TaskPanic,
};
use crate::sync::Arc;
use crate::tasks::clock::Started;

impl Node {
    /// Every node of the subtree with live tasks or idle task tables (each
    /// a hold), with its path and tasks, in depth-first order.
    pub(crate) fn live_tasks(this: &Arc<Node>) -> Vec<QuitterTasks> {
        let mut found = Vec::new();
        Node::walk(this, |path, node, children, _| {
            let listed = node.listed();
            let unpolled = node.unpolled(listed.entries, children);
            if !listed.tasks.is_empty() || unpolled > 0 || listed.idle_tables > 0 {
                found.push(QuitterTasks {
                    path: path(),
                    tasks: listed.tasks,
                    unpolled,
                    idle_tables: listed.idle_tables,
                });
            }
        });
        found
    }

    /// Every node of the subtree, depth first, with its path, depth,
    /// state and live tasks.
    pub(crate) fn snapshot(this: &Arc<Node>) -> Vec<QuitterSnapshot> {
        let mut found = Vec::new();
        Node::walk(this, |path, node, children, depth| {
            let listed = node.listed();
            let state = if node.state.is_done() {
                QuitterState::Done
            } else if node.state.is_quit() {
                QuitterState::Quitting
            } else if node.state.is_draining() {
                QuitterState::Draining
            } else {
                QuitterState::Running
            };
            found.push(QuitterSnapshot {
                path: path(),
                depth,
                state,
                unpolled: node.unpolled(listed.entries, children),
                tasks: listed.tasks,
                idle_tables: listed.idle_tables,
            });
        });
        found
    }

    /// Every panic recorded in the subtree (including dropped descendants).
    pub(crate) fn panics(this: &Arc<Node>) -> Vec<TaskPanic> {
        let mut found = Vec::new();
        Node::walk(this, |_, node, _, _| {
            if let Some(extra) = node.extra.get() {
                found.extend(extra.family.lock().panics.iter().cloned());
            }
        });
        found
    }

    /// Every task aborted in the subtree (including dropped descendants).
    pub(crate) fn aborted(this: &Arc<Node>) -> Vec<AbortedTask> {
        let mut found = Vec::new();
        Node::walk(this, |_, node, _, _| {
            if let Some(extra) = node.extra.get() {
                found.extend(extra.family.lock().aborted.iter().cloned());
            }
        });
        found
    }

    /// Visits every node of the subtree, depth first, with a lazy path
    /// maker (paths are built only for nodes that need one), the node's
    /// live children, and its depth below `this` (0).
    fn walk(
        this: &Arc<Node>,
        mut visit: impl FnMut(&dyn Fn() -> String, &Node, &[Arc<Node>], usize),
    ) {
        let base = this.parent().map(|parent| parent.path());
        // (node, depth below self); `names` is the path from self to the
        // node being visited.
        let mut stack: Vec<(Arc<Node>, usize)> = alloc::vec![(this.clone(), 0)];
        let mut names: Vec<Cow<'static, str>> = Vec::new();
        let mut children = Vec::new();
        while let Some((node, depth)) = stack.pop() {
            names.truncate(depth);
            names.push(node.name.clone());
            let make_path = || {
                let own = names.iter().map(|name| &**name);
                match &base {
                    Some(base) => join_path(core::iter::once(base.as_str()).chain(own)),
                    None => join_path(own),
                }
            };
            node.push_children(&mut children);
            visit(&make_path, &node, &children, depth);
            // Reverse so that the first child is visited first.
            stack.extend(children.drain(..).rev().map(|child| (child, depth + 1)));
        }
    }

    /// Every node of the subtree with a stop order, with its path (for
    /// stage drivers and the timeline).
    pub(crate) fn staged_nodes(this: &Arc<Node>) -> Vec<(String, Arc<Node>)> {
        let mut found = Vec::new();
        let mut stack = alloc::vec![this.clone()];
        let mut children = Vec::new();
        while let Some(node) = stack.pop() {
            node.push_children(&mut children);
            stack.append(&mut children);
            if node.state.is_staged() {
                found.push((node.path(), node));
            }
        }
        found
    }
}

impl Node {
    /// The timeline of this node's stages (`path` is its path), offsets
    /// from `since` (the first quit event); `None` if it is not staged.
    pub(crate) fn stage_reports(this: &Arc<Node>, path: &str, since: Started) -> Vec<StageReport> {
        let mut children = Vec::new();
        this.push_children(&mut children);
        let Some(extra) = this.extra.get() else {
            return Vec::new();
        };
        let family = extra.family.lock();
        let Some(stages) = family.stages.as_deref() else {
            return Vec::new();
        };
        let count = stages.records.len();
        let reached = stages.current;
        let records: Vec<_> = stages
            .records
            .iter()
            .enumerate()
            .map(|(index, record)| StageReport {
                path: path.into(),
                number: record.number,
                position: index + 1,
                count,
                members: record.members.clone(),
                more: record.more,
                quit_at: record.quit_at.since(since),
                took: record.done_at.since(record.quit_at),
                quit: this.state.is_quit() && index <= reached,
                done: record.done,
                budget: record.budget,
                overran: record.overran,
                aborts: record.abort,
                aborted: 0,
                hung: Vec::new(),
            })
            .collect();
        drop(family);
        // What hangs in each stage: the live tasks under its children; and
        // the names of a stage not reached yet, from its live children.
        let mut records = records;
        for record in &mut records {
            let named = !record.members.is_empty() || record.more > 0;
            for (index, child) in members(&children, record.number).enumerate() {
                record.hung.extend(Node::live_tasks(child));
                record.aborted += Node::aborted(child).len();
                if !named && index < MEMBER_NAMES {
                    record.members.push(child.name.clone());
                } else if !named {
                    record.more += 1;
                }
            }
        }
        records
    }
}
