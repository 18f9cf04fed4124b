//! The README's quick start, verbatim (compiled by CI, so the README's code
//! stays true): an axum app that loses no request on SIGTERM.

use quitter_tokio::{Quitter, Shutdown};
use std::time::Duration;

#[rustfmt::skip] // its comments are aligned as in the README
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Quitter::new("main");
    let shutdown = Shutdown::new(root.clone())
        .lame_duck(Duration::from_secs(5)) // 1st signal: draining; responses say Connection: close, h2 gets GOAWAY
        .timeout(Duration::from_secs(30))  // then the quit: in-flight requests finish within this
        .signals()?;                       // SIGINT/SIGTERM (a 2nd skips the lame duck, a 3rd forces)
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello world!\n" }));
    let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
    quitter_tokio::http::serve(listener, &root.child("http")?, app)?; // every connection and request tracked
    shutdown.run().await.exit() // prints the report; exit 0, 1 if a request hung, 130 if forced
}
