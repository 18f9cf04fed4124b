//! Throughput cost of tracking each connection with quitter: the same
//! hyper 1 server on tokio (2 workers), with and without a `connections`
//! child quitter holding one task per connection, under a loopback load
//! client. The variants run interleaved (A, B, B, A, A, B, ...) to cancel
//! drift; the table gives the median requests per second of each and the
//! ratio tracked / untracked; `spread` is the larger of the two variants'
//! (max - min) / min over its rounds, the noise to read the ratio against.
//!
//! ```text
//! cargo bench -p quitter-examples --bench http
//! QUITTER_BENCH_QUICK=1 cargo bench -p quitter-examples --bench http
//! ```
//!
//! Scenarios:
//! - keep-alive: 4 connections, each sending `GET /` back to back;
//! - churn: 4 loops, each opening a new connection per request
//!   (`Connection: close`), so one tracked task per request: the worst case.
//!
//! The load client is a minimal HTTP/1.1 client (write the request, read the
//! head and `content-length` bytes of body) on its own current-thread
//! runtime in its own thread: the workspace's hyper has no `client` feature,
//! and enabling it would add crates to `Cargo.lock`. It counts `200`
//! responses only. The machine is shared: the numbers are noisy, the ratio
//! less so.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use quitter_examples::{respond, Body};
use quitter_tokio::Quitter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Load connections (keep-alive) or loops (churn).
const CLIENTS: usize = 4;

const KEEP_ALIVE: &[u8] = b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n";
const CLOSE: &[u8] = b"GET / HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n";

#[derive(Clone, Copy)]
enum Scenario {
    KeepAlive,
    Churn,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::KeepAlive => "keep-alive (4 conns)",
            Scenario::Churn => "churn (1 req/conn)",
        }
    }
}

fn main() {
    let quick = std::env::var_os("QUITTER_BENCH_QUICK").is_some();
    let (rounds, duration) = if quick {
        (3, Duration::from_millis(500))
    } else {
        (5, Duration::from_secs(2))
    };
    let started = Instant::now();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("server runtime");
    let root = Quitter::new("bench");
    let connections = root.child("connections").expect("a fresh root");
    let (untracked, tracked) = runtime.block_on(async {
        let untracked = start(root.clone(), None).await;
        let tracked = start(root.clone(), Some(connections.clone())).await;
        (untracked, tracked)
    });

    println!(
        "http bench: {rounds} rounds x {duration:?} per variant, {CLIENTS} clients, server on 2 workers"
    );
    println!(
        "{:<22} {:>16} {:>16} {:>7} {:>7}",
        "variant", "untracked req/s", "tracked req/s", "ratio", "spread"
    );
    for scenario in [Scenario::KeepAlive, Scenario::Churn] {
        // Warm-up, not counted.
        load(untracked.0, scenario, duration / 4);
        load(tracked.0, scenario, duration / 4);
        let mut a = Vec::new();
        let mut b = Vec::new();
        // A, B, B, A, A, B, ...: neither variant always runs second.
        for round in 0..rounds {
            if round % 2 == 0 {
                a.push(load(untracked.0, scenario, duration));
                b.push(load(tracked.0, scenario, duration));
            } else {
                b.push(load(tracked.0, scenario, duration));
                a.push(load(untracked.0, scenario, duration));
            }
        }
        let spread = spread(&a).max(spread(&b));
        let (a, b) = (median(a), median(b));
        println!(
            "{:<22} {:>16.0} {:>16.0} {:>7.3} {:>6.1}%",
            scenario.name(),
            a,
            b,
            b / a,
            spread * 100.0
        );
    }

    // Clean shutdown: quit, stop accepting, wait for the tracked connections.
    root.quit();
    runtime.block_on(async {
        let _ = untracked.1.await;
        let _ = tracked.1.await;
        if let Err(report) = quitter_tokio::wait_done(&root, Duration::from_secs(5)).await {
            eprint!("not done after 5s:\n{report}");
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    println!("total {:.1?}", started.elapsed());
}

/// Binds 127.0.0.1:0 and spawns the accept loop: untracked (`None`) or
/// one task of `connections` per connection.
async fn start(root: Quitter, connections: Option<Quitter>) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let accept = tokio::spawn(async move {
        loop {
            let (stream, peer) = tokio::select! {
                biased;
                () = root.quitted() => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(_) => continue,
                },
            };
            let _ = stream.set_nodelay(true);
            match &connections {
                // The one difference between the variants.
                None => drop(tokio::spawn(serve(stream))),
                Some(connections) => {
                    let task = serve_tracked(stream, connections.clone());
                    if quitter_tokio::spawn(connections, peer.to_string(), task).is_err() {
                        break;
                    }
                }
            }
        }
    });
    (addr, accept)
}

async fn serve(stream: TcpStream) {
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service_fn(handle))
        .await;
}

/// As the examples do: on quit, finish the request in flight and close.
async fn serve_tracked(stream: TcpStream, connections: Quitter) {
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(handle));
    let mut conn = pin!(conn);
    tokio::select! {
        biased;
        _ = conn.as_mut() => return,
        () = connections.quitted() => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(respond(&request, tokio::time::sleep))
}

/// Runs the load client for `duration` in its own thread and runtime;
/// returns the `200` responses per second.
fn load(addr: SocketAddr, scenario: Scenario, duration: Duration) -> f64 {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        runtime.block_on(async move {
            let started = Instant::now();
            let deadline = started + duration;
            let clients: Vec<_> = (0..CLIENTS)
                .map(|_| match scenario {
                    Scenario::KeepAlive => tokio::spawn(keep_alive(addr, deadline)),
                    Scenario::Churn => tokio::spawn(churn(addr, deadline)),
                })
                .collect();
            let mut ok = 0;
            for client in clients {
                ok += client.await.expect("client task");
            }
            ok as f64 / started.elapsed().as_secs_f64()
        })
    })
    .join()
    .expect("client thread")
}

async fn keep_alive(addr: SocketAddr, deadline: Instant) -> u64 {
    let mut ok = 0;
    let mut buf = Vec::with_capacity(4096);
    let Ok(mut stream) = connect(addr).await else {
        return 0;
    };
    while Instant::now() < deadline {
        match exchange(&mut stream, KEEP_ALIVE, &mut buf).await {
            Some(200) => ok += 1,
            Some(_) => {}
            None => break,
        }
    }
    ok
}

async fn churn(addr: SocketAddr, deadline: Instant) -> u64 {
    let mut ok = 0;
    let mut buf = Vec::with_capacity(4096);
    while Instant::now() < deadline {
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

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
