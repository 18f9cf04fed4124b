//! A rolling restart behind a real HAProxy: no request is lost.
//!
//! Two instances of the example, each on a fixed loopback port, with a
//! lame duck (`--lame-duck 1s`), behind an HAProxy that this test starts
//! with a configuration it writes: HTTP mode, no retries (`retries 0`, as
//! kube-proxy does none) and no redispatch, a health check on `GET /ready`
//! every 200 ms (one failure takes a server out, one success puts it
//! back), and a stats page the test reads (`/stats;csv`) to know what
//! HAProxy thinks of each server.
//!
//! A load client ([`LOAD_THREADS`] threads, each with a keep-alive
//! connection to HAProxy sending `GET /` back to back) runs throughout,
//! while each instance in turn gets SIGTERM, must exit with code 0, and is
//! started again on its port; the other one is restarted only once HAProxy
//! sees the new instance UP. [`RESTARTS_EACH`] restarts each, alternating.
//! Every request must end in a whole `200 Hello world!`: anything else (a
//! 502/503/504 from HAProxy, a reset, EOF under a written request) is a
//! failed request, counted with its reason, and the scenario requires 0.
//!
//! What makes that work: in the lame duck, `/ready` answers 503, so HAProxy
//! takes the instance out (within one check interval) while it still
//! serves what HAProxy already sent it, with `Connection: close` so that
//! HAProxy keeps no connection to it; only then does the instance stop
//! accepting and exit.
//!
//! Needs `haproxy` (on `PATH`, or in `/usr/sbin`): without it the scenario
//! fails, unless `QUITTER_SKIP_HAPROXY=1` (then it says `SKIP` and passes).
//! Every wait is bounded; HAProxy is killed, and its directory removed, on
//! drop, also when the scenario panics.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{HttpConn, Server};

/// Keep-alive connections (one thread each) sending `GET /` through HAProxy.
const LOAD_THREADS: usize = 8;
/// Restarts of each instance (alternating: a, b, a, b, …).
const RESTARTS_EACH: usize = 3;
/// The instances' lame duck.
const LAME_DUCK: &str = "1s";
/// HAProxy's names for the two instances.
const NAMES: [&str; 2] = ["a", "b"];
/// Requests a load thread may send before it stops (a bound, never met in
/// a passing run).
const MAX_REQUESTS: usize = 2_000_000;
/// The longest the load may run (a bound, never met in a passing run).
const LOAD_LIMIT: Duration = Duration::from_secs(60);
/// How long HAProxy may take to see a server change state (it checks
/// every 200 ms), or to start.
const STATE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the stats are read while waiting.
const POLL: Duration = Duration::from_millis(50);
/// The whole body of `GET /`.
const HELLO: &[u8] = b"Hello world!\n";

/// The scenario (see the module's documentation).
pub fn rolling_restart_behind_haproxy_loses_nothing(example: &str) {
    let Some(binary) = find_haproxy() else {
        if std::env::var_os("QUITTER_SKIP_HAPROXY").is_some_and(|v| v == "1") {
            println!(
                "SKIP: {example}: rolling restart behind HAProxy: `haproxy` not found \
                 (QUITTER_SKIP_HAPROXY=1)"
            );
            return;
        }
        panic!(
            "`haproxy` is not on PATH (nor in /usr/sbin): the rolling-restart scenario needs it \
             (`apt-get install haproxy`); set QUITTER_SKIP_HAPROXY=1 to skip this scenario"
        );
    };
    let began = Instant::now();
    let [port_a, port_b, frontend, stats] = free_ports();
    let addrs = [port_a, port_b].map(|port| SocketAddr::from(([127, 0, 0, 1], port)));
    let mut servers = addrs.map(|addr| start_instance(example, addr));
    let mut haproxy = Haproxy::start(&binary, frontend, stats, &addrs);
    for (i, name) in NAMES.iter().enumerate() {
        haproxy
            .wait_status(name, "UP")
            .unwrap_or_else(|e| servers[i].fail(&e));
    }

    let load = Load::start(haproxy.frontend);
    load.wait_started()
        .unwrap_or_else(|e| servers[0].fail(&format!("{e}\n{}", haproxy.output())));

    for round in 1..=RESTARTS_EACH {
        for (i, name) in NAMES.iter().enumerate() {
            let what = format!("restart {round} of {name} ({})", addrs[i]);
            let served_before = load.served();
            servers[i].signal(libc::SIGTERM);
            // The lame duck's `/ready` 503 (or, without one, the refused
            // check) takes it out of HAProxy.
            if let Err(e) = haproxy.wait_status(name, "DOWN") {
                servers[i].fail(&format!("{what}: {e}"));
            }
            let status = servers[i].wait_exit(Duration::from_secs(15));
            servers[i].check(
                status.code() == Some(0),
                &format!("{what}: expected exit code 0 after SIGTERM, got {status}"),
            );
            servers[i].check_no_panic();
            servers[i] = start_instance(example, addrs[i]);
            if let Err(e) = haproxy.wait_status(name, "UP") {
                servers[i].fail(&format!("{what}: the new instance: {e}"));
            }
            let served = load.served();
            servers[i].check(
                served > served_before,
                &format!("{what}: the load served nothing during it (stalled?)"),
            );
        }
    }

    let totals = load.stop();
    let counters = haproxy.counters().unwrap_or_else(|e| e);
    let failed: usize = totals.failures.values().sum();
    println!(
        "{example} behind HAProxy, {} restarts in {:.1?}: {} requests served, {failed} failed \
         {:?}, {} clean reconnects; HAProxy: {counters}",
        RESTARTS_EACH * NAMES.len(),
        began.elapsed(),
        totals.served,
        totals.failures,
        totals.reconnects,
    );
    let summary = format!(
        "{} requests served, {failed} failed: {:?}; load threads ended: {:?}\nHAProxy: {counters}\n{}",
        totals.served,
        totals.failures,
        totals.ended,
        haproxy.output()
    );
    servers[0].check(
        failed == 0,
        &format!("requests failed during the rolling restart: {summary}"),
    );
    servers[0].check(
        totals.ended.iter().all(|end| end == "stopped"),
        &format!("a load thread ended before it was told to: {summary}"),
    );
    for server in &mut servers {
        server.signal(libc::SIGTERM);
        let status = server.wait_exit(Duration::from_secs(15));
        server.check(
            status.code() == Some(0),
            &format!("the last instance: expected exit code 0 after SIGTERM, got {status}"),
        );
        server.check_no_panic();
    }
}

/// `haproxy` on `PATH`, or in an `sbin` directory (not always on a user's
/// `PATH`).
fn find_haproxy() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file())
}

/// `N` distinct free loopback ports (each bound to `127.0.0.1:0`, all
/// held until every one is picked, then released).
fn free_ports<const N: usize>() -> [u16; N] {
    let held: [TcpListener; N] = std::array::from_fn(|_| {
        TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to pick a free port")
    });
    held.map(|listener| listener.local_addr().expect("a picked port").port())
}

/// The example on `addr` with the lame duck, listening.
fn start_instance(example: &str, addr: SocketAddr) -> Server {
    let addr_arg = addr.to_string();
    // `Server::start` passes `--addr 127.0.0.1:0` first; the last `--addr`
    // wins.
    let mut server = Server::start(example, &["--addr", &addr_arg, "--lame-duck", LAME_DUCK]);
    let listening = server.addr();
    server.check(
        listening == addr,
        &format!("asked to listen on {addr}, listens on {listening}"),
    );
    server
}

// ---------------------------------------------------------------------------
// HAProxy.
// ---------------------------------------------------------------------------

/// A running HAProxy (foreground, `-db`), with its configuration and log
/// in a directory of its own. Killed (and waited for), and the directory
/// removed, on drop.
struct Haproxy {
    child: Child,
    dir: PathBuf,
    frontend: SocketAddr,
    stats: SocketAddr,
}

impl Haproxy {
    /// Writes the configuration for `servers` (named [`NAMES`]) and starts
    /// HAProxy on it.
    fn start(binary: &Path, frontend: u16, stats: u16, servers: &[SocketAddr; 2]) -> Haproxy {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "quitter-haproxy-{}-{nanos}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let servers: String = NAMES
            .iter()
            .zip(servers)
            .map(|(name, addr)| format!("    server {name} {addr} check\n"))
            .collect();
        // `timeout check`: a check's read may take longer than `inter` on a
        // busy machine without taking the server out (a check that fails
        // while the other instance restarts would leave none).
        let config = format!(
            "global
    maxconn 2000

defaults
    mode http
    retries 0
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout check 2s

frontend web
    bind 127.0.0.1:{frontend}
    default_backend app

frontend stats
    bind 127.0.0.1:{stats}
    stats enable
    stats uri /stats

backend app
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    default-server inter 200ms fall 1 rise 1
{servers}"
        );
        let config_path = dir.join("haproxy.cfg");
        let log_path = dir.join("haproxy.log");
        let spawned = fs::write(&config_path, config)
            .and_then(|()| File::create(&log_path))
            .and_then(|log| Ok((log.try_clone()?, log)))
            .and_then(|(stdout, stderr)| {
                Command::new(binary)
                    .arg("-f")
                    .arg(&config_path)
                    .arg("-db")
                    .stdin(Stdio::null())
                    .stdout(stdout)
                    .stderr(stderr)
                    .spawn()
            });
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                panic!("cannot start {}: {e}", binary.display());
            }
        };
        Haproxy {
            child,
            dir,
            frontend: SocketAddr::from(([127, 0, 0, 1], frontend)),
            stats: SocketAddr::from(([127, 0, 0, 1], stats)),
        }
    }

    /// The configuration and what HAProxy printed so far.
    fn output(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "--- haproxy.cfg ---\n{}--- haproxy output ---\n{}",
            read("haproxy.cfg"),
            read("haproxy.log")
        )
    }

    /// The rows of `/stats;csv` for the backend `app` (its servers and the
    /// backend itself), each as column name -> value.
    fn stats(&self) -> io::Result<Vec<BTreeMap<String, String>>> {
        let response = HttpConn::connect(self.stats)?.get("/stats;csv", true)?;
        if response.status != 200 {
            return Err(io::Error::other(format!("GET /stats;csv: {response:?}")));
        }
        let text = response.body_text();
        let mut lines = text.lines();
        let header: Vec<&str> = lines
            .next()
            .and_then(|line| line.strip_prefix("# "))
            .ok_or_else(|| io::Error::other(format!("no CSV header in {text:?}")))?
            .split(',')
            .collect();
        Ok(lines
            .map(|line| {
                header
                    .iter()
                    .zip(line.split(','))
                    .map(|(name, value)| ((*name).to_owned(), value.to_owned()))
                    .collect::<BTreeMap<_, _>>()
            })
            .filter(|row| row.get("pxname").is_some_and(|px| px == "app"))
            .collect())
    }

    /// The status HAProxy gives server `name` (`UP`, `DOWN`, …).
    fn status(&self, name: &str) -> io::Result<String> {
        self.stats()?
            .into_iter()
            .find(|row| row.get("svname").is_some_and(|sv| sv == name))
            .and_then(|row| row.get("status").cloned())
            .ok_or_else(|| io::Error::other(format!("no server {name} in the stats")))
    }

    /// Polls the stats until server `name`'s status starts with `want`, for
    /// at most [`STATE_TIMEOUT`]; an error (with HAProxy's output) if not,
    /// or if HAProxy exits.
    fn wait_status(&mut self, name: &str, want: &str) -> Result<(), String> {
        let deadline = Instant::now() + STATE_TIMEOUT;
        loop {
            let last = self.status(name);
            if matches!(&last, Ok(status) if status.starts_with(want)) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "HAProxy exited ({status}) while waiting for {name} {want}\n{}",
                    self.output()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "HAProxy did not see server {name} {want} within {STATE_TIMEOUT:?} \
                     (last: {last:?})\n{}",
                    self.output()
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// A few of HAProxy's counters for the backend and its servers.
    fn counters(&self) -> Result<String, String> {
        const COLUMNS: [&str; 7] = [
            "status", "stot", "hrsp_2xx", "hrsp_5xx", "econ", "eresp", "wretr",
        ];
        let rows = self.stats().map_err(|e| format!("stats: {e}"))?;
        Ok(rows
            .iter()
            .map(|row| {
                let values: Vec<String> = COLUMNS
                    .iter()
                    .map(|column| {
                        format!("{column}={}", row.get(*column).map_or("?", String::as_str))
                    })
                    .collect();
                let server = row.get("svname").map_or("?", String::as_str);
                format!("{server} [{}]", values.join(" "))
            })
            .collect::<Vec<_>>()
            .join(", "))
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// The load.
// ---------------------------------------------------------------------------

/// What the load threads did, added up.
#[derive(Debug, Default)]
struct Totals {
    /// Whole `200 Hello world!` responses.
    served: usize,
    /// Failed requests, by reason.
    failures: BTreeMap<String, usize>,
    /// New connections after HAProxy closed one cleanly between requests.
    reconnects: usize,
    /// Why each thread stopped (`stopped`: it was told to).
    ended: Vec<String>,
}

/// [`LOAD_THREADS`] threads sending `GET /` to HAProxy until stopped.
/// Dropping it tells them to stop (they end within a request's time-out).
struct Load {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicUsize>,
    started: mpsc::Receiver<()>,
    ended: mpsc::Receiver<Totals>,
}

impl Load {
    fn start(frontend: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let (started_tx, started) = mpsc::channel();
        let (ended_tx, ended) = mpsc::channel();
        for _ in 0..LOAD_THREADS {
            let (stop, served) = (stop.clone(), served.clone());
            let (started_tx, ended_tx) = (started_tx.clone(), ended_tx.clone());
            thread::spawn(move || {
                let _ = ended_tx.send(drive(frontend, &stop, &served, &started_tx));
            });
        }
        Load {
            stop,
            served,
            started,
            ended,
        }
    }

    /// Waits (bounded) until every thread has had its first request
    /// answered.
    fn wait_started(&self) -> Result<(), String> {
        let deadline = Instant::now() + STATE_TIMEOUT;
        for started in 0..LOAD_THREADS {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.started.recv_timeout(left).is_err() {
                return Err(format!(
                    "only {started} of {LOAD_THREADS} load threads had a first response \
                     within {STATE_TIMEOUT:?}"
                ));
            }
        }
        Ok(())
    }

    /// Requests served so far.
    fn served(&self) -> usize {
        self.served.load(Ordering::Relaxed)
    }

    /// Tells the threads to stop and adds up what they did (bounded: a
    /// thread that does not end in time is named in `ended`).
    fn stop(self) -> Totals {
        self.stop.store(true, Ordering::Relaxed);
        let mut totals = Totals::default();
        let deadline = Instant::now() + Duration::from_secs(30);
        for _ in 0..LOAD_THREADS {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ended.recv_timeout(left) {
                Ok(one) => {
                    totals.served += one.served;
                    totals.reconnects += one.reconnects;
                    for (reason, count) in one.failures {
                        *totals.failures.entry(reason).or_default() += count;
                    }
                    totals.ended.extend(one.ended);
                }
                Err(_) => totals.ended.push("did not end within 30s".into()),
            }
        }
        totals
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One load thread: a keep-alive connection to `frontend`, `GET /` back to
/// back, until `stop` (or a bound). A connection HAProxy closed cleanly
/// between requests (it said `Connection: close`, or the next request
/// could not be written) is replaced; every request written must end in a
/// whole `200 Hello world!`, or it is a failure, and the connection is
/// replaced.
fn drive(
    frontend: SocketAddr,
    stop: &AtomicBool,
    served: &AtomicUsize,
    started: &mpsc::Sender<()>,
) -> Totals {
    let mut totals = Totals::default();
    let began = Instant::now();
    let mut conn: Option<HttpConn> = None;
    let mut first = true;
    let failed = |totals: &mut Totals, reason: String| {
        *totals.failures.entry(reason).or_default() += 1;
    };
    for _ in 0..MAX_REQUESTS {
        if stop.load(Ordering::Relaxed) {
            totals.ended.push("stopped".into());
            return totals;
        }
        if began.elapsed() > LOAD_LIMIT {
            totals
                .ended
                .push(format!("still running after {LOAD_LIMIT:?}"));
            return totals;
        }
        let mut current = match conn.take() {
            Some(current) => current,
            None => match HttpConn::connect(frontend) {
                Ok(fresh) => fresh,
                Err(e) => {
                    failed(&mut totals, format!("connect: {e}"));
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
            },
        };
        if current.send_get("/", false).is_err() {
            // Not written: closed between requests; the client knows.
            totals.reconnects += 1;
            continue;
        }
        match current.read_response() {
            Ok(response) if response.status == 200 && response.body == HELLO => {
                totals.served += 1;
                served.fetch_add(1, Ordering::Relaxed);
                if response.header("connection") == Some("close") {
                    totals.reconnects += 1;
                } else {
                    conn = Some(current);
                }
            }
            Ok(response) if response.status == 200 => {
                failed(
                    &mut totals,
                    format!("200 with body {:?}", response.body_text()),
                );
            }
            Ok(response) => failed(&mut totals, format!("HTTP {}", response.status)),
            Err(e) => failed(&mut totals, format!("{:?}: {e}", e.kind())),
        }
        if first {
            first = false;
            let _ = started.send(());
        }
    }
    totals
        .ended
        .push(format!("sent its {MAX_REQUESTS} requests"));
    totals
}
