//! The axum example, run as a subprocess with real signals: the shared
//! scenarios of `support`, and its stop order (HTTP, then telemetry).
#![cfg(unix)]

#[macro_use]
mod support;

use std::time::Duration;

http_scenarios!("axum_http");

/// A request in flight at SIGTERM is finished before the telemetry job is
/// quit: its flush counts it, and the report's timeline has `telemetry`
/// quit after `http` was done.
#[test]
fn telemetry_is_stopped_after_http_and_counts_every_request() {
    let mut server = support::Server::start("axum_http", &[]);
    let mut conn = server.connect();
    conn.send_get("/slow?ms=300", false)
        .unwrap_or_else(|e| server.fail(&format!("writing GET /slow: {e}")));
    let head = conn
        .read_head()
        .unwrap_or_else(|e| server.fail(&format!("the head of GET /slow: {e}")));
    server.signal(libc::SIGTERM);
    let response = conn
        .read_body(head)
        .unwrap_or_else(|e| server.fail(&format!("the body of GET /slow: {e}")));
    server.check(
        response.body_text().trim_end() == "done after 300 ms",
        &format!("GET /slow: {response:?}"),
    );
    let status = server.wait_exit(Duration::from_secs(15));
    server.check(
        status.code() == Some(0),
        &format!("expected exit code 0, got {status}"),
    );
    server.check_output_contains("Flushed telemetry: 1 request(s) served");
    let output = server.output();
    let http = output.find("Stage 1/2 of 'main' (http)");
    let telemetry = output.find("Stage 2/2 of 'main' (telemetry)");
    server.check(
        http.is_some() && telemetry.is_some(),
        "the report's timeline lists both stages",
    );
    // The flush line comes from the job, printed before the report.
    server.check(
        output.find("Flushed telemetry") < http,
        "the telemetry job flushed after the report was printed",
    );
    server.check_no_panic();
}

/// A server-sent events stream open at SIGTERM ends itself on the quit
/// (a last `bye` event), well within the drain deadline: nothing is cut,
/// exit code 0.
#[test]
fn server_sent_events_end_themselves_on_the_quit() {
    let mut server = support::Server::start("axum_http", &["--shutdown-timeout", "5s"]);
    let mut conn = server.connect();
    conn.send_get("/events", false)
        .unwrap_or_else(|e| server.fail(&format!("writing GET /events: {e}")));
    let head = conn
        .read_head()
        .unwrap_or_else(|e| server.fail(&format!("the head of GET /events: {e}")));
    server.check(
        head.header("content-type") == Some("text/event-stream"),
        &format!("GET /events: {head:?}"),
    );
    let signalled = std::time::Instant::now();
    server.signal(libc::SIGTERM);
    let events = conn
        .read_body(head)
        .unwrap_or_else(|e| server.fail(&format!("the events were cut: {e}")));
    let took = signalled.elapsed();
    server.check(
        events
            .body_text()
            .ends_with("event: bye\ndata: quitting\n\n"),
        &format!(
            "the stream did not end with `bye`: {:?}",
            events.body_text()
        ),
    );
    server.check(
        took < Duration::from_secs(4),
        &format!("the stream ended {took:?} after the signal, not at the quit"),
    );
    let status = server.wait_exit(Duration::from_secs(15));
    server.check(
        status.code() == Some(0),
        &format!("expected exit code 0, got {status}"),
    );
    server.check(!server.output().contains("aborted"), "something was cut");
    server.check_no_panic();
}
