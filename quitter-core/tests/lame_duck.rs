//! The main runner's lame duck (draining between the first event and the
//! quit), and which later events count: a second stream event skips the
//! lame duck, a third forces; a one-shot source that completes after the
//! first event is not an event at all.
//!
//! Runtime-free: sources are channels, delays and deadlines are oneshots
//! fired by the test, and the test drives the runner in the same
//! `block_on` (`join!`), so every step is ordered without sleeping.

mod common;

use common::{block_on, manual_deadline, never, yield_now};
use futures::channel::mpsc;
use futures::join;
use quitter_core::{MainRunner, Quitter};

#[test]
fn the_first_event_drains_and_the_delay_quits() {
    let root = Quitter::new("main");
    let task = root.track("server").unwrap();
    let (signal, signals) = mpsc::unbounded::<&str>();
    let (fire_delay, delay) = manual_deadline();
    let runner = MainRunner::new(root.clone())
        .stream_source("signal", signals)
        .lame_duck(move || delay);
    let driver = async {
        signal.unbounded_send("SIGTERM").unwrap();
        root.draining().await;
        // Draining, serving on: not quit, and still accepting work.
        assert!(!root.is_quitting());
        let late = root.track("late request").unwrap();
        drop(late);
        fire_delay.send(()).unwrap();
        root.quitted().await;
        drop(task);
    };
    let (report, ()) = block_on(async { join!(runner.run(never), driver) });
    let lame_duck = report.lame_duck.expect("a lame duck was run");
    assert!(!lame_duck.cut_short);
    assert!(lame_duck.lasted.is_some());
    assert_eq!(report.exit_code(), 0);
    assert_eq!(report.cause.detail.as_deref(), Some("SIGTERM"));
    let text = report.to_string();
    assert!(text.contains("Lame duck: draining for "), "{text}");
    assert!(!text.contains("cut short"), "{text}");
}

#[test]
fn a_second_event_skips_the_lame_duck_and_a_third_forces() {
    let root = Quitter::new("main");
    let hung = root.track("hung").unwrap();
    let (signal, signals) = mpsc::unbounded::<&str>();
    let runner = MainRunner::new(root.clone())
        .stream_source("signal", signals)
        .lame_duck(never);
    let driver = async {
        signal.unbounded_send("SIGTERM").unwrap();
        root.draining().await;
        assert!(!root.is_quitting());
        // The second event: the lame duck (which would never end) is cut.
        signal.unbounded_send("SIGINT").unwrap();
        root.quitted().await;
        // The third: the wait for the hung task ends at once.
        signal.unbounded_send("SIGINT").unwrap();
    };
    let (report, ()) = block_on(async { join!(runner.run(never), driver) });
    assert!(report.lame_duck.unwrap().cut_short);
    assert!(report.forced);
    assert_eq!(report.exit_code(), 130);
    assert_eq!(
        report.cause.detail.as_deref(),
        Some("SIGTERM"),
        "the first wins"
    );
    assert!(report.to_string().contains(", cut short before the quit"));
    drop(hung);
}

#[test]
fn a_quit_by_code_ends_the_lame_duck() {
    let root = Quitter::new("main");
    let (signal, signals) = mpsc::unbounded::<&str>();
    let runner = MainRunner::new(root.clone())
        .stream_source("signal", signals)
        .lame_duck(never);
    let driver = async {
        signal.unbounded_send("SIGTERM").unwrap();
        root.draining().await;
        root.quit();
    };
    let (report, ()) = block_on(async { join!(runner.run(never), driver) });
    assert!(report.lame_duck.unwrap().cut_short);
    assert_eq!(report.exit_code(), 0);
}

#[test]
fn no_lame_duck_means_no_draining_before_the_quit() {
    let root = Quitter::new("main");
    let report = block_on(
        MainRunner::new(root.clone())
            .source("now", async {})
            .run(never),
    );
    assert_eq!(report.lame_duck, None);
    assert!(!report.to_string().contains("Lame duck"));
    assert!(root.is_quitting() && root.is_draining());
}

/// A server future given as a one-shot source (the axum pattern) finishes
/// its own drain after the quit: that must not count as a second event
/// and force the end (it used to turn one Ctrl-C into exit 130).
#[test]
fn a_one_shot_source_completing_during_the_drain_is_not_an_event() {
    for lame_duck in [false, true] {
        let root = Quitter::new("main");
        let request = root.track("in-flight request").unwrap();
        let (signal, signals) = mpsc::unbounded::<&str>();
        let (server_done, server) = manual_deadline();
        let (fire_delay, delay) = manual_deadline();
        let mut runner = MainRunner::new(root.clone())
            .stream_source("signal", signals)
            .source("server", server);
        if lame_duck {
            runner = runner.lame_duck(move || delay);
        }
        let driver = async {
            signal.unbounded_send("SIGTERM").unwrap();
            root.draining().await;
            // The server ends during the lame duck: it does not cut it.
            server_done.send(()).unwrap();
            yield_now().await; // the runner sees the server's end
            if lame_duck {
                assert!(!root.is_quitting(), "the lame duck goes on");
                fire_delay.send(()).unwrap();
            }
            root.quitted().await;
            // And the wait for the tree goes on until the task ends.
            assert!(!root.is_done());
            drop(request);
        };
        let (report, ()) = block_on(async { join!(runner.run(never), driver) });
        assert!(!report.forced, "lame duck {lame_duck}: {report}");
        assert_eq!(report.exit_code(), 0, "{report}");
        assert_eq!(report.cause.label, "signal");
    }
}
