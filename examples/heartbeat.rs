//! Heartbeats that stop in two steps, on tokio: the Rust take on
//! go-quitter's heartbeat example. A child sub-tree is quit and waited for
//! on its own while the rest of the program keeps running.
//!
//! ```text
//! cargo run --example heartbeat -- [--period 1s] [--child-lifetime 5s] [--quit-timeout 10s]
//! ```
//!
//! Every task prints `NAME: beat N` each period. After `--child-lifetime`
//! the main heartbeat quits only `children` and waits for it; it keeps
//! beating until Ctrl-C (or SIGTERM) quits everything.
//!
//! The quit tree:
//!
//! ```text
//! main                   quit source: "OS interrupt/termination signal"
//! ├── task "heartbeat"   beats; quits `children` after --child-lifetime
//! └── children           child quitter, made by "heartbeat"
//!     ├── task "child 1"
//!     └── task "child 2"
//! ```

use std::error::Error;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_lite::future;
use quitter_examples::parse_duration;
use quitter_tokio::{Quitter, Shutdown};

// One thread is plenty for heartbeats, and it makes the output order exact:
// a task runs until its next `.await`, so the line "main: quitting
// children" and the quit itself happen with no child beat in between, and
// each child sees the quit before its next beat.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let flags = Flags::from_args();

    // The main quitter; its signal handlers are installed before anything
    // beats, so no Ctrl-C is missed.
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone())
        .timeout(flags.quit_timeout)
        .signals()?; // "OS interrupt/termination signal"

    quitter_tokio::spawn(&root, "heartbeat", main_heartbeat(root.clone(), flags))?;

    // Wait for a signal, quit, wait for the tree, then print the report (on
    // stderr) and exit: 0 when every task returned in time.
    shutdown.run().await.exit()
}

/// The "heartbeat" task: starts the children, beats along with them for
/// `child_lifetime`, quits and waits for them alone, then beats on until
/// the root quits.
async fn main_heartbeat(root: Quitter, flags: Flags) {
    // Refused only if the root has already quit: then there is nothing to do.
    let Ok(children) = root.child("children") else {
        return;
    };
    for name in ["child 1", "child 2"] {
        let quitter = children.clone();
        let child = async move {
            heartbeat(name, flags.period, 0, quitter.quitted()).await;
            println!("{name}: stopped");
        };
        if quitter_tokio::spawn(&children, name, child).is_err() {
            return;
        }
    }

    // Beat alongside the children until their time is up, or a signal
    // quits the root (and with it the children).
    let lifetime = tokio::time::sleep(flags.child_lifetime);
    let beats = heartbeat(
        "main",
        flags.period,
        0,
        future::or(root.quitted(), lifetime),
    )
    .await;
    if !root.is_quitting() {
        // Quit only the sub-tree: `root` and this task go on.
        println!("main: quitting children");
        children.quit();
        match quitter_tokio::wait_done(&children, flags.quit_timeout).await {
            Ok(()) => println!("children stopped"),
            Err(still_running) => print!("{still_running}"),
        }
        // Alone now, until Ctrl-C.
        heartbeat("main", flags.period, beats, root.quitted()).await;
    }
    println!("main: stopped");
}

/// Prints `NAME: beat N` every `period`, counting on from `beats`, until
/// `stop` is ready; returns the number of the last beat.
///
/// `println!` flushes at each newline (Rust's stdout is line-buffered, also
/// into a pipe), so whoever reads the output sees each beat at once.
async fn heartbeat(name: &str, period: Duration, mut beats: u64, stop: impl Future) -> u64 {
    let mut stop = pin!(stop);
    loop {
        tokio::select! {
            // The quit first: once it has come, no more beats.
            biased;
            _ = &mut stop => return beats,
            () = tokio::time::sleep(period) => {}
        }
        beats += 1;
        println!("{name}: beat {beats}");
    }
}

/// The command line.
#[derive(Clone, Copy, Debug)]
struct Flags {
    period: Duration,
    child_lifetime: Duration,
    quit_timeout: Duration,
}

const USAGE: &str = "usage: heartbeat [--period DUR] [--child-lifetime DUR] [--quit-timeout DUR]
  --period          time between two beats (default: 1s)
  --child-lifetime  when the children are quit, from the start (default: 5s)
  --quit-timeout    how long tasks may take after a quit (default: 10s)
  DUR is a number followed by ms or s: 500ms, 2s";

impl Flags {
    /// Parses the arguments; on a bad one, prints the usage and exits with
    /// code 2 (`--help` prints it and exits with 0).
    fn from_args() -> Flags {
        Flags::parse(std::env::args().skip(1)).unwrap_or_else(|message| {
            eprintln!("{message}\n{USAGE}");
            std::process::exit(2)
        })
    }

    fn parse(args: impl IntoIterator<Item = String>) -> Result<Flags, String> {
        let mut flags = Flags {
            period: Duration::from_secs(1),
            child_lifetime: Duration::from_secs(5),
            quit_timeout: Duration::from_secs(10),
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--period" => flags.period = parse_duration(&value()?)?,
                "--child-lifetime" => flags.child_lifetime = parse_duration(&value()?)?,
                "--quit-timeout" => flags.quit_timeout = parse_duration(&value()?)?,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                _ => return Err(format!("unknown argument {flag:?}")),
            }
        }
        Ok(flags)
    }
}
