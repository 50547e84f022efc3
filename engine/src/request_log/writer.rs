//! The request log's writer thread: turns entries into JSON lines, off the workers' threads.
//! The file is a header line (the run start's wall clock, the sample), one line per request,
//! and a trailer line with the counts — dropped lines included, so a gap is never silent. The
//! format is documented in docs/results.md ("Request log").

use super::{Counters, Entry, LogStats, Message, Sample};
use crate::record::Outcome;
use serde::Serialize;
use std::io::{BufWriter, Write};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::{Instant, UNIX_EPOCH};

/// The version in the header's `ptl_request_log` key.
pub const FORMAT: u32 = 1;

#[derive(Serialize)]
struct Header<'a> {
    ptl_request_log: u32,
    started_at: &'a str,
    started_at_unix_us: u64,
    sample: f64,
}

#[derive(Serialize)]
struct Line<'a> {
    intended_us: u64,
    sent_us: Option<u64>,
    phase: &'a str,
    name: &'a str,
    method: &'a str,
    path: &'a str,
    status: Option<u16>,
    error: Option<&'static str>,
    injected: Option<&'static str>,
    request_bytes: u64,
    response_bytes: Option<u64>,
    latency_us: u64,
    service_us: Option<u64>,
}

#[derive(Serialize)]
struct Trailer {
    ptl_request_log_end: Counts,
}

#[derive(Serialize)]
struct Counts {
    lines: u64,
    dropped: u64,
    sampled_out: u64,
}

struct Clock {
    at: Instant,
    phases: Vec<String>,
    requests: Vec<String>,
}

fn us_between(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_micros()).unwrap_or(u64::MAX)
}

/// Writes until the end message (or every sender is gone). Returns the stats and the dropped
/// count the trailer gave.
pub(super) fn write_all(
    rx: Receiver<Message>,
    out: Box<dyn Write + Send>,
    sample: Sample,
    counters: &Counters,
) -> (LogStats, u64) {
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let mut stats = LogStats::default();
    let mut failed = 0u64;
    let mut clock: Option<Clock> = None;
    let write = |out: &mut BufWriter<Box<dyn Write + Send>>,
                 stats: &mut LogStats,
                 line: &dyn Fn(&mut dyn Write) -> std::io::Result<()>|
     -> bool {
        if stats.error.is_some() {
            return false;
        }
        match line(out).and_then(|()| out.write_all(b"\n")) {
            Ok(()) => true,
            Err(e) => {
                stats.error = Some(e.to_string());
                false
            }
        }
    };
    for message in rx.iter() {
        match message {
            Message::Start {
                at,
                wall,
                phases,
                requests,
            } => {
                let started = humantime::format_rfc3339_micros(wall).to_string();
                let header = Header {
                    ptl_request_log: FORMAT,
                    started_at: &started,
                    started_at_unix_us: wall
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_micros() as u64),
                    sample: sample.fraction(),
                };
                write(&mut out, &mut stats, &|o| json(o, &header));
                clock = Some(Clock {
                    at,
                    phases,
                    requests,
                });
            }
            Message::Entry(entry) => {
                let ok = match &clock {
                    Some(c) => write(&mut out, &mut stats, &|o| json(o, &line(c, &entry))),
                    None => false,
                };
                if ok {
                    stats.written += 1;
                } else {
                    failed += 1;
                }
            }
            Message::End => break,
        }
    }
    let dropped = counters.dropped.load(Ordering::Relaxed);
    stats.sampled_out = counters.sampled_out.load(Ordering::Relaxed);
    stats.dropped = dropped + failed;
    let trailer = Trailer {
        ptl_request_log_end: Counts {
            lines: stats.written,
            dropped: stats.dropped,
            sampled_out: stats.sampled_out,
        },
    };
    write(&mut out, &mut stats, &|o| json(o, &trailer));
    if let Err(e) = out.flush() {
        stats.error.get_or_insert(e.to_string());
    }
    (stats, dropped)
}

fn json(out: &mut dyn Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(out, value).map_err(std::io::Error::other)
}

fn line<'a>(c: &'a Clock, e: &'a Entry) -> Line<'a> {
    let text = std::str::from_utf8(&e.line).unwrap_or("? ?");
    let (method, path) = text.split_once(' ').unwrap_or((text, ""));
    let (status, error, injected) = match e.outcome {
        Outcome::Success { status } => (Some(status), None, None),
        Outcome::Failed { class, status } => (status, Some(class.as_str()), None),
        Outcome::Injected { kind } => (None, None, Some(kind.as_str())),
    };
    Line {
        intended_us: us_between(c.at, e.intended),
        sent_us: e.sent.map(|s| us_between(c.at, s)),
        phase: c.phases.get(e.phase as usize).map_or("", String::as_str),
        name: c
            .requests
            .get(e.request as usize)
            .map_or("", String::as_str),
        method,
        path,
        status,
        error,
        injected,
        request_bytes: e.request_bytes,
        response_bytes: e.response_bytes,
        latency_us: us_between(e.intended, e.done),
        service_us: e.sent.map(|s| us_between(s, e.done)),
    }
}
