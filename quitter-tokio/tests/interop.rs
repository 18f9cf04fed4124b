//! `CancellationToken` interop, both directions (feature `tokio-util`).
#![cfg(feature = "tokio-util")]

use std::time::Duration;

use quitter_tokio::{cancel_on_quit, cancellation_token, quit_on_cancel, Quitter, TOKEN_CANCELLED};
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
