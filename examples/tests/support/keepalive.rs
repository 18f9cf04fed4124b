//! Keep-alive load and SIGTERM: no request written by a client is lost.
//!
//! Each trial starts the example with a lame duck and opens [`CONNECTIONS`]
//! keep-alive connections, each driven by its own `std` thread sending
//! `GET /` back to back, reading each response whole before the next
//! request. Once every connection has had a response, SIGTERM is sent.
//!
//! What a client does with each request's end:
//! - a whole `200` response: served; if it says `Connection: close`, the
//!   server asked the client to go away, and the connection ends (a real
//!   client would reconnect, through its load balancer, elsewhere);
//! - anything else after the request was written (EOF or a reset with no
//!   response, or part of one): **lost**.
//!
//! A request that could not be written at all (the server had closed the
//! connection) is not lost: the client knows it was not sent. Every trial
//! must end with 0 lost, every connection ended by `Connection: close`,
//! and exit code 0. Without a lame duck ([`measure_without_lame_duck`],
//! ignored: a measurement, not a check) the count is printed.
//!
//! Bounded: each connection stops after [`MAX_REQUESTS`] requests or
//! [`TRIAL_LIMIT`], whichever comes first, and every read has a time-out.

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::{HttpConn, Server};

/// Keep-alive connections per trial.
pub const CONNECTIONS: usize = 64;
/// Requests a connection may send before it stops (a bound, never met in
/// a passing trial: the lame duck closes every connection far earlier).
const MAX_REQUESTS: usize = 20_000;
/// The longest a trial's clients may run.
const TRIAL_LIMIT: Duration = Duration::from_secs(30);

/// How one connection ended.
#[derive(Debug, Default, Clone)]
pub struct Ended {
    /// Whole responses read.
    pub served: usize,
    /// Written requests with no (or part of a) response.
    pub lost: usize,
    /// The server said `Connection: close`.
    pub told_to_close: bool,
    /// What ended it otherwise.
    pub other: Option<String>,
}

/// One trial against `example` with `extra` arguments: the connections'
/// ends and the exit status.
pub fn trial(example: &str, extra: &[&str]) -> (Vec<Ended>, Server, std::process::ExitStatus) {
    let mut server = Server::start(example, extra);
    let addr = server.addr();
    let ready = Arc::new(Barrier::new(CONNECTIONS + 1));
    let (ended_tx, ended_rx) = mpsc::channel();
    for _ in 0..CONNECTIONS {
        let ready = ready.clone();
        let ended_tx = ended_tx.clone();
        thread::spawn(move || {
            let _ = ended_tx.send(drive(addr, &ready));
        });
    }
    drop(ended_tx);
    ready.wait();
    server.signal(libc::SIGTERM);
    let mut ended = Vec::new();
    let deadline = Instant::now() + TRIAL_LIMIT + Duration::from_secs(10);
    while ended.len() < CONNECTIONS {
        let left = deadline.saturating_duration_since(Instant::now());
        match ended_rx.recv_timeout(left) {
            Ok(end) => ended.push(end),
            Err(_) => server.fail(&format!(
                "only {} of {CONNECTIONS} connections ended in time",
                ended.len()
            )),
        }
    }
    let status = server.wait_exit(Duration::from_secs(20));
    (ended, server, status)
}

/// One connection: a first response, the barrier, then requests back to
/// back until the server ends it.
fn drive(addr: std::net::SocketAddr, ready: &Barrier) -> Ended {
    let mut ended = Ended::default();
    let mut conn = match HttpConn::connect(addr) {
        Ok(conn) => conn,
        Err(error) => {
            ready.wait();
            ended.other = Some(format!("connect: {error}"));
            return ended;
        }
    };
    let started = Instant::now();
    let mut first = true;
    for _ in 0..MAX_REQUESTS {
        if started.elapsed() > TRIAL_LIMIT {
            ended.other = Some("still served at the trial's limit".into());
            break;
        }
        if conn.send_get("/", false).is_err() {
            // Not written: the client knows it was not sent.
            ended.other = Some("closed before a request could be written".into());
            break;
        }
        match conn.read_response() {
            Ok(response) if response.status == 200 => {
                ended.served += 1;
                if response.header("connection") == Some("close") {
                    ended.told_to_close = true;
                    break;
                }
            }
            Ok(response) => {
                ended.other = Some(format!("status {}", response.status));
                break;
            }
            Err(error) if is_cut(&error) => {
                ended.lost += 1;
                break;
            }
            Err(error) => {
                ended.other = Some(format!("read: {error}"));
                break;
            }
        }
        if first {
            first = false;
            ready.wait();
        }
    }
    if first {
        // Never reached the barrier through a response: do not stall it.
        ready.wait();
    }
    ended
}

/// The connection ended under a written request: EOF, reset, broken.
fn is_cut(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// With `--lame-duck 1s`: [`TRIALS`] trials, each with 0 lost, every
/// connection told to close, exit code 0.
pub const TRIALS: usize = 20;

pub fn keep_alive_sigterm_loses_nothing_with_a_lame_duck(example: &str) {
    for number in 1..=TRIALS {
        let (ended, mut server, status) = trial(example, &["--lame-duck", "1s"]);
        let lost: usize = ended.iter().map(|end| end.lost).sum();
        let served: usize = ended.iter().map(|end| end.served).sum();
        let not_told: Vec<_> = ended.iter().filter(|end| !end.told_to_close).collect();
        server.check(
            lost == 0,
            &format!("trial {number}: {lost} request(s) lost of {served} served"),
        );
        server.check(
            not_told.is_empty(),
            &format!(
                "trial {number}: {} connection(s) not ended by Connection: close: {not_told:?}",
                not_told.len()
            ),
        );
        server.check(
            status.code() == Some(0),
            &format!("trial {number}: expected exit code 0, got {status}"),
        );
        server.check_no_panic();
    }
}

/// Without a lame duck: how many written requests a SIGTERM loses under
/// the same load (printed; run with `--ignored --nocapture`).
pub fn measure_without_lame_duck(example: &str) {
    let mut lost_per_trial = Vec::new();
    for _ in 0..TRIALS {
        let (ended, _server, _status) = trial(example, &[]);
        lost_per_trial.push(ended.iter().map(|end| end.lost).sum::<usize>());
    }
    lost_per_trial.sort_unstable();
    println!(
        "{example}, no lame duck, {CONNECTIONS} keep-alive connections: lost per trial (sorted) {lost_per_trial:?}"
    );
}
