//! [`Tracking`]: the service wrapper of one connection. It tracks each
//! request as a task of the connection's quitter, hands handlers that
//! quitter if asked to ([`ServeOptions`]), and asks HTTP/1 clients to
//! close while draining.
//!
//! Invariants:
//! - a request is tracked (named `METHOD /path`) before the inner service
//!   is called, so a handler that hangs in its very first poll is named;
//!   the task lives until the response's body has ended ([`TrackedBody`]:
//!   its last frame, an error, or dropped), so a request whose head went
//!   out but whose body is still coming (a slow or streamed response) is
//!   still the request in flight, with its age;
//! - tracking never costs a request: once the quitter has quit, the task is
//!   refused and the request is served untracked. (So the task is a token
//!   next to the response future, not the future itself: a refused
//!   [`Quitter::track_future`] drops what it was given.) The token is
//!   boxed, as it moves from the response future to the body once listed;
//! - HTTP/1 serves one request at a time, so from a connection's second
//!   request on, its requests share one task record ([`SerialTask`]: made
//!   once, renamed and listed per request, nothing allocated); a request
//!   that finds it still in use (its predecessor's body not yet dropped)
//!   gets a task of its own, as every HTTP/2 stream does. A connection
//!   that serves a single request never makes the record;
//! - an HTTP/1 response gets `Connection: close` if the quitter is draining
//!   when the response is ready (not when the request came: a drain that
//!   starts during a long request still sends its client away);
//! - in an abortable quitter (the adapters' `serve` makes it so), the
//!   request's task is abortable: if its connection is aborted (cut at a
//!   deadline) while the request is in flight, the task is reported as
//!   aborted, by its name (method and path) and age.

use std::cell::{Cell, OnceCell};
use std::future::{pending, Future, Pending};
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures_util::task::noop_waker;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONNECTION};
use hyper::{Request, Response, StatusCode, Version};
use pin_project_lite::pin_project;
use quitter_core::{OnAbort, Quitter, SerialTask, Tracked};

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
    /// HTTP/1's requests come one at a time: from the second on, they
    /// share one task record (a connection that serves one request, as
    /// under churn, never pays for it).
    serial: OnceCell<Arc<SerialRecord>>,
    /// An HTTP/1 request came already.
    had_http1: Cell<bool>,
    /// Put `quitter` in each request's extensions.
    quitter_in_extensions: bool,
}

/// The task record an HTTP/1 connection's requests share, and its
/// quitter (to ask about draining without a lock).
#[derive(Debug)]
struct SerialRecord {
    quitter: Quitter,
    task: Mutex<SerialTask>,
}

impl SerialRecord {
    /// The record, locked. A panic while the lock was held left it
    /// consistent (a task ends or starts whole): poisoning is passed over.
    fn task(&self) -> MutexGuard<'_, SerialTask> {
        self.task.lock().unwrap_or_else(PoisonError::into_inner)
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
            serial: OnceCell::new(),
            had_http1: Cell::new(false),
            quitter_in_extensions: options.quitter_in_extensions,
        }
    }

    /// The request's task: the connection's shared record for HTTP/1 (if
    /// it is free), else a task of its own (HTTP/2's streams run at once).
    /// `None` once the quitter has quit.
    fn track(&self, method: &str, path: &str, http1: bool) -> Option<RequestTask> {
        let write_name = |name: &mut String| {
            name.reserve(method.len() + 1 + path.len());
            name.push_str(method);
            name.push(' ');
            name.push_str(path);
        };
        if http1 && self.had_http1.replace(true) {
            let record = self.serial.get_or_init(|| {
                Arc::new(SerialRecord {
                    quitter: self.quitter.clone(),
                    task: Mutex::new(self.quitter.serial_task_at(self.spawned_at)),
                })
            });
            let mut task = record.task();
            // Busy only if the last request's body is still alive.
            if !task.is_running() {
                return task
                    .start(write_name)
                    .then(|| RequestTask::Serial(record.clone()));
            }
        }
        // `METHOD /path`, built by hand: `format!` costs more than the rest
        // of the name's work (measured with callgrind).
        let mut name = String::new();
        write_name(&mut name);
        let task = self
            .quitter
            .track_future_at(name, pending(), self.spawned_at)
            .ok()?;
        Some(RequestTask::Own(Box::pin(if self.quitter.is_abortable() {
            // Nothing to cancel: the task is the request's name tag, and
            // an abort drops it with the connection.
            task.abort_by(OnAbort::Wake(noop_waker()))
        } else {
            task
        })))
    }
}

/// A request's task, carried by its response future and then its body
/// until it ends (dropped).
enum RequestTask {
    /// The connection's shared record (HTTP/1), started for this request;
    /// dropping this ends it.
    Serial(Arc<SerialRecord>),
    /// A task of its own: a tracked token that never completes by itself,
    /// boxed so that it can move into the body once listed (at the
    /// response future's first poll).
    Own(Pin<Box<Tracked<Pending<()>>>>),
}

impl RequestTask {
    /// Lists an own task (the shared record is listed when started).
    fn list(&mut self, cx: &mut Context<'_>) {
        if let RequestTask::Own(task) = self {
            // Lists the task; `pending()` itself does nothing.
            let _ = task.as_mut().poll(cx);
        }
    }
}

impl Drop for RequestTask {
    fn drop(&mut self) {
        if let RequestTask::Serial(record) = self {
            record.task().end();
        }
    }
}

impl<S: HttpService> hyper::service::Service<Request<Incoming>> for Tracking<S> {
    type Response = Response<TrackedBody<S::ResBody>>;
    type Error = S::Fails;
    type Future = TrackingResponse<S::Responding>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let http1 = matches!(
            request.version(),
            Version::HTTP_09 | Version::HTTP_10 | Version::HTTP_11
        );
        let task = self.track(request.method().as_str(), request.uri().path(), http1);
        if self.quitter_in_extensions {
            request.extensions_mut().insert(self.quitter.clone());
        }
        // HTTP/1 asks, when the head is ready, whether to send
        // `Connection: close`: the shared record's quitter, else a handle.
        let serial = matches!(task, Some(RequestTask::Serial(_)));
        TrackingResponse {
            task,
            listed: false,
            draining: (http1 && !serial).then(|| self.quitter.clone()),
            http1,
            response: self.inner.call(request),
        }
    }
}

pin_project! {
    /// The response future of [`Tracking`]: the inner service's, with the
    /// request's task beside it.
    pub struct TrackingResponse<F> {
        // The request's task (`None` if refused), handed to the body.
        task: Option<RequestTask>,
        listed: bool,
        // HTTP/1 without the shared record: the quitter to ask, when the
        // head is ready, whether to send `Connection: close`.
        draining: Option<Quitter>,
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if !*this.listed {
            *this.listed = true;
            if let Some(task) = this.task {
                task.list(cx);
            }
        }
        let output = std::task::ready!(this.response.poll(cx));
        let task = this.task.take();
        let draining = match (&task, this.draining.take()) {
            (Some(RequestTask::Serial(record)), _) => *this.http1 && record.quitter.is_draining(),
            (_, Some(quitter)) => quitter.is_draining(),
            _ => false,
        };
        Poll::Ready(output.map(|mut response| {
            if draining && response.status() != StatusCode::SWITCHING_PROTOCOLS {
                let close = HeaderValue::from_static("close");
                response.headers_mut().insert(CONNECTION, close);
            }
            response.map(|body| TrackedBody::new(body, task))
        }))
    }
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
