//! An axum app that shuts down gracefully and loses no request: the
//! `tokio_http` example (same flags, routes, output and exit codes) with
//! an axum `Router`, plus a background job that is stopped after HTTP.
//!
//! ```text
//! cargo run --example axum_http -- [--addr 127.0.0.1:8080] [--lame-duck 0s] [--shutdown-timeout 5s] [--quit-timeout 10s]
//! curl localhost:8080/             # Hello world!
//! curl localhost:8080/ready        # ready (503 draining, during the lame duck)
//! curl 'localhost:8080/slow?ms=3000' & sleep 1; kill -TERM <pid>   # the slow request still completes
//! curl -N localhost:8080/events    # server-sent events until the quit, then `bye`
//! ```
//!
//! The quit tree, and its stop order:
//!
//! ```text
//! main                       quit sources: "OS interrupt/termination signal", "HTTP server error"
//! ├── task "log"
//! ├── http                   stage 1: budget --shutdown-timeout, aborted when it overruns
//! │   ├── task "accept 127.0.0.1:8080"
//! │   └── 127.0.0.1:50312    one child per connection: task "connection", and "GET /slow" in flight
//! └── telemetry              stage 2: quit once http is done (or overran)
//!     └── task "flush"       counts requests, flushes the count when it is quit
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::error::Error;
use std::future::{pending, ready};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use quitter_examples::{cannot_listen, say_listening, say_when_stopping, Config, SERVER_ERROR};
use quitter_tokio::http::ServeOptions;
use quitter_tokio::{Quitter, Shutdown, Stage};

/// Requests served, for the telemetry job.
type Served = Arc<AtomicU64>;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let config = Config::from_args();

    // The signal handlers first, so no signal is missed.
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone())
        .lame_duck(config.lame_duck) // draining first: /ready says 503
        .timeout(config.quit_timeout)
        .signals()? // "OS interrupt/termination signal"
        .dump_tree_on_signal()? // SIGUSR1 prints the live tree (`kill -USR1 <pid>`)
        .systemd(); // under systemd: READY=1, STOPPING=1, STATUS=, EXTEND_TIMEOUT_USEC=

    // The stop order: HTTP first, within its budget (what is left then is
    // cut and reported); telemetry once HTTP is done, so it counts every
    // request.
    let http_stage = Stage::FIRST
        .budget(config.shutdown_timeout)
        .abort_on_overrun();
    let http = root.child_in("http", http_stage)?;
    let telemetry = root.child_in("telemetry", Stage::after(&http))?;
    let served = Served::default();
    quitter_tokio::spawn(
        &telemetry,
        "flush",
        flush(telemetry.clone(), served.clone()),
    )?;
    quitter_tokio::spawn(&root, "log", say_when_stopping(root.clone()))?;

    let app = Router::new()
        .route("/", get(hello))
        .route("/slow", get(slow))
        .route("/ready", get(ready_check))
        .route("/events", get(events))
        .with_state(served);

    println!("Starting service");
    // systemd's socket if it passed one (socket activation), else bound here.
    let shutdown = match quitter_tokio::systemd::tcp_listener(&config.addr) {
        Ok((listener, origin)) => {
            say_listening(listener.local_addr()?, origin);
            // Instead of `axum::serve`: every connection and request is
            // tracked, drained losslessly, and cut at the deadline.
            // The connection's quitter in each request's extensions, for
            // `/ready` and `/events` (axum's `Extension<Quitter>`).
            let options = ServeOptions::new().quitter_in_extensions(true);
            let accept = quitter_tokio::http::serve_with(listener, &http, app, options)?;
            shutdown.source(SERVER_ERROR, async move {
                match accept.await {
                    Ok(Err(error)) => error,
                    _ => pending().await,
                }
            })
        }
        // Not listening is a failure: the quit cause, and exit code 1.
        Err(error) => {
            let error = cannot_listen(&config.addr, error.into());
            shutdown.source(SERVER_ERROR, ready(error))
        }
    };

    // Wait for a quit source, drain, quit stage by stage, report.
    shutdown.run().await.exit()
}

async fn hello(State(served): State<Served>) -> &'static str {
    served.fetch_add(1, Ordering::Relaxed);
    "Hello world!\n"
}

/// `GET /slow?ms=N`: the head at once, the body after N ms.
async fn slow(State(served): State<Served>, Query(query): Query<HashMap<String, u64>>) -> Response {
    let Some(&ms) = query.get("ms") else {
        return (StatusCode::BAD_REQUEST, "usage: /slow?ms=N\n").into_response();
    };
    served.fetch_add(1, Ordering::Relaxed);
    let body = futures_lite::stream::once_future(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok::<_, Infallible>(format!("done after {ms} ms\n"))
    });
    Body::from_stream(body).into_response()
}

/// Ready until the lame duck starts (the answer the other examples give):
/// the connection's quitter drains with the server.
async fn ready_check(Extension(quitter): Extension<Quitter>) -> impl IntoResponse {
    quitter_examples::ready(&quitter)
}

/// `GET /events`: server-sent events, a tick every 100 ms, until the
/// connection's quitter quits: then a last `bye`, and the stream ends. A
/// long response that ends itself on the quit, so the drain need not wait
/// for it (or cut it at the deadline).
async fn events(
    Extension(quitter): Extension<Quitter>,
) -> Sse<impl futures_lite::Stream<Item = Result<Event, Infallible>>> {
    let ticks = futures_lite::stream::unfold(Some((quitter, 0)), |state| async move {
        let (quitter, tick) = state?;
        tokio::select! {
            () = quitter.quitted() => Some((Ok(Event::default().event("bye").data("quitting")), None)),
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                Some((Ok(Event::default().data(tick.to_string())), Some((quitter, tick + 1))))
            }
        }
    });
    Sse::new(ticks)
}

/// The telemetry job: runs until its stage is quit, then flushes.
async fn flush(telemetry: Quitter, served: Served) {
    telemetry.quitted().await;
    let count = served.load(Ordering::Relaxed);
    println!("Flushed telemetry: {count} request(s) served");
}
