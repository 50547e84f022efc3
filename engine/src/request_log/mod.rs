//! The request log (`ptl run --request-log FILE`): one JSON line per request (or per sampled
//! request) with its intended and actual send time, name, method, path, outcome, sizes and
//! latency. Workers hand each request's facts to a bounded channel without ever waiting: when
//! the writer thread ([`writer`]) falls behind and the channel is full, the line is counted
//! as dropped, and the count is in the file's trailer and in [`LogStats`]. Off, a request
//! costs the workers one `Option` check.
//!
//! The caller starts the writer ([`RequestLog::start`]), gives the run its [`LogSink`]
//! ([`crate::RunOptions::request_log`]) and calls [`RequestLog::finish`] once the run has
//! returned: every worker has finished by then, so the trailer counts every line.

mod sample;
mod writer;

use crate::record::Outcome;
use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

pub use sample::{Sample, SampleError};

/// Lines the channel holds before a new one is dropped: about a second of a fast run, a few
/// MiB of memory.
const CHANNEL: usize = 64 * 1024;

/// What the log holds at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Request lines written.
    pub written: u64,
    /// Lines lost because the writer fell behind (or failed: see `error`).
    pub dropped: u64,
    /// Requests left out by the sample.
    pub sampled_out: u64,
    /// The first write error, after which every line counts as dropped.
    pub error: Option<String>,
}

/// One request, as a worker saw it.
pub(crate) struct Entry {
    pub phase: u32,
    pub request: u32,
    pub intended: Instant,
    pub sent: Option<Instant>,
    pub done: Instant,
    /// The request line as written, without its version: `GET /path?q=1`.
    pub line: Box<[u8]>,
    pub request_bytes: u64,
    /// Bytes of the answer's body as received; `None` without an answer.
    pub response_bytes: Option<u64>,
    pub outcome: Outcome,
}

pub(crate) enum Message {
    /// Sent by the run before any worker may send: the clock the lines are measured from.
    Start {
        at: Instant,
        wall: SystemTime,
        phases: Vec<String>,
        requests: Vec<String>,
    },
    Entry(Box<Entry>),
    End,
}

#[derive(Debug, Default)]
struct Counters {
    dropped: AtomicU64,
    sampled_out: AtomicU64,
}

/// The workers' side of the log: cheap to clone, never blocks.
#[derive(Clone)]
pub struct LogSink {
    tx: SyncSender<Message>,
    counters: Arc<Counters>,
    sample: Sample,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink")
            .field("sample", &self.sample)
            .finish()
    }
}

impl LogSink {
    /// Tells the writer when the run started (before any worker may send) and the names the
    /// lines carry.
    pub(crate) fn start(&self, at: Instant, wall: SystemTime, layout: &crate::record::Layout) {
        let _ = self.tx.send(Message::Start {
            at,
            wall,
            phases: layout.phases.clone(),
            requests: layout.requests.iter().map(|r| r.name.clone()).collect(),
        });
    }

    /// A worker's own logger (its own sampling state).
    pub(crate) fn for_worker(&self, index: usize) -> Logger {
        Logger {
            sink: self.clone(),
            draw: Cell::new(sample::seed(index)),
        }
    }
}

/// A worker's logger: draws the sample and sends entries.
pub struct Logger {
    sink: LogSink,
    draw: Cell<u64>,
}

impl Logger {
    /// Whether the next request goes into the log (counted as left out when not).
    pub(crate) fn sampled(&self) -> bool {
        let mut state = self.draw.get();
        let keep = self.sink.sample.keeps(&mut state);
        self.draw.set(state);
        if !keep {
            self.sink
                .counters
                .sampled_out
                .fetch_add(1, Ordering::Relaxed);
        }
        keep
    }

    pub(crate) fn send(&self, entry: Entry) {
        match self.sink.tx.try_send(Message::Entry(Box::new(entry))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.sink.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// A running request log: its writer thread and the sink to give the run.
pub struct RequestLog {
    sink: LogSink,
    /// What the file holds, and the dropped count its trailer gave.
    writer: JoinHandle<(LogStats, u64)>,
}

impl RequestLog {
    /// Starts the writer thread on `out` (buffered here; give it the file itself).
    pub fn start(out: Box<dyn Write + Send>, sample: Sample) -> std::io::Result<RequestLog> {
        let (tx, rx) = sync_channel(CHANNEL);
        let counters = Arc::new(Counters::default());
        let seen = counters.clone();
        let writer = std::thread::Builder::new()
            .name("ptl-request-log".into())
            .spawn(move || writer::write_all(rx, out, sample, &seen))?;
        Ok(RequestLog {
            sink: LogSink {
                tx,
                counters,
                sample,
            },
            writer,
        })
    }

    /// The sink for [`crate::RunOptions::request_log`].
    pub fn sink(&self) -> LogSink {
        self.sink.clone()
    }

    /// Ends the log after the run returned: writes the trailer, flushes, and says what the
    /// file holds.
    pub fn finish(self) -> LogStats {
        let counters = self.sink.counters.clone();
        // Queued behind every entry the workers sent; waits for room if the channel is full.
        let _ = self.sink.tx.send(Message::End);
        drop(self.sink);
        let (mut stats, in_trailer) = self.writer.join().unwrap_or_else(|_| {
            let stats = LogStats {
                error: Some("the request log's writer thread panicked".into()),
                ..LogStats::default()
            };
            (stats, 0)
        });
        // A line a straggling request sent after the trailer is lost too.
        stats.dropped += counters.dropped.load(Ordering::Relaxed) - in_trailer;
        stats.sampled_out = counters.sampled_out.load(Ordering::Relaxed);
        stats
    }
}

#[cfg(test)]
mod tests;
