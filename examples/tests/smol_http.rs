//! The smol HTTP example, run as a subprocess with real signals: the
//! shared scenarios of `support`.
#![cfg(unix)]

mod support;

const EXAMPLE: &str = "smol_http";

#[test]
fn get_root_works() {
    support::get_root_works(EXAMPLE);
}

#[test]
fn drain_twenty_slow_on_sigterm() {
    support::drain_twenty_slow_on_sigterm(EXAMPLE);
}

#[test]
fn slow_request_cut_at_deadline() {
    support::slow_request_cut_at_deadline(EXAMPLE);
}

#[test]
fn port_in_use_exits_1() {
    support::port_in_use_exits_1(EXAMPLE);
}

#[test]
fn drain_under_load() {
    support::load::drain_under_load(EXAMPLE);
}
