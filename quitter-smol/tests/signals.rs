//! Real signals, raised in this test process. They live in their own test
//! binary so they can never reach another test's process, and they run one
//! at a time (`SERIAL`) because the signal claim is process-wide. A signal
//! is raised only after a handler for it is registered (before that,
//! `SIGINT` would kill the test process).
#![cfg(unix)]

use std::future::pending;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_lite::{future, StreamExt};
use quitter_smol::quitter_core::SignalClaim;
use quitter_smol::signals::{hangup, interrupt, shutdown_signals, terminate};
use quitter_smol::{spawn, QuitCause, Quitter, Shutdown, SignalError};
use rustix::process::{getpid, kill_process, Signal};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn raise(signal: Signal) {
    kill_process(getpid(), signal).expect("kill");
}

/// Spawns a task named "stuck" on `quitter` that never returns, and waits
/// for its first poll (a tracked task is named from then on).
fn spawn_stuck(quitter: &Quitter) {
    let (polled, first_poll) = async_channel::bounded(1);
    spawn(quitter, "stuck", async move {
        let _ = polled.send(()).await;
        pending::<()>().await
    })
    .unwrap()
    .detach();
    smol::block_on(first_poll.recv()).unwrap();
}

/// The next item of `stream`, within a generous bound.
async fn next<S: futures_core::Stream<Item = &'static str> + Unpin>(
    stream: &mut S,
) -> &'static str {
    let timeout = async {
        async_io::Timer::after(Duration::from_secs(10)).await;
        None
    };
    future::or(stream.next(), timeout)
        .await
        .expect("the signal arrives in time")
}

#[test]
fn a_second_sigint_during_the_wait_ends_it_at_once_with_forced() {
    let _serial = serial();
    // A quit timeout the test must not wait for.
    let quit_timeout = Duration::from_secs(60);
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone())
        .timeout(quit_timeout)
        .signals()
        .expect("install the handlers");
    spawn_stuck(&root);

    let started = Instant::now();
    let signaller = async {
        raise(Signal::INT);
        // The first SIGINT has been taken as the cause once the root quits.
        root.quitted().await;
        raise(Signal::INT);
    };
    let (report, ()) = smol::block_on(future::zip(shutdown.run(), signaller));

    assert!(
        started.elapsed() < quit_timeout / 2,
        "forced long before the timeout: {:?}",
        started.elapsed()
    );
    assert!(report.forced, "{report}");
    assert_eq!(report.exit_code(), 130);
    assert_eq!(report.cause.label, Shutdown::SIGNAL_SOURCE);
    assert_eq!(report.cause.detail.as_deref(), Some("SIGINT"));
    assert_eq!(report.timed_out[0].tasks[0].name, "stuck", "{report}");
    assert!(report
        .to_string()
        .contains("cut short by a second quit event"));
}

#[test]
fn installing_the_signal_handlers_twice_is_an_error() {
    let _serial = serial();
    let first = Shutdown::new(Quitter::new("a"))
        .signals()
        .expect("first install");

    let second = Shutdown::new(Quitter::new("b")).signals();
    let error = second.expect_err("a second install is refused");
    assert!(matches!(error, SignalError::AlreadyClaimed(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "quit signal handlers are already installed in this process"
    );
    // The claim is the core's, shared with the tokio adapter.
    assert!(SignalClaim::acquire().is_err());

    // The same `Shutdown` twice is refused too (and drops its claim).
    let again = first.signals_as("again");
    assert!(matches!(again, Err(SignalError::AlreadyClaimed(_))));

    // Released: a new install works, and `run` releases it when it returns.
    let root = Quitter::new("c");
    let shutdown = Shutdown::new(root.clone())
        .signals()
        .expect("claim released");
    root.quit();
    let report = smol::block_on(shutdown.run());
    assert_eq!(report.cause.label, QuitCause::REQUESTED);
    assert_eq!(report.exit_code(), 0);
    drop(
        Shutdown::new(Quitter::new("d"))
            .signals()
            .expect("released by run"),
    );
}

#[test]
fn signal_streams_name_each_signal() {
    let _serial = serial();
    smol::block_on(async {
        let mut term = terminate().unwrap();
        raise(Signal::TERM);
        assert_eq!(next(&mut term).await, "SIGTERM");

        let mut hup = hangup().unwrap();
        raise(Signal::HUP);
        assert_eq!(hup.recv().await, Some("SIGHUP"));

        // "Any shutdown signal" sees both, in turn.
        let mut any = shutdown_signals().unwrap();
        raise(Signal::INT);
        assert_eq!(next(&mut any).await, "SIGINT");
        raise(Signal::TERM);
        assert_eq!(next(&mut any).await, "SIGTERM");
        assert_eq!(
            format!("{any:?}"),
            r#"SignalStream { signals: ["SIGINT", "SIGTERM"] }"#
        );

        // Merged streams: each signal is seen once, whichever listens.
        let mut merged = interrupt().unwrap().or(hangup().unwrap());
        raise(Signal::HUP);
        assert_eq!(next(&mut merged).await, "SIGHUP");
        raise(Signal::INT);
        assert_eq!(next(&mut merged).await, "SIGINT");
        assert_eq!(
            format!("{merged:?}"),
            r#"SignalStream { signals: ["SIGINT", "SIGHUP"] }"#
        );
    });
}

/// The lame duck with real signals: the first SIGTERM puts the tree into
/// draining (not quitting) for a delay the test does not wait for; a second
/// one skips the rest of it; a third forces the end of the wait.
#[test]
fn sigterm_drains_first_a_second_skips_the_lame_duck_a_third_forces() {
    let _serial = serial();
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let shutdown = Shutdown::new(root.clone())
        .lame_duck(Duration::from_secs(60))
        .timeout(Duration::from_secs(60))
        .signals()
        .expect("install the handlers");
    spawn_stuck(&http);

    let started = Instant::now();
    let signaller = async {
        raise(Signal::TERM);
        http.draining().await;
        assert!(!http.is_quitting(), "draining, still serving");
        assert!(http.child("a connection during the lame duck").is_ok());
        raise(Signal::TERM);
        root.quitted().await;
        raise(Signal::TERM);
    };
    let (report, ()) = smol::block_on(future::zip(shutdown.run(), signaller));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "neither 60 s waited"
    );
    let lame_duck = report.lame_duck.expect("a lame duck");
    assert!(lame_duck.cut_short, "{report}");
    assert!(report.forced);
    assert_eq!(report.exit_code(), 130);
    assert_eq!(report.cause.detail.as_deref(), Some("SIGTERM"));
}
