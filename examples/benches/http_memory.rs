//! Heap bytes per idle keep-alive connection: `quitter_tokio::http::serve`
//! against the same bare hyper-util server (`auto` builder, one
//! `tokio::spawn` per connection), and that server with hyper-util's own
//! `GracefulShutdown` watching each connection; `quitter_smol::http::serve`
//! against the same bare server on smol (one `smol::spawn` per
//! connection); all in one process with a counting allocator. Each
//! variant gets [`CONNECTIONS`] connections that each made one request
//! and now sit idle (keep-alive); the live heap
//! after, minus before, divided by the count, is printed for each, with
//! what graceful and quitter add to bare.
//!
//! The client is blocking `std` sockets on the bench's own thread, the same
//! for every variant (its few bytes are in every figure, and cancel in the
//! differences). What quitter adds per connection is expected to be one
//! child quitter and one task entry, and the bigger future of the
//! connection's task.
//!
//! ```text
//! cargo bench -p quitter-examples --bench http_memory
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use quitter_tokio::Quitter;

mod common;

use common::{start_bare, start_bare_smol, start_graceful, start_quitter, start_quitter_smol};

/// Live heap bytes: allocated minus freed.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: forwards to `System`, counting sizes on the way.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CONNECTIONS: usize = 200;
const ROUNDS: usize = 5;

/// Lets the servers finish their side (the last responses, the closes).
/// A bench, not a test: a pause is what it measures around.
fn settle() {
    std::thread::sleep(Duration::from_millis(200));
}

fn main() {
    // smol's global executor on 2 threads, like tokio's runtime below (read
    // once, at its first spawn; no other thread runs yet).
    std::env::set_var("SMOL_THREADS", "2");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let root = Quitter::new("bench");
    let http = root.child("http").expect("a fresh root");
    let (bare, graceful, served) = runtime.block_on(async {
        (
            start_bare().await,
            start_graceful().await,
            start_quitter(&http).await,
        )
    });
    let (smol_bare, smol_served) =
        smol::block_on(async { (start_bare_smol().await, start_quitter_smol(&http).await) });
    let servers = [bare, graceful, served, smol_bare, smol_served];
    // Warm-up: the runtime's and each server's one-time allocations
    // (task slabs, buffers) are made at the full count first.
    for addr in servers {
        let connections = idle_connections(addr, CONNECTIONS, 2);
        settle();
        drop(connections);
        settle();
    }

    // One request per connection (the figure the target is about), then
    // two: a connection's second request makes quitter's table of its
    // requests, kept for the connection's life.
    for requests in [1, 2] {
        let [bare_bytes, graceful_bytes, served_bytes, smol_bare_bytes, smol_served_bytes] =
            measure(servers, requests);
        println!("after {requests} request(s) per connection, median of {ROUNDS}:");
        println!("  bare hyper-util  {bare_bytes:>9.1} heap bytes per idle keep-alive connection");
        println!("  graceful         {graceful_bytes:>9.1} heap bytes per idle keep-alive connection (hyper-util's GracefulShutdown)");
        println!(
            "  quitter serve    {served_bytes:>9.1} heap bytes per idle keep-alive connection"
        );
        println!(
            "  graceful adds {:.1} bytes per connection ({:.3} of bare)",
            graceful_bytes - bare_bytes,
            graceful_bytes / bare_bytes
        );
        println!(
            "  quitter adds {:.1} bytes per connection ({:.3} of bare)",
            served_bytes - bare_bytes,
            served_bytes / bare_bytes
        );
        println!(
            "  smol, bare       {smol_bare_bytes:>9.1} heap bytes per idle keep-alive connection"
        );
        println!(
            "  smol, quitter    {smol_served_bytes:>9.1} heap bytes per idle keep-alive connection"
        );
        println!(
            "  quitter adds {:.1} bytes per connection on smol ({:.3} of bare)",
            smol_served_bytes - smol_bare_bytes,
            smol_served_bytes / smol_bare_bytes
        );
    }
    // What that should be: a connection's quitter shape without HTTP.
    let shape = runtime.block_on(child_with_a_task(&root));
    println!(
        "for reference: a child quitter with one spawned task waiting for its quit and drain: {shape:.1} bytes"
    );
    root.quit();
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// Heap bytes per child quitter holding one spawned, abortable task that
/// waits for the child's quit and drain (a connection's shape, without
/// hyper), median of [`ROUNDS`].
async fn child_with_a_task(root: &Quitter) -> f64 {
    let parent = root.child("shape").expect("a fresh root");
    parent.make_abortable();
    let mut figures = Vec::new();
    for _ in 0..ROUNDS {
        let before = LIVE.load(Ordering::SeqCst);
        let children: Vec<Quitter> = (0..CONNECTIONS)
            .map(|n| {
                let child = parent
                    .child(format!("127.0.0.1:{}", 50000 + n))
                    .expect("open");
                let waiting = child.clone();
                let task = async move {
                    let _ = futures_lite::future::zip(waiting.quitted(), waiting.draining()).await;
                };
                drop(quitter_tokio::spawn(&child, "connection", task).expect("open"));
                child
            })
            .collect();
        // Every task polled once (listed, its waits registered).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = LIVE.load(Ordering::SeqCst);
        figures.push((after - before) as f64 / CONNECTIONS as f64);
        for child in &children {
            child.quit();
        }
        drop(children);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

/// `count` connections to `addr`, each after one whole response.
fn idle_connections(addr: SocketAddr, count: usize, requests: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).expect("connect");
            for _ in 0..requests {
                stream
                    .write_all(b"GET / HTTP/1.1\r\nhost: bench\r\n\r\n")
                    .expect("write");
                let mut buf = [0; 512];
                let mut seen = 0;
                // `Hello world!\n` is the end of the response.
                while !buf[..seen].ends_with(b"Hello world!\n") {
                    let n = stream.read(&mut buf[seen..]).expect("read");
                    assert!(n > 0, "closed");
                    seen += n;
                }
            }
            stream
        })
        .collect()
}

/// Heap bytes per idle keep-alive connection of each server in `addrs`
/// after `requests` requests on each, median of [`ROUNDS`] (the servers
/// take turns within a round).
fn measure<const N: usize>(addrs: [SocketAddr; N], requests: usize) -> [f64; N] {
    let mut figures = [(); N].map(|()| Vec::new());
    for _ in 0..ROUNDS {
        for (figures, addr) in figures.iter_mut().zip(addrs) {
            let before = LIVE.load(Ordering::SeqCst);
            let connections = idle_connections(addr, CONNECTIONS, requests);
            settle();
            let after = LIVE.load(Ordering::SeqCst);
            figures.push((after - before) as f64 / CONNECTIONS as f64);
            drop(connections);
            settle();
        }
    }
    figures.map(|mut values| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    })
}
