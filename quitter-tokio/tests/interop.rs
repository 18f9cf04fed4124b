//! `CancellationToken` interop, both directions (feature `tokio-util`).
#![cfg(feature = "tokio-util")]

use std::time::Duration;

use quitter_tokio::{
    cancel_on_quit, cancellation_token, quit_on_cancel, Quitter, LINK_TASK, TOKEN_CANCELLED,
};
use tokio_util::sync::CancellationToken;

const BOUND: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_token_is_cancelled_when_its_quitter_quits() {
    let root = Quitter::new("main");
    let child = root.child("http").unwrap();
    let token = cancellation_token(&child);
    let child_token = token.child_token();
    assert!(!token.is_cancelled());

    root.quit(); // reaches `child` by propagation
    tokio::time::timeout(BOUND, child_token.cancelled())
        .await
        .expect("cancelled on quit");
    assert!(token.is_cancelled());
}

#[test]
fn a_token_of_a_quit_quitter_is_cancelled_at_once_without_a_runtime() {
    let root = Quitter::new("main");
    root.quit();
    assert!(cancellation_token(&root).is_cancelled());
}

#[tokio::test]
async fn a_quitter_quits_when_its_token_is_cancelled() {
    let root = Quitter::new("main");
    let child = root.child("jobs").unwrap();
    let token = CancellationToken::new();
    quit_on_cancel(&child, token.clone());
    assert!(!child.is_quitting());

    token.cancel();
    tokio::time::timeout(BOUND, child.quitted())
        .await
        .expect("quit on cancel");
    assert_eq!(child.cause().unwrap().label, TOKEN_CANCELLED);
    assert!(!root.is_quitting(), "only the linked quitter quits");
}

#[test]
fn a_cancelled_token_quits_at_once_without_a_runtime() {
    let root = Quitter::new("main");
    let token = CancellationToken::new();
    token.cancel();
    quit_on_cancel(&root, token);
    assert!(root.is_quitting());
}

#[tokio::test]
async fn a_link_ends_when_the_other_side_fires_first() {
    let root = Quitter::new("main");
    let child = root.child("conn").unwrap();
    let token = CancellationToken::new();
    cancel_on_quit(&child, token.clone());
    quit_on_cancel(&child, token.clone());

    // Cancelling the token quits the child (one link fires), and the other
    // link (quit -> cancel) ends without doing anything more.
    token.cancel();
    tokio::time::timeout(BOUND, child.quitted()).await.unwrap();

    // Both link tasks end and drop their handles: with ours dropped too,
    // the child unlinks from its parent.
    drop(child);
    for _ in 0..1000 {
        if root.child_count() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(root.child_count(), 0, "the link tasks ended");
    assert!(!root.is_quitting());
}

/// Lets the test runtime run the spawned link tasks until `ready` holds
/// (bounded, so a failure is a failed assertion, not a hang).
async fn settle(ready: impl Fn() -> bool) -> bool {
    for _ in 0..1000 {
        if ready() {
            return true;
        }
        tokio::task::yield_now().await;
    }
    ready()
}

/// The link tasks of the quitter at `path` that `q`'s subtree lists.
fn listed_links(q: &Quitter, path: &str) -> Vec<quitter_tokio::quitter_core::TaskInfo> {
    let report = q.live_tasks();
    report
        .tasks_of(path)
        .unwrap_or_default()
        .iter()
        .filter(|task| task.name == LINK_TASK)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_pending_link_is_a_tracked_task_named_at_the_call_site() {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let jobs = root.child("jobs").unwrap();
    let _token = cancellation_token(&http);
    quit_on_cancel(&jobs, CancellationToken::new());
    assert_eq!(http.task_count(), 1, "quit -> token: counted from the call");
    assert_eq!(jobs.task_count(), 1, "token -> quit: counted from the call");

    // Listed by name and the caller's location from its first poll on.
    assert!(settle(|| listed_links(&root, "main/http").len() == 1).await);
    assert!(settle(|| listed_links(&root, "main/jobs").len() == 1).await);
    for path in ["main/http", "main/jobs"] {
        let link = &listed_links(&root, path)[0];
        assert_eq!(
            link.location.file(),
            file!(),
            "located at the caller, not in the adapter"
        );
    }
    assert_eq!(root.live_tasks().task_count(), 2);
}

#[tokio::test]
async fn a_link_ends_right_after_the_quit_and_does_not_hold_done() {
    let root = Quitter::new("main");
    let token = cancellation_token(&root);
    quit_on_cancel(&root, token.clone());
    assert_eq!(root.task_count(), 2, "both links are tasks of `root`");
    assert!(settle(|| listed_links(&root, "main").len() == 2).await);

    root.quit();
    // `done()` waits for the links, which end at once: one cancels the
    // token, the other has nothing left to do.
    tokio::time::timeout(BOUND, root.done())
        .await
        .expect("done: the links ended after the quit");
    assert!(token.is_cancelled());
    assert_eq!(root.task_count(), 0);
    assert_eq!(
        root.cause().unwrap().label,
        quitter_tokio::quitter_core::QuitCause::REQUESTED,
        "the token's cancellation came after the quit, and did not quit again"
    );
}

#[tokio::test]
async fn a_link_ends_when_the_token_is_cancelled_first() {
    let root = Quitter::new("main");
    let token = cancellation_token(&root);
    assert_eq!(root.task_count(), 1);
    assert!(settle(|| listed_links(&root, "main").len() == 1).await);

    token.cancel();
    assert!(
        settle(|| root.task_count() == 0).await,
        "the link ended with the token"
    );
    assert!(listed_links(&root, "main").is_empty());
    assert!(root.live_tasks().quitters.is_empty(), "no task left");
    assert!(!root.is_quitting(), "quit -> token passes nothing back");

    // Nothing of the link is left to hold the quit up.
    root.quit();
    assert!(root.is_done());
}

#[tokio::test]
async fn a_quit_on_cancel_link_ends_when_its_quitter_quits_first() {
    let root = Quitter::new("main");
    let jobs = root.child("jobs").unwrap();
    let token = CancellationToken::new();
    quit_on_cancel(&jobs, token.clone());
    assert_eq!(jobs.task_count(), 1);

    root.quit(); // reaches `jobs`
    tokio::time::timeout(BOUND, jobs.done())
        .await
        .expect("done: the link ended on the quit");
    assert_eq!(jobs.task_count(), 0);
    assert!(!token.is_cancelled(), "token -> quit passes nothing back");
}

#[tokio::test]
async fn a_link_made_after_the_quit_cancels_at_once_with_no_task() {
    let root = Quitter::new("main");
    let before = cancellation_token(&root);
    assert_eq!(root.task_count(), 1, "made before the quit: a task");
    root.quit();
    tokio::time::timeout(BOUND, root.done()).await.unwrap();
    assert!(before.is_cancelled());

    let after = cancellation_token(&root);
    assert!(after.is_cancelled(), "cancelled at once");
    let token = CancellationToken::new();
    quit_on_cancel(&root, token.clone());
    token.cancel();
    assert_eq!(root.task_count(), 0, "no task for a link after the quit");
    assert!(root.is_done());
}
