//! The `tracing` feature: a capturing subscriber checks the events (level,
//! message, fields) and that they are emitted inside the quitter's span.
//! Run with `cargo test -p quitter-core --features tracing --test tracing`.
#![cfg(feature = "tracing")]

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use common::{block_on, expired};
use quitter_core::{MainRunner, QuitCause, Quitter};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Debug)]
struct Captured {
    level: Level,
    fields: BTreeMap<String, String>,
    /// The `name` field of each enclosing span, outermost first.
    spans: Vec<String>,
}

struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct SpanName(String);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        attrs.record(&mut fields);
        let name = fields.0.remove("name").unwrap_or_default();
        ctx.span(id)
            .unwrap()
            .extensions_mut()
            .insert(SpanName(name));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields(BTreeMap::new());
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| {
                        span.extensions()
                            .get::<SpanName>()
                            .map(|n| n.0.clone())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.0.lock().unwrap().push(Captured {
            level: *event.metadata().level(),
            fields: fields.0,
            spans,
        });
    }
}

fn captured(f: impl FnOnce()) -> Vec<Captured> {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    tracing::subscriber::with_default(subscriber, f);
    let events = capture.0.lock().unwrap().clone();
    events
}

fn find<'a>(events: &'a [Captured], message: &str) -> Vec<&'a Captured> {
    events
        .iter()
        .filter(|e| e.fields.get("message").map(String::as_str) == Some(message))
        .collect()
}

#[test]
fn quit_done_timeout_panic_and_report_are_traced() {
    let events = captured(|| {
        let root = Quitter::new("main");
        let http = root.child("http").unwrap();
        let _hung = http.track("accept loop").unwrap();
        http.track("handler").unwrap().panicked("boom");
        // Holds without a name: an idle table (beside a named task, as
        // `http`'s, it is no line of its own) and a task not listed yet.
        let _beside_a_task = http.task_table().unwrap();
        let jobs = root.child("jobs").unwrap();
        let _idle_table = jobs.task_table().unwrap();
        let streams = root.child("streams").unwrap();
        let mut stream = streams.serial_task();
        assert!(stream.start_unlisted(|name| name.push_str("GET /")));
        let report = block_on(
            MainRunner::new(root.clone())
                .source("OS interrupt signal", async { "SIGINT" })
                .run(expired),
        );
        assert_eq!(report.exit_code(), 1);
    });

    let quit = find(&events, "quit");
    assert_eq!(
        quit.len(),
        1,
        "one quit event, where quit was called: {events:#?}"
    );
    assert_eq!(quit[0].level, Level::INFO);
    assert_eq!(quit[0].fields["quitter"], "main");
    assert_eq!(quit[0].fields["cause"], "'OS interrupt signal' (SIGINT)");
    assert_eq!(quit[0].spans, ["main"]);

    let panicked = find(&events, "task panicked");
    assert_eq!(panicked.len(), 1);
    assert_eq!(panicked[0].level, Level::ERROR);
    assert_eq!(panicked[0].fields["task"], "handler");
    assert_eq!(panicked[0].fields["panic"], "boom");
    assert_eq!(panicked[0].fields["quitter"], "main/http");
    assert_eq!(
        panicked[0].spans,
        ["main", "http"],
        "inside the quitter's span"
    );

    let hung = find(&events, "task did not return in time");
    assert_eq!(hung.len(), 1);
    assert_eq!(hung[0].level, Level::WARN);
    assert_eq!(hung[0].fields["task"], "accept loop");
    assert_eq!(hung[0].fields["quitter"], "main/http");
    assert!(hung[0].fields["location"].contains("tracing.rs:"));

    let held = find(&events, "quitter held open without a named task");
    let held: Vec<_> = held
        .iter()
        .map(|e| (e.level, &*e.fields["quitter"], &*e.fields["hold"]))
        .collect();
    assert_eq!(
        held,
        [
            (
                Level::WARN,
                "main/jobs",
                "1 idle task table, holding it open until dropped"
            ),
            (Level::WARN, "main/streams", "1 task(s) not polled yet"),
        ],
        "{events:#?}"
    );

    let exit = find(&events, "shutdown incomplete");
    assert_eq!(exit.len(), 1);
    assert_eq!(exit[0].level, Level::WARN);
    assert_eq!(exit[0].fields["code"], "1");
    assert_eq!(exit[0].fields["hung"], "3");
    assert_eq!(exit[0].fields["panicked"], "1");
}

#[test]
fn done_and_clean_exit_are_traced_at_their_levels() {
    let events = captured(|| {
        let root = Quitter::new("main");
        let worker = root.child("worker").unwrap();
        root.quit_with(QuitCause::new("test"));
        assert!(worker.is_done());
        let report = block_on(MainRunner::new(root).run(expired));
        assert!(report.is_clean());
    });
    let done = find(&events, "done");
    let mut spans: Vec<_> = done.iter().map(|e| e.spans.join("/")).collect();
    spans.sort();
    assert_eq!(spans, ["main", "main/worker"]);
    assert!(done.iter().all(|e| e.level == Level::DEBUG));
    let exit = find(&events, "shutdown complete");
    assert_eq!(exit.len(), 1);
    assert_eq!(exit[0].level, Level::INFO);
    assert_eq!(exit[0].fields["code"], "0");
}

#[test]
fn a_quitters_span_is_public_for_instrumenting_tasks() {
    let events = captured(|| {
        let root = Quitter::new("main");
        let conn = root.child("conn-1").unwrap();
        conn.span().in_scope(|| tracing::info!("request served"));
    });
    let served = find(&events, "request served");
    assert_eq!(served[0].spans, ["main", "conn-1"]);
}
