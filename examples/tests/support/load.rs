//! The drain-under-load scenario: SIGTERM lands while several keep-alive
//! connections are busy, and nothing that was accepted is lost.
//!
//! Each trial starts the example and opens two kinds of keep-alive
//! connections, each driven by its own `std` thread with a seeded mix
//! (reproducible; the timing is not) of `GET /` and `GET /slow?ms=N`:
//!
//! - **anchors** ([`ANCHORS`]): a warm-up of one to three requests, then,
//!   in step with the other anchors (a barrier), a slow request of 100 to
//!   200 ms whose head they read and report. The signal is sent once every
//!   anchor has reported, so each anchor has a request provably being
//!   served (see the rule in the parent module's doc) when the quit
//!   arrives.
//! - **racers** ([`RACERS`]): report after their first response, then
//!   loop short requests (`/` and `/slow?ms=1..50`) back to back, never
//!   waiting for anything, so the signal lands at an arbitrary point of
//!   their request cycle: idle, request in the socket, head sent, body
//!   pending.
//!
//! After the signal every connection keeps sending requests until the
//! server closes it. A request is *accepted* once its response head has
//! been read; the scenario then requires its whole 200 response with the
//! right body. The only other allowed end of a request is a clean close
//! before any byte of its response (EOF): the server closed the
//! connection before reading the request. A reset, a truncated head or
//! body, a wrong status or body, or bytes after a `Connection: close`
//! response fail the trial. A connection a client opens after its old one
//! was closed must not be served (refused, or closed/reset before any
//! byte): the server had quit by then, so it no longer accepts. Finally
//! the process exits with code 0 within [`EXIT_WITHIN`] of the signal,
//! having drained without a force-close or a connection error.
//!
//! Every wait is bounded; a failing trial kills the example, which ends
//! every client thread's connection.

use std::io::{self, BufRead};
use std::net::{SocketAddr, TcpStream};
use std::ops::RangeInclusive;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::{HttpConn, Server, IO_TIMEOUT};

/// Trials per example.
const TRIALS: u64 = 20;
/// Connections with a slow request in flight at the signal.
const ANCHORS: usize = 4;
/// Connections looping short requests across the signal.
const RACERS: usize = 2;
/// The example's drain time (`--shutdown-timeout`): far above what the
/// drain needs (at most one 200 ms request per connection), so a
/// force-close is a failure, never bad luck.
const SHUTDOWN_TIMEOUT: &str = "5s";
/// `--quit-timeout`.
const QUIT_TIMEOUT: &str = "8s";
/// The process must exit within this time of the signal.
const EXIT_WITHIN: Duration = Duration::from_secs(10);
/// How long the clients may take to be ready for the signal, and to
/// finish after it.
const PHASE_TIMEOUT: Duration = Duration::from_secs(30);
/// A bound on the requests of one connection (a server that never closes
/// it is caught by [`PHASE_TIMEOUT`] long before).
const MAX_REQUESTS: usize = 100_000;

/// Runs [`TRIALS`] trials of the scenario against `example`, one after
/// the other; see the module doc.
pub fn drain_under_load(example: &str) {
    let started = Instant::now();
    let mut totals = Counts::default();
    for trial in 0..TRIALS {
        totals.add(&run_trial(example, trial));
    }
    eprintln!(
        "drain_under_load({example}): {TRIALS} trials in {:?}: {totals}",
        started.elapsed()
    );
}

/// What the connections of one trial (or all trials) saw.
#[derive(Default, Debug)]
struct Counts {
    /// Requests whose response head was read.
    accepted: usize,
    /// Accepted requests that got their whole 200 response.
    completed: usize,
    /// Requests accepted before the signal, and how many of them got
    /// their whole 200 response.
    accepted_before: usize,
    completed_before: usize,
    /// Responses whose head came before the signal and whose body after.
    in_flight_at_signal: usize,
    /// Requests met by a clean close before any byte of a response.
    closed_unanswered: usize,
    /// Connections opened after the old one closed: refused / closed.
    probes_refused: usize,
    probes_closed: usize,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.accepted += other.accepted;
        self.completed += other.completed;
        self.accepted_before += other.accepted_before;
        self.completed_before += other.completed_before;
        self.in_flight_at_signal += other.in_flight_at_signal;
        self.closed_unanswered += other.closed_unanswered;
        self.probes_refused += other.probes_refused;
        self.probes_closed += other.probes_closed;
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} accepted ({} before the signal), {} completed with 200 ({} of those \
             accepted before the signal), {} in flight at the signal, {} closed \
             unanswered; new connections after the close: {} refused, {} closed",
            self.accepted,
            self.accepted_before,
            self.completed,
            self.completed_before,
            self.in_flight_at_signal,
            self.closed_unanswered,
            self.probes_refused,
            self.probes_closed,
        )
    }
}

/// One trial: start, load, signal mid-load, check every connection's
/// story and the exit.
fn run_trial(example: &str, trial: u64) -> Counts {
    let mut server = Server::start(
        example,
        &[
            "--shutdown-timeout",
            SHUTDOWN_TIMEOUT,
            "--quit-timeout",
            QUIT_TIMEOUT,
        ],
    );
    let addr = server.addr();

    let barrier = Arc::new(Barrier::new(ANCHORS));
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let (done_tx, done_rx) = mpsc::channel::<ConnLog>();
    let clients: Vec<_> = (0..ANCHORS + RACERS)
        .map(|i| {
            let role = if i < ANCHORS {
                Role::Anchor(barrier.clone())
            } else {
                Role::Racer
            };
            let name = match role {
                Role::Anchor(_) => format!("anchor {i}"),
                Role::Racer => format!("racer {}", i - ANCHORS),
            };
            let rng = Rng::new(trial * 1_000 + i as u64);
            let (ready_tx, done_tx) = (ready_tx.clone(), done_tx.clone());
            thread::spawn(move || {
                let log = client(addr, name, role, rng, &ready_tx);
                let _ = done_tx.send(log);
            })
        })
        .collect();
    drop((ready_tx, done_tx));

    // Mid-load: every anchor has a slow response's head, every racer has
    // been answered at least once and is still going.
    let deadline = Instant::now() + PHASE_TIMEOUT;
    for _ in 0..ANCHORS + RACERS {
        match recv_before(&ready_rx, deadline) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => server.fail(&format!("trial {trial}: before the signal: {e}")),
            Err(e) => server.fail(&format!(
                "trial {trial}: the clients were not ready for the signal: {e}"
            )),
        }
    }
    let signal_sent = Instant::now();
    server.signal(libc::SIGTERM);
    let signal_done = Instant::now();

    let deadline = Instant::now() + PHASE_TIMEOUT;
    let mut logs = Vec::new();
    for _ in 0..ANCHORS + RACERS {
        match recv_before(&done_rx, deadline) {
            Ok(log) => logs.push(log),
            Err(e) => server.fail(&format!(
                "trial {trial}: the connections did not all end after the signal: {e}"
            )),
        }
    }
    for client in clients {
        client.join().expect("client thread");
    }

    let mut counts = Counts::default();
    let mut failures = Vec::new();
    for log in &logs {
        counts.add(&log.counts(signal_sent, signal_done));
        if let Some(failure) = &log.failure {
            failures.push(format!("{}: {failure}", log.name));
        }
    }
    if !failures.is_empty() {
        server.fail(&format!(
            "trial {trial}: {counts}\n  {}",
            failures.join("\n  ")
        ));
    }
    server.check(
        counts.accepted == counts.completed && counts.accepted_before == counts.completed_before,
        &format!("trial {trial}: an accepted request was not completed: {counts}"),
    );
    // The scenario's premise: the signal really came mid-response (each
    // anchor's body is due 100 ms or more after its head was read).
    server.check(
        counts.in_flight_at_signal >= 1,
        &format!("trial {trial}: no response was in flight at the signal: {counts}"),
    );

    let left = EXIT_WITHIN.saturating_sub(signal_sent.elapsed());
    let status = server.wait_exit(left);
    server.check(
        status.code() == Some(0),
        &format!("trial {trial}: expected exit code 0 after the drain, got {status}"),
    );
    server.check_output_contains("SIGTERM");
    server.check_output_contains("Stopping service");
    let output = server.output();
    server.check(
        !output.to_ascii_lowercase().contains("force"),
        &format!("trial {trial}: the drain force-closed connections"),
    );
    server.check(
        !server.stderr().contains("Connection "),
        &format!("trial {trial}: a connection ended with an error"),
    );
    server.check_no_panic();
    counts
}

/// `rx.recv()` until `deadline`, with the reason as text.
fn recv_before<T>(rx: &Receiver<T>, deadline: Instant) -> Result<T, String> {
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------
// One connection.
// ---------------------------------------------------------------------------

enum Role {
    /// Warm-up, then a slow request in step with the other anchors.
    Anchor(Arc<Barrier>),
    /// Short requests back to back.
    Racer,
}

/// What one connection saw; `failure` is why it broke the rules.
struct ConnLog {
    name: String,
    /// When each accepted request's head was read.
    heads: Vec<Instant>,
    /// (head read, body read) of each request completed with 200.
    completed: Vec<(Instant, Instant)>,
    closed_unanswered: usize,
    /// `Some(true)`: the new connection after the close was refused;
    /// `Some(false)`: it was closed or reset before any byte.
    probe_refused: Option<bool>,
    failure: Option<String>,
}

impl ConnLog {
    fn counts(&self, signal_sent: Instant, signal_done: Instant) -> Counts {
        Counts {
            accepted: self.heads.len(),
            completed: self.completed.len(),
            accepted_before: self.heads.iter().filter(|&&h| h < signal_sent).count(),
            completed_before: self
                .completed
                .iter()
                .filter(|&&(h, _)| h < signal_sent)
                .count(),
            in_flight_at_signal: self
                .completed
                .iter()
                .filter(|&&(h, d)| h < signal_sent && d > signal_done)
                .count(),
            closed_unanswered: self.closed_unanswered,
            probes_refused: usize::from(self.probe_refused == Some(true)),
            probes_closed: usize::from(self.probe_refused == Some(false)),
        }
    }
}

/// Drives one connection until the server closes it (see the module
/// doc), then tries a new one. Reports on `ready` once it may be
/// signalled.
fn client(
    addr: SocketAddr,
    name: String,
    role: Role,
    mut rng: Rng,
    ready: &Sender<Result<(), String>>,
) -> ConnLog {
    let mut log = ConnLog {
        name,
        heads: Vec::new(),
        completed: Vec::new(),
        closed_unanswered: 0,
        probe_refused: None,
        failure: None,
    };
    // Anchors keep to the mix; racers keep their cycle short.
    let slow_ms = match role {
        Role::Anchor(_) => 50..=200,
        Role::Racer => 1..=50,
    };
    let result = (|| {
        let connect = || HttpConn::connect(addr).map_err(|e| format!("connect: {e}"));
        let mut conn = match role {
            Role::Anchor(barrier) => {
                let warm_up = (|| {
                    let mut conn = connect()?;
                    for _ in 0..rng.below(3) + 1 {
                        let path = rng.path(slow_ms.clone());
                        served_before_signal(exchange(&mut conn, &path, &mut log)?, &path)?;
                    }
                    Ok::<_, String>(conn)
                })();
                // Always in step, also after a failure (which is reported
                // below), so no anchor waits forever.
                barrier.wait();
                let mut conn = warm_up?;
                let path = format!("/slow?ms={}", 100 + rng.below(101));
                let head = send_and_read_head(&mut conn, &path, &mut log)?;
                let head = head.ok_or(format!("GET {path}: closed before the signal"))?;
                let _ = ready.send(Ok(()));
                if !finish(&mut conn, &path, head, &mut log)? {
                    return Ok(());
                }
                conn
            }
            Role::Racer => {
                let mut conn = connect()?;
                let path = rng.path(slow_ms.clone());
                served_before_signal(exchange(&mut conn, &path, &mut log)?, &path)?;
                let _ = ready.send(Ok(()));
                conn
            }
        };
        until_closed(&mut conn, &mut rng, slow_ms, &mut log)
    })();
    if let Err(e) = result {
        let _ = ready.send(Err(format!("{}: {e}", log.name)));
        log.failure = Some(e);
        return log;
    }
    match probe(addr) {
        Ok(refused) => log.probe_refused = Some(refused),
        Err(e) => log.failure = Some(e),
    }
    log
}

/// Requests until the server closes the connection.
fn until_closed(
    conn: &mut HttpConn,
    rng: &mut Rng,
    slow_ms: RangeInclusive<u64>,
    log: &mut ConnLog,
) -> Result<(), String> {
    for _ in 0..MAX_REQUESTS {
        let path = rng.path(slow_ms.clone());
        if !exchange(conn, &path, log)?.keep_alive() {
            return Ok(());
        }
    }
    Err(format!("still open after {MAX_REQUESTS} requests"))
}

/// How a request ended (anything else is an error).
enum End {
    /// Its whole 200 response came; the connection stays open.
    KeepAlive,
    /// Its whole 200 response came with `Connection: close`, then EOF.
    Closed,
    /// The connection closed before any byte of a response.
    Unanswered,
}

impl End {
    fn keep_alive(&self) -> bool {
        matches!(self, End::KeepAlive)
    }
}

fn served_before_signal(end: End, path: &str) -> Result<(), String> {
    match end {
        End::KeepAlive => Ok(()),
        _ => Err(format!(
            "GET {path}: the connection closed before the signal"
        )),
    }
}

/// Sends `GET path` and reads the whole answer.
fn exchange(conn: &mut HttpConn, path: &str, log: &mut ConnLog) -> Result<End, String> {
    match send_and_read_head(conn, path, log)? {
        None => Ok(End::Unanswered),
        Some(head) => Ok(if finish(conn, path, head, log)? {
            End::KeepAlive
        } else {
            End::Closed
        }),
    }
}

/// Sends `GET path` and reads the response head: `None` if the connection
/// closes cleanly before any byte of a response (the request was not
/// accepted); an error for anything but a 200 head.
fn send_and_read_head(
    conn: &mut HttpConn,
    path: &str,
    log: &mut ConnLog,
) -> Result<Option<super::Head>, String> {
    conn.send_get(path, false)
        .map_err(|e| format!("GET {path}: writing the request: {e}"))?;
    match conn.reader.fill_buf() {
        Ok([]) => {
            log.closed_unanswered += 1;
            return Ok(None);
        }
        Ok(_) => {}
        Err(e) => return Err(format!("GET {path}: {e}, before any byte of a response")),
    }
    let head = conn
        .read_head()
        .map_err(|e| format!("GET {path}: in the response head: {e}"))?;
    log.heads.push(Instant::now());
    if head.status != 200 {
        return Err(format!("GET {path}: {head:?}"));
    }
    Ok(Some(head))
}

/// Reads the body after `head` and checks it; with `Connection: close`,
/// also checks that the connection then ends cleanly. Whether the
/// connection stays open.
fn finish(
    conn: &mut HttpConn,
    path: &str,
    head: super::Head,
    log: &mut ConnLog,
) -> Result<bool, String> {
    let head_at = *log.heads.last().expect("a head was read");
    let close = head
        .header("connection")
        .is_some_and(|c| c.eq_ignore_ascii_case("close"));
    let response = conn
        .read_body(head)
        .map_err(|e| format!("GET {path}: mid-response (head read): {e}"))?;
    let done_at = Instant::now();
    let expected = match path.strip_prefix("/slow?ms=") {
        Some(ms) => format!("done after {ms} ms"),
        None => "Hello world!".to_owned(),
    };
    if response.body_text().trim_end() != expected {
        return Err(format!(
            "GET {path}: expected {expected:?}, got {response:?}"
        ));
    }
    log.completed.push((head_at, done_at));
    if !close {
        return Ok(true);
    }
    match conn.reader.fill_buf() {
        Ok([]) => Ok(false),
        Ok(bytes) => Err(format!(
            "GET {path}: {} bytes after a `Connection: close` response",
            bytes.len()
        )),
        Err(e) => Err(format!(
            "GET {path}: {e} after a `Connection: close` response"
        )),
    }
}

/// A new connection, once the old one was closed by the server's quit:
/// must not be served. `Ok(true)` if refused, `Ok(false)` if closed or
/// reset before any byte of a response.
fn probe(addr: SocketAddr) -> Result<bool, String> {
    let stream = match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Ok(true),
        // The handshake was under way when the listener closed: the kernel
        // resets it. Not served, like a reset after connecting.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ) =>
        {
            return Ok(false)
        }
        Err(e) => return Err(format!("new connection after the close: {e}")),
        Ok(stream) => stream,
    };
    // Connected into the listener's backlog, or accepted and dropped: the
    // socket may already be reset, so every error here means "closed".
    let Ok(mut conn) = HttpConn::from_stream(stream) else {
        return Ok(false);
    };
    if conn.send_get("/", true).is_err() {
        return Ok(false);
    }
    match conn.reader.fill_buf() {
        Ok([]) => Ok(false),
        Ok(bytes) => Err(format!(
            "a new connection after the close was served: {:?}",
            String::from_utf8_lossy(bytes)
        )),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(format!(
                "a new connection after the close was left hanging: {e}"
            ))
        }
        Err(_) => Ok(false),
    }
}

// ---------------------------------------------------------------------------
// A tiny seeded generator (SplitMix64), so each trial's mix is reproducible.
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n small: the bias is negligible).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// `/` or `/slow?ms=N` with N in `ms`, half and half.
    fn path(&mut self, ms: RangeInclusive<u64>) -> String {
        if self.below(2) == 0 {
            "/".to_owned()
        } else {
            let n = ms.start() + self.below(ms.end() - ms.start() + 1);
            format!("/slow?ms={n}")
        }
    }
}
