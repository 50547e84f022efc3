//! `--hdr-log`: the run's response times as a standard HdrHistogram interval log (readable by
//! HdrHistogram's log tools, e.g. HistogramLogAnalyzer; the convention of wrk2). Values are
//! microseconds (the max column is in ms). Two shapes share the header and the tags:
//! [`seconds`], one interval per second of a local run, streamed as the seconds close; and
//! [`per_phase`], one interval per phase, for a run whose seconds are not kept (a cluster run).

pub mod per_phase;
pub mod seconds;

pub use per_phase::write;
pub use seconds::SecondsLog;

use crate::error::ReportError;
use hdrhistogram::serialization::interval_log::{IntervalLogWriter, IntervalLogWriterBuilder};
use hdrhistogram::serialization::V2DeflateSerializer;
use std::io::Write;
use std::time::SystemTime;

/// A tag from a name: the interval log forbids commas and whitespace in tags.
pub fn tag_text(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The tag of a phase's intervals (all its requests).
pub fn phase_tag(phase: &str) -> String {
    format!("phase={}", tag_text(phase))
}

/// The tag of one request's intervals within a phase.
pub fn request_tag(phase: &str, request: &str) -> String {
    format!("{}/{}", tag_text(phase), tag_text(request))
}

fn io(e: std::io::Error) -> ReportError {
    ReportError::HdrLog(e.to_string())
}

fn bad<E: std::fmt::Debug>(e: E) -> ReportError {
    ReportError::HdrLog(format!("{e:?}"))
}

/// Writes the log's header (ptl's version, the plan, what the values are, the run's start as
/// both start and base time, so interval timestamps are offsets from the start).
fn begin<'a, 'b, W: Write>(
    out: &'a mut W,
    serializer: &'b mut V2DeflateSerializer,
    plan: &str,
    shape: &str,
    started_at: SystemTime,
) -> Result<IntervalLogWriter<'a, 'b, W, V2DeflateSerializer>, ReportError> {
    IntervalLogWriterBuilder::new()
        .add_comment(&format!("ptl {} plan {plan}", env!("CARGO_PKG_VERSION")))
        .add_comment(&format!(
            "response time from the intended send, in microseconds; {shape}"
        ))
        .with_start_time(started_at)
        .with_base_time(started_at)
        .with_max_value_divisor(1000.0)
        .begin_log_with(out, serializer)
        .map_err(io)
}
