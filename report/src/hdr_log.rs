//! `--hdr-log`: the run's histograms as a standard HdrHistogram interval log (readable by
//! HdrHistogram's log tools, e.g. HistogramLogAnalyzer). One interval per phase, spanning the
//! time the phase ran: untagged, the response times of all its requests; tagged with a request
//! name, that request's response times. Values are microseconds (the max column is in ms).

use crate::error::ReportError;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use ptl_engine::record::{add_histogram, new_histogram};
use ptl_engine::RunOutcome;
use std::io::Write;

/// A tag from a request name: the interval log forbids commas and whitespace in tags.
fn tag_text(name: &str) -> String {
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

pub fn write<W: Write>(outcome: &RunOutcome, out: &mut W) -> Result<(), ReportError> {
    let io = |e: std::io::Error| ReportError::HdrLog(e.to_string());
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "ptl {} plan {}",
            env!("CARGO_PKG_VERSION"),
            outcome.result.plan
        ))
        .add_comment(
            "response time from the intended send, in microseconds; one interval per phase",
        )
        .with_start_time(outcome.started_at)
        .with_base_time(outcome.started_at)
        .with_max_value_divisor(1000.0)
        .begin_log_with(out, &mut serializer)
        .map_err(io)?;
    let layout = &outcome.layout;
    for (p, span) in outcome.phases.iter().enumerate() {
        if span.ran.is_zero() {
            continue;
        }
        let mut all = new_histogram();
        let mut per_request = Vec::new();
        for (r, slot) in layout.requests.iter().enumerate() {
            if let Some(l) = outcome
                .recorded
                .request_stats(p, r)
                .and_then(|s| s.latency.as_ref())
            {
                add_histogram(&mut all, &l.response);
                per_request.push((tag_text(&slot.name), &l.response));
            }
        }
        log.write_comment(&format!("phase {}", span.name))
            .map_err(io)?;
        log.write_histogram(&all, span.start, span.ran, None)
            .map_err(|e| ReportError::HdrLog(format!("{e:?}")))?;
        for (tag, h) in per_request {
            log.write_histogram(h, span.start, span.ran, Tag::new(&tag))
                .map_err(|e| ReportError::HdrLog(format!("{e:?}")))?;
        }
    }
    Ok(())
}
