//! Throughput of `quitter_tokio::http::serve` against the same hyper-util
//! server without quitter (hyper-util's `auto` builder, one `tokio::spawn`
//! per connection: what a bare hyper-util server does), same service, on
//! tokio (2 workers), under a loopback load client. With
//! `QUITTER_BENCH_RUNTIME=smol`, `quitter_smol::http::serve` against the
//! same on smol (`smol-hyper`'s I/O, one `smol::spawn` per connection and
//! per HTTP/2 stream, smol's global executor on as many threads as tokio
//! has workers: `SMOL_THREADS` is set from `QUITTER_BENCH_WORKERS`). The
//! variants run interleaved (A, B, B, A, A, B, ...); the table gives the
//! median requests per second of each, and the ratio quitter / bare as
//! the median of the rounds' own ratios (each round runs the two back to back, so drift
//! between rounds cancels), with a 95 % confidence interval of that median
//! (distribution-free: from the order statistics of the rounds' ratios);
//! `spread` is the larger of
//! the two variants' (max - min) / min over its rounds: the machine's
//! noise. The last three columns are the server's CPU time per request
//! (the process's CPU time less the client thread's), a steadier figure
//! than throughput on a machine the client shares: median per variant,
//! and the median of the rounds' ratios quitter / bare. With
//! `QUITTER_BENCH_BASE=graceful` the left column is that server with each
//! connection watched by hyper-util's own `GracefulShutdown`: what a drain
//! costs without quitter.
//!
//! ```text
//! cargo bench -p quitter-examples --bench http
//! QUITTER_BENCH_QUICK=1 cargo bench -p quitter-examples --bench http
//! QUITTER_BENCH_ONLY=h2 cargo bench -p quitter-examples --bench http   # some scenarios: h1, churn, h2
//! QUITTER_BENCH_WORKERS=1 cargo bench -p quitter-examples --bench http  # server workers (default 2)
//! QUITTER_BENCH_AA=bare cargo bench -p quitter-examples --bench http    # A/A: bare against bare (or quitter)
//! QUITTER_BENCH_BASE=graceful cargo bench -p quitter-examples --bench http  # against hyper-util's GracefulShutdown
//! QUITTER_BENCH_VS=graceful cargo bench -p quitter-examples --bench http    # hyper-util's GracefulShutdown (right) against bare
//! QUITTER_BENCH_ROUNDS=300 QUITTER_BENCH_ROUND_MS=100 cargo bench -p quitter-examples --bench http  # rounds, and ms per variant a round
//! QUITTER_BENCH_RUNTIME=smol cargo bench -p quitter-examples --bench http  # quitter_smol against a bare hyper-util server on smol
//! ```
//!
//! Scenarios:
//! - HTTP/1 keep-alive: 4 connections, each sending `GET /` back to back;
//! - HTTP/1 churn: 4 loops, each opening a new connection per request
//!   (`Connection: close`), so one child quitter and one tracked task per
//!   request: the worst case;
//! - HTTP/2: 2 connections (prior knowledge), 8 streams in flight on each,
//!   through hyper's client.
//!
//! The HTTP/1 load client is a minimal one (write the request, read the
//! head and `content-length` bytes of body) on its own current-thread
//! runtime in its own thread; it counts `200` responses only. The machine
//! is shared: the numbers are noisy, the ratio less so.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use quitter_tokio::Quitter;

mod common;

use common::{start_bare, start_bare_smol, start_graceful, start_quitter, start_quitter_smol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Load connections (keep-alive) or loops (churn).
const CLIENTS: usize = 4;
/// HTTP/2: connections, and streams in flight on each.
const H2_CONNECTIONS: usize = 2;
const H2_STREAMS: usize = 8;

const KEEP_ALIVE: &[u8] = b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n";
const CLOSE: &[u8] = b"GET / HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n";

#[derive(Clone, Copy)]
enum Scenario {
    KeepAlive,
    Churn,
    Http2,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::KeepAlive => "h1 keep-alive (4 conns)",
            Scenario::Churn => "h1 churn (1 req/conn)",
            Scenario::Http2 => "h2 (2 conns x 8 streams)",
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var("QUITTER_BENCH_FIXED") {
        return fixed(&spec);
    }
    let quick = std::env::var_os("QUITTER_BENCH_QUICK").is_some();
    let (rounds, duration) = if quick {
        (3, Duration::from_millis(500))
    } else {
        // Many short rounds: the two variants of a round run close together
        // in time (the machine's noise drifts), and the median of many
        // paired ratios is steadier than that of a few.
        (45, Duration::from_millis(300))
    };
    // More rounds narrow the interval (as one over their square root).
    let number = |name: &str| {
        std::env::var(name).ok().map(|value| {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name}=N, a number"))
        })
    };
    let rounds = number("QUITTER_BENCH_ROUNDS").map_or(rounds, |rounds| rounds.max(1) as usize);
    let duration = number("QUITTER_BENCH_ROUND_MS").map_or(duration, Duration::from_millis);
    let started = Instant::now();
    let workers = std::env::var("QUITTER_BENCH_WORKERS").map_or(2, |workers| {
        workers.parse().expect("QUITTER_BENCH_WORKERS=N, a number")
    });

    let on_smol = on_smol(workers);
    // Tokio's runtime is built either way: with smol it only waits for
    // the quitter tree at the end (no server work).
    let runtime = server_runtime(if on_smol { 1 } else { workers });
    let root = Quitter::new("bench");
    let http = root.child("http").expect("a fresh root");
    let [left, right] = columns();
    let both = async {
        let left = start_variant(left, on_smol, &http).await;
        (left, start_variant(right, on_smol, &http).await)
    };
    let (bare, served) = if on_smol {
        smol::block_on(both)
    } else {
        runtime.block_on(both)
    };

    let on = if on_smol { "smol," } else { "tokio," };
    println!(
        "http bench: {rounds} rounds x {duration:?} per variant, server on {on} {workers} worker(s)"
    );
    if [left, right] != ["bare", "quitter"] {
        println!(
            "the left column is the {left} server and the right one the {right} server (labelled bare and quitter below)"
        );
    }
    println!(
        "{:<26} {:>12} {:>14} {:>7} {:>7}   {:<18}   {:>6} {:>6} {:>7}",
        "scenario",
        "bare req/s",
        "quitter req/s",
        "ratio",
        "spread",
        "(95% CI, median)",
        "bare",
        "quitter",
        "cpu"
    );
    println!("{:>100}", "server CPU µs per request, ratio");
    for scenario in scenarios() {
        // Warm-up, not counted.
        load(bare, scenario, duration / 4);
        load(served, scenario, duration / 4);
        let mut a: Vec<Round> = Vec::new();
        let mut b: Vec<Round> = Vec::new();
        // A, B, B, A, A, B, ...: neither variant always runs second.
        for round in 0..rounds {
            if round % 2 == 0 {
                a.push(load(bare, scenario, duration));
                b.push(load(served, scenario, duration));
            } else {
                b.push(load(served, scenario, duration));
                a.push(load(bare, scenario, duration));
            }
        }
        // The ratio within each round (the two variants ran back to back),
        // then the median of those: drift between rounds cancels.
        let paired: Vec<f64> = a.iter().zip(&b).map(|(a, b)| b.rate / a.rate).collect();
        let (low, ratio, high) = median_interval(paired);
        let cpu: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(a, b)| b.cpu_per_request / a.cpu_per_request)
            .collect();
        let (_, cpu_ratio, _) = median_interval(cpu);
        let rates = |rounds: &[Round]| rounds.iter().map(|r| r.rate).collect::<Vec<_>>();
        let cpus = |rounds: &[Round]| rounds.iter().map(|r| r.cpu_per_request).collect::<Vec<_>>();
        let spread = spread(&rates(&a)).max(spread(&rates(&b)));
        println!(
            "{:<26} {:>12.0} {:>14.0} {:>7.3} {:>6.1}%   ({low:.3}..{high:.3})   {:>6.2} {:>6.2} {:>7.3}",
            scenario.name(),
            median(rates(&a)),
            median(rates(&b)),
            ratio,
            spread * 100.0,
            median(cpus(&a)),
            median(cpus(&b)),
            cpu_ratio,
        );
    }

    // Clean shutdown: quit, wait for the served connections.
    root.quit();
    runtime.block_on(async {
        if let Err(report) = quitter_tokio::wait_done(&root, Duration::from_secs(5)).await {
            eprint!("not done after 5s:\n{report}");
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    println!("total {:.1?}", started.elapsed());
}

/// `QUITTER_BENCH_RUNTIME=smol`: the servers run on smol's global
/// executor, on `workers` threads (it reads `SMOL_THREADS` once, at its
/// first spawn; call this before any thread starts). `tokio` (the
/// default): on tokio's runtime.
fn on_smol(workers: usize) -> bool {
    match std::env::var("QUITTER_BENCH_RUNTIME").as_deref() {
        Err(_) | Ok("tokio") => false,
        Ok("smol") => {
            assert!(workers >= 1, "QUITTER_BENCH_WORKERS=N, at least 1");
            std::env::set_var("SMOL_THREADS", workers.to_string());
            true
        }
        Ok(other) => panic!("QUITTER_BENCH_RUNTIME=tokio or smol, got {other:?}"),
    }
}

/// The servers of the two columns (labelled bare and quitter), as
/// [`start_variant`] names them: bare and quitter, unless
/// - `QUITTER_BENCH_BASE=graceful`: the left column is hyper-util's own
///   graceful server (what quitter costs beside a drain without it);
/// - `QUITTER_BENCH_VS=graceful`: the right column is that server, against
///   bare (what a drain costs a hyper user who does not use quitter);
/// - `QUITTER_BENCH_AA=bare` or `quitter`: both columns the same server,
///   which measures the harness's own error (alone).
fn columns() -> [&'static str; 2] {
    let var = |name| std::env::var(name).ok();
    let left = match var("QUITTER_BENCH_BASE").as_deref() {
        None | Some("bare") => "bare",
        Some("graceful") => "graceful",
        Some(other) => panic!("QUITTER_BENCH_BASE=bare or graceful, got {other:?}"),
    };
    let right = match var("QUITTER_BENCH_VS").as_deref() {
        None | Some("quitter") => "quitter",
        Some("graceful") => "graceful",
        Some(other) => panic!("QUITTER_BENCH_VS=quitter or graceful, got {other:?}"),
    };
    let usual = [left, right] == ["bare", "quitter"];
    match var("QUITTER_BENCH_AA").as_deref() {
        None if left == right => panic!("QUITTER_BENCH_BASE and QUITTER_BENCH_VS together"),
        None => [left, right],
        Some(_) if !usual => panic!("QUITTER_BENCH_AA with QUITTER_BENCH_BASE or _VS"),
        Some("bare") => ["bare"; 2],
        Some("quitter") => ["quitter"; 2],
        Some(other) => panic!("QUITTER_BENCH_AA=bare or quitter, got {other:?}"),
    }
}

/// The scenarios to run: all, or those named in `QUITTER_BENCH_ONLY`
/// (`h1`, `churn`, `h2`, comma-separated).
fn scenarios() -> Vec<Scenario> {
    match std::env::var("QUITTER_BENCH_ONLY") {
        Ok(only) => only.split(',').map(scenario_named).collect(),
        Err(_) => vec![Scenario::KeepAlive, Scenario::Churn, Scenario::Http2],
    }
}

/// A scenario by its short name: `h1`, `churn` or `h2`.
fn scenario_named(name: &str) -> Scenario {
    match name {
        "h1" => Scenario::KeepAlive,
        "churn" => Scenario::Churn,
        "h2" => Scenario::Http2,
        other => panic!("scenario h1, churn or h2, got {other:?}"),
    }
}

/// `QUITTER_BENCH_FIXED=VARIANT,SCENARIO,N` (`bare`, `graceful` or
/// `quitter`; `h1`, `churn` or `h2`): one variant serves `N` requests of
/// one scenario, client and server on one current-thread runtime (unless
/// told otherwise, below), and the process ends. Made for instruction
/// counts, which the machine's noise does not touch:
///
/// ```text
/// QUITTER_BENCH_FIXED=quitter,h2,20000 valgrind --tool=callgrind target/release/deps/http-*
/// ```
///
/// Every variant's run does the same client work, so the difference of their
/// totals is the server's. With `QUITTER_BENCH_WORKERS=N` the server runs
/// on its own runtime of `N` workers and the client on a thread of its own,
/// as in the timed rounds; `valgrind --tool=callgrind --separate-threads=yes`
/// then counts the server's threads apart from the client's (the share of
/// the server's own work that quitter adds). Those counts vary from run
/// to run with the threads' interleaving (by tens of instructions per
/// request, more under load); the single-thread runs' hardly do.
fn fixed(spec: &str) {
    assert!(
        !on_smol(1),
        "QUITTER_BENCH_FIXED runs the tokio servers only (unset QUITTER_BENCH_RUNTIME)"
    );
    let parts: Vec<&str> = spec.split(',').collect();
    let [variant, scenario, count] = parts[..] else {
        panic!("QUITTER_BENCH_FIXED=VARIANT,SCENARIO,N, got {spec:?}");
    };
    let scenario = scenario_named(scenario);
    let count: i64 = count.parse().expect("N, a number");
    if let Ok(workers) = std::env::var("QUITTER_BENCH_WORKERS") {
        let workers = workers.parse().expect("QUITTER_BENCH_WORKERS=N, a number");
        return fixed_threaded(variant, scenario, count, workers);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let root = Quitter::new("bench");
    let http = root.child("http").expect("a fresh root");
    let served = runtime.block_on(async {
        let addr = start_variant(variant, false, &http).await;
        run_clients(addr, scenario, &Until::requests(count)).await
    });
    println!("{variant} {}: {served} requests served", scenario.name());
}

/// [`fixed`] as the timed rounds run it: the server on its own runtime of
/// `workers` threads, the client on a thread of its own (so the counts
/// include the scheduler's cross-thread work: wakes, steals, parking).
fn fixed_threaded(variant: &str, scenario: Scenario, count: i64, workers: usize) {
    let runtime = server_runtime(workers);
    let root = Quitter::new("bench");
    let http = root.child("http").expect("a fresh root");
    let addr = runtime.block_on(start_variant(variant, false, &http));
    let served = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime")
            .block_on(run_clients(addr, scenario, &Until::requests(count)))
    })
    .join()
    .expect("client thread");
    println!(
        "{variant} {} on {workers} worker(s): {served} requests served",
        scenario.name()
    );
}

/// The server's runtime: tokio's multi-thread scheduler on `workers`
/// threads.
fn server_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("server runtime")
}

/// Starts the server `variant` names (`bare`, `graceful`: hyper-util's
/// own graceful shutdown, or `quitter` tracked by `http`), on tokio or
/// (not `graceful`) on smol; returns its address.
async fn start_variant(variant: &str, on_smol: bool, http: &Quitter) -> SocketAddr {
    match (variant, on_smol) {
        ("bare", false) => start_bare().await,
        ("graceful", false) => start_graceful().await,
        ("quitter", false) => start_quitter(http).await,
        ("bare", true) => start_bare_smol().await,
        ("quitter", true) => start_quitter_smol(http).await,
        ("graceful", true) => panic!("the graceful server is for tokio only"),
        (other, _) => panic!("variant bare, graceful or quitter, got {other:?}"),
    }
}

/// Runs the load client for `duration` in its own thread and runtime;
/// returns the `200` responses per second.
fn load(addr: SocketAddr, scenario: Scenario, duration: Duration) -> Round {
    let process_before = cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID);
    let (rate, served, client_cpu) = std::thread::spawn(move || {
        let client_before = cpu_time(libc::CLOCK_THREAD_CPUTIME_ID);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        runtime.block_on(async move {
            let started = Instant::now();
            let until = Until::deadline(started + duration);
            let ok = run_clients(addr, scenario, &until).await;
            let rate = ok as f64 / started.elapsed().as_secs_f64();
            let client_cpu = cpu_time(libc::CLOCK_THREAD_CPUTIME_ID) - client_before;
            (rate, ok, client_cpu)
        })
    })
    .join()
    .expect("client thread");
    // The server's CPU time: the process's, less the client thread's.
    let server_cpu = cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID) - process_before - client_cpu;
    Round {
        rate,
        cpu_per_request: server_cpu.as_secs_f64() * 1e6 / served.max(1) as f64,
    }
}

/// When a load client stops: at a deadline (timed rounds), or once a
/// shared budget of requests is spent (the fixed runs for callgrind).
#[derive(Clone)]
struct Until {
    deadline: Instant,
    left: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Until {
    fn deadline(deadline: Instant) -> Until {
        Until {
            deadline,
            left: std::sync::Arc::new(i64::MAX.into()),
        }
    }

    fn requests(count: i64) -> Until {
        Until {
            deadline: Instant::now() + Duration::from_secs(3600),
            left: std::sync::Arc::new(count.into()),
        }
    }

    /// May one more request go?
    fn more(&self) -> bool {
        Instant::now() < self.deadline
            && self.left.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
    }
}

/// One round of one variant: requests per second, and the server's CPU
/// microseconds per request.
#[derive(Clone, Copy)]
struct Round {
    rate: f64,
    cpu_per_request: f64,
}

/// The CPU time of `clock` (the process's, or the calling thread's).
fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write; the clocks exist on Linux.
    assert_eq!(unsafe { libc::clock_gettime(clock, &mut now) }, 0);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Runs `scenario`'s clients against `addr` until `until`; returns the
/// `200` responses.
async fn run_clients(addr: SocketAddr, scenario: Scenario, until: &Until) -> u64 {
    let clients: Vec<_> = match scenario {
        Scenario::KeepAlive => (0..CLIENTS)
            .map(|_| tokio::spawn(keep_alive(addr, until.clone())))
            .collect(),
        Scenario::Churn => (0..CLIENTS)
            .map(|_| tokio::spawn(churn(addr, until.clone())))
            .collect(),
        Scenario::Http2 => (0..H2_CONNECTIONS)
            .map(|_| tokio::spawn(http2(addr, until.clone())))
            .collect(),
    };
    let mut ok = 0;
    for client in clients {
        ok += client.await.expect("client task");
    }
    ok
}

async fn keep_alive(addr: SocketAddr, until: Until) -> u64 {
    let mut ok = 0;
    let mut buf = Vec::with_capacity(4096);
    let Ok(mut stream) = connect(addr).await else {
        return 0;
    };
    while until.more() {
        match exchange(&mut stream, KEEP_ALIVE, &mut buf).await {
            Some(200) => ok += 1,
            Some(_) => {}
            None => break,
        }
    }
    ok
}

async fn churn(addr: SocketAddr, until: Until) -> u64 {
    let mut ok = 0;
    let mut buf = Vec::with_capacity(4096);
    while until.more() {
        let Ok(mut stream) = connect(addr).await else {
            continue;
        };
        buf.clear();
        if exchange(&mut stream, CLOSE, &mut buf).await == Some(200) {
            ok += 1;
        }
    }
    ok
}

/// One HTTP/2 connection with `H2_STREAMS` loops of `GET /` on it.
async fn http2(addr: SocketAddr, until: Until) -> u64 {
    let Ok(stream) = connect(addr).await else {
        return 0;
    };
    let handshake =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream));
    let Ok((sender, connection)) = handshake.await else {
        return 0;
    };
    tokio::spawn(connection);
    let loops: Vec<_> = (0..H2_STREAMS)
        .map(|_| {
            let mut sender = sender.clone();
            let until = until.clone();
            tokio::spawn(async move {
                let mut ok = 0;
                while until.more() {
                    let request = Request::get(format!("http://{addr}/"))
                        .body(Empty::<Bytes>::new())
                        .expect("request");
                    let Ok(response) = sender.send_request(request).await else {
                        break;
                    };
                    let status = response.status();
                    if response.into_body().collect().await.is_ok() && status == 200 {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for one in loops {
        ok += one.await.unwrap_or(0);
    }
    ok
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Writes `request`, reads one response (head and `content-length` bytes
/// of body); returns its status, or `None` on an I/O or parse error.
async fn exchange(stream: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> Option<u16> {
    stream.write_all(request).await.ok()?;
    loop {
        if let Some(head_end) = find(buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..head_end]).ok()?;
            let status = head.get(9..12)?.parse().ok()?;
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            let end = head_end + 4 + length;
            if buf.len() >= end {
                buf.drain(..end);
                return Some(status);
            }
        }
        let mut chunk = [0; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// (max - min) / min of one variant's rounds: the noise to read the ratio
/// against.
fn spread(values: &[f64]) -> f64 {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    (max - min) / min
}

/// The median of `values` and a 95 % confidence interval for it, from
/// order statistics (whatever the distribution: the ranks `n/2 -+ 1.96
/// sqrt(n)/2`, clamped to the values). Below 6 values it is only their
/// range (its coverage `1 - 2^(1-n)`: 75 % for the 3 rounds of
/// `QUITTER_BENCH_QUICK`). It counts the rounds' own noise, not a whole
/// run's: two runs of the same build differ by about 1 % more than it
/// says (BENCHMARKS.md, 2026-12-04, evening), so compare builds over
/// several runs.
fn median_interval(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let half_width = 1.96 * n.sqrt() / 2.0;
    let rank = |rank: f64| values[(rank.max(0.0) as usize).min(values.len() - 1)];
    let median = values[values.len() / 2];
    (
        rank((n / 2.0 - half_width).floor() - 1.0),
        median,
        rank((n / 2.0 + half_width).ceil()),
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
