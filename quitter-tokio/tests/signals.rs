//! Real signals, raised in this test process. They live in their own test
//! binary so they can never reach another test's process state, and they
//! run one at a time (`SERIAL`) because the signal claim is process-wide.
//! A signal is raised only after tokio's handler for it is installed.
#![cfg(unix)]

use std::time::{Duration, Instant};

use futures_core::Stream;
use quitter_tokio::signals::{hangup, interrupt, shutdown_signals, terminate};
use quitter_tokio::{Quitter, Shutdown, SignalError};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn raise(signal: libc::c_int) {
    // SAFETY: `kill` on our own pid has no memory-safety preconditions; the
    // callers installed tokio's handler for `signal` first.
    let rc = unsafe { libc::kill(libc::getpid(), signal) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Spawns a task named "stuck" on `quitter` that never returns, and waits
/// for its first poll (a tracked task is named from then on).
async fn spawn_stuck(quitter: &Quitter) {
    let (polled, first_poll) = tokio::sync::oneshot::channel();
    quitter_tokio::spawn(quitter, "stuck", async move {
        let _ = polled.send(());
        std::future::pending::<()>().await
    })
    .unwrap();
    first_poll.await.unwrap();
}

/// The next item of `stream`, within a generous bound.
async fn next<S: Stream<Item = &'static str> + Unpin>(stream: &mut S) -> &'static str {
    let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx));
    tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .expect("the signal arrives")
        .expect("signal streams do not end")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_during_the_wait_ends_it_at_once_with_forced() {
    let _serial = SERIAL.lock().await;
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone())
        .timeout(Duration::from_secs(60))
        .signals()
        .expect("install the handlers");
    spawn_stuck(&root).await;

    let started = Instant::now();
    let signaller = async {
        raise(libc::SIGINT);
        // The first SIGINT has been taken as the cause once the root quits.
        root.quitted().await;
        raise(libc::SIGINT);
    };
    let (report, ()) = tokio::join!(shutdown.run(), signaller);

    assert!(
        started.elapsed() < Duration::from_secs(30),
        "forced long before the 60s timeout"
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

#[tokio::test]
async fn installing_the_signal_handlers_twice_is_an_error() {
    let _serial = SERIAL.lock().await;
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
    // The claim is the core's, shared with the smol adapter.
    assert!(quitter_tokio::quitter_core::SignalClaim::acquire().is_err());

    // The same `Shutdown` twice is refused too (and drops its claim).
    let again = first.signals_as("again");
    assert!(matches!(again, Err(SignalError::AlreadyClaimed(_))));

    // Released: a new install works, and `run` releases it when it returns.
    let root = Quitter::new("c");
    let shutdown = Shutdown::new(root.clone())
        .signals()
        .expect("claim released");
    root.quit();
    let report = shutdown.run().await;
    assert_eq!(report.cause.label, quitter_tokio::QuitCause::REQUESTED);
    assert_eq!(report.exit_code(), 0);
    drop(
        Shutdown::new(Quitter::new("d"))
            .signals()
            .expect("released by run"),
    );
}

#[test]
fn installing_outside_a_runtime_is_an_error_not_a_panic() {
    let _serial = SERIAL.blocking_lock();
    let error = Shutdown::new(Quitter::new("main"))
        .signals()
        .expect_err("no runtime");
    assert!(matches!(error, SignalError::Install(_)), "{error:?}");
    assert!(error
        .to_string()
        .starts_with("cannot install the quit signal handlers"));
    // The failed install released its claim.
    drop(quitter_tokio::quitter_core::SignalClaim::acquire().expect("released"));
    assert!(interrupt().is_err() && terminate().is_err() && hangup().is_err());
}

#[tokio::test]
async fn signal_streams_name_each_signal() {
    let _serial = SERIAL.lock().await;
    let mut term = terminate().unwrap();
    raise(libc::SIGTERM);
    assert_eq!(next(&mut term).await, "SIGTERM");

    let mut hup = hangup().unwrap();
    raise(libc::SIGHUP);
    assert_eq!(hup.recv().await, Some("SIGHUP"));

    // "Any shutdown signal" sees both, in turn.
    let mut any = shutdown_signals().unwrap();
    raise(libc::SIGINT);
    assert_eq!(next(&mut any).await, "SIGINT");
    raise(libc::SIGTERM);
    assert_eq!(next(&mut any).await, "SIGTERM");
    assert_eq!(
        format!("{any:?}"),
        r#"SignalStream { signals: ["SIGINT", "SIGTERM"] }"#
    );
}

/// The lame duck with real signals: the first SIGTERM puts the tree into
/// draining (not quitting) for a delay the test does not wait for; a second
/// one skips the rest of it; a third forces the end of the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_first_a_second_skips_the_lame_duck_a_third_forces() {
    let _serial = SERIAL.lock().await;
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let shutdown = Shutdown::new(root.clone())
        .lame_duck(Duration::from_secs(60))
        .timeout(Duration::from_secs(60))
        .signals()
        .expect("install the handlers");
    spawn_stuck(&http).await;

    let started = Instant::now();
    let signaller = async {
        raise(libc::SIGTERM);
        http.draining().await;
        assert!(!http.is_quitting(), "draining, still serving");
        assert!(http.child("a connection during the lame duck").is_ok());
        raise(libc::SIGTERM);
        root.quitted().await;
        raise(libc::SIGTERM);
    };
    let (report, ()) = tokio::join!(shutdown.run(), signaller);
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
