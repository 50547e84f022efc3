//! One interval per phase, spanning the time the phase ran: untagged, the response times of
//! all its requests; tagged `PHASE/REQUEST`, one request's. For a run whose seconds were not
//! kept (a cluster run's merged record).

use super::{bad, begin, io, request_tag};
use crate::error::ReportError;
use hdrhistogram::serialization::interval_log::Tag;
use hdrhistogram::serialization::V2DeflateSerializer;
use ptl_engine::record::{add_histogram, new_histogram};
use ptl_engine::RunOutcome;
use std::io::Write;

pub fn write<W: Write>(outcome: &RunOutcome, out: &mut W) -> Result<(), ReportError> {
    let mut serializer = V2DeflateSerializer::new();
    let mut log = begin(
        out,
        &mut serializer,
        &outcome.result.plan,
        "one interval per phase",
        outcome.started_at,
    )?;
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
                per_request.push((request_tag(&span.name, &slot.name), &l.response));
            }
        }
        log.write_comment(&format!("phase {}", span.name))
            .map_err(io)?;
        log.write_histogram(&all, span.start, span.ran, None)
            .map_err(bad)?;
        for (tag, h) in per_request {
            log.write_histogram(h, span.start, span.ran, Tag::new(&tag))
                .map_err(bad)?;
        }
    }
    Ok(())
}
