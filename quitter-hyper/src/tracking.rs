//! [`Tracking`]: the service wrapper of one connection. It tracks each
//! request as a task of the connection's quitter, hands handlers that
//! quitter, and asks HTTP/1 clients to close while draining.
//!
//! Invariants:
//! - a request is tracked (named `METHOD /path`) before the inner service
//!   is called, so a handler that hangs in its very first poll is named;
//!   the task ends when the response head is ready or the response future
//!   is dropped (the client went away, or the connection was dropped);
//! - tracking never costs a request: once the quitter has quit, the task is
//!   refused and the request is served untracked. (So the task is a token
//!   next to the response future, not the future itself: a refused
//!   [`Quitter::track_future`] drops what it was given.)
//! - an HTTP/1 response gets `Connection: close` if the quitter is draining
//!   when the response is ready (not when the request came: a drain that
//!   starts during a long request still sends its client away);
//! - in an abortable quitter (the adapters' `serve` makes it so), the
//!   request's task is abortable: if its connection is aborted (cut at a
//!   deadline) while the request is in flight, the task is reported as
//!   aborted, by its name (method and path) and age.

use std::future::{pending, Future, Pending};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::task::noop_waker;
use hyper::body::Incoming;
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
}

impl<S> Tracking<S> {
    pub(crate) fn new(inner: S, quitter: Quitter) -> Self {
        Tracking { inner, quitter }
    }
}

impl<S: HttpService> hyper::service::Service<Request<Incoming>> for Tracking<S> {
    type Response = Response<S::ResBody>;
    type Error = S::Fails;
    type Future = TrackingResponse<S::Responding>;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let name = format!("{} {}", request.method(), request.uri().path());
        let task = self.quitter.track_future(name, pending()).ok().map(|task| {
            if self.quitter.is_abortable() {
                // Nothing to cancel: the task is the request's name tag, and
                // an abort drops it with the connection.
                task.abort_by(OnAbort::Wake(noop_waker()))
            } else {
                task
            }
        });
        let http1 = matches!(
            request.version(),
            Version::HTTP_09 | Version::HTTP_10 | Version::HTTP_11
        );
        request.extensions_mut().insert(self.quitter.clone());
        TrackingResponse {
            task,
            draining: http1.then(|| self.quitter.clone()),
            response: self.inner.call(request),
        }
    }
}

pin_project! {
    /// The response future of [`Tracking`]: the inner service's, with the
    /// request's task beside it.
    pub struct TrackingResponse<F> {
        // The request's task: `None` once the head is ready, or if refused.
        #[pin]
        task: Option<Tracked<Pending<()>>>,
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
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let Some(task) = this.task.as_mut().as_pin_mut() {
            // Lists the task at the first poll; `pending()` itself does
            // nothing, and never completes: the task ends when dropped.
            let _ = task.poll(cx);
        }
        let mut output = std::task::ready!(this.response.poll(cx));
        this.task.set(None);
        if let (Ok(response), Some(quitter)) = (&mut output, this.draining.take()) {
            if quitter.is_draining() && response.status() != StatusCode::SWITCHING_PROTOCOLS {
                let close = HeaderValue::from_static("close");
                response.headers_mut().insert(CONNECTION, close);
            }
        }
        Poll::Ready(output)
    }
}
