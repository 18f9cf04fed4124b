//! [`Tracking`]: the service wrapper of one connection. It tracks each
//! request as a task of the connection's quitter, hands handlers that
//! quitter, and asks HTTP/1 clients to close while draining.
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
//! - an HTTP/1 response gets `Connection: close` if the quitter is draining
//!   when the response is ready (not when the request came: a drain that
//!   starts during a long request still sends its client away);
//! - in an abortable quitter (the adapters' `serve` makes it so), the
//!   request's task is abortable: if its connection is aborted (cut at a
//!   deadline) while the request is in flight, the task is reported as
//!   aborted, by its name (method and path) and age.

use std::future::{pending, Future, Pending};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::task::noop_waker;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{HeaderValue, CONNECTION};
use hyper::{Request, Response, StatusCode, Version};
use pin_project_lite::pin_project;
use quitter_core::{OnAbort, Quitter, Tracked};

use crate::HttpService;

/// One connection's service: `inner` with each request tracked by
/// `quitter` (the connection's). Made by
/// [`serve_connection`](crate::serve_connection).
#[derive(Debug)]
pub struct Tracking<S> {
    inner: S,
    quitter: Quitter,
    /// Where the requests' tasks are recorded as spawned.
    spawned_at: &'static Location<'static>,
}

impl<S> Tracking<S> {
    pub(crate) fn new(inner: S, quitter: Quitter, spawned_at: &'static Location<'static>) -> Self {
        Tracking {
            inner,
            quitter,
            spawned_at,
        }
    }
}

/// A request's task: a tracked token that never completes by itself (it
/// ends when dropped), boxed so that it can move into the body.
type RequestTask = Pin<Box<Tracked<Pending<()>>>>;

impl<S: HttpService> hyper::service::Service<Request<Incoming>> for Tracking<S> {
    type Response = Response<TrackedBody<S::ResBody>>;
    type Error = S::Fails;
    type Future = TrackingResponse<S::Responding>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        // `METHOD /path`, built by hand: `format!` costs more than the rest
        // of the name's work (measured with callgrind).
        let (method, path) = (request.method().as_str(), request.uri().path());
        let mut name = String::with_capacity(method.len() + 1 + path.len());
        name.push_str(method);
        name.push(' ');
        name.push_str(path);
        let task = self
            .quitter
            .track_future_at(name, pending(), self.spawned_at);
        let task = task.ok().map(|task| {
            Box::pin(if self.quitter.is_abortable() {
                // Nothing to cancel: the task is the request's name tag, and
                // an abort drops it with the connection.
                task.abort_by(OnAbort::Wake(noop_waker()))
            } else {
                task
            })
        });
        let http1 = matches!(
            request.version(),
            Version::HTTP_09 | Version::HTTP_10 | Version::HTTP_11
        );
        request.extensions_mut().insert(self.quitter.clone());
        TrackingResponse {
            task,
            listed: false,
            draining: http1.then(|| self.quitter.clone()),
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
        // HTTP/1 only: the quitter to ask, when the head is ready, whether
        // to send `Connection: close`.
        draining: Option<Quitter>,
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
                // Lists the task; `pending()` itself does nothing.
                let _ = task.as_mut().poll(cx);
            }
        }
        let output = std::task::ready!(this.response.poll(cx));
        let task = this.task.take();
        Poll::Ready(output.map(|mut response| {
            if let Some(quitter) = this.draining.take() {
                if quitter.is_draining() && response.status() != StatusCode::SWITCHING_PROTOCOLS {
                    let close = HeaderValue::from_static("close");
                    response.headers_mut().insert(CONNECTION, close);
                }
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
