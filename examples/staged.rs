//! A service that stops in stages, on tokio: a lame duck first, then
//! `http`, then the `workers` that http feeds, then the `telemetry` flush.
//! The exit report is the timeline.
//!
//! ```text
//! cargo run --example staged -- [--lame-duck 1s] [--quit-timeout 10s] [--hang-worker] [--abort]
//! ```
//!
//! The quit tree and its stop order:
//!
//! ```text
//! main                  quit source: "OS interrupt/termination signal"
//! ├── http              stage 1: a request in flight (300 ms to finish)
//! ├── workers           stage 2, after http: a job to finish (200 ms),
//! │                     budget 1 s (--hang-worker: it never finishes;
//! │                     --abort: it is aborted when the budget runs out)
//! └── telemetry         stage 3, after workers: flushes (100 ms)
//! ```
//!
//! On SIGTERM (or Ctrl-C) the service first stops being ready (the lame
//! duck: a load balancer takes it out of rotation) while still serving,
//! then quits `http`; `workers` quit only once `http` is done, so no
//! request loses its worker; `telemetry` flushes last, so it sees
//! everything. A second signal skips the lame duck, a third ends the wait.

use std::error::Error;
use std::time::Duration;

use quitter_examples::parse_duration;
use quitter_tokio::quitter_core::Stage;
use quitter_tokio::{spawn, Quitter, Shutdown};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let flags = Flags::from_args();
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone())
        .lame_duck(flags.lame_duck)
        .timeout(flags.quit_timeout)
        .signals()?; // "OS interrupt/termination signal"

    // The stop order is declared where the children are made.
    let http = root.child("http")?;
    let mut workers_stage = Stage::after(&http).budget(WORKER_BUDGET);
    if flags.abort {
        // At the budget, the stuck job's future is dropped (its cleanup
        // runs) rather than left running; the report says "aborted".
        workers_stage = workers_stage.abort_on_overrun();
    }
    let workers = root.child_in("workers", workers_stage)?;
    let telemetry = root.child_in("telemetry", Stage::after(&workers))?;

    // Readiness: what a `/ready` endpoint would answer.
    spawn(&http, "readiness", {
        let http = http.clone();
        async move {
            println!("ready");
            http.draining().await;
            println!("http: draining, /ready answers 503");
        }
    })?;
    // A request in flight: it finishes after the quit, as a server lets it.
    spawn(&http, "GET /report", {
        let http = http.clone();
        async move {
            http.quitted().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            println!("http: last request done");
        }
    })?;
    spawn(&workers, "worker", {
        let workers = workers.clone();
        async move {
            workers.quitted().await;
            println!("workers: quit, finishing the job");
            let _on_abort = OnDrop("workers: job aborted");
            if flags.hang_worker {
                std::future::pending::<()>().await; // a stuck job
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            std::mem::forget(_on_abort);
            println!("workers: stopped");
        }
    })?;
    spawn(&telemetry, "flush", {
        let telemetry = telemetry.clone();
        async move {
            telemetry.quitted().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            println!("telemetry: flushed");
        }
    })?;

    // Prints the report (with the timeline of the stages) on stderr and
    // exits with its code: 0 when every task returned in time.
    shutdown.run().await.exit()
}

/// Prints its line if dropped: the job's future was dropped before it
/// finished (an abort).
struct OnDrop(&'static str);

impl Drop for OnDrop {
    fn drop(&mut self) {
        println!("{}", self.0);
    }
}

/// How long the workers' stage may take before telemetry is stopped anyway.
const WORKER_BUDGET: Duration = Duration::from_secs(1);

/// The command line.
#[derive(Clone, Copy, Debug)]
struct Flags {
    lame_duck: Duration,
    quit_timeout: Duration,
    hang_worker: bool,
    abort: bool,
}

const USAGE: &str = "usage: staged [--lame-duck DUR] [--quit-timeout DUR] [--hang-worker] [--abort]
  --lame-duck     draining before the quit (default: 1s)
  --quit-timeout  how long the stages may take after the quit (default: 10s)
  --hang-worker   the worker never finishes: its stage overruns its budget
  --abort         a stage that overruns its budget has its tasks aborted
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
            lame_duck: Duration::from_secs(1),
            quit_timeout: Duration::from_secs(10),
            hang_worker: false,
            abort: false,
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--lame-duck" => flags.lame_duck = parse_duration(&value()?)?,
                "--quit-timeout" => flags.quit_timeout = parse_duration(&value()?)?,
                "--hang-worker" => flags.hang_worker = true,
                "--abort" => flags.abort = true,
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
