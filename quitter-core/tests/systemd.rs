//! `Shutdown::systemd` against a stand-in for systemd on an abstract
//! address (`NOTIFY_SOCKET=@name`, as systemd and container runtimes may
//! set it), with the progress lines turned off: the messages still come,
//! and so do the timeout extensions while the drain moves (the ticks go
//! on for systemd's sake). One test in this binary: it sets the process's
//! environment.
#![cfg(all(feature = "systemd", target_os = "linux"))]

mod common;

use std::future::ready;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::thread;
use std::time::Duration;

use common::{block_on, go, hung, Threads};
use quitter_core::{Quitter, Shutdown};

#[test]
fn abstract_notify_socket_hears_every_phase_and_extensions_without_progress_lines() {
    let name = format!("quitter-test-notify-{}", std::process::id());
    let systemd =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    std::env::set_var("NOTIFY_SOCKET", format!("@{name}"));

    let root = Quitter::new("main");
    // Two tasks: one ends at the first progress message, the other after
    // the next one; each end is progress.
    let (release_first, first) = hung();
    let (release_second, second) = hung();
    let workers = [
        go(&root, "first", first).unwrap(),
        go(&root, "second", second).unwrap(),
    ];
    // The shutdown (not `Send`) is made on its own thread.
    let runner = thread::spawn(move || {
        let shutdown = Shutdown::<Threads>::new(root)
            .timeout(Duration::from_secs(30))
            .progress_every(None)
            .systemd()
            .source("test", ready(()));
        block_on(shutdown.run())
    });

    let mut messages = Vec::new();
    let mut releases = [Some(release_first), Some(release_second)].into_iter();
    loop {
        let mut buffer = [0u8; 4096];
        let n = systemd.recv(&mut buffer).expect("a message within 20 s");
        let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
        let last = message.starts_with("STATUS=Successfully quit");
        if message.starts_with("STATUS=Shutting down") {
            // Each progress message lets one more task end.
            if let Some(Some(release)) = releases.next() {
                release.send(()).unwrap();
            }
        }
        messages.push(message);
        if last {
            break;
        }
    }
    let report = runner.join().unwrap();
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(report.is_clean(), "{report}");
    let all = format!("{messages:#?}");
    assert_eq!(messages[0], "READY=1\nSTATUS=Running\n", "{all}");
    assert!(
        messages[1].starts_with("STOPPING=1\nSTATUS=Stopping: quit from 'test'"),
        "{all}"
    );
    assert_eq!(
        messages[2], "STATUS=Quitting: 2 task(s) left\nEXTEND_TIMEOUT_USEC=3000000\n",
        "{all}"
    );
    // The ticks are the default second's, also with the lines off; the
    // first tick finds two tasks (no progress since the quit), the next
    // one (progress: an extension).
    assert!(
        messages[3].starts_with("STATUS=Shutting down: 2 task(s) left"),
        "{all}"
    );
    assert!(!messages[3].contains("EXTEND_TIMEOUT_USEC"), "{all}");
    assert!(
        messages[4].starts_with("STATUS=Shutting down: 1 task(s) left"),
        "{all}"
    );
    assert!(
        messages[4].ends_with("\nEXTEND_TIMEOUT_USEC=3000000\n"),
        "{all}"
    );
}
