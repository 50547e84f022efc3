//! The final result of a cluster run, rendered by the runtime's own summary code from the
//! merged record, so it has the schema and the numbers `ptl run` would report for the same
//! totals. Thresholds are judged here, on the merged data, never per agent.

use std::time::{Duration, UNIX_EPOCH};

use ptl_bytecode::Plan;
use ptl_engine::record::Layout;
use ptl_engine::result::summarize::Paused;
use ptl_engine::result::RunResult;
use ptl_engine::result::{summarize, thresholds};
use ptl_engine::runner::pause_clock::PauseClock;
use ptl_engine::runner::spans;
use ptl_engine::runner::timeline::Timeline;
use ptl_engine::runner::PhaseSpan;
use ptl_engine::vm::AgentShare;

use crate::coordinator::SummaryInput;
use crate::run::pauses;

/// Where each phase sat in a run that lasted `duration`: as the engine reports it for a local
/// run (a phase not reached ran for 0 s; one cut short by a stop, for as long as it ran).
pub fn phase_spans(plan: &Plan, duration: Duration) -> Vec<PhaseSpan> {
    phase_spans_paused(plan, &PauseClock::default(), duration).0
}

/// [`phase_spans`] of a paused run, and its pauses as the result reports them, by the engine's
/// own rule (`ptl_engine::runner::spans`): a phase spans its pauses, a pause belongs to the
/// phase it began in, one that began at or after the end is left out.
pub fn phase_spans_paused(
    plan: &Plan,
    clock: &PauseClock,
    duration: Duration,
) -> (Vec<PhaseSpan>, Paused) {
    let timeline = Timeline::of(plan, &AgentShare::solo());
    let span_us = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
    spans::of(&timeline, clock, span_us)
}

/// The default [`crate::coordinator::Summarise`].
pub fn runtime_summary(input: &SummaryInput<'_>) -> RunResult {
    let layout = Layout::of(input.plan);
    // The whole cluster's planned rates: one agent with all of the load.
    let timeline = Timeline::of(input.plan, &AgentShare::solo());
    // Phases move by the pauses (agents' windows and the pauses are on the run's clock).
    // A pause from after the schedule's end holds nothing back (the run is draining).
    let clock = pauses::clock(input.pauses, input.started_at_ms).before_plan(timeline.total_us);
    let (spans, paused) = phase_spans_paused(input.plan, &clock, input.duration);
    let phase_seconds = spans.iter().map(|span| span.ran.as_secs_f64()).collect();
    let phase_target_rps = timeline.phases.iter().map(|p| p.target_rps).collect();
    summarize::build_paused(
        summarize::SummaryInput {
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
        },
        &paused,
    )
}
