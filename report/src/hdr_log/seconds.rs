//! One interval per second of a local run, written as the seconds close (on a thread of its
//! own, so a slow disk never holds the run's once-a-second bookkeeping): per second, an
//! untagged interval with the response times of every request that ended in it, one tagged
//! `phase=NAME` per phase that recorded any, and one tagged `PHASE/REQUEST` per request. Only
//! the histograms of the second being written are held, so an hour-long run costs no more
//! memory than a minute-long one.

use super::{bad, begin, io, phase_tag, request_tag};
use crate::error::ReportError;
use hdrhistogram::serialization::interval_log::Tag;
use hdrhistogram::serialization::V2DeflateSerializer;
use ptl_engine::record::{add_histogram, new_histogram, Hist};
use ptl_engine::{WindowFn, WindowRecord};
use std::io::Write;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

enum Message {
    Second(Second),
    /// The run is over; its start, for a header if no second came.
    End(SystemTime),
}

struct Second {
    started_at: SystemTime,
    start: Duration,
    length: Duration,
    /// (tag, response times); the untagged one first.
    intervals: Vec<(Option<String>, Hist)>,
}

/// A per-second interval log being written. Feed it with [`SecondsLog::sink`] (as the run's
/// [`ptl_engine::RunOptions::windows`]), then [`SecondsLog::finish`] once the run is over.
pub struct SecondsLog {
    tx: mpsc::Sender<Message>,
    writer: JoinHandle<Result<(), ReportError>>,
}

impl SecondsLog {
    /// Starts the writer thread; nothing is written before the first second (or the end).
    /// `intervals` says in the log's header how long its intervals are.
    pub fn start<W: Write + Send + 'static>(
        out: W,
        plan: &str,
        intervals: &str,
    ) -> Result<SecondsLog, ReportError> {
        let (tx, rx) = mpsc::channel();
        let (plan, intervals) = (plan.to_string(), intervals.to_string());
        let writer = std::thread::Builder::new()
            .name("ptl-hdr-log".into())
            .spawn(move || write_all(out, &plan, &intervals, rx))
            .map_err(io)?;
        Ok(SecondsLog { tx, writer })
    }

    /// What the engine calls with every merged window.
    pub fn sink(&self) -> WindowFn {
        let tx = self.tx.clone();
        Box::new(move |w: &WindowRecord<'_>| {
            // A writer that failed has said why; `finish` reports it.
            let _ = tx.send(Message::Second(second_of(w)));
        })
    }

    /// Writes what is left and closes the log. `started_at` is the run's start.
    pub fn finish(self, started_at: SystemTime) -> Result<(), ReportError> {
        let _ = self.tx.send(Message::End(started_at));
        drop(self.tx);
        self.writer
            .join()
            .map_err(|_| ReportError::HdrLog("the log's writer thread panicked".into()))?
    }
}

/// The intervals of one window: every phase × request cell with response times.
fn second_of(w: &WindowRecord<'_>) -> Second {
    let mut all = new_histogram();
    let mut intervals = Vec::new();
    for (p, phase) in w.layout.phases.iter().enumerate() {
        let mut in_phase = new_histogram();
        let mut requests = Vec::new();
        for (r, slot) in w.layout.requests.iter().enumerate() {
            if let Some(l) = w
                .recorded
                .request_stats(p, r)
                .and_then(|s| s.latency.as_ref())
                .filter(|l| !l.response.is_empty())
            {
                add_histogram(&mut in_phase, &l.response);
                requests.push((Some(request_tag(phase, &slot.name)), l.response.clone()));
            }
        }
        if !requests.is_empty() {
            add_histogram(&mut all, &in_phase);
            intervals.push((Some(phase_tag(phase)), in_phase));
            intervals.extend(requests);
        }
    }
    intervals.insert(0, (None, all));
    Second {
        started_at: w.started_at,
        start: w.start,
        length: w.length,
        intervals,
    }
}

fn write_all<W: Write>(
    mut out: W,
    plan: &str,
    intervals: &str,
    rx: mpsc::Receiver<Message>,
) -> Result<(), ReportError> {
    let first = rx.recv().unwrap_or(Message::End(SystemTime::now()));
    let started_at = match &first {
        Message::Second(s) => s.started_at,
        Message::End(t) => *t,
    };
    let mut serializer = V2DeflateSerializer::new();
    let mut log = begin(&mut out, &mut serializer, plan, intervals, started_at)?;
    for message in std::iter::once(first).chain(rx) {
        let Message::Second(s) = message else {
            break;
        };
        for (tag, h) in &s.intervals {
            log.write_histogram(h, s.start, s.length, tag.as_deref().and_then(Tag::new))
                .map_err(bad)?;
        }
    }
    drop(log);
    out.flush().map_err(io)
}
