//! `SignalStream`: listeners merged fairly, named, ending with the last.

use futures::executor::block_on;
use futures::stream::{self, StreamExt};
use quitter_core::SignalStream;

#[test]
fn merged_listeners_are_polled_fairly_and_end_with_the_last() {
    let int = SignalStream::from_listener(&["SIGINT"], stream::iter(["SIGINT"; 3]));
    let term = SignalStream::from_listener(&["SIGTERM"], stream::iter(["SIGTERM"; 1]));
    let mut merged = int.or(term);
    assert_eq!(merged.names(), ["SIGINT", "SIGTERM"]);
    assert_eq!(
        format!("{merged:?}"),
        r#"SignalStream { signals: ["SIGINT", "SIGTERM"] }"#
    );
    let first_two: Vec<_> = block_on((&mut merged).take(2).collect());
    assert!(
        first_two.contains(&"SIGTERM"),
        "a busy listener does not starve the other: {first_two:?}"
    );
    let rest: Vec<_> = block_on(merged.collect());
    assert_eq!(
        rest.len(),
        2,
        "every signal is delivered once, then the stream ends"
    );
}

#[test]
fn a_broken_listener_drops_out_and_the_others_go_on() {
    let broken = SignalStream::from_listener(&["SIGHUP"], stream::empty());
    let live = SignalStream::from_listener(&["SIGTERM"], stream::iter(["SIGTERM"]));
    let mut merged = broken.or(live);
    assert_eq!(block_on(merged.recv()), Some("SIGTERM"));
    assert_eq!(block_on(merged.recv()), None);
}
