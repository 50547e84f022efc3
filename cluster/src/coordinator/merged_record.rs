//! The merged record behind a cluster run's result — every histogram of every phase and
//! request, summed exactly over the agents — kept at `/runs/<id>/record`, so `ptl submit
//! --hdr-log` can write HdrHistogram's interval log with the runtime's own writer, as `ptl run`
//! does. The record travels in the interval-delta format (V2-deflate histograms) and in chunks,
//! since a plan with many requests can exceed a znode; the manifest is written last.

use std::time::{Duration, UNIX_EPOCH};

use ptl_bytecode::Plan;
use ptl_engine::record::{decode_delta, encode_delta, IntervalDelta, Layout, Recorded};
use ptl_engine::result::RunResult;
use ptl_engine::runner::PhaseSpan;
use ptl_engine::RunOutcome;
use serde::{Deserialize, Serialize};
use zookeeper_client::Client;

use crate::access::Node;
use crate::coordinator::result::phase_spans;
use crate::error::ClusterError;
use crate::ids::RunId;
use crate::zk;
use crate::zk::chunks;
use crate::zk::layout;

/// The data of `/runs/<id>/record`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordManifest {
    /// Bytes of the encoded record, over `chunks` chunks.
    pub len: u64,
    pub chunks: u32,
    /// The run's start, ZooKeeper clock, Unix ms, and how long it ran (as in the result).
    pub started_at_ms: i64,
    pub duration_ms: u64,
}

/// Stores the merged record of a finished run.
pub async fn store(
    client: &Client,
    id: &RunId,
    recorded: &Recorded,
    started_at_ms: i64,
    duration: Duration,
) -> Result<(), ClusterError> {
    let node = layout::run_record(id);
    let bytes = encode_delta(&IntervalDelta {
        agent: 0,
        window: 0,
        recorded: recorded.clone(),
    })
    .map_err(|e| ClusterError::malformed("merged record", &node, e))?;
    zk::create_if_missing(client, &node, b"", Node::Coordinated).await?;
    let chunks = chunks::write(client, &node, &bytes, Node::Coordinated).await?;
    let manifest = RecordManifest {
        len: bytes.len() as u64,
        chunks,
        started_at_ms,
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    };
    zk::put_json(
        client,
        &node,
        &manifest,
        "record manifest",
        Node::Coordinated,
    )
    .await?;
    Ok(())
}

/// The finished run as the engine would have returned it from a local run of `plan`: its
/// result with the merged record and the phases' spans, ready for `ptl_report::hdr_log`.
pub async fn load_outcome(
    client: &Client,
    id: &RunId,
    plan: &Plan,
    result: RunResult,
) -> Result<RunOutcome, ClusterError> {
    let node = layout::run_record(id);
    let manifest =
        match client.get_data(&node).await {
            Ok((data, _)) if !data.is_empty() => serde_json::from_slice::<RecordManifest>(&data)
                .map_err(|e| ClusterError::malformed("record manifest", &node, e))?,
            Ok(_) | Err(zookeeper_client::Error::NoNode) => return Err(ClusterError::malformed(
                "merged record",
                &node,
                "not written (the run ended without one, or by a coordinator older than this ptl)",
            )),
            Err(e) => return Err(ClusterError::zk("read", &node, e)),
        };
    let bytes = chunks::read(client, &node, manifest.chunks, manifest.len)
        .await?
        .map_err(|damage| ClusterError::malformed("merged record", &node, damage))?;
    let delta =
        decode_delta(&bytes).map_err(|e| ClusterError::malformed("merged record", &node, e))?;
    let layout = Layout::of(plan);
    let plan_dims = (
        layout.phases.len(),
        layout.requests.len(),
        layout.scenarios.len(),
    );
    if delta.recorded.dims() != plan_dims {
        return Err(ClusterError::malformed(
            "merged record",
            &node,
            format!(
                "shape {:?} is not the plan's {plan_dims:?}",
                delta.recorded.dims()
            ),
        ));
    }
    let duration = Duration::from_millis(manifest.duration_ms);
    // A paused run's phases sit where the pauses moved them, as its result says.
    let phases = if !result.pauses.is_empty() && result.phases.len() == layout.phases.len() {
        let mut start = Duration::ZERO;
        result
            .phases
            .iter()
            .map(|p| {
                let ran = Duration::try_from_secs_f64(p.duration_s).unwrap_or_default();
                let span = PhaseSpan {
                    name: p.name.clone(),
                    start,
                    ran,
                };
                start += ran;
                span
            })
            .collect()
    } else {
        phase_spans(plan, duration)
    };
    Ok(RunOutcome {
        result,
        recorded: delta.recorded,
        layout,
        phases,
        started_at: UNIX_EPOCH + Duration::from_millis(manifest.started_at_ms.max(0) as u64),
    })
}
