//! The final result of a cluster run, rendered by the runtime's own summary code from the
//! merged record, so it has the schema and the numbers `ptl run` would report for the same
//! totals. Thresholds are judged here, on the merged data, never per agent.

use std::time::{Duration, UNIX_EPOCH};

use ptl_bytecode::Plan;
use ptl_runtime::engine::timeline::Timeline;
use ptl_runtime::engine::PhaseSpan;
use ptl_runtime::record::Layout;
use ptl_runtime::results::{PauseWindow as ResultPause, RunResult};
use ptl_runtime::vm::AgentShare;
use ptl_runtime::{summary, thresholds};

use crate::coordinator::SummaryInput;
use crate::pauses::{self, PauseWindow};

/// Where each phase sat in a run that lasted `duration`: as the engine reports it for a local
/// run (a phase not reached ran for 0 s; one cut short by a stop, for as long as it ran).
pub fn phase_spans(plan: &Plan, duration: Duration) -> Vec<PhaseSpan> {
    let timeline = Timeline::of(plan, &AgentShare::solo());
    let span_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
    timeline
        .phases
        .iter()
        .map(|p| PhaseSpan {
            name: p.name.clone(),
            start: Duration::from_micros(p.start_us),
            ran: Duration::from_micros(span_us.saturating_sub(p.start_us).min(p.duration_us)),
        })
        .collect()
}

/// A run's pause windows as its result reports them: milliseconds from the start, only those
/// that began within the run's `duration`; one still open at its end (or resumed after it) has
/// no end.
pub fn result_pauses(
    pauses: &[PauseWindow],
    started_at_ms: i64,
    duration: Duration,
) -> Vec<ResultPause> {
    let end = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    pauses
        .iter()
        .map(|w| {
            let from_start = |ms: i64| ms.saturating_sub(started_at_ms).max(0);
            (from_start(w.at_ms), w.until_ms.map(from_start))
        })
        .filter(|(at, _)| *at < end)
        .map(|(at, until)| ResultPause {
            start_ms: at as u64,
            end_ms: until.filter(|u| *u <= end).map(|u| u as u64),
        })
        .collect()
}

/// The default [`crate::coordinator::Summarise`].
pub fn runtime_summary(input: &SummaryInput<'_>) -> RunResult {
    let layout = Layout::of(input.plan);
    // The whole cluster's planned rates: one agent with all of the load.
    let timeline = Timeline::of(input.plan, &AgentShare::solo());
    // Phases move by the pauses: they ran for the run's time less the paused time.
    let end_ms = input
        .started_at_ms
        .saturating_add(i64::try_from(input.duration.as_millis()).unwrap_or(i64::MAX));
    let paused = pauses::paused_ms(input.pauses, input.started_at_ms, end_ms).max(0) as u64;
    let running = input.duration.saturating_sub(Duration::from_millis(paused));
    let phase_seconds = phase_spans(input.plan, running)
        .iter()
        .map(|span| span.ran.as_secs_f64())
        .collect();
    let phase_target_rps = timeline.phases.iter().map(|p| p.target_rps).collect();
    let mut result = summary::build(summary::SummaryInput {
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
        series: input.series.to_vec(),
    });
    result.pauses = result_pauses(input.pauses, input.started_at_ms, input.duration);
    result
}
