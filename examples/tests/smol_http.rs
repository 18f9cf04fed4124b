//! The smol HTTP example, run as a subprocess with real signals: the
//! shared scenarios of `support`.
#![cfg(unix)]

#[macro_use]
mod support;

http_scenarios!("smol_http");
