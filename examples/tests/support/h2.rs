//! HTTP/2 (prior knowledge) against a real example process: streams in
//! flight at SIGTERM complete, the client sees the connection go away
//! (GOAWAY, then a clean end), and the process exits with code 0.
//!
//! The client is hyper's own, on a current-thread tokio runtime in the
//! test (whatever the example's runtime). Every wait is bounded.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::Server;

/// Streams in flight at the signal.
const STREAMS: usize = 8;
/// How long each takes (its head comes at once).
const SLOW_MS: u64 = 400;

async fn bounded<F: Future>(server: &mut Server, what: &str, future: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(10), future).await {
        Ok(output) => output,
        Err(_) => server.fail(&format!("timed out: {what}")),
    }
}

pub fn http2_streams_in_flight_complete_on_sigterm(example: &str) {
    let mut server = Server::start(example, &[]);
    let addr = server.addr();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stream = bounded(&mut server, "connect", TcpStream::connect(addr))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let handshake =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream));
        let (mut sender, connection) = bounded(&mut server, "h2 handshake", handshake)
            .await
            .unwrap_or_else(|e| panic!("h2 handshake: {e}"));
        let connection = tokio::spawn(connection);

        let mut heads = Vec::new();
        for _ in 0..STREAMS {
            let request = Request::get(format!("http://{addr}/slow?ms={SLOW_MS}"))
                .body(Empty::<Bytes>::new())
                .unwrap();
            heads.push(sender.send_request(request));
        }
        let mut responses = Vec::new();
        for head in heads {
            let response = bounded(&mut server, "a stream's head", head).await;
            let response = response.unwrap_or_else(|e| server.fail(&format!("a stream: {e}")));
            server.check(response.status() == 200, &format!("a stream: {response:?}"));
            responses.push(response);
        }

        // Every stream is being served (its head is in): now the signal.
        server.signal(libc::SIGTERM);
        for response in responses {
            let body = bounded(
                &mut server,
                "a stream's body",
                response.into_body().collect(),
            )
            .await
            .unwrap_or_else(|e| server.fail(&format!("a stream was cut: {e}")));
            server.check(
                body.to_bytes() == format!("done after {SLOW_MS} ms\n"),
                "a stream's body",
            );
        }
        // The server sent GOAWAY and closed once its streams were done:
        // the client's connection ends cleanly, and takes no new stream.
        let ended = bounded(&mut server, "the connection to end", connection).await;
        server.check(
            matches!(ended, Ok(Ok(()))),
            &format!("the connection did not end cleanly: {ended:?}"),
        );
        server.check(sender.is_closed(), "the client may still open streams");
    });
    let status = server.wait_exit(Duration::from_secs(15));
    server.check(
        status.code() == Some(0),
        &format!("expected exit code 0, got {status}"),
    );
    server.check_no_panic();
}
