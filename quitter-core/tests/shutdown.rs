//! `Shutdown<R>` with a fake runtime: the timeout is the runtime's timer,
//! the signals its stream, and the process-wide claim is taken once. One
//! test function, because the claim is global to this test process.

mod common;

use std::future::{pending, ready, Future, Pending, Ready};
use std::io;
use std::pin::Pin;
use std::time::Duration;

use common::{block_on, go, hung, until_quit};
use futures::stream::{self, Stream};
use quitter_core::{Quitter, Runtime, Shutdown, SignalError};

/// Two Ctrl-Cs at once; a timer that expires at once.
struct Impatient;

impl Runtime for Impatient {
    type Sleep = Ready<()>;
    type Signals = stream::Iter<std::array::IntoIter<&'static str, 2>>;
    fn sleep(_: Duration) -> Ready<()> {
        ready(())
    }
    fn shutdown_signals() -> io::Result<Self::Signals> {
        Ok(stream::iter(["SIGINT", "SIGINT"]))
    }
}

/// No signal ever; a timer that never fires; signals can fail to install.
struct Patient;

impl Runtime for Patient {
    type Sleep = Pending<()>;
    type Signals = Pin<Box<dyn Stream<Item = &'static str>>>;
    fn sleep(_: Duration) -> Pending<()> {
        pending()
    }
    fn shutdown_signals() -> io::Result<Self::Signals> {
        Err(io::Error::other("no signals in this test"))
    }
}

#[test]
fn shutdown_uses_the_runtime_and_claims_signals_once() {
    // The signal source is the cause; a second signal forces the end.
    let root = Quitter::new("main");
    let (release, bad) = hung();
    let stuck = go(&root, "stuck", bad).unwrap();
    let shutdown = Shutdown::<Impatient>::new(root)
        .timeout(Duration::from_secs(1))
        .signals()
        .unwrap();
    assert!(format!("{shutdown:?}").contains("signals: true"));

    // While it holds the claim, no other Shutdown may install signals.
    let second = Shutdown::<Impatient>::new(Quitter::new("other")).signals();
    assert!(
        matches!(second, Err(SignalError::AlreadyClaimed(_))),
        "{second:?}"
    );

    let report = block_on(shutdown.run());
    assert_eq!(report.cause.label, "OS interrupt/termination signal");
    assert_eq!(report.cause.detail.as_deref(), Some("SIGINT"));
    assert!(report.forced);
    assert_eq!(report.exit_code(), 130);
    release.send(()).unwrap();
    stuck.join().unwrap();

    // `run` released the claim; a failed install holds nothing either.
    let failed = Shutdown::<Patient>::new(Quitter::new("main")).signals();
    match failed {
        Err(error @ SignalError::Install(_)) => {
            assert!(
                error.to_string().contains("no signals in this test"),
                "{error}"
            )
        }
        other => panic!("expected an install error, got {other:?}"),
    }

    // The timeout is the runtime's timer: an expired one times out a hung
    // task; forcing can be turned off.
    let root = Quitter::new("main");
    let _guard = root.track("hung").unwrap();
    let report = block_on(
        Shutdown::<Impatient>::new(root.clone())
            .signals()
            .unwrap()
            .force_on_second_event(false)
            .run(),
    );
    assert!(!report.forced);
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.timed_out[0].tasks[0].name, "hung");

    // A future source and a quit by code, on the patient runtime.
    let root = Quitter::new("main");
    let worker = go(&root, "worker", until_quit).unwrap();
    let (fire, fired) = futures::channel::oneshot::channel::<&str>();
    let shutdown = Shutdown::<Patient>::new(root.clone())
        .source("job", async move { fired.await.unwrap_or("dropped") })
        .forced_exit_code(3);
    fire.send("finished").unwrap();
    let report = block_on(shutdown.run());
    worker.join().unwrap();
    assert_eq!(report.cause.label, "job");
    assert_eq!(report.exit_code(), 0);
    let _ = Shutdown::<Patient>::DEFAULT_TIMEOUT;
    fn is_future<F: Future>(_: &F) {}
    is_future(&Shutdown::<Patient>::new(root).run());
}
