//! A finished cluster run's seconds, merged over every agent, read back for `ptl submit
//! --hdr-log`'s interval log. The source is what the coordinator already keeps while the run
//! goes on and until retention takes it ([`FINISHED_GRACE`] after the run is done): the merge
//! mark's history (`merged/b-<n>`), each interval the exact sum of every agent's windows for its
//! seconds (`coordinator::merge_mark`): one second each for a run shorter than the
//! coordinator's `--history-intervals`, wider for a longer one (`coordinator::merged_history`).
//! Nothing more is stored in ZooKeeper for this. The seconds handed over after the last fold
//! are not in the history: they are the merged record minus every interval, exactly
//! (histograms subtract), given as one last interval from the first such second to the run's
//! end.
//!
//! History nodes are read one at a time and handed on, so the reader holds one node and one
//! running sum, whatever the run's length.
//!
//! [`FINISHED_GRACE`]: crate::coordinator::retention::FINISHED_GRACE

use std::time::Duration;

use ptl_engine::record::{add_histogram, Latencies, Recorded};
use ptl_engine::{RunOutcome, WindowRecord};
use zookeeper_client::Client;

use crate::coordinator::merge_mark;
use crate::error::ClusterError;
use crate::ids::RunId;

/// Hands `each` every second of the finished run `id` in order, then the rest up to the end
/// of `outcome` (its merged record, as `merged_record::load_outcome` reads it). An error when
/// the history is gone (retention) or does not fit the record.
pub async fn visit(
    client: &Client,
    id: &RunId,
    outcome: &RunOutcome,
    mut each: impl FnMut(&WindowRecord<'_>),
) -> Result<(), ClusterError> {
    let mut sum = outcome.recorded.empty_like();
    let mut next = Duration::ZERO;
    if let Some((mark, _)) = merge_mark::read_mark(client, id).await? {
        for n in mark.nodes() {
            for span in merge_mark::read_batch(client, id, n).await? {
                if span.recorded.dims() != sum.dims() {
                    return Err(ClusterError::malformed(
                        "batch",
                        &format!("{id} batch {n}"),
                        "its shape is not the record's",
                    ));
                }
                let start = Duration::from_secs(span.first);
                let wide = span.count.max(1);
                each(&WindowRecord {
                    started_at: outcome.started_at,
                    start,
                    length: Duration::from_secs_f64(span.length.clamp(0.0, wide as f64)),
                    layout: &outcome.layout,
                    recorded: &span.recorded,
                });
                sum.merge(&span.recorded);
                next = start + Duration::from_secs(wide);
            }
        }
    }
    let rest = remainder(&outcome.recorded, &sum)?;
    let end = Duration::try_from_secs_f64(outcome.result.duration_s).unwrap_or_default();
    let has_rest = rest.request.iter().any(|r| r.latency.is_some());
    if has_rest {
        each(&WindowRecord {
            started_at: outcome.started_at,
            start: next,
            length: end.saturating_sub(next),
            layout: &outcome.layout,
            recorded: &rest,
        });
    }
    Ok(())
}

/// The response times `record` holds beyond `seconds`' (only the response histograms: what the
/// interval log writes). An error if a second holds a value the record does not.
fn remainder(record: &Recorded, seconds: &Recorded) -> Result<Recorded, ClusterError> {
    let mut rest = record.empty_like();
    for (i, (all, part)) in record.request.iter().zip(&seconds.request).enumerate() {
        let Some(all) = &all.latency else {
            continue;
        };
        let mut left = all.response.clone();
        if let Some(part) = &part.latency {
            left.subtract(&part.response).map_err(|e| {
                ClusterError::malformed(
                    "merged record",
                    &format!("request cell {i}"),
                    format!("holds less than its seconds: {e:?}"),
                )
            })?;
        }
        if !left.is_empty() {
            let mut l = Latencies::default();
            add_histogram(&mut l.response, &left);
            rest.request[i].latency = Some(Box::new(l));
        }
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptl_engine::record::{Outcome, Timing};

    fn answered(values: &[u64]) -> Recorded {
        let mut r = Recorded::new(1, 2, 1);
        for (i, &us) in values.iter().enumerate() {
            let t = Timing {
                response_us: us,
                service_us: us,
                lag_us: 0,
            };
            r.exchange(0, i % 2, Some(t), Outcome::Success { status: 200 });
        }
        r
    }

    #[test]
    fn the_rest_is_the_record_minus_the_seconds_exactly() {
        let (folded, late) = (answered(&[100, 200, 300]), answered(&[400, 500]));
        let mut record = folded.clone();
        record.merge(&late);
        let rest = remainder(&record, &folded).expect("the seconds are within the record");
        for (r, want) in rest.request.iter().zip(&late.request) {
            let got = r.latency.as_ref().map(|l| &l.response);
            assert_eq!(got, want.latency.as_ref().map(|l| &l.response));
        }
        // Nothing left: no latency at all, so no last interval.
        let none = remainder(&record, &record).expect("equal");
        assert!(none.request.iter().all(|r| r.latency.is_none()));
        // Seconds holding a value the record does not: an error, never a negative count.
        assert!(remainder(&folded, &record).is_err());
    }
}
