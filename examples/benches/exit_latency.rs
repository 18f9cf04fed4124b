//! From the last in-flight response to process exit: each HTTP example
//! (release build) gets one `GET /slow?ms=100`, SIGTERM once the response
//! head is in, and the time from the end of that response (the client has
//! read its last byte) to the process's exit (`waitpid` returns) is taken,
//! 20 times per example; the median and the maximum are printed.
//!
//! Nothing polls on the way: the connection closes after its response, its
//! task ends, the tree is done, the runner returns, `exit`. (Go's
//! `Server.Shutdown` polls for idle connections with a backoff up to
//! 500 ms: about 384 ms measured after a 1.5 s request.)
//!
//! ```text
//! cargo bench -p quitter-examples --bench exit_latency     # builds the examples (release) first
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRIALS: usize = 20;
const EXAMPLES: [&str; 3] = ["tokio_http", "smol_http", "axum_http"];

fn main() {
    #[cfg(unix)]
    for example in EXAMPLES {
        let binary = build(example);
        let mut latencies: Vec<Duration> = (0..TRIALS).map(|_| trial(&binary)).collect();
        latencies.sort();
        println!(
            "{example:<11} last response -> exit: median {:.2?}, max {:.2?} ({TRIALS} trials)",
            latencies[TRIALS / 2],
            latencies[TRIALS - 1]
        );
    }
    #[cfg(not(unix))]
    println!("exit_latency: unix only (it sends SIGTERM)");
}

/// Builds `example` in release; returns its path.
fn build(example: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "quitter-examples"])
        .args(["--example", example])
        .status()
        .expect("run cargo");
    assert!(status.success(), "building {example} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("release/examples").join(example)
}

#[cfg(unix)]
fn trial(binary: &PathBuf) -> Duration {
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the example");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let addr = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("read stdout") > 0,
            "no address"
        );
        if let Some(addr) = line.trim().strip_prefix("Server listening on ") {
            break addr.to_owned();
        }
    };
    // The rest of its output is not read: drain it so it never blocks.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));

    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET /slow?ms=100 HTTP/1.1\r\nhost: bench\r\n\r\n")
        .expect("write");
    let mut seen = Vec::new();
    read_until(&mut stream, &mut seen, b"\r\n\r\n");
    // The request is being served: now the signal.
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) with a pid we started and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    // The chunked body's last chunk, then the close.
    read_until(&mut stream, &mut seen, b"0\r\n\r\n");
    let last_response = Instant::now();
    let status = child.wait().expect("wait");
    let exited = Instant::now();
    assert!(status.success(), "exit {status}");
    exited - last_response
}

/// Reads from `stream` into `seen` until it ends with `end`.
fn read_until(stream: &mut TcpStream, seen: &mut Vec<u8>, end: &[u8]) {
    let mut buf = [0; 1024];
    while !seen.ends_with(end) {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(seen));
        seen.extend_from_slice(&buf[..n]);
    }
}
