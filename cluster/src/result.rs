//! The final result of a cluster run, rendered by the runtime's own summary code from the
//! merged record, so it has the schema and the numbers `ptl run` would report for the same
//! totals. Thresholds are judged here, on the merged data, never per agent.

use std::time::{Duration, UNIX_EPOCH};

use ptl_runtime::engine::timeline::Timeline;
use ptl_runtime::record::Layout;
use ptl_runtime::results::RunResult;
use ptl_runtime::vm::AgentShare;
use ptl_runtime::{summary, thresholds};

use crate::coordinator::SummaryInput;

/// The default [`crate::coordinator::Summarise`].
pub fn runtime_summary(input: &SummaryInput<'_>) -> RunResult {
    let layout = Layout::of(input.plan);
    // The whole cluster's planned rates: one agent with all of the load.
    let timeline = Timeline::of(input.plan, &AgentShare::solo());
    let elapsed = input.duration.as_secs_f64();
    let mut start = 0.0;
    let phase_seconds = input
        .plan
        .phases
        .iter()
        .map(|phase| {
            let length = phase.load.duration_us() as f64 / 1e6;
            let ran = (elapsed - start).clamp(0.0, length);
            start += length;
            ran
        })
        .collect();
    let phase_target_rps = timeline.phases.iter().map(|p| p.target_rps).collect();
    summary::build(summary::SummaryInput {
        plan: input.plan,
        layout: &layout,
        recorded: input.recorded,
        plan_hash: input.spec.plan_hash.to_string(),
        started_at: UNIX_EPOCH + Duration::from_millis(input.started_at_ms.max(0) as u64),
        duration: input.duration,
        phase_seconds,
        phase_target_rps,
        stop_reason: input.stop_reason.clone(),
        thresholds: thresholds::evaluate(input.plan, &layout, input.recorded),
        series: Vec::new(),
    })
}
