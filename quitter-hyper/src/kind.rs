//! What `serve` can serve: a hyper service, or a tower
//! service made into one with hyper-util's [`TowerToHyperService`].
//!
//! [`HttpService`] names, once, every bound hyper's connections and tokio's
//! spawn put on a service (it is implemented for every hyper service that
//! meets them). [`IntoHttpService`] has one implementation per kind of
//! service, told apart by a marker type ([`Hyper`], [`Tower`]) that the
//! compiler infers: a type that is a service of one kind only (all of them
//! in practice) needs no annotation.

use std::error::Error as StdError;
use std::future::Future;

use hyper::body::{Body, Buf, Incoming};
use hyper::{Request, Response};
use hyper_util::service::TowerToHyperService;

/// What hyper and tokio ask of an error: boxed, sent between threads.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// A hyper [`Service`](hyper::service::Service) that
/// `serve` can run: cloned per connection and sent to other
/// threads, with a `Send` future and response body. Implemented for every
/// hyper service that meets these bounds; never implement it yourself.
pub trait HttpService:
    hyper::service::Service<
        Request<Incoming>,
        Response = Response<<Self as HttpService>::ResBody>,
        Error = <Self as HttpService>::Fails,
        Future = <Self as HttpService>::Responding,
    > + Clone
    + Send
    + 'static
{
    /// The response body.
    type ResBody: Body<Data = Self::Chunk, Error = Self::BodyFails> + Send + 'static;
    /// A chunk of the response body.
    type Chunk: Buf + Send + 'static;
    /// The response body's error.
    type BodyFails: Into<BoxError>;
    /// The service's error.
    type Fails: Into<BoxError>;
    /// The service's response future.
    type Responding: Future<Output = Result<Response<Self::ResBody>, Self::Fails>> + Send + 'static;
}

impl<S, B> HttpService for S
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send + 'static,
    B::Error: Into<BoxError>,
{
    type ResBody = B;
    type Chunk = B::Data;
    type BodyFails = B::Error;
    type Fails = S::Error;
    type Responding = S::Future;
}

/// Marks a hyper [`Service`](hyper::service::Service) (e.g. hyper's
/// `service_fn`) for [`IntoHttpService`]; inferred, never written.
#[derive(Debug)]
pub enum Hyper {}

/// Marks a tower `Service` (an axum `Router`, tower's `service_fn`, a
/// `ServiceBuilder` stack) for [`IntoHttpService`]; inferred, never
/// written.
#[derive(Debug)]
pub enum Tower {}

/// A service `serve` takes: any hyper or tower service of
/// `Request<Incoming>` (with a `Send` future and body, cloneable). `Kind`
/// ([`Hyper`] or [`Tower`]) is inferred.
pub trait IntoHttpService<Kind> {
    /// The hyper service it becomes.
    type Service: HttpService;

    /// Makes it a hyper service.
    fn into_http_service(self) -> Self::Service;
}

impl<S: HttpService> IntoHttpService<Hyper> for S {
    type Service = S;

    fn into_http_service(self) -> S {
        self
    }
}

impl<S> IntoHttpService<Tower> for S
where
    S: tower_service::Service<Request<Incoming>> + Clone,
    TowerToHyperService<S>: HttpService,
{
    type Service = TowerToHyperService<S>;

    fn into_http_service(self) -> TowerToHyperService<S> {
        TowerToHyperService::new(self)
    }
}
