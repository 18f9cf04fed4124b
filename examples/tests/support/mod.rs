//! The shared scenario harness for the HTTP shutdown examples.
//!
//! `tests/tokio_http.rs` and `tests/smol_http.rs` call the same
//! scenarios with their example's name (the drain under load, with its
//! own client, is in [`load`]). Each scenario runs the real example
//! binary as a subprocess, talks to it over loopback with plain `std` TCP
//! (raw HTTP/1.1, no runtime), sends it real signals, and panics with the
//! example's whole output when something is off.
//!
//! # What an example must do for these scenarios
//!
//! - Take `--addr ADDR` (`127.0.0.1:0` picks a free port), `--shutdown-timeout
//!   DUR` and `--quit-timeout DUR` (`500ms`, `2s`, …).
//! - Print `Server listening on <addr>` (the bound address, parseable as a
//!   `SocketAddr`) on **stdout**, once it accepts connections *and* its
//!   signal handlers are installed. The harness waits for this line; it
//!   never sleeps.
//! - `GET /` answers 200 `Hello world!` (a trailing newline is allowed);
//!   `GET /slow?ms=N` answers 200 `done after N ms` after N ms, **sending
//!   its status line and headers at once and the body after N ms** (e.g.
//!   chunked). HTTP/1.1 with keep-alive.
//! - On SIGTERM (or SIGINT): stop accepting at once, let in-flight requests
//!   finish within `--shutdown-timeout`, close keep-alive connections after
//!   their current response, then force-close the rest; the output names the
//!   source (`OS interrupt/termination signal`) and the signal (`SIGTERM`),
//!   and says `Stopping service`. A request cut at the deadline is named
//!   in the output (`GET /slow`, `was aborted`) and makes the exit code 1;
//!   otherwise 0 when every task returned.
//! - With `--lame-duck DUR`, draining comes first: `GET /ready` answers
//!   503 (200 before), everything else is still served, HTTP/1 responses
//!   say `Connection: close`.
//! - A bind failure is the quit cause `HTTP server error`, with the OS error
//!   text (`Address already in use`) in the output, no panic, exit code 1.
//! - Why `/slow` sends its head first: the harness signals only once it
//!   has read the head of every slow response, so each request is provably
//!   being served (its connection busy, not idle) when the quit arrives.
//!   Bytes written by a client are not proof: the server may see the signal
//!   before it reads them (seen under load), and a graceful shutdown rightly
//!   closes a keep-alive connection that has no request yet.
//!
//! Every wait is bounded; on failure the child is killed (also when a
//! scenario panics: [`Server`] kills it on drop).

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub mod h2;
pub mod haproxy;
pub mod keepalive;
pub mod load;
pub mod systemd;

/// How long an example may take to print `Server listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Socket read/write time-out of the harness's HTTP client.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// The source label both examples use for signals.
const SIGNAL_SOURCE: &str = "OS interrupt/termination signal";
/// The source label both examples use for bind/accept failures.
const SERVER_ERROR_SOURCE: &str = "HTTP server error";

// ---------------------------------------------------------------------------
// The scenarios.
// ---------------------------------------------------------------------------

/// Defines one `#[test]` per HTTP scenario for `$example`, so that each
/// example's test file is this one line and the two cannot drift apart.
#[allow(unused_macros)] // the heartbeat test shares the module, not the scenarios
macro_rules! http_scenarios {
    ($example:literal) => {
        #[test]
        fn get_root_works() {
            support::get_root_works($example);
        }

        #[test]
        fn drain_twenty_slow_on_sigterm() {
            support::drain_twenty_slow_on_sigterm($example);
        }

        #[test]
        fn slow_request_cut_at_deadline() {
            support::slow_request_cut_at_deadline($example);
        }

        #[test]
        fn port_in_use_exits_1() {
            support::port_in_use_exits_1($example);
        }

        #[test]
        fn drain_under_load() {
            support::load::drain_under_load($example);
        }

        #[test]
        fn http2_streams_in_flight_complete_on_sigterm() {
            support::h2::http2_streams_in_flight_complete_on_sigterm($example);
        }

        #[test]
        fn keep_alive_sigterm_loses_nothing_with_a_lame_duck() {
            support::keepalive::keep_alive_sigterm_loses_nothing_with_a_lame_duck($example);
        }

        #[test]
        #[ignore = "a measurement: run with --ignored --nocapture"]
        fn keep_alive_sigterm_without_a_lame_duck_measured() {
            support::keepalive::measure_without_lame_duck($example);
        }

        #[test]
        fn ready_turns_503_in_the_lame_duck_while_serving_goes_on() {
            support::ready_turns_503_in_the_lame_duck_while_serving_goes_on($example);
        }

        #[test]
        fn systemd_hears_ready_stopping_and_extensions_while_the_drain_moves() {
            support::systemd::notify_messages_in_order($example);
        }

        #[test]
        fn socket_activation_serves_on_the_passed_listener_across_a_restart() {
            support::systemd::socket_activation_across_a_restart($example);
        }

        #[test]
        fn sigusr1_dumps_the_live_tree_while_serving_and_draining() {
            support::tree_dump_on_sigusr1($example);
        }

        #[test]
        fn rolling_restart_behind_haproxy_loses_nothing() {
            support::haproxy::rolling_restart_behind_haproxy_loses_nothing($example);
        }
    };
}

/// SIGUSR1 prints the live tree and quits nothing: with a slow request in
/// flight, the dump names it under its connection, everything
/// `[running]`, and new requests are still served; after SIGTERM (once
/// the example says `Stopping service`) a second dump shows the tree
/// `[quitting]` with the request still there; the request completes and
/// the exit code is 0 (a dump is not a second event).
pub fn tree_dump_on_sigusr1(example: &str) {
    const DUMP: &str = "Quit tree: ";
    let mut server = Server::start(example, &["--shutdown-timeout", "10s"]);
    let addr = server.addr();
    let (sent_tx, sent_rx) = mpsc::channel();
    // Long enough for both dumps on a loaded machine; it ends the drain.
    let client = thread::spawn(move || slow_client(addr, 5000, &sent_tx));
    if !matches!(sent_rx.recv_timeout(IO_TIMEOUT), Ok(Ok(()))) {
        server.fail("the slow request was not in flight");
    }

    // A dump is written whole, but read line by line: wait for its last
    // line (the request's; the tree is depth first).
    server.signal(libc::SIGUSR1);
    server.wait_stderr_count("- task GET /slow", 1, IO_TIMEOUT);
    let serving = server.stderr();
    for needle in [
        "main [running]",
        "http [running]",
        "- task GET /slow",
        "spawned at",
    ] {
        server.check(
            serving.contains(needle),
            &format!("the first dump names {needle:?}"),
        );
    }
    let response = server
        .connect()
        .get("/", true)
        .unwrap_or_else(|e| panic!("GET / after the dump: {e}"));
    server.check(response.status == 200, "still serving after the dump");

    server.signal(libc::SIGTERM);
    let deadline = Instant::now() + IO_TIMEOUT;
    while let Some(line) = server.next_stdout_line(deadline) {
        if line.contains("Stopping service") {
            break;
        }
    }
    server.signal(libc::SIGUSR1);
    server.wait_stderr_count("- task GET /slow", 2, IO_TIMEOUT);
    let stderr = server.stderr();
    let draining = &stderr[stderr.rfind(DUMP).expect("two dumps")..];
    for needle in ["main [quitting]", "- task GET /slow"] {
        server.check(
            draining.contains(needle),
            &format!("the second dump names {needle:?}"),
        );
    }
    match client.join().expect("client thread") {
        Ok(_) => {}
        Err(e) => server.fail(&format!("the slow request was not served: {e}")),
    }
    let status = server.wait_exit(Duration::from_secs(20));
    server.check(
        status.code() == Some(0),
        "exit code 0: a dump is not a second event",
    );
}

/// With `--lame-duck 2s`: `GET /ready` is 200, then, once SIGTERM started
/// the lame duck (the example says `Draining`), 503 on a new connection,
/// while `GET /` is still served (with `Connection: close`) and new
/// connections are still accepted; the quit after the lame duck ends the
/// process with code 0, and the report says how long the lame duck lasted.
pub fn ready_turns_503_in_the_lame_duck_while_serving_goes_on(example: &str) {
    let mut server = Server::start(example, &["--lame-duck", "2s"]);
    let mut conn = server.connect();
    let response = conn
        .get("/ready", false)
        .unwrap_or_else(|e| server.fail(&format!("GET /ready: {e}")));
    server.check(
        response.status == 200,
        &format!("GET /ready before the signal: {response:?}"),
    );

    let signalled = Instant::now();
    server.signal(libc::SIGTERM);
    let deadline = signalled + Duration::from_secs(10);
    loop {
        match server.next_stdout_line(deadline) {
            Some(line) if line.starts_with("Draining") => break,
            Some(_) => {}
            None => server.fail("no `Draining` line after SIGTERM"),
        }
    }
    // Draining: a new connection is accepted and served; /ready says 503.
    let mut fresh = server.connect();
    let response = fresh
        .get("/ready", false)
        .unwrap_or_else(|e| server.fail(&format!("GET /ready while draining: {e}")));
    server.check(
        response.status == 503,
        &format!("GET /ready while draining: {response:?}"),
    );
    let response = conn
        .get("/", false)
        .unwrap_or_else(|e| server.fail(&format!("GET / while draining: {e}")));
    server.check(
        response.status == 200,
        &format!("GET / while draining: {response:?}"),
    );
    server.check(
        response.header("connection") == Some("close"),
        &format!("GET / while draining should say Connection: close: {response:?}"),
    );
    server.check(
        signalled.elapsed() < Duration::from_secs(2),
        "the checks above took longer than the lame duck: the test cannot tell",
    );

    let status = server.wait_exit(Duration::from_secs(15));
    server.check(
        signalled.elapsed() >= Duration::from_millis(1900),
        "exited before the lame duck was over",
    );
    server.check(
        status.code() == Some(0),
        &format!("expected exit code 0, got {status}"),
    );
    server.check_output_contains("Lame duck: draining for");
    server.check_no_panic();
}

/// `GET /` answers `Hello world!`, `GET /slow?ms=50` answers after 50 ms,
/// both on one keep-alive connection; SIGTERM then ends the process with
/// code 0.
pub fn get_root_works(example: &str) {
    let mut server = Server::start(example, &[]);
    let mut conn = server.connect();
    let response = conn
        .get("/", false)
        .unwrap_or_else(|e| server.fail(&format!("GET /: {e}")));
    server.check(response.status == 200, &format!("GET /: {response:?}"));
    server.check(
        response.body_text().trim_end() == "Hello world!",
        &format!("GET / body: {response:?}"),
    );

    let started = Instant::now();
    let response = conn
        .get("/slow?ms=50", false)
        .unwrap_or_else(|e| server.fail(&format!("GET /slow?ms=50 on the same connection: {e}")));
    server.check(
        response.status == 200 && response.body_text().trim_end() == "done after 50 ms",
        &format!("GET /slow?ms=50: {response:?}"),
    );
    server.check(
        started.elapsed() >= Duration::from_millis(50),
        "GET /slow?ms=50 answered before 50 ms",
    );
    drop(conn);

    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(15));
    server.check(
        status.code() == Some(0),
        &format!("expected exit code 0 after SIGTERM, got {status}"),
    );
    server.check_output_contains(SIGNAL_SOURCE);
    server.check_output_contains("SIGTERM");
    server.check_output_contains("Stopping service");
    server.check_no_panic();
}

/// 20 concurrent `GET /slow?ms=1000` in flight (the head of each response
/// already received), then SIGTERM: the listener refuses
/// new connections while the 20 are still running, all 20 get 200 with the
/// right body and then see their connection closed, and the process exits
/// with code 0 well before its shutdown timeout, naming the signal source.
pub fn drain_twenty_slow_on_sigterm(example: &str) {
    const CLIENTS: usize = 20;
    const SLOW_MS: u64 = 1000;
    // Long enough that a drain which waits for the time-out (instead of
    // ending when the requests are done) is caught below.
    let mut server = Server::start(
        example,
        &["--shutdown-timeout", "10s", "--quit-timeout", "20s"],
    );
    let addr = server.addr();

    let (sent_tx, sent_rx) = mpsc::channel::<Result<(), String>>();
    let (done_tx, done_rx) = mpsc::channel::<Result<Instant, String>>();
    let clients: Vec<JoinHandle<()>> = (0..CLIENTS)
        .map(|i| {
            let (sent_tx, done_tx) = (sent_tx.clone(), done_tx.clone());
            thread::spawn(move || {
                let result = slow_client(addr, SLOW_MS, &sent_tx);
                let _ = done_tx.send(result.map_err(|e| format!("client {i}: {e}")));
            })
        })
        .collect();
    drop((sent_tx, done_tx));

    // Every request is written on an accepted connection before the signal.
    for _ in 0..CLIENTS {
        match sent_rx.recv_timeout(IO_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => server.fail(&format!("a client failed before the signal: {e}")),
            Err(e) => server.fail(&format!("clients not ready before the signal: {e}")),
        }
    }
    let signalled = Instant::now();
    server.signal(libc::SIGTERM);

    // "Stop accepting at once": refused while the slow requests still run.
    let refused_at = server.wait_refused(addr, Duration::from_secs(10));
    let running = server.is_running();
    server.check(
        running,
        "the process exited before the in-flight requests were answered",
    );

    let mut first_answer: Option<Instant> = None;
    for _ in 0..CLIENTS {
        match done_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(at)) => first_answer = Some(first_answer.map_or(at, |f| f.min(at))),
            Ok(Err(e)) => server.fail(&format!("an in-flight request was not served: {e}")),
            Err(e) => server.fail(&format!("in-flight requests not answered: {e}")),
        }
    }
    for client in clients {
        client.join().expect("client thread");
    }
    let first_answer = first_answer.expect("20 answers");
    server.check(
        refused_at < first_answer,
        "a new connection was still accepted after the signal, while requests were in flight",
    );

    let status = server.wait_exit(Duration::from_secs(30));
    let took = signalled.elapsed();
    server.check(
        status.code() == Some(0),
        &format!("expected exit code 0 after a clean drain, got {status}"),
    );
    server.check(
        took < Duration::from_secs(8),
        &format!("the drain took {took:?}: it waited for its 10s time-out instead of ending with the requests"),
    );
    server.check_output_contains(SIGNAL_SOURCE);
    server.check_output_contains("SIGTERM");
    server.check_output_contains("Stopping service");
    server.check_no_panic();
}

/// With `--shutdown-timeout 500ms`, a 30 s request in flight at SIGTERM is
/// given the drain time, then cut (the client sees the connection end
/// without a full response), and the process exits shortly after the
/// deadline, with code 1 and the cut request named (`GET /slow ... was
/// aborted`): a cut request is not a clean exit.
pub fn slow_request_cut_at_deadline(example: &str) {
    let mut server = Server::start(
        example,
        &["--shutdown-timeout", "500ms", "--quit-timeout", "10s"],
    );
    let mut conn = server.connect();
    conn.send_get("/slow?ms=30000", false)
        .unwrap_or_else(|e| server.fail(&format!("writing GET /slow?ms=30000: {e}")));
    let head = conn
        .read_head()
        .unwrap_or_else(|e| server.fail(&format!("the head of GET /slow?ms=30000: {e}")));
    server.check(head.status == 200, &format!("GET /slow?ms=30000: {head:?}"));

    let signalled = Instant::now();
    server.signal(libc::SIGTERM);

    let answer = conn.read_body(head);
    let cut_after = signalled.elapsed();
    match &answer {
        Ok(response) if response.status == 200 && response.body_text().contains("done after") => {
            server.fail(&format!("the slow request was not cut: {response:?}"))
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            server.fail(&format!(
                "the slow request was left hanging after the deadline: {e}"
            ))
        }
        // Any end without a full answer is a cut: EOF, reset, a truncated
        // body.
        _ => {}
    }
    server.check(
        cut_after >= Duration::from_millis(450),
        &format!(
            "the slow request was cut after {cut_after:?}, before the 500ms drain time: {answer:?}"
        ),
    );

    let status = server.wait_exit(Duration::from_secs(15));
    let took = signalled.elapsed();
    server.check(
        took >= Duration::from_millis(450) && took < Duration::from_secs(4),
        &format!("exited {took:?} after the signal; expected shortly after the 500ms deadline"),
    );
    server.check(
        status.code() == Some(1),
        &format!("expected exit code 1 (a request was cut), got {status}"),
    );
    server.check_output_contains("Stopping service");
    server.check_output_contains("GET /slow");
    server.check_output_contains("was aborted");
    server.check(
        !server.output().contains("Successfully"),
        "the output says it succeeded, but a request was cut",
    );
    server.check_no_panic();
}

/// Binding an address that is already in use is the quit cause `HTTP server
/// error` with the OS error in the output; exit code 1, no panic.
pub fn port_in_use_exits_1(example: &str) {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
    let addr = taken.local_addr().expect("held port").to_string();
    let mut server = Server::spawn(example, &["--addr", &addr]);

    let status = server.wait_exit(Duration::from_secs(30));
    drop(taken);
    server.check(
        status.code() == Some(1),
        &format!("expected exit code 1 when {addr} is taken, got {status}"),
    );
    server.check_output_contains(SERVER_ERROR_SOURCE);
    server.check_output_contains_ignore_case("in use");
    server.check(
        !server.output().contains("Server listening on"),
        "claimed to listen on a port that is taken",
    );
    // The text agrees with the exit code.
    for success in [
        "Stopped service successfully",
        "Successfully quit application",
    ] {
        server.check(
            !server.output().contains(success),
            &format!("says {success:?}, but failed to listen"),
        );
    }
    server.check_no_panic();
}

// ---------------------------------------------------------------------------
// One client of the drain scenario.
// ---------------------------------------------------------------------------

/// Sends `GET /slow?ms=N`, reports on `sent` once the head of the response
/// is in (the request is being served), then reads the body and the
/// connection's end. Returns when the body arrived.
pub fn slow_client(
    addr: SocketAddr,
    ms: u64,
    sent: &Sender<Result<(), String>>,
) -> Result<Instant, String> {
    let path = format!("/slow?ms={ms}");
    let in_flight = (|| -> io::Result<(HttpConn, Head)> {
        let mut conn = HttpConn::connect(addr)?;
        conn.send_get(&path, false)?;
        let head = conn.read_head()?;
        if head.status != 200 {
            return Err(io::Error::other(format!("GET {path}: {head:?}")));
        }
        Ok((conn, head))
    })();
    let (mut conn, head) = match in_flight {
        Ok(in_flight) => {
            let _ = sent.send(Ok(()));
            in_flight
        }
        Err(e) => {
            let _ = sent.send(Err(e.to_string()));
            return Err(e.to_string());
        }
    };
    let response = conn
        .read_body(head)
        .map_err(|e| format!("GET {path}: {e}"))?;
    let answered = Instant::now();
    let expected = format!("done after {ms} ms");
    if response.body_text().trim_end() != expected {
        return Err(format!(
            "GET {path}: expected {expected:?}, got {response:?}"
        ));
    }
    // Keep-alive connections are closed after their current response.
    match conn.reader.read(&mut [0u8; 64]) {
        Ok(0) => Ok(answered),
        Ok(n) => Err(format!("{n} unexpected bytes after the response")),
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(answered),
        Err(e) => Err(format!(
            "the keep-alive connection was not closed after its response: {e}"
        )),
    }
}

// ---------------------------------------------------------------------------
// The example process.
// ---------------------------------------------------------------------------

/// A running example: its output (collected by two reader threads), its
/// listening address, and its exit status once it exited. Killed on drop.
pub struct Server {
    example: String,
    child: Child,
    status: Option<ExitStatus>,
    addr: Option<SocketAddr>,
    stdout_lines: Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts `example` on a free loopback port (`--addr 127.0.0.1:0`, then
    /// `extra` arguments) and waits for `Server listening on <addr>`.
    pub fn start(example: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--addr", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut server = Server::spawn(example, &args);
        server.wait_listening();
        server
    }

    /// Starts `example` with exactly `args`, without waiting for anything.
    pub fn spawn(example: &str, args: &[&str]) -> Server {
        Server::spawn_with(example, args, |_| {})
    }

    /// [`spawn`](Self::spawn), with `configure` applied to the command
    /// first (an environment variable, a descriptor to pass). The
    /// harness's own systemd variables are never passed on.
    pub fn spawn_with(
        example: &str,
        args: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> Server {
        let binary = example_binary(example);
        let mut command = Command::new(&binary);
        command
            .args(args)
            .env_remove("ADDR")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID");
        configure(&mut command);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (line_tx, stdout_lines) = mpsc::channel();
        let readers = vec![
            collect(
                child.stdout.take().expect("piped stdout"),
                stdout.clone(),
                Some(line_tx),
            ),
            collect(
                child.stderr.take().expect("piped stderr"),
                stderr.clone(),
                None,
            ),
        ];
        Server {
            example: example.to_owned(),
            child,
            status: None,
            addr: None,
            stdout_lines,
            stdout,
            stderr,
            readers,
        }
    }

    /// The address from `Server listening on <addr>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("the server printed its address")
    }

    /// Waits for `Server listening on <addr>` (anything after the address
    /// is passed over) and returns the address.
    pub fn wait_listening(&mut self) -> SocketAddr {
        const PREFIX: &str = "Server listening on ";
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout_lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.trim().strip_prefix(PREFIX) {
                        let rest = rest.trim_start_matches(':').trim();
                        let rest = rest.split_whitespace().next().unwrap_or(rest);
                        match rest.parse::<SocketAddr>() {
                            Ok(addr) => {
                                self.addr = Some(addr);
                                return addr;
                            }
                            Err(e) => {
                                self.fail(&format!("cannot parse the address in {line:?}: {e}"))
                            }
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "no `{PREFIX}<addr>` line within {START_TIMEOUT:?}"
                )),
                Err(RecvTimeoutError::Disconnected) => self.fail(&format!(
                    "the process closed its stdout before printing `{PREFIX}<addr>`"
                )),
            }
        }
    }

    /// The next line the process prints on stdout (without its line end),
    /// waiting until `deadline`; `None` once its stdout is closed. Fails if
    /// no line comes in time.
    pub fn next_stdout_line(&mut self, deadline: Instant) -> Option<String> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.stdout_lines.recv_timeout(left) {
            Ok(line) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => self.fail("no stdout line before the deadline"),
        }
    }

    /// A keep-alive connection to the server.
    pub fn connect(&mut self) -> HttpConn {
        let addr = self.addr();
        HttpConn::connect(addr).unwrap_or_else(|e| self.fail(&format!("connect to {addr}: {e}")))
    }

    /// Sends `signal` to the process.
    pub fn signal(&mut self, signal: libc::c_int) {
        if !self.is_running() {
            self.fail(&format!("the process had exited before signal {signal}"));
        }
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: `kill` has no memory-safety preconditions; the child is
        // not reaped yet (checked above), so `pid` is still ours.
        let rc = unsafe { libc::kill(pid, signal) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            self.fail(&format!("kill({pid}, {signal}): {e}"));
        }
    }

    /// Is the process still running? (Reaps it if it exited.)
    pub fn is_running(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status.is_none()
    }

    /// Waits up to `timeout` for the process to exit; kills it and fails
    /// if it does not. Also waits for its output to be fully collected.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        while self.is_running() {
            if Instant::now() >= deadline {
                self.fail(&format!("the process did not exit within {timeout:?}"));
            }
            thread::sleep(Duration::from_millis(5));
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.status.expect("exited")
    }

    /// Connects to `addr` until the connection is refused (returning when),
    /// for at most `timeout`. A probe that still gets in is served and
    /// closed (`GET /`, `Connection: close`) so it holds nothing open.
    pub fn wait_refused(&mut self, addr: SocketAddr, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
                // Refused; or reset during the handshake, when the listener
                // closed with the probe in its queue: not accepted either way.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    return Instant::now()
                }
                Err(e) => self.fail(&format!("probe connect to {addr}: unexpected {e}")),
                Ok(stream) => {
                    // Accepted just before the quit, or sitting in a backlog
                    // about to be reset: either way, finish it.
                    if let Ok(mut conn) = HttpConn::from_stream(stream) {
                        let _ = conn.get("/", true);
                    }
                }
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "{addr} still accepted connections {timeout:?} after the signal"
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the process printed so far: stdout, then stderr.
    pub fn output(&self) -> String {
        let stdout = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        let stderr = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        format!("--- stdout ---\n{stdout}--- stderr ---\n{stderr}")
    }

    /// What the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Fails (see [`fail`](Self::fail)) unless `ok`.
    pub fn check(&mut self, ok: bool, what: &str) {
        if !ok {
            self.fail(what);
        }
    }

    /// Fails unless the output contains `needle`.
    pub fn check_output_contains(&mut self, needle: &str) {
        let ok = self.output().contains(needle);
        self.check(ok, &format!("the output does not contain {needle:?}"));
    }

    /// Waits (bounded by `timeout`) until `needle` appears `count` times
    /// on stderr, looking every 10 ms; fails if it does not.
    pub fn wait_stderr_count(&mut self, needle: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.stderr().matches(needle).count() < count {
            if Instant::now() > deadline {
                self.fail(&format!(
                    "{needle:?} not {count} time(s) on stderr within {timeout:?}"
                ));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Fails unless the output contains `needle`, ignoring ASCII case.
    pub fn check_output_contains_ignore_case(&mut self, needle: &str) {
        let ok = self
            .output()
            .to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase());
        self.check(
            ok,
            &format!("the output does not contain {needle:?} (any case)"),
        );
    }

    /// Fails if the process panicked (`panicked` on stderr).
    pub fn check_no_panic(&mut self) {
        let ok = !self.stderr().contains("panicked");
        self.check(ok, "the process panicked");
    }

    /// Kills the process (if running) and panics with `what` and the whole
    /// output.
    pub fn fail(&mut self, what: &str) -> ! {
        self.kill();
        panic!("example `{}`: {what}\n{}", self.example, self.output());
    }

    fn kill(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        // The pipes are closed now; the readers end.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A thread that appends every line of `pipe` to `sink` (and sends it on
/// `lines`) until EOF.
fn collect(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    lines: Option<Sender<String>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    sink.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_str(&line);
                    if let Some(lines) = &lines {
                        let _ = lines.send(line.clone());
                    }
                }
            }
        }
    })
}

/// The example binary: `target/<profile>/examples/<name>`, next to this
/// test's `target/<profile>/deps/`. It is (re)built once per test process
/// with the cargo that runs the tests (`cargo test --test X` builds no
/// examples by itself); set `QUITTER_EXAMPLES_NO_BUILD=1` to skip that.
fn example_binary(example: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);

    let test_exe = std::env::current_exe().expect("current_exe");
    let deps = test_exe.parent().expect("deps dir");
    let profile_dir = deps.parent().expect("profile dir");
    let binary = profile_dir
        .join("examples")
        .join(format!("{example}{}", std::env::consts::EXE_SUFFIX));

    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashSet::new);
    if !built.contains(example) && std::env::var_os("QUITTER_EXAMPLES_NO_BUILD").is_none() {
        build_example(example, profile_dir);
        built.insert(example.to_owned());
    }
    assert!(
        binary.is_file(),
        "example binary {} not found: run `cargo build -p quitter-examples --example {example}`",
        binary.display()
    );
    binary
}

fn build_example(example: &str, profile_dir: &std::path::Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    let target_dir = profile_dir.parent().expect("target dir");
    let output = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "quitter-examples",
            "--example",
            example,
        ])
        .args(["--profile", &profile])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build example `{example}`: {e}"));
    assert!(
        output.status.success(),
        "building example `{example}` failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------
// A minimal blocking HTTP/1.1 client.
// ---------------------------------------------------------------------------

/// A response's status and headers (lower-case names).
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A whole response: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 connection, with read/write time-outs.
pub struct HttpConn {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl HttpConn {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> io::Result<HttpConn> {
        HttpConn::from_stream(TcpStream::connect_timeout(&addr, IO_TIMEOUT)?)
    }

    pub fn from_stream(stream: TcpStream) -> io::Result<HttpConn> {
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            addr: stream.peer_addr()?,
            reader: BufReader::new(stream),
        })
    }

    /// Sends `GET path` and reads the response.
    pub fn get(&mut self, path: &str, close: bool) -> io::Result<Response> {
        self.send_get(path, close)?;
        self.read_response()
    }

    /// Writes `GET path` (with `Connection: close` if `close`).
    pub fn send_get(&mut self, path: &str, close: bool) -> io::Result<()> {
        let connection = if close { "close" } else { "keep-alive" };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: {connection}\r\n\r\n",
            self.addr
        );
        let stream = self.reader.get_mut();
        stream.write_all(request.as_bytes())?;
        stream.flush()
    }

    /// Reads one response: `Content-Length`, chunked, or until EOF.
    pub fn read_response(&mut self) -> io::Result<Response> {
        let head = self.read_head()?;
        self.read_body(head)
    }

    /// Reads a response's status line and headers.
    pub fn read_head(&mut self) -> io::Result<Head> {
        let status_line = self.read_line()?;
        if status_line.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed before a response",
            ));
        }
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed in the response head",
                ));
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("bad header {line:?}")))?;
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        Ok(Head { status, headers })
    }

    /// Reads the body that follows `head`: `Content-Length`, chunked, or
    /// until EOF. A connection that ends early is an `UnexpectedEof` error.
    pub fn read_body(&mut self, head: Head) -> io::Result<Response> {
        let mut body = Vec::new();
        if let Some(length) = head.header("content-length") {
            let length: usize = length
                .parse()
                .map_err(|_| bad("bad content-length".into()))?;
            body = vec![0; length];
            self.reader.read_exact(&mut body)?;
        } else if head
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let size_line = self.read_line()?;
                if size_line.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection closed in a chunked body",
                    ));
                }
                let size = size_line.trim().split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| bad(format!("bad chunk size {size_line:?}")))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    while !self.read_line()?.trim_end().is_empty() {}
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                self.reader.read_exact(&mut body[start..])?;
                self.read_line()?; // the chunk's CRLF
            }
        } else {
            self.reader.read_to_end(&mut body)?;
        }
        Ok(Response {
            status: head.status,
            headers: head.headers,
            body,
        })
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        Ok(line)
    }
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}
