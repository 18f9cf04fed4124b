//! The staged example, run as a subprocess with a real SIGTERM: the lame
//! duck comes first (draining, still serving), then the stages in order,
//! and the report is the timeline. Every wait is bounded, nothing sleeps.
#![cfg(unix)]

mod support;

use std::time::{Duration, Instant};

use support::Server;

const EXAMPLE: &str = "staged";
/// Everything after the spawn takes less than this (the longest run waits
/// out a 1 s budget).
const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs the example with `args`, sends SIGTERM once it is ready, and
/// returns its stdout lines after `ready`, with the server for checks.
fn run_to_exit(args: &[&str]) -> (Server, Vec<String>, i32) {
    let mut example = Server::spawn(EXAMPLE, args);
    let deadline = Instant::now() + TEST_TIMEOUT;
    match example.next_stdout_line(deadline) {
        Some(line) if line == "ready" => {}
        other => example.fail(&format!("expected `ready` first, got {other:?}")),
    }
    example.signal(libc::SIGTERM);
    let mut lines = Vec::new();
    while let Some(line) = example.next_stdout_line(deadline) {
        lines.push(line);
    }
    let status = example.wait_exit(deadline.saturating_duration_since(Instant::now()));
    let code = status.code().unwrap_or(-1);
    (example, lines, code)
}

#[test]
fn sigterm_drains_then_stops_the_stages_in_order() {
    let (mut example, lines, code) = run_to_exit(&["--lame-duck", "200ms"]);
    let expected = [
        "http: draining, /ready answers 503",
        "http: last request done",
        "workers: quit, finishing the job",
        "workers: stopped",
        "telemetry: flushed",
    ];
    example.check(lines == expected, &format!("stdout in order: {lines:?}"));
    example.check(code == 0, &format!("exit code {code}"));
    let stderr = example.stderr();
    for needle in [
        "Received quit from 'OS interrupt/termination signal' (SIGTERM)\n",
        "Lame duck: draining for ",
        "Successfully quit application",
        "Stage 1/3 of 'main' (http): quit at +",
        "Stage 2/3 of 'main' (workers): quit at +",
        "Stage 3/3 of 'main' (telemetry): quit at +",
    ] {
        example.check(stderr.contains(needle), &format!("{needle:?} in {stderr}"));
    }
    example.check(
        !stderr.contains("cut short"),
        "one SIGTERM: the full lame duck",
    );
}

#[test]
fn a_hung_worker_overruns_its_budget_and_telemetry_still_flushes() {
    let (mut example, lines, code) =
        run_to_exit(&["--lame-duck", "0s", "--quit-timeout", "3s", "--hang-worker"]);
    example.check(
        lines.last().map(String::as_str) == Some("telemetry: flushed"),
        &format!("telemetry flushed after the budget: {lines:?}"),
    );
    example.check(
        !lines.iter().any(|l| l == "workers: stopped"),
        "the worker hangs",
    );
    example.check(code == 1, &format!("exit code {code}"));
    let stderr = example.stderr();
    for needle in [
        "Failed to quit application",
        "Stage 2/3 of 'main' (workers): quit at +",
        ", not done, overran its budget of 1.000s\n\t- main/workers: worker (spawned at examples/staged.rs:",
        "Stage 3/3 of 'main' (telemetry): quit at +",
    ] {
        example.check(stderr.contains(needle), &format!("{needle:?} in {stderr}"));
    }
}

#[test]
fn with_abort_the_hung_worker_is_aborted_at_its_budget() {
    let (mut example, lines, code) = run_to_exit(&[
        "--lame-duck",
        "0s",
        "--quit-timeout",
        "20s",
        "--hang-worker",
        "--abort",
    ]);
    example.check(
        lines.iter().any(|l| l == "workers: job aborted"),
        &format!("the job's future was dropped: {lines:?}"),
    );
    example.check(
        lines.last().map(String::as_str) == Some("telemetry: flushed"),
        &format!("telemetry flushed after the abort: {lines:?}"),
    );
    example.check(code == 1, &format!("an abort is not a clean exit: {code}"));
    let stderr = example.stderr();
    for needle in [
        "Stage 2/3 of 'main' (workers): quit at +",
        ", overran its budget of 1.000s, 1 task(s) aborted\n",
        "Stage 3/3 of 'main' (telemetry): quit at +",
        "Task worker (spawned at examples/staged.rs:",
        "on quitter 'main/workers' was aborted",
    ] {
        example.check(stderr.contains(needle), &format!("{needle:?} in {stderr}"));
    }
    example.check(
        !stderr.contains("\t- main/workers: worker"),
        "aborted, not hung",
    );
}
