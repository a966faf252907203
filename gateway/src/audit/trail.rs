//! The durable sink of the connection traces (domain reference §5,
//! "connection logs", never in Redis only): daily JSON lines files, and
//! optionally a collector.
//!
//! A login never waits on a disk: [`AuditTrail::record`] hands the trace to
//! a bounded queue and returns; a writer task appends the lines to
//! `<dir>/audit-<YYYY-MM-DD>-<replica>.jsonl` (the UTC day of each trace's
//! own time, so a trace of a day is always in that day's file, and a new
//! file starts at each UTC midnight; the replica name keeps replicas that
//! share a volume from interleaving) and flushes after each batch. A trace
//! that cannot be queued or written is counted in `sso_audit_dropped_total`
//! and logged without any personal data. With a collector, each written
//! batch is also POSTed as JSON lines (`application/x-ndjson`), best effort.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use sp_registry::IdentifierKeys;
use tokio::sync::{mpsc, oneshot};

use super::settings::AuditSettings;
use super::trace::Trace;
use crate::events::{AccessEvent, LoginEvent};

/// Traces dropped (queue full, or the file could not be written).
pub const DROPPED: &str = "sso_audit_dropped_total";

/// Most traces written (and posted) in one batch.
const BATCH: usize = 512;
/// Batches waiting for the collector; beyond, a batch is not posted (the
/// file keeps it).
const COLLECTOR_QUEUE: usize = 64;

/// The file of the traces of `day` written by `replica`.
pub fn file_name(day: NaiveDate, replica: &str) -> String {
    format!("audit-{}-{replica}.jsonl", day.format("%Y-%m-%d"))
}

/// The day and replica of a trace file's name; None for any other file.
pub fn parse_file_name(name: &str) -> Option<(NaiveDate, &str)> {
    let rest = name.strip_prefix("audit-")?.strip_suffix(".jsonl")?;
    let date = rest.get(..10)?;
    let replica = rest.get(10..)?.strip_prefix('-')?;
    if replica.is_empty() {
        return None;
    }
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some((day, replica))
}

enum Message {
    Trace(Box<Trace>),
    Flush(oneshot::Sender<()>),
}

/// The audit trail of a gateway (`AppState.audit`); cheap to clone. A
/// disabled trail (no `[audit]`) records nothing.
#[derive(Clone)]
pub struct AuditTrail {
    sender: Option<mpsc::Sender<Message>>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("enabled", &self.sender.is_some())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl AuditTrail {
    /// A trail that records nothing (no `[audit]` table).
    pub fn disabled() -> Self {
        Self {
            sender: None,
            dropped: Arc::default(),
        }
    }

    /// Starts the writer (and the collector's sender) on the current Tokio
    /// runtime.
    pub fn start(settings: &AuditSettings, http: reqwest::Client) -> Self {
        let (sender, receiver) = mpsc::channel(settings.queue_capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let collector = settings.collector_url.clone().map(|url| {
            let (batches, pending) = mpsc::channel(COLLECTOR_QUEUE);
            tokio::spawn(post_batches(pending, http, url));
            batches
        });
        let writer = Writer {
            dir: settings.dir.clone(),
            replica: settings.replica.clone(),
            open: None,
            dropped: Arc::clone(&dropped),
            collector,
        };
        tokio::spawn(writer.run(receiver));
        Self {
            sender: Some(sender),
            dropped,
        }
    }

    /// Queues a trace; never waits. A full queue drops it (counted).
    pub fn record(&self, trace: Trace) {
        let Some(sender) = &self.sender else {
            return;
        };
        if sender.try_send(Message::Trace(Box::new(trace))).is_err() {
            count_dropped(&self.dropped, 1);
            tracing::warn!("audit trace dropped: the trace queue is full or closed");
        }
    }

    /// Records a login step (the statistics' `events::login` calls it).
    pub fn login(&self, keys: &IdentifierKeys, event: &LoginEvent) {
        if self.sender.is_some() {
            self.record(Trace::of_login(keys, event));
        }
    }

    /// Records a downstream access (the statistics' `events::access` calls it).
    pub fn access(&self, keys: &IdentifierKeys, event: &AccessEvent) {
        if self.sender.is_some() {
            self.record(Trace::of_access(keys, event));
        }
    }

    /// Waits until every trace queued before this call is written (or
    /// dropped); at once for a disabled trail.
    pub async fn flush(&self) {
        let Some(sender) = &self.sender else {
            return;
        };
        let (done, wait) = oneshot::channel();
        if sender.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Traces dropped by this trail since it started.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn count_dropped(dropped: &AtomicU64, count: u64) {
    dropped.fetch_add(count, Ordering::Relaxed);
    ::metrics::counter!(DROPPED).increment(count);
}

/// The file being appended to.
struct OpenFile {
    day: NaiveDate,
    file: BufWriter<File>,
}

struct Writer {
    dir: PathBuf,
    replica: String,
    open: Option<OpenFile>,
    dropped: Arc<AtomicU64>,
    collector: Option<mpsc::Sender<Vec<String>>>,
}

impl Writer {
    async fn run(mut self, mut receiver: mpsc::Receiver<Message>) {
        let mut messages = Vec::with_capacity(BATCH);
        while receiver.recv_many(&mut messages, BATCH).await > 0 {
            let mut traces = Vec::new();
            let mut flushed = Vec::new();
            for message in messages.drain(..) {
                match message {
                    Message::Trace(trace) => traces.push(*trace),
                    Message::Flush(done) => flushed.push(done),
                }
            }
            if !traces.is_empty() {
                self = match tokio::task::spawn_blocking(move || {
                    let written = self.write(&traces);
                    (self, written)
                })
                .await
                {
                    Ok((writer, written)) => {
                        writer.forward(written);
                        writer
                    }
                    Err(_) => {
                        tracing::error!("the audit writer stopped");
                        return;
                    }
                };
            }
            for done in flushed {
                let _ = done.send(());
            }
        }
    }

    /// Appends the traces to their days' files; returns the lines written.
    fn write(&mut self, traces: &[Trace]) -> Vec<String> {
        let mut written = Vec::with_capacity(traces.len());
        let mut pending: Vec<String> = Vec::new();
        let mut day = None;
        for trace in traces {
            let trace_day = trace.time.date_naive();
            if day.is_some_and(|d| d != trace_day) {
                self.append(day, &mut pending, &mut written);
            }
            day = Some(trace_day);
            match trace.to_line() {
                Ok(line) => pending.push(line),
                Err(_) => {
                    count_dropped(&self.dropped, 1);
                    tracing::error!("audit trace dropped: it cannot be serialised");
                }
            }
        }
        self.append(day, &mut pending, &mut written);
        written
    }

    fn append(
        &mut self,
        day: Option<NaiveDate>,
        lines: &mut Vec<String>,
        written: &mut Vec<String>,
    ) {
        let Some(day) = day else {
            return;
        };
        if lines.is_empty() {
            return;
        }
        match self.append_to(day, lines) {
            Ok(()) => written.append(lines),
            Err(error) => {
                self.open = None;
                count_dropped(&self.dropped, lines.len() as u64);
                tracing::error!(
                    dir = %self.dir.display(),
                    %error,
                    count = lines.len(),
                    "audit traces dropped: the trace file cannot be written"
                );
                lines.clear();
            }
        }
    }

    fn append_to(&mut self, day: NaiveDate, lines: &[String]) -> std::io::Result<()> {
        let open = match self.open.take() {
            Some(open) if open.day == day => open,
            _ => OpenFile {
                day,
                file: BufWriter::new(open_append(&self.dir.join(file_name(day, &self.replica)))?),
            },
        };
        let file = &mut self.open.insert(open).file;
        for line in lines {
            file.write_all(line.as_bytes())?;
            file.write_all(b"\n")?;
        }
        file.flush()
    }

    fn forward(&self, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        if let Some(collector) = &self.collector
            && collector.try_send(lines).is_err()
        {
            tracing::warn!("audit batch not sent to the collector: it is behind (the file has it)");
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Posts each batch to the collector; a failure is logged and the batch
/// left to the file.
async fn post_batches(
    mut batches: mpsc::Receiver<Vec<String>>,
    http: reqwest::Client,
    url: url::Url,
) {
    while let Some(lines) = batches.recv().await {
        let mut body = lines.join("\n");
        body.push('\n');
        let result = http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .timeout(Duration::from_secs(10))
            .body(body)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        if let Err(error) = result {
            tracing::warn!(
                status = error.status().map(|s| s.as_u16()),
                count = lines.len(),
                "audit batch not accepted by the collector (the file has it)"
            );
        }
    }
}
