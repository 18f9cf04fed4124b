//! The tokio HTTP example, run as a subprocess with real signals: the
//! shared scenarios of `support`.
#![cfg(unix)]

#[macro_use]
mod support;

http_scenarios!("tokio_http");
