//! [`Tracking`]: the service wrapper of one connection. It tracks each
//! request as a task of the connection's quitter, hands handlers that
//! quitter if asked to ([`ServeOptions`]), and asks HTTP/1 clients to
//! close while draining.
//!
//! Invariants:
//! - a request is tracked (counted, and named `METHOD /path`) before the
//!   inner service is called, and named in reports from then on, or for a
//!   connection's first request from the first poll of its response,
//!   before the inner future's: either way a handler that hangs in its
//!   very first poll is named; the task lives until hyper drops the
//!   response's body ([`TrackedBody`] carries it). Hyper 1 drops a body
//!   once it has taken its last frame (HTTP/1: into its write buffer;
//!   HTTP/2: handed to h2, once the stream has window), at once if it is
//!   empty or the response can have none (HEAD, 204, 304), on an error,
//!   or with its stream or connection (reset, close, abort). So a request
//!   whose head went out but whose body is still coming (a slow or
//!   streamed response) is still the request in flight, with its age. An
//!   HTTP/2 client may read the last frame a moment before its task ends;
//! - tracking never costs a request: a request whose task is refused (the
//!   quitter has quit, and the connection has no table yet) is served
//!   untracked; one that comes after the quit to a connection that has
//!   its table is still tracked, as a row (the table holds the quitter
//!   already). (So the task is a record next to the response future,
//!   not the future itself: a refused [`Quitter::track_future`] drops
//!   what it was given.) It is started when the request comes, on the
//!   connection's thread, and moves from the response future to the
//!   body; an HTTP/2 stream's ends on the thread that polls the stream
//!   (its executor task);
//! - a connection's first request gets a record of its own
//!   ([`SerialTask`], used once: listed on the thread that polls the
//!   response), so a connection that serves a single request (as under
//!   churn) or sits idle after one makes nothing more. From the second
//!   request on, each request is a row of the connection's
//!   [`TaskTable`], made then and kept for the connection's life. Its name
//!   is copied in two parts for a standard method (`"GET "` and the
//!   path). A request that finds the table's first row free (HTTP/1's,
//!   one at a time, almost always do: not while a report reads the last
//!   one) starts and ends with one compare-and-swap and one store; the
//!   others (HTTP/2's streams in flight at once) do the same in one of 15
//!   more such rows (made at the first of them, 720 bytes, and kept), and
//!   past 16 in flight take the table's lock once each. The locked rows
//!   allocate nothing once the table has had as many such requests at
//!   once (up to 32; a larger burst's past 16 are freed when it ends);
//! - an HTTP/1 response gets `Connection: close` if the quitter is draining
//!   when the response is ready (not when the request came: a drain that
//!   starts during a long request still sends its client away);
//! - if the connection is aborted (cut at a deadline: the adapters' `serve`
//!   makes its quitter abortable) while a request is in flight, the
//!   request's task ends when what carries it is dropped (the connection,
//!   or for an HTTP/2 stream its executor task, which sees the connection
//!   gone), and is reported as aborted, by its name (method and path) and
//!   age. (It has nothing to cancel itself: whatever runs it is cancelled
//!   with its connection.) A request that ends after the abort and before
//!   its connection is cut counts as aborted too.

use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONNECTION};
use hyper::{HeaderMap, Method, Request, Response, StatusCode, Version};
use pin_project_lite::pin_project;
use quitter_core::{Quitter, SerialTask, TableTask, TaskTable};

use crate::{HttpService, ServeOptions};

/// One connection's service: `inner` with each request tracked by
/// `quitter` (the connection's). Made by
/// [`serve_connection`](crate::serve_connection).
#[derive(Debug)]
pub struct Tracking<S> {
    inner: S,
    quitter: Quitter,
    /// Where the requests' tasks are recorded as spawned.
    spawned_at: &'static Location<'static>,
    /// A request came already.
    had_request: Cell<bool>,
    /// The connection's later requests, a row each: made at its second
    /// request (`None` if the quitter had quit by then).
    table: OnceCell<Option<TaskTable>>,
    /// Put `quitter` in each request's extensions.
    quitter_in_extensions: bool,
}

/// A request's task: a record of its own for a connection's first
/// request, a row of the connection's table for the others.
enum RequestTask {
    Once(SerialTask),
    Row(TableTask),
}

impl RequestTask {
    /// The quitter the request is tracked by (its connection's).
    fn quitter(&self) -> &Quitter {
        match self {
            RequestTask::Once(task) => task.quitter(),
            RequestTask::Row(task) => task.quitter(),
        }
    }

    /// Lists a first request (see [`SerialTask::start_unlisted`]): on the
    /// thread that runs it, at the first poll of its response. A row is
    /// listed from its start.
    #[inline]
    fn list(&mut self) {
        if let RequestTask::Once(task) = self {
            task.list();
        }
    }
}

impl<S> Tracking<S> {
    pub(crate) fn new(
        inner: S,
        quitter: Quitter,
        spawned_at: &'static Location<'static>,
        options: ServeOptions,
    ) -> Self {
        Tracking {
            inner,
            quitter,
            spawned_at,
            had_request: Cell::new(false),
            table: OnceCell::new(),
            quitter_in_extensions: options.quitter_in_extensions,
        }
    }

    /// The request's task, named `METHOD /path`. `None` once the quitter
    /// has quit, unless the connection's table was made before (its rows
    /// start after the quit: the table holds the quitter already). Out of
    /// line: the call site (hyper's) stays small.
    #[inline(never)]
    fn track_request(&self, request: &Request<Incoming>) -> Option<RequestTask> {
        self.track(request.method(), request.uri().path())
    }

    /// The task of a request of `method` to `path` (see
    /// [`Tracking::track_request`]).
    #[inline(always)]
    fn track(&self, method: &Method, path: &str) -> Option<RequestTask> {
        if !self.had_request.replace(true) {
            let method = method.as_str();
            return self.track_first(|name| {
                name.reserve(method.len() + 1 + path.len());
                name.push_str(method);
                name.push(' ');
                name.push_str(path);
            });
        }
        let table = self
            .table
            .get_or_init(|| self.quitter.task_table_at(self.spawned_at))
            .as_ref()?;
        Some(RequestTask::Row(match method_and_space(method) {
            Some(method) => table.start([method, path]),
            None => table.start([method.as_str(), " ", path]),
        }))
    }

    /// A connection's first request: a record used once, so a connection
    /// that serves a single request (as under churn) or sits idle after
    /// one makes no table.
    #[cold]
    fn track_first(&self, name: impl FnOnce(&mut String)) -> Option<RequestTask> {
        let mut task = self.quitter.serial_task_at(self.spawned_at);
        task.start_unlisted(name).then_some(RequestTask::Once(task))
    }
}

/// `"GET "` for `GET`, and so on for the standard methods: a row's name is
/// then copied in two parts, not three (one `memcpy` less a request).
fn method_and_space(method: &Method) -> Option<&'static str> {
    Some(match *method {
        Method::GET => "GET ",
        Method::POST => "POST ",
        Method::PUT => "PUT ",
        Method::DELETE => "DELETE ",
        Method::HEAD => "HEAD ",
        Method::OPTIONS => "OPTIONS ",
        Method::PATCH => "PATCH ",
        Method::CONNECT => "CONNECT ",
        Method::TRACE => "TRACE ",
        _ => return None,
    })
}

impl<S: HttpService> hyper::service::Service<Request<Incoming>> for Tracking<S> {
    type Response = Response<TrackedBody<S::ResBody>>;
    type Error = S::Fails;
    type Future = TrackingResponse<S::Responding>;

    // Inlined into hyper's call site: it reads fields, lends the request
    // out of line (`track`, `with_quitter`) and moves it once, into the
    // inner service's future (callgrind: each move of a request is a
    // `memcpy` of 264 bytes; BENCHMARKS.md, 2026-12-04).
    #[inline(always)]
    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let http1 = matches!(
            request.version(),
            Version::HTTP_09 | Version::HTTP_10 | Version::HTTP_11
        );
        let task = self.track_request(&request);
        if self.quitter_in_extensions {
            with_quitter(&mut request, &self.quitter);
        }
        TrackingResponse {
            task,
            http1,
            response: self.inner.call(request),
        }
    }
}

/// Puts `quitter` in `request`'s extensions. Out of line: it is asked for
/// (an option), and its allocation is no part of the common path.
#[inline(never)]
fn with_quitter(request: &mut Request<Incoming>, quitter: &Quitter) {
    request.extensions_mut().insert(quitter.clone());
}

pin_project! {
    /// The response future of [`Tracking`]: the inner service's, with the
    /// request's task beside it.
    pub struct TrackingResponse<F> {
        // The request's task (`None` if refused: the quitter has quit),
        // handed to the body.
        task: Option<RequestTask>,
        http1: bool,
        #[pin]
        response: F,
    }
}

impl<F, B, E> Future for TrackingResponse<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<TrackedBody<B>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(task) = this.task {
            task.list();
        }
        let output = std::task::ready!(this.response.poll(cx));
        let task = this.task.take();
        Poll::Ready(output.map(|mut response| {
            if *this.http1 {
                let status = response.status();
                close_if_draining(status, response.headers_mut(), task.as_ref());
            }
            response.map(|body| TrackedBody::new(body, task))
        }))
    }
}

/// HTTP/1: asks the client to close (`Connection: close`) if the
/// connection's quitter is draining (a refused task: the quitter has quit,
/// so it is draining), unless the response switches protocols. Out of line
/// and not generic over the body, so its code (a `HeaderMap` insert) is
/// compiled once and is not inlined into every request's path, HTTP/2's
/// too.
#[inline(never)]
fn close_if_draining(status: StatusCode, headers: &mut HeaderMap, task: Option<&RequestTask>) {
    let draining = task.map_or(true, |task| task.quitter().is_draining());
    if draining && status != StatusCode::SWITCHING_PROTOCOLS {
        close(headers);
    }
}

/// Adds `Connection: close`.
#[cold]
#[inline(never)]
fn close(headers: &mut HeaderMap) {
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
}

pin_project! {
    /// A response body that carries its request's task until hyper drops
    /// it: once hyper has taken its last frame, at once if it is empty, on
    /// an error, or with its stream or connection.
    /// Everything else (frames, size hint, end) is the inner body's.
    pub struct TrackedBody<B> {
        #[pin]
        body: B,
        // Dropped with the body (see the module's invariants).
        _task: Option<RequestTask>,
    }
}

impl<B> TrackedBody<B> {
    #[inline]
    fn new(body: B, task: Option<RequestTask>) -> Self {
        TrackedBody { body, _task: task }
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.project().body.poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection's tracking with no service (only `track` is used).
    fn tracking(quitter: &Quitter) -> Tracking<()> {
        Tracking::new((), quitter.clone(), Location::caller(), ServeOptions::new())
    }

    fn names(connection: &Quitter) -> Vec<String> {
        let snapshot = connection.snapshot();
        snapshot.quitters[0]
            .tasks
            .iter()
            .map(|task| task.name.to_string())
            .collect()
    }

    #[test]
    fn a_first_request_makes_no_table_and_later_ones_are_its_rows() {
        let connection = Quitter::new("127.0.0.1:50312");
        let tracking = tracking(&connection);
        let mut first = tracking.track(&Method::GET, "/first").expect("not quit");
        assert!(matches!(first, RequestTask::Once(_)));
        assert_eq!(connection.snapshot().quitters[0].unpolled, 1);
        first.list();
        assert_eq!(names(&connection), ["GET /first"]);
        drop(first);
        assert!(tracking.table.get().is_none(), "no table for one request");

        // In flight at once: each a row, named from its start.
        let in_flight: Vec<_> = ["/a", "/b", "/c"]
            .iter()
            .map(|path| tracking.track(&Method::POST, path).expect("not quit"))
            .collect();
        assert!(in_flight
            .iter()
            .all(|task| matches!(task, RequestTask::Row(_))));
        assert_eq!(names(&connection), ["POST /a", "POST /b", "POST /c"]);
        assert_eq!(connection.snapshot().quitters[0].unpolled, 0);
        assert_eq!(connection.task_count(), 3);
        drop(in_flight);
        // The table stays (one entry, no rows): an idle table, no task.
        assert_eq!(connection.snapshot().task_count(), 0);
        assert_eq!(connection.snapshot().quitters[0].idle_tables, 1);
        assert!(!connection.is_done());
        drop(tracking);
        connection.quit();
        assert!(connection.is_done());
    }

    #[test]
    fn rows_are_named_by_method_and_path_standard_or_not() {
        let connection = Quitter::new("127.0.0.1:50312");
        let tracking = tracking(&connection);
        drop(tracking.track(&Method::GET, "/first"));
        let methods = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
            Method::PATCH,
            Method::CONNECT,
            Method::TRACE,
            Method::from_bytes(b"PURGE").expect("a method"),
        ];
        let rows: Vec<_> = methods
            .iter()
            .map(|method| tracking.track(method, "/a").expect("not quit"))
            .collect();
        let expected: Vec<String> = methods
            .iter()
            .map(|method| format!("{method} /a"))
            .collect();
        assert_eq!(names(&connection), expected);
        drop(rows);
    }

    #[test]
    fn a_request_ended_after_an_abort_is_recorded_as_aborted() {
        let connection = Quitter::new("127.0.0.1:50312");
        connection.make_abortable();
        let tracking = tracking(&connection);
        drop(tracking.track(&Method::GET, "/first"));
        let slow = tracking.track(&Method::GET, "/slow").expect("not quit");
        connection.abort();
        drop(slow);
        let aborted = connection.aborted();
        assert_eq!(aborted.len(), 1);
        assert_eq!(aborted[0].task.name, "GET /slow");
    }

    #[test]
    fn http1_responses_ask_to_close_once_draining_or_refused() {
        let connection = Quitter::new("127.0.0.1:50312");
        let tracking = tracking(&connection);
        let closes = |task: Option<&RequestTask>, status| {
            let mut headers = HeaderMap::new();
            close_if_draining(status, &mut headers, task);
            headers
                .get(CONNECTION)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        drop(tracking.track(&Method::GET, "/first"));
        let serving = tracking.track(&Method::GET, "/").expect("not quit");
        assert_eq!(closes(Some(&serving), StatusCode::OK), None);
        assert!(connection.start_draining());
        assert_eq!(
            closes(Some(&serving), StatusCode::OK).as_deref(),
            Some("close")
        );
        let upgrade = StatusCode::SWITCHING_PROTOCOLS;
        assert_eq!(closes(Some(&serving), upgrade), None);
        // A request refused its task (the quitter has quit) closes too.
        assert_eq!(closes(None, StatusCode::OK).as_deref(), Some("close"));
    }

    #[test]
    fn a_first_request_after_the_quit_is_served_untracked() {
        let connection = Quitter::new("127.0.0.1:50312");
        let tracking = tracking(&connection);
        connection.quit();
        assert!(tracking.track(&Method::GET, "/late").is_none());
        assert!(tracking.track(&Method::GET, "/later").is_none());
        assert!(connection.is_done());
    }
}
