//! The systemd contracts, with stand-ins for systemd: a unix datagram
//! socket as `$NOTIFY_SOCKET` (what `sd_notify(3)` writes to), and a
//! listener bound here and passed as descriptor 3 with `LISTEN_FDS=1` and
//! the child's own pid in `LISTEN_PID` (what a `.socket` unit does).

use std::io::{ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{slow_client, HttpConn, Server, IO_TIMEOUT, SIGNAL_SOURCE};

/// A notify socket in the temp dir, removed on drop.
struct NotifySocket {
    path: PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    fn bind(example: &str) -> NotifySocket {
        let path = std::env::temp_dir().join(format!(
            "quitter-notify-{example}-{}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        NotifySocket { path, socket }
    }

    /// The next datagram, or `None` if none comes within `timeout`.
    fn next(&self, timeout: Duration) -> Option<(Instant, String)> {
        self.socket
            .set_read_timeout(Some(timeout))
            .expect("read timeout");
        let mut buffer = [0u8; 4096];
        match self.socket.recv(&mut buffer) {
            Ok(n) => Some((
                Instant::now(),
                String::from_utf8_lossy(&buffer[..n]).into_owned(),
            )),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("reading the notify socket: {e}"),
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The value of `KEY=` in a notification, if it has one.
fn field<'m>(message: &'m str, key: &str) -> Option<&'m str> {
    message
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
}

/// The task count of a `STATUS=Shutting down: N task(s) left …` line.
fn tasks_left(message: &str) -> Option<usize> {
    let status = field(message, "STATUS")?;
    let rest = status
        .strip_prefix("Shutting down: ")
        .or_else(|| status.strip_prefix("Quitting: "))?;
    rest.split(' ').next()?.parse().ok()
}

/// Run under a stand-in systemd (`$NOTIFY_SOCKET`), with a lame duck and
/// two slow requests in flight at SIGTERM (1.2 s and 4.5 s), progress
/// every second: the messages come in order (READY=1; STOPPING=1 with
/// the cause and the lame duck, extended by it; the quit, extended; the
/// progress; the verdict), and a progress message extends the timeout
/// exactly when fewer tasks are left than at the last extension: after
/// the short request ends it does, while only the long one is left it
/// does not.
pub fn notify_messages_in_order(example: &str) {
    let notify = NotifySocket::bind(example);
    let path = notify.path.clone();
    let mut server = Server::spawn_with(
        example,
        &[
            "--addr",
            "127.0.0.1:0",
            "--lame-duck",
            "300ms",
            "--shutdown-timeout",
            "10s",
            "--quit-timeout",
            "20s",
        ],
        |command| {
            command.env("NOTIFY_SOCKET", &path);
        },
    );
    let addr = server.wait_listening();
    // Read as they come, on a thread: each message's time is when it
    // arrived (compared below with when the short request was answered).
    let (message_tx, message_rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        while let Some(message) = notify.next(Duration::from_secs(30)) {
            let done =
                message.1.contains("STATUS=Successfully") || message.1.contains("STATUS=Failed");
            if message_tx.send(message).is_err() || done {
                break;
            }
        }
    });
    let mut messages: Vec<(Instant, String)> = Vec::new();
    match message_rx.recv_timeout(IO_TIMEOUT) {
        Ok(message) => messages.push(message),
        Err(_) => server.fail("no READY=1 on the notify socket"),
    }

    // Two requests provably being served (their heads were read).
    let (sent_tx, sent_rx) = mpsc::channel();
    let clients: Vec<_> = [1200, 4500]
        .into_iter()
        .map(|ms| {
            let sent_tx = sent_tx.clone();
            thread::spawn(move || slow_client(addr, ms, &sent_tx))
        })
        .collect();
    for _ in 0..2 {
        if !matches!(sent_rx.recv_timeout(IO_TIMEOUT), Ok(Ok(()))) {
            server.fail("a slow request was not in flight before the signal");
        }
    }
    server.signal(libc::SIGTERM);
    let mut answered = Vec::new();
    for client in clients {
        match client.join().expect("client thread") {
            Ok(at) => answered.push(at),
            Err(e) => server.fail(&format!("an in-flight request was not served: {e}")),
        }
    }
    let status = server.wait_exit(Duration::from_secs(20));
    server.check(status.code() == Some(0), "exit code 0");
    // The reader ends at the verdict (or 30 s without a message).
    reader.join().expect("reader thread");
    messages.extend(message_rx.try_iter());
    let texts: Vec<&str> = messages.iter().map(|(_, text)| text.as_str()).collect();
    let all = format!("{texts:#?}");
    let check = |server: &mut Server, ok: bool, what: &str| {
        server.check(ok, &format!("{what}; the messages: {all}"));
    };

    check(&mut server, texts.len() >= 5, "at least 5 messages");
    check(
        &mut server,
        field(texts[0], "READY") == Some("1") && field(texts[0], "STOPPING").is_none(),
        "READY=1 first",
    );
    let stopping = texts[1];
    check(
        &mut server,
        field(stopping, "STOPPING") == Some("1")
            && field(stopping, "STATUS").is_some_and(|s| {
                s.contains(SIGNAL_SOURCE) && s.contains("SIGTERM") && s.contains("lame duck")
            })
            // The lame duck (300 ms) plus the keep-alive (3 ticks of 1 s).
            && field(stopping, "EXTEND_TIMEOUT_USEC") == Some("3300000"),
        "STOPPING=1 next, with the cause, the lame duck and its extension",
    );
    check(
        &mut server,
        tasks_left(texts[2]).is_some_and(|n| n >= 4)
            && field(texts[2], "STATUS").is_some_and(|s| s.starts_with("Quitting: "))
            && field(texts[2], "EXTEND_TIMEOUT_USEC") == Some("3000000"),
        "the quit next, with the tasks left (2 connections, 2 requests) and an extension",
    );
    let last = texts[texts.len() - 1];
    check(
        &mut server,
        field(last, "STATUS") == Some("Successfully quit application, all tracked tasks returned"),
        "the verdict last",
    );

    // The progress: an extension exactly when fewer tasks are left.
    let progress = &messages[3..messages.len() - 1];
    let mut extended_at = tasks_left(texts[2]).expect("checked above");
    let (mut extended_after_the_short_one, mut held_back) = (false, false);
    for (at, text) in progress {
        let Some(left) = tasks_left(text) else {
            check(
                &mut server,
                false,
                &format!("a progress status in {text:?}"),
            );
            continue;
        };
        let extends = field(text, "EXTEND_TIMEOUT_USEC");
        check(
            &mut server,
            extends == (left < extended_at).then_some("3000000"),
            &format!("an extension in {text:?} iff fewer than {extended_at} tasks are left"),
        );
        if extends.is_some() {
            extended_at = left;
            extended_after_the_short_one |= *at > answered[0];
        } else {
            held_back = true;
        }
    }
    check(
        &mut server,
        extended_after_the_short_one,
        "an extension once the short request had ended (the drain moved)",
    );
    check(
        &mut server,
        held_back,
        "no extension while only the long request was left (the drain stood still)",
    );
}

/// Socket activation: the listener is bound here and passed as fd 3
/// (`LISTEN_FDS=1`, `LISTEN_PID` = the child's pid, set by `sh` before
/// `exec`), with `--addr` naming the same port, which the child could not
/// bind: it must serve on the passed socket. A connection made while no
/// instance runs waits in the socket's queue and is served by the next
/// one: a restart refuses nothing.
pub fn socket_activation_across_a_restart(example: &str) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let start = |listener: &TcpListener| {
        let fd = listener.as_raw_fd();
        let addr_arg = addr.to_string();
        let mut server = Server::spawn_with(
            example,
            &["--addr", &addr_arg, "--shutdown-timeout", "5s"],
            |command| {
                // `sh -c 'LISTEN_PID=$$ … exec "$0" "$@"' BINARY ARGS…`:
                // the shell's pid is the example's after `exec`.
                let program = command.get_program().to_owned();
                let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
                let mut wrapped = std::process::Command::new("/bin/sh");
                wrapped
                    .arg("-c")
                    .arg(r#"LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@""#)
                    .arg(program)
                    .args(args)
                    .env_remove("NOTIFY_SOCKET")
                    .env_remove("LISTEN_FDS")
                    .env_remove("LISTEN_PID");
                // SAFETY: `dup2` and `fcntl` are async-signal-safe, and
                // `fd` is open (the listener outlives the spawn).
                unsafe {
                    wrapped.pre_exec(move || {
                        let rc = if fd == 3 {
                            libc::fcntl(3, libc::F_SETFD, 0)
                        } else {
                            libc::dup2(fd, 3)
                        };
                        if rc == -1 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                *command = wrapped;
            },
        );
        let listening = server.wait_listening();
        server.check(
            listening == addr,
            &format!("listening on the passed socket {addr}, not {listening}"),
        );
        server.check_output_contains("(socket from systemd)");
        server
    };

    let mut first = start(&listener);
    let mut conn = first.connect();
    let response = conn
        .get("/", false)
        .unwrap_or_else(|e| first.fail(&format!("GET / on the passed socket: {e}")));
    first.check(response.status == 200, "GET / answered 200");
    drop(conn);
    first.signal(libc::SIGTERM);
    let status = first.wait_exit(Duration::from_secs(20));
    first.check(status.code() == Some(0), "the first instance exits 0");

    // No instance runs: the connection is queued, not refused.
    let mut waiting = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("a connection between the instances was refused: {e}"));
    waiting
        .write_all(b"GET / HTTP/1.1\r\nHost: quitter\r\nConnection: close\r\n\r\n")
        .expect("write while no instance runs");
    let mut second = start(&listener);
    let mut waiting = HttpConn::from_stream(waiting).expect("timeouts");
    let response = waiting
        .read_response()
        .unwrap_or_else(|e| second.fail(&format!("the queued request: {e}")));
    second.check(
        response.status == 200 && response.body_text().starts_with("Hello world!"),
        &format!("the queued request was served by the next instance: {response:?}"),
    );
    second.signal(libc::SIGTERM);
    let status = second.wait_exit(Duration::from_secs(20));
    second.check(status.code() == Some(0), "the second instance exits 0");
}
