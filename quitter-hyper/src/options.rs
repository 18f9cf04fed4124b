//! [`ServeOptions`]: what a serve helper does beyond its defaults.
//!
//! Invariant: every option costs nothing when it is off (the default).

/// What `serve_with` does beyond `serve`'s defaults.
///
/// ```
/// use quitter_hyper::ServeOptions;
///
/// // Handlers find the connection's quitter in each request's extensions
/// // (`request.extensions().get::<Quitter>()`, axum's `Extension<Quitter>`).
/// let options = ServeOptions::new().quitter_in_extensions(true);
/// # let _ = options;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Put the connection's quitter in each request's extensions.
    pub quitter_in_extensions: bool,
}

impl ServeOptions {
    /// The defaults: nothing more than `serve` does.
    pub fn new() -> Self {
        ServeOptions::default()
    }

    /// Put the connection's quitter in each request's extensions, so a
    /// handler can end a long response (SSE, long poll, a streamed body)
    /// on its [`quitted()`](quitter_core::Quitter::quitted) or answer a
    /// readiness check with [`is_draining()`](quitter_core::Quitter::is_draining).
    /// Off by default: it costs three allocations per request (about 770
    /// instructions, a fifth of what serving adds to a trivial request).
    /// A handler can capture the quitter given to `serve` instead, which
    /// quits and drains at the same times.
    pub fn quitter_in_extensions(mut self, put: bool) -> Self {
        self.quitter_in_extensions = put;
        self
    }
}
