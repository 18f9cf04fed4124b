//! [`Tracking`]: the service wrapper of one connection. It tracks each
//! request as a task of the connection's quitter, hands handlers that
//! quitter if asked to ([`ServeOptions`]), and asks HTTP/1 clients to
//! close while draining.
//!
//! Invariants:
//! - a request is tracked (counted, and named `METHOD /path`) before the
//!   inner service is called, and listed (so a report names it) at the
//!   first poll of its response, before the inner future's: a handler that
//!   hangs in its very first poll is named;
//!   the task lives until the response's body has ended ([`TrackedBody`]:
//!   its last frame, an error, or dropped), so a request whose head went
//!   out but whose body is still coming (a slow or streamed response) is
//!   still the request in flight, with its age;
//! - tracking never costs a request: once the quitter has quit, the task is
//!   refused and the request is served untracked. (So the task is a
//!   record next to the response future, not the future itself: a refused
//!   [`Quitter::track_future`] drops what it was given.) It is started when
//!   the request comes, on the connection's thread, listed on the thread
//!   that polls the response (an HTTP/2 stream's executor task), which is
//!   where it ends, and moves from the response future to the body;
//! - a request's record ([`SerialTask`]) is reused: from a connection's
//!   second request on, it goes back to its connection when the request
//!   ends, and the next request takes it (up to [`FREE_RECORDS`] are kept,
//!   each named at most [`KEPT_NAME`] bytes), so an HTTP/1 connection's
//!   later requests share one record and an HTTP/2 connection's streams a
//!   few, and tracking a request allocates nothing once its connection has
//!   served a few. A connection's first request's record is used once (a
//!   connection that serves a single request, as under churn, never makes
//!   the list);
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
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONNECTION};
use hyper::{HeaderMap, Request, Response, StatusCode, Version};
use pin_project_lite::pin_project;
use quitter_core::{Quitter, SerialTask};

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
    /// The task records of the connection's requests, reused: made at
    /// its second request (a connection that serves one, as under churn,
    /// never pays for it).
    records: OnceCell<Arc<Records>>,
    /// A request came already.
    had_request: Cell<bool>,
    /// Put `quitter` in each request's extensions.
    quitter_in_extensions: bool,
}

/// At most this many free task records are kept per connection (as many
/// as it had requests in flight at once, the first aside, up to this).
const FREE_RECORDS: usize = 16;

/// A record whose name (`METHOD /path`) was longer than this is not kept:
/// its buffer would stay that large for the connection's life.
const KEPT_NAME: usize = 256;

/// The task records of one connection's requests that are not in use. A
/// request takes one (or makes one) and gives it back when it ends: after
/// a connection's first few requests, tracking one allocates nothing.
#[derive(Debug)]
struct Records {
    free: Mutex<Vec<SerialTask>>,
}

impl Records {
    /// The free records, locked. A panic while the lock was held left the
    /// list whole: poisoning is passed over.
    fn free(&self) -> MutexGuard<'_, Vec<SerialTask>> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `task` (ended) for a later request, unless enough are kept.
    fn give_back(&self, task: SerialTask) {
        debug_assert!(!task.is_running(), "a record is given back ended");
        let mut free = self.free();
        if free.len() < FREE_RECORDS {
            free.push(task);
            return;
        }
        drop(free);
        drop(task); // outside the lock
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
            records: OnceCell::new(),
            had_request: Cell::new(false),
            quitter_in_extensions: options.quitter_in_extensions,
        }
    }

    /// The request's task: a free record of the connection's if there is
    /// one (else a new one, kept when the request ends; a connection's
    /// first request's record is used once). `None` once the quitter has
    /// quit.
    fn track(&self, method: &str, path: &str) -> Option<RequestTask> {
        let home = self.had_request.replace(true).then(|| {
            self.records.get_or_init(|| {
                Arc::new(Records {
                    free: Mutex::new(Vec::new()),
                })
            })
        });
        let reused = home.and_then(|records| records.free().pop());
        let mut task = reused.unwrap_or_else(|| self.quitter.serial_task_at(self.spawned_at));
        let length = method.len() + 1 + path.len();
        let started = task.start_unlisted(|name| {
            name.reserve(length);
            name.push_str(method);
            name.push(' ');
            name.push_str(path);
        });
        started.then(|| RequestTask {
            task: Some(task),
            home: home.filter(|_| length <= KEPT_NAME).cloned(),
        })
    }
}

/// A request's task, carried by its response future and then its body
/// until it ends (dropped).
struct RequestTask {
    /// Started for this request; `None` only while dropped.
    task: Option<SerialTask>,
    /// Where the record goes back to when the request ends.
    home: Option<Arc<Records>>,
}

impl RequestTask {
    /// The quitter the request is tracked by (its connection's).
    fn quitter(&self) -> Option<&Quitter> {
        self.task.as_ref().map(SerialTask::quitter)
    }

    /// Lists the request (see [`SerialTask::start_unlisted`]): on the
    /// thread that runs it, at the first poll of its response.
    #[inline]
    fn list(&mut self) {
        if let Some(task) = &mut self.task {
            task.list();
        }
    }
}

impl Drop for RequestTask {
    /// Ends the request's task, and gives its record back.
    fn drop(&mut self) {
        let Some(mut task) = self.task.take() else {
            return;
        };
        task.end();
        if let Some(home) = &self.home {
            home.give_back(task);
        }
    }
}

impl<S: HttpService> hyper::service::Service<Request<Incoming>> for Tracking<S> {
    type Response = Response<TrackedBody<S::ResBody>>;
    type Error = S::Fails;
    type Future = TrackingResponse<S::Responding>;

    // Inlined into hyper's call site (callgrind counts fewer instructions
    // per request: BENCHMARKS.md, "What was tried", 2026-12-03 night).
    #[inline(always)]
    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let http1 = matches!(
            request.version(),
            Version::HTTP_09 | Version::HTTP_10 | Version::HTTP_11
        );
        let task = self.track(request.method().as_str(), request.uri().path());
        if self.quitter_in_extensions {
            request.extensions_mut().insert(self.quitter.clone());
        }
        TrackingResponse {
            task,
            http1,
            response: self.inner.call(request),
        }
    }
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
    let draining = task
        .and_then(RequestTask::quitter)
        .map_or(true, Quitter::is_draining);
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
    /// A response body that carries its request's task until it has ended.
    /// Everything else (frames, size hint, end) is the inner body's.
    pub struct TrackedBody<B> {
        #[pin]
        body: B,
        task: Option<RequestTask>,
    }
}

impl<B: Body> TrackedBody<B> {
    fn new(body: B, task: Option<RequestTask>) -> Self {
        // An empty body is never polled: the request ends with its head.
        let task = task.filter(|_| !body.is_end_stream());
        TrackedBody { body, task }
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let frame = std::task::ready!(this.body.as_mut().poll_frame(cx));
        // The last frame, an error, or the end: the request is over.
        if !matches!(frame, Some(Ok(_))) || this.body.is_end_stream() {
            *this.task = None;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

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

    fn kept(tracking: &Tracking<()>) -> usize {
        tracking
            .records
            .get()
            .map_or(0, |records| records.free().len())
    }

    #[test]
    fn a_connection_keeps_at_most_its_cap_of_free_records() {
        let connection = Quitter::new("127.0.0.1:50312");
        let tracking = tracking(&connection);
        drop(tracking.track("GET", "/first"));
        assert_eq!(
            kept(&tracking),
            0,
            "the first request's record is used once"
        );

        // More in flight at once than are kept: each makes a record.
        let in_flight: Vec<_> = (0..FREE_RECORDS + 4)
            .map(|_| tracking.track("GET", "/").expect("not quit"))
            .collect();
        assert_eq!(connection.snapshot().task_count(), FREE_RECORDS + 4);
        drop(in_flight);
        assert_eq!(kept(&tracking), FREE_RECORDS);
        assert_eq!(connection.snapshot().task_count(), 0);

        // The next requests take kept records.
        let again = tracking.track("POST", "/again").expect("not quit");
        assert_eq!(kept(&tracking), FREE_RECORDS - 1);
        drop(again);
        assert_eq!(kept(&tracking), FREE_RECORDS);
    }

    #[test]
    fn a_record_named_longer_than_kept_names_is_not_kept() {
        let connection = Quitter::new("127.0.0.1:50312");
        let tracking = tracking(&connection);
        drop(tracking.track("GET", "/first"));
        let long = format!("/{}", "a".repeat(KEPT_NAME));
        let request = tracking.track("GET", &long).expect("not quit");
        assert_eq!(connection.snapshot().quitters[0].unpolled, 1);
        drop(request);
        assert_eq!(kept(&tracking), 0, "its buffer would stay that large");
        drop(tracking.track("GET", "/short"));
        assert_eq!(kept(&tracking), 1);
        assert_eq!(connection.snapshot().task_count(), 0);
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
        let serving = tracking.track("GET", "/").expect("not quit");
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
    fn a_request_after_the_quit_is_served_untracked() {
        let connection = Quitter::new("127.0.0.1:50312");
        let tracking = tracking(&connection);
        drop(tracking.track("GET", "/first"));
        connection.quit();
        assert!(tracking.track("GET", "/late").is_none());
        assert!(connection.is_done());
    }
}
