//! What the HTTP examples share, so that `tokio_http`, `smol_http` and
//! `axum_http` differ only in runtime plumbing: the command line
//! ([`Config`]) and the routes ([`respond`], given the runtime's sleep).

#![warn(missing_docs)]

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_lite::stream;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use quitter_core::systemd::ListenerOrigin;
use quitter_core::Quitter;

/// The label of the quit source for a server that cannot listen or
/// accept.
pub const SERVER_ERROR: &str = "HTTP server error";

/// `Server listening on ADDR`, and where the socket came from if systemd
/// passed it (socket activation). The tests wait for this line.
pub fn say_listening(addr: std::net::SocketAddr, origin: ListenerOrigin) {
    match origin {
        ListenerOrigin::Systemd => println!("Server listening on {addr} ({origin})"),
        ListenerOrigin::Bound => println!("Server listening on {addr}"),
    }
}

/// The error of a failed bind, naming the address.
pub fn cannot_listen(addr: &str, error: std::io::Error) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("cannot listen on {addr}: {error}"))
}

/// Says what the server is doing once the shutdown begins: the lame duck
/// (if there is one), then the stop. Runs as a task of `root`.
pub async fn say_when_stopping(root: Quitter) {
    root.draining().await;
    if !root.is_quitting() {
        println!("Draining: /ready answers 503, responses close their connections");
    }
    root.quitted().await;
    println!("Stopping service");
}

/// A response body: all at once (`Full`) or after a while (`/slow`).
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// `GET /` -> `Hello world!`; `GET /slow?ms=N` -> `done after N ms`, after
/// `sleep(N ms)`; `GET /ready` -> 200 `ready`, or 503 `draining` once
/// `server` (the quitter given to `serve`) drains. The slow route sends
/// its status line and headers at once and the body later, so a client
/// can tell its request is being served.
pub fn respond<S, F>(request: &Request<Incoming>, server: &Quitter, sleep: F) -> Response<Body>
where
    F: FnOnce(Duration) -> S,
    S: Future + Send + 'static,
{
    if request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into());
    }
    match request.uri().path() {
        "/" => text(StatusCode::OK, "Hello world!\n".into()),
        "/ready" => ready(server),
        "/slow" => {
            let ms = request
                .uri()
                .query()
                .and_then(|query| query.split('&').find_map(|kv| kv.strip_prefix("ms=")))
                .and_then(|ms| ms.parse::<u64>().ok());
            match ms {
                Some(ms) => {
                    let wait = sleep(Duration::from_millis(ms));
                    Response::new(
                        StreamBody::new(stream::once_future(async move {
                            wait.await;
                            Ok(Frame::data(Bytes::from(format!("done after {ms} ms\n"))))
                        }))
                        .boxed_unsync(),
                    )
                }
                None => text(StatusCode::BAD_REQUEST, "usage: /slow?ms=N\n".into()),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

/// What a load balancer's health check reads: ready until the lame duck
/// starts (then 503, while the server still serves everything else).
pub fn ready(server: &Quitter) -> Response<Body> {
    if server.is_draining() {
        text(StatusCode::SERVICE_UNAVAILABLE, "draining\n".into())
    } else {
        text(StatusCode::OK, "ready\n".into())
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *response.status_mut() = status;
    response
}

/// The command line: `--addr` (or `ADDR`), `--lame-duck`,
/// `--shutdown-timeout`, `--quit-timeout`.
#[derive(Debug)]
pub struct Config {
    /// Where to listen.
    pub addr: String,
    /// How long to drain (keep serving, `/ready` 503, `Connection: close`)
    /// before the quit.
    pub lame_duck: Duration,
    /// How long in-flight requests may take after a quit.
    pub shutdown_timeout: Duration,
    /// How long every task may take after a quit.
    pub quit_timeout: Duration,
}

const USAGE: &str =
    "usage: EXAMPLE [--addr ADDR] [--lame-duck DUR] [--shutdown-timeout DUR] [--quit-timeout DUR]
  --addr              listen address (default: $ADDR or 127.0.0.1:8080)
  --lame-duck         how long to drain before the quit: /ready answers 503, the
                      rest is served with Connection: close (default: 0s)
  --shutdown-timeout  how long in-flight requests may take after a quit (default: 5s)
  --quit-timeout      how long every task may take after a quit (default: 10s)
  DUR is a number followed by ms or s: 500ms, 2s";

impl Config {
    /// Parses the process's arguments; on a bad one, prints the usage and
    /// exits with code 2 (`--help` prints it and exits with 0).
    pub fn from_args() -> Config {
        Config::parse(std::env::args().skip(1)).unwrap_or_else(|message| {
            eprintln!("{message}");
            std::process::exit(2)
        })
    }

    /// Parses `args` (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Config, String> {
        let mut config = Config {
            addr: std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into()),
            lame_duck: Duration::ZERO,
            shutdown_timeout: Duration::from_secs(5),
            quit_timeout: Duration::from_secs(10),
        };
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
            match flag.as_str() {
                "--addr" => config.addr = value()?,
                "--lame-duck" => config.lame_duck = parse_duration(&value()?)?,
                "--shutdown-timeout" => config.shutdown_timeout = parse_duration(&value()?)?,
                "--quit-timeout" => config.quit_timeout = parse_duration(&value()?)?,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
            }
        }
        Ok(config)
    }
}

/// `500ms`, `2s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed = if let Some(ms) = text.strip_suffix("ms") {
        ms.parse().map(Duration::from_millis)
    } else if let Some(s) = text.strip_suffix('s') {
        s.parse().map(Duration::from_secs)
    } else {
        return Err(format!("{text:?}: expected a duration like 500ms or 2s"));
    };
    parsed.map_err(|_| format!("{text:?}: expected a duration like 500ms or 2s"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_durations_parse() {
        let args = [
            "--addr",
            "127.0.0.1:0",
            "--shutdown-timeout",
            "500ms",
            "--quit-timeout",
            "2s",
            "--lame-duck",
            "0s",
        ];
        let config = Config::parse(args.map(String::from)).unwrap();
        assert_eq!(config.addr, "127.0.0.1:0");
        assert_eq!(config.shutdown_timeout, Duration::from_millis(500));
        assert_eq!(config.quit_timeout, Duration::from_secs(2));
        assert_eq!(config.lame_duck, Duration::ZERO);
        assert!(Config::parse(["--quit-timeout".to_string(), "2h".into()]).is_err());
        assert!(Config::parse(["--addr".to_string()])
            .unwrap_err()
            .contains("needs a value"));
        assert!(Config::parse(["--bogus".to_string()])
            .unwrap_err()
            .contains("usage:"));
    }
}
