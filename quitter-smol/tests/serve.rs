//! `quitter_smol::http::serve` (feature `hyper`) against hyper's own
//! client, over real sockets on 127.0.0.1: serving HTTP/1.1 and HTTP/2,
//! draining (`Connection: close`, GOAWAY, still accepting), the quit
//! (in-flight requests finish, idle connections close, new ones are
//! refused), hung requests named in the report, handlers ending their
//! streams on the quit, and an abort at the deadline cutting connections
//! and naming what it cut. The smol counterpart of quitter-tokio's
//! `tests/serve.rs`, with the same assertions.
//!
//! The server and the client both run on smol's global executor; each
//! test drives itself with `smol::block_on`. The client speaks through
//! `smol-hyper`'s `FuturesIo`.
//!
//! No sleeps: handlers tell the test they started (a channel) and wait for
//! it to let them go (a semaphore); every wait is bounded by [`bounded`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_io::Timer;
use bytes::Bytes;
use futures_lite::future;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONNECTION, HOST};
use hyper::{Request, Response, StatusCode, Version};
use quitter_smol::{Quitter, TimeoutReport};
use smol::lock::Semaphore;
use smol::net::{TcpListener, TcpStream};
use smol::Task;
use smol_hyper::rt::FuturesIo;

/// The longest any one step may take before the test fails.
const BOUND: Duration = Duration::from_secs(10);

async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    let timeout = async {
        Timer::after(BOUND).await;
        panic!("timed out after {BOUND:?}: {what}")
    };
    future::or(future, timeout).await
}

/// hyper's executor for the HTTP/2 client's connection tasks: smol's
/// global executor.
#[derive(Clone, Copy, Debug)]
struct SmolExecutor;

impl<F> hyper::rt::Executor<F> for SmolExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        smol::spawn(future).detach();
    }
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

fn text(text: &'static str) -> Body {
    Full::new(Bytes::from_static(text.as_bytes())).boxed_unsync()
}

/// The routes: `/` answers at once; `/slow` tells the test it started
/// (with its connection's path) and waits for a permit; `/stream` sends a
/// chunk, then another once its connection's quitter quits, then ends.
/// Every response names the connection's quitter (from the extensions).
#[derive(Clone)]
struct App {
    entered: async_channel::Sender<String>,
    release: Arc<Semaphore>,
}

impl App {
    async fn handle(self, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
        let Some(quitter) = request.extensions().get::<Quitter>().cloned() else {
            let mut response = Response::new(text("no quitter in the extensions"));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return Ok(response);
        };
        let path = quitter.path();
        let body = match request.uri().path() {
            "/slow" => {
                let _ = self.entered.try_send(path.clone());
                self.release.acquire().await.forget();
                text("slow done")
            }
            "/stream" => {
                let chunks = futures_util::stream::unfold(0, move |step| {
                    let quitter = quitter.clone();
                    async move {
                        let chunk: &'static [u8] = match step {
                            0 => b"first\n",
                            1 => {
                                quitter.quitted().await;
                                b"bye\n"
                            }
                            _ => return None,
                        };
                        Some((Ok(Frame::data(Bytes::from_static(chunk))), step + 1))
                    }
                });
                StreamBody::new(chunks).boxed_unsync()
            }
            _ => text("hello"),
        };
        let mut response = Response::new(body);
        response
            .headers_mut()
            .insert("x-quitter", path.parse().unwrap());
        Ok(response)
    }
}

struct Server {
    root: Quitter,
    addr: SocketAddr,
    accept: Task<io::Result<()>>,
    /// The connection path of each `/slow` request that started.
    entered: async_channel::Receiver<String>,
    release: Arc<Semaphore>,
}

/// `main/http` serving [`App`] (as a hyper `service_fn`) on a fresh port,
/// with the connection's quitter in each request's extensions.
async fn start() -> Server {
    start_with(with_quitter()).await
}

/// The connection's quitter in each request's extensions.
fn with_quitter() -> quitter_smol::http::ServeOptions {
    quitter_smol::http::ServeOptions::new().quitter_in_extensions(true)
}

/// [`start`] with `options`.
async fn start_with(options: quitter_smol::http::ServeOptions) -> Server {
    let root = Quitter::new("main");
    let http = root.child("http").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (entered_tx, entered) = async_channel::unbounded();
    let release = Arc::new(Semaphore::new(0));
    let app = App {
        entered: entered_tx,
        release: release.clone(),
    };
    let service = hyper::service::service_fn(move |request| app.clone().handle(request));
    let accept = quitter_smol::http::serve_with(listener, &http, service, options).unwrap();
    Server {
        root,
        addr,
        accept,
        entered,
        release,
    }
}

impl Server {
    async fn entered(&mut self) -> String {
        bounded("a /slow handler to start", self.entered.recv())
            .await
            .unwrap()
    }

    async fn quit_and_wait_done(&self) {
        self.root.quit();
        bounded("main to be done", self.root.done()).await;
    }
}

/// An HTTP/1.1 client connection; `closed` ends when the server closes it.
struct H1 {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    closed: Task<()>,
    local: SocketAddr,
}

async fn h1(addr: SocketAddr) -> H1 {
    let stream = bounded("connect", TcpStream::connect(addr)).await.unwrap();
    let local = stream.local_addr().unwrap();
    let (sender, connection) = bounded(
        "h1 handshake",
        hyper::client::conn::http1::handshake(FuturesIo::new(stream)),
    )
    .await
    .unwrap();
    let closed = smol::spawn(async move {
        let _ = connection.await;
    });
    H1 {
        sender,
        closed,
        local,
    }
}

impl H1 {
    /// Sends `GET path`; the response comes from the returned task.
    async fn send(&mut self, path: &str) -> Task<hyper::Result<Response<Incoming>>> {
        bounded("h1 sender ready", self.sender.ready())
            .await
            .unwrap();
        let request = Request::get(path)
            .header(HOST, "127.0.0.1")
            .body(Empty::new())
            .unwrap();
        smol::spawn(self.sender.send_request(request))
    }

    async fn get(&mut self, path: &str) -> Response<Incoming> {
        let response = self.send(path).await;
        bounded("h1 response", response).await.unwrap()
    }

    /// Waits for the connection to end while still holding its sender (a
    /// dropped sender would let the client close it).
    async fn closed_by_server(self) {
        bounded("the server to close the connection", self.closed).await;
    }
}

/// An HTTP/2 client connection (prior knowledge); `closed` ends when the
/// connection does.
struct H2 {
    sender: hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    closed: Task<()>,
    addr: SocketAddr,
}

async fn h2(addr: SocketAddr) -> H2 {
    let stream = bounded("connect", TcpStream::connect(addr)).await.unwrap();
    let handshake = hyper::client::conn::http2::handshake(SmolExecutor, FuturesIo::new(stream));
    let (sender, connection) = bounded("h2 handshake", handshake).await.unwrap();
    let closed = smol::spawn(async move {
        let _ = connection.await;
    });
    H2 {
        sender,
        closed,
        addr,
    }
}

impl H2 {
    async fn send(&mut self, path: &str) -> Task<hyper::Result<Response<Incoming>>> {
        bounded("h2 sender ready", self.sender.ready())
            .await
            .unwrap();
        let request = Request::get(format!("http://{}{path}", self.addr))
            .body(Empty::new())
            .unwrap();
        smol::spawn(self.sender.send_request(request))
    }

    async fn get(&mut self, path: &str) -> Response<Incoming> {
        let response = self.send(path).await;
        bounded("h2 response", response).await.unwrap()
    }
}

async fn body(response: Response<Incoming>) -> Bytes {
    bounded("the body", response.into_body().collect())
        .await
        .unwrap()
        .to_bytes()
}

async fn response(task: Task<hyper::Result<Response<Incoming>>>) -> Response<Incoming> {
    bounded("a response", task).await.unwrap()
}

fn connection_header(response: &Response<Incoming>) -> Option<&str> {
    response
        .headers()
        .get(CONNECTION)
        .map(|value| value.to_str().unwrap())
}

#[test]
fn serves_http1_and_http2_prior_knowledge_on_one_port() {
    smol::block_on(async {
        let server = start().await;

        let mut one = h1(server.addr).await;
        let response = one.get("/").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), Version::HTTP_11);
        assert_eq!(connection_header(&response), None, "not draining yet");
        assert_eq!(
            response.headers()["x-quitter"],
            format!("main/http/{}", one.local).as_str()
        );
        assert_eq!(body(response).await, "hello");

        let mut two = h2(server.addr).await;
        let response = two.get("/").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(body(response).await, "hello");

        // Keep-alive: the same HTTP/1 connection serves another request.
        assert_eq!(body(one.get("/").await).await, "hello");

        server.quit_and_wait_done().await;
        one.closed_by_server().await;
        bounded("the h2 connection to end", two.closed).await;
    });
}

/// A tower service (axum's `Router` is one), told apart from a hyper one
/// by its trait.
#[derive(Clone)]
struct TowerHello;

impl tower_service::Service<Request<Incoming>> for TowerHello {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let quitter = request.extensions().get::<Quitter>().map(Quitter::path);
        let body = format!("tower, from {}", quitter.unwrap_or_default());
        std::future::ready(Ok(Response::new(Full::new(Bytes::from(body)))))
    }
}

#[test]
fn serves_a_tower_service() {
    smol::block_on(async {
        let root = Quitter::new("main");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        quitter_smol::http::serve_with(listener, &root, TowerHello, with_quitter())
            .unwrap()
            .detach();

        let mut client = h1(addr).await;
        let response = client.get("/").await;
        assert_eq!(
            body(response).await,
            format!("tower, from main/{}", client.local)
        );
        let mut client = h2(addr).await;
        assert!(body(client.get("/").await)
            .await
            .starts_with(b"tower, from main/"));

        root.quit();
        bounded("main to be done", root.done()).await;
    });
}

#[test]
fn draining_http1_sends_connection_close_and_keeps_accepting() {
    smol::block_on(async {
        let server = start().await;
        let mut busy = h1(server.addr).await;
        assert_eq!(connection_header(&busy.get("/").await), None);
        let mut idle = h1(server.addr).await;
        assert_eq!(connection_header(&idle.get("/").await), None);

        server.root.start_draining();

        // A keep-alive client is told to go, and the server closes after
        // the response.
        let response = busy.get("/").await;
        assert_eq!(connection_header(&response), Some("close"));
        assert_eq!(body(response).await, "hello");
        busy.closed_by_server().await;

        // A new connection is still accepted and served (and told to go).
        let mut late = h1(server.addr).await;
        let response = late.get("/").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(connection_header(&response), Some("close"));
        late.closed_by_server().await;

        // An idle keep-alive connection was not closed by the drain: its
        // next request (which could have been on the wire) is served.
        let response = idle.get("/").await;
        assert_eq!(connection_header(&response), Some("close"));
        assert_eq!(body(response).await, "hello");
        idle.closed_by_server().await;

        assert!(!server.accept.is_finished(), "draining stops nothing");
        server.quit_and_wait_done().await;
    });
}

#[test]
fn draining_http2_sends_goaway_and_the_stream_in_flight_completes() {
    smol::block_on(async {
        let mut server = start().await;
        let mut client = h2(server.addr).await;
        let in_flight = client.send("/slow").await;
        server.entered().await;

        server.root.start_draining();
        // The GOAWAY lets the stream finish; then the connection ends
        // (without it, an idle HTTP/2 connection stays open, and this times
        // out).
        server.release.add_permits(1);
        let response = response(in_flight).await;
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(connection_header(&response), None, "not on HTTP/2");
        assert_eq!(body(response).await, "slow done");
        bounded("the h2 connection to end after GOAWAY", client.closed).await;

        assert!(!server.accept.is_finished(), "draining stops nothing");
        assert!(!server.root.is_quitting());
        server.quit_and_wait_done().await;
    });
}

#[test]
fn quit_finishes_requests_in_flight_closes_idle_connections_and_stops_accepting() {
    smol::block_on(async {
        let mut server = start().await;
        let mut busy = h1(server.addr).await;
        let busy_request = busy.send("/slow").await;
        server.entered().await;
        let mut busy2 = h2(server.addr).await;
        let busy2_request = busy2.send("/slow").await;
        server.entered().await;
        let mut idle = h1(server.addr).await;
        assert_eq!(body(idle.get("/").await).await, "hello");

        server.root.quit();

        // The idle connection closes at once (the slow requests still
        // wait).
        idle.closed_by_server().await;
        // The listener is gone: a new connection is refused.
        let accept = bounded("the accept loop to end", server.accept).await;
        accept.unwrap();
        let refused = bounded("connect", TcpStream::connect(server.addr)).await;
        assert_eq!(
            refused.map(drop).unwrap_err().kind(),
            io::ErrorKind::ConnectionRefused
        );
        assert!(!busy_request.is_finished() && !busy2_request.is_finished());
        assert!(!server.root.is_done(), "two requests in flight");

        // The requests in flight complete, then their connections close.
        server.release.add_permits(2);
        assert_eq!(body(response(busy_request).await).await, "slow done");
        assert_eq!(body(response(busy2_request).await).await, "slow done");
        busy.closed_by_server().await;
        bounded("the h2 connection to end", busy2.closed).await;
        bounded("main to be done", server.root.done()).await;
    });
}

#[test]
fn a_hung_request_is_named_with_its_connection_method_path_and_age() {
    hung_request_is_named(false);
}

/// The same for a connection's later request (a row of its task table,
/// where the first has a record of its own).
#[test]
fn a_hung_later_request_is_named_with_its_connection_method_path_and_age() {
    hung_request_is_named(true);
}

/// A request that hangs (after one served on its connection, if
/// `after_one`) is named in a report and a timed-out shutdown's, by its
/// connection, method, path, age and where `serve` was called.
fn hung_request_is_named(after_one: bool) {
    smol::block_on(async {
        let mut server = start().await;
        let mut client = h1(server.addr).await;
        if after_one {
            assert_eq!(body(client.get("/").await).await, "hello");
        }
        let hung = client.send("/slow?ms=1000").await;
        let path = server.entered().await;
        assert_eq!(path, format!("main/http/{}", client.local));

        let report = server.root.live_tasks();
        let accept = format!("accept {}", server.addr);
        assert!(report
            .tasks_of("main/http")
            .unwrap()
            .iter()
            .any(|task| task.name == accept));
        let tasks = report.tasks_of(&path).unwrap();
        let names: Vec<_> = tasks.iter().map(|task| &*task.name).collect();
        assert_eq!(names.len(), 2, "{report}");
        assert!(names.contains(&"connection"), "{report}");
        let request = tasks
            .iter()
            .find(|task| task.name == "GET /slow")
            .expect("GET /slow");
        assert!(request.age.is_some());

        // What a timed-out shutdown reports: the connection and its
        // request.
        server.root.quit();
        let timed_out = quitter_smol::wait_done(&server.root, Duration::from_millis(100))
            .await
            .unwrap_err();
        let text = timed_out.to_string();
        assert!(text.contains(&format!("'{path}'")), "{text}");
        // Where `serve` was called, not inside the helper.
        assert!(
            text.contains("GET /slow (spawned at quitter-smol/tests/serve.rs:"),
            "{text}"
        );
        assert!(
            text.contains("connection (spawned at quitter-smol/tests/serve.rs:"),
            "{text}"
        );

        server.release.add_permits(1);
        assert_eq!(body(response(hung).await).await, "slow done");
        bounded("main to be done", server.root.done()).await;
    });
}

#[test]
fn handlers_get_the_connection_quitter_and_end_their_streams_on_quit() {
    smol::block_on(async {
        let server = start().await;
        let mut client = h1(server.addr).await;
        // A request before: the stream is the connection's second (a row
        // of its task table), in flight until hyper drops its body.
        assert_eq!(body(client.get("/").await).await, "hello");
        let response = client.get("/stream").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["x-quitter"],
            format!("main/http/{}", client.local).as_str()
        );
        let mut stream = response.into_body();
        let first = bounded("the first chunk", stream.frame())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.into_data().unwrap(), "first\n");
        // The head went out, the body is still coming: the request is still
        // in flight, by name.
        let path = format!("main/http/{}", client.local);
        let in_flight = |root: &Quitter| {
            let report = root.live_tasks();
            let names = report.tasks_of(&path).unwrap_or_default();
            names.iter().any(|task| task.name == "GET /stream")
        };
        assert!(in_flight(&server.root), "{}", server.root.live_tasks());

        // The stream is the response in flight: the quit lets it end itself.
        server.root.quit();
        let rest = bounded("the stream to end", stream.collect())
            .await
            .unwrap();
        assert_eq!(rest.to_bytes(), "bye\n");
        assert!(
            !in_flight(&server.root),
            "the body ended: so did the request"
        );
        client.closed_by_server().await;
        bounded("main to be done", server.root.done()).await;
    });
}

/// The live report once the tasks listed under `path` are `expected`
/// (sorted by name), within [`BOUND`]. An HTTP/2 stream's task ends when
/// hyper drops its response's body, just after handing h2 the last
/// frame, so its client may have read the whole response a moment before.
async fn listed(root: &Quitter, path: &str, expected: &[&str]) -> TimeoutReport {
    let mut last = None;
    let settled = async {
        loop {
            let report = root.live_tasks();
            let mut names: Vec<String> = report
                .tasks_of(path)
                .unwrap_or_default()
                .iter()
                .map(|task| task.name.to_string())
                .collect();
            names.sort();
            if names == expected {
                return report;
            }
            last = Some(report);
            future::yield_now().await;
        }
    };
    let outcome = future::or(async { Some(settled.await) }, async {
        Timer::after(BOUND).await;
        None
    })
    .await;
    match outcome {
        Some(report) => report,
        None => panic!(
            "listed under {path} after {BOUND:?}: not {expected:?} but\n{}",
            last.unwrap()
        ),
    }
}

/// The names of what `root` reports aborted under `path`.
fn aborted_under(root: &Quitter, path: &str) -> Vec<String> {
    let mut names: Vec<String> = root
        .aborted()
        .into_iter()
        .filter(|aborted| aborted.path == path)
        .map(|aborted| aborted.task.name.to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn an_abort_at_the_deadline_cuts_the_connection_and_names_the_request() {
    smol::block_on(async {
        let mut server = start().await;
        let mut client = h1(server.addr).await;
        // A request before: the cut one is the connection's second, a row
        // of its task table.
        assert_eq!(body(client.get("/").await).await, "hello");
        let hung = client.send("/slow").await;
        let path = server.entered().await;

        // The quit ends the accept loop and leaves the request in flight;
        // the deadline's abort (later) cuts it.
        server.root.quit();
        assert!(bounded("the accept loop", server.accept).await.is_ok());
        assert!(server.root.abort());
        bounded("main to be done", server.root.done()).await;
        let cut = bounded("the client to see the cut", hung).await;
        assert!(cut.is_err(), "the request was answered: {cut:?}");
        client.closed_by_server().await;

        // Named in the report: the request (method, path) and its
        // connection.
        assert_eq!(
            aborted_under(&server.root, &path),
            ["GET /slow", "connection"]
        );
        let request = server
            .root
            .aborted()
            .into_iter()
            .find(|a| a.task.name == "GET /slow");
        assert!(request.unwrap().task.age.is_some());
    });
}

#[test]
fn an_abort_cuts_http2_streams_in_flight_and_names_them() {
    smol::block_on(async {
        let mut server = start().await;
        let mut client = h2(server.addr).await;
        let first = client.send("/slow").await;
        let second = client.send("/slow").await;
        let path = server.entered().await;
        assert_eq!(server.entered().await, path, "one connection, two streams");

        server.root.quit();
        assert!(server.root.abort());
        bounded("main to be done", server.root.done()).await;
        for stream in [first, second] {
            let cut = bounded("the client to see the cut", stream).await;
            assert!(cut.is_err(), "the stream was answered: {cut:?}");
        }
        bounded("the connection to end", client.closed).await;
        // Each stream's task is dropped with the connection (its executor
        // task sees the connection gone), so both are named.
        bounded("both requests to be reported", async {
            while aborted_under(&server.root, &path).len() < 3 {
                future::yield_now().await;
            }
        })
        .await;
        assert_eq!(
            aborted_under(&server.root, &path),
            ["GET /slow", "GET /slow", "connection"]
        );
    });
}

/// By default (`serve`), no quitter in the extensions: it costs three
/// allocations per request, and handlers can capture the server's.
#[test]
fn the_quitter_is_in_the_extensions_only_when_asked() {
    smol::block_on(async {
        let server = start_with(quitter_smol::http::ServeOptions::new()).await;
        let mut client = h1(server.addr).await;
        let response = client.get("/").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body(response).await, "no quitter in the extensions");
        server.quit_and_wait_done().await;
    });
}

#[test]
fn http2_streams_are_rows_of_their_connection_and_only_those_in_flight_are_listed() {
    smol::block_on(async {
        let mut server = start().await;
        let mut client = h2(server.addr).await;
        // Six streams in flight at once, then done: the first has a record
        // used once, the other five are rows of the connection's table.
        let mut before = Vec::new();
        for _ in 0..6 {
            before.push(client.send("/slow").await);
        }
        let path = server.entered().await;
        for _ in 1..6 {
            assert_eq!(server.entered().await, path, "one connection");
        }
        server.release.add_permits(6);
        for stream in before {
            assert_eq!(body(response(stream).await).await, "slow done");
        }
        // Two rows live again: the ended rows name nothing.
        let first = client.send("/slow?again").await;
        let second = client.send("/slow?again").await;
        assert_eq!(server.entered().await, path);
        assert_eq!(server.entered().await, path);
        let report = listed(
            &server.root,
            &path,
            &["GET /slow", "GET /slow", "connection"],
        )
        .await;
        let tasks = report.tasks_of(&path).unwrap();
        assert!(tasks.iter().all(|task| task.age.is_some()), "{report}");

        server.release.add_permits(2);
        for stream in [first, second] {
            assert_eq!(body(response(stream).await).await, "slow done");
        }
        listed(&server.root, &path, &["connection"]).await;
        server.root.quit();
        bounded("main to be done", server.root.done()).await;
    });
}
