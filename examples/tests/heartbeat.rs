//! The heartbeat example, run as a subprocess with real signals: its
//! stdout is read line by line (every wait bounded, no sleeps) and the order
//! of the events is checked.
#![cfg(unix)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::Server;

const EXAMPLE: &str = "heartbeat";
/// Everything after the spawn (the build comes before) takes less than this.
const TEST_TIMEOUT: Duration = Duration::from_secs(9);

/// The children beat, are quit and waited for alone after their lifetime,
/// and never beat again; main beats on until SIGTERM, then the report says
/// every task returned and the exit code is 0.
#[test]
fn children_stop_alone_then_main_on_sigterm() {
    // 10 periods of child lifetime: a child beats at least once even if the
    // process stalls for most of it (a loaded CI machine).
    let mut example = Server::spawn(
        EXAMPLE,
        &[
            "--period",
            "50ms",
            "--child-lifetime",
            "500ms",
            "--quit-timeout",
            "5s",
        ],
    );
    let deadline = Instant::now() + TEST_TIMEOUT;

    // Read up to `children stopped` and two more main beats, then signal.
    let mut lines = Vec::new();
    let mut main_beats_after_stop = 0;
    while main_beats_after_stop < 2 {
        let Some(line) = example.next_stdout_line(deadline) else {
            example.fail("stdout closed before `children stopped` and two more main beats");
        };
        if line.starts_with("main: beat ") && lines.iter().any(|l| l == "children stopped") {
            main_beats_after_stop += 1;
        }
        lines.push(line);
    }
    example.signal(libc::SIGTERM);
    while let Some(line) = example.next_stdout_line(deadline) {
        lines.push(line);
    }
    let status = example.wait_exit(deadline.saturating_duration_since(Instant::now()));

    let quit_at = only_index(&mut example, &lines, "main: quitting children");
    let stopped_at = only_index(&mut example, &lines, "children stopped");
    example.check(quit_at < stopped_at, "`children stopped` before the quit");
    for child in ["child 1", "child 2"] {
        let at = only_index(&mut example, &lines, &format!("{child}: stopped"));
        example.check(
            quit_at < at && at < stopped_at,
            &format!("`{child}: stopped` is not between the quit and `children stopped`"),
        );
    }
    let main_stopped = only_index(&mut example, &lines, "main: stopped");
    example.check(
        main_stopped == lines.len() - 1,
        "`main: stopped` is not the last line",
    );

    let beats = beats_by_name(&mut example, &lines);
    for (name, indices) in &beats {
        if name.starts_with("child ") {
            // Before the quit line, hence also before `children stopped`.
            example.check(
                indices.iter().all(|&at| at < quit_at),
                &format!("{name} beat after `main: quitting children`"),
            );
        } else if *name != "main" {
            example.fail(&format!("a beat of an unknown heartbeat {name:?}"));
        }
    }
    for child in ["child 1", "child 2"] {
        example.check(
            beats.get(child).is_some_and(|b| !b.is_empty()),
            &format!("{child} never beat"),
        );
    }
    let Some(main_beats) = beats.get("main") else {
        example.fail("main never beat");
    };
    let main_after = main_beats.iter().filter(|&&at| at > stopped_at).count();
    example.check(
        main_after >= 2,
        "main did not beat on after `children stopped`",
    );
    example.check(
        main_beats.iter().all(|&at| at < main_stopped),
        "main beat after `main: stopped`",
    );

    example.check(
        status.code() == Some(0),
        &format!("expected exit code 0 after SIGTERM, got {status}"),
    );
    example.check_output_contains("Received quit from 'OS interrupt/termination signal' (SIGTERM)");
    example.check_output_contains("Successfully quit application, all tracked tasks returned");
    example.check_no_panic();
}

/// A signal before the children's lifetime quits them with the root: they
/// stop, the sub-tree is never quit on its own, and the exit code is 0.
#[test]
fn sigterm_before_child_lifetime_stops_everything() {
    let mut example = Server::spawn(
        EXAMPLE,
        &[
            "--period",
            "50ms",
            "--child-lifetime",
            "60s",
            "--quit-timeout",
            "5s",
        ],
    );
    let deadline = Instant::now() + TEST_TIMEOUT;

    // Wait until every heartbeat has beaten twice.
    let mut lines = Vec::new();
    let twice = ["main: beat 2", "child 1: beat 2", "child 2: beat 2"];
    while !twice.iter().all(|beat| lines.iter().any(|l| l == beat)) {
        let Some(line) = example.next_stdout_line(deadline) else {
            example.fail("stdout closed before every heartbeat beat twice");
        };
        lines.push(line);
    }
    example.signal(libc::SIGTERM);
    while let Some(line) = example.next_stdout_line(deadline) {
        lines.push(line);
    }
    let status = example.wait_exit(deadline.saturating_duration_since(Instant::now()));

    for name in ["child 1", "child 2", "main"] {
        only_index(&mut example, &lines, &format!("{name}: stopped"));
    }
    for never in ["main: quitting children", "children stopped"] {
        example.check(
            !lines.iter().any(|l| l == never),
            &format!("{never:?} printed, but the lifetime had not run out"),
        );
    }
    beats_by_name(&mut example, &lines);
    example.check(
        status.code() == Some(0),
        &format!("expected exit code 0 after SIGTERM, got {status}"),
    );
    example.check_output_contains("Successfully quit application, all tracked tasks returned");
    example.check_no_panic();
}

/// A bad flag prints the usage and exits with code 2.
#[test]
fn bad_flag_exits_2() {
    let mut example = Server::spawn(EXAMPLE, &["--period", "soon"]);
    let status = example.wait_exit(TEST_TIMEOUT);
    example.check(
        status.code() == Some(2),
        &format!("expected exit code 2, got {status}"),
    );
    example.check_output_contains("usage: heartbeat");
    example.check_no_panic();
}

/// The index of the one line equal to `wanted`; fails if there is not
/// exactly one.
fn only_index(example: &mut Server, lines: &[String], wanted: &str) -> usize {
    let found: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == wanted).collect();
    match found[..] {
        [at] => at,
        _ => example.fail(&format!(
            "expected one line {wanted:?}, found {}",
            found.len()
        )),
    }
}

/// The line indices of each heartbeat's `NAME: beat N` lines, after
/// checking that each one counts 1, 2, 3, … in order. Fails on a line that
/// is neither a beat nor one of the example's other lines.
fn beats_by_name<'a>(example: &mut Server, lines: &'a [String]) -> BTreeMap<&'a str, Vec<usize>> {
    let mut beats: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (at, line) in lines.iter().enumerate() {
        if let Some((name, n)) = line.split_once(": beat ") {
            let seen = beats.entry(name).or_default();
            let expected = seen.len() + 1;
            example.check(
                n.parse::<usize>() == Ok(expected),
                &format!("line {at} {line:?}: expected beat {expected} of {name}"),
            );
            seen.push(at);
        } else {
            let known = line == "main: quitting children"
                || line == "children stopped"
                || line.ends_with(": stopped");
            example.check(known, &format!("unexpected line {line:?}"));
        }
    }
    beats
}
