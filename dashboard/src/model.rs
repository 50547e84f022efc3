//! What the page and the JSON API see: the wire shapes of runs, their live state and the
//! events pushed over `/events`. Field names are the page's contract; add, never rename.

use ptl_engine::result::{Latency, SeriesPoint, ThresholdResult};
use serde::Serialize;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Submitted, waiting for a coordinator or agents.
    Pending,
    Running,
    Paused,
    /// Stop asked for; requests in flight are finishing.
    Stopping,
    /// The final result is in.
    Done,
    /// Ended without a result (refused, not enough agents, …).
    Failed,
}

impl RunStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Done | RunStatus::Failed)
    }
}

/// A threshold as the page shows it: the result's fields, its state and its measured value
/// with the unit it is judged in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    #[serde(flatten)]
    pub threshold: ThresholdResult,
    pub state: VerdictState,
    /// `12.3 ms`, `99.50%`, as the report prints it; `no data` when there is none.
    pub actual_text: String,
}

/// A threshold is pending while its run goes on and its scope has no data yet (its phase has
/// not started): neither passed nor failed. Once the run is over, no data is a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictState {
    Pass,
    Fail,
    Pending,
}

impl Verdict {
    pub fn of(threshold: &ThresholdResult, live: bool) -> Verdict {
        let state = match (threshold.actual, threshold.passed) {
            (None, _) if live => VerdictState::Pending,
            (_, true) => VerdictState::Pass,
            (_, false) => VerdictState::Fail,
        };
        Verdict {
            threshold: threshold.clone(),
            state,
            actual_text: ptl_report::units::format_actual(&threshold.expr, threshold.actual),
        }
    }
}

/// What the thresholds say of the run: `None` while none is judged, or while any is pending
/// and none failed.
pub fn overall(verdicts: &[Verdict]) -> Option<bool> {
    if verdicts.iter().any(|v| v.state == VerdictState::Fail) {
        return Some(false);
    }
    if verdicts.is_empty() || verdicts.iter().any(|v| v.state == VerdictState::Pending) {
        return None;
    }
    Some(true)
}

/// Where the run comes from: this process (`ptl run`) or a cluster (`ptl coordinator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunSource {
    Local,
    Cluster,
}

/// One line of the runs list: enough to pick a run and see how it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: String,
    pub plan: String,
    pub source: RunSource,
    pub status: RunStatus,
    /// Why it stopped early or failed.
    pub reason: Option<String>,
    /// RFC 3339 UTC, once started.
    pub started_at: Option<String>,
    pub duration_s: f64,
    /// The plan's length, for "time left".
    pub planned_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub achieved_rps: f64,
    /// `null` while no request has been answered.
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Threshold verdicts (live: as judged so far).
    pub verdicts: Vec<Verdict>,
    /// All thresholds passed; `None` while the run has none judged, or while it runs with none
    /// failed and some still pending.
    pub passed: Option<bool>,
    /// What the operator may do to it now.
    pub controls: Controls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Controls {
    pub stop: bool,
    pub pause: bool,
    pub resume: bool,
}

/// A phase laid on the run's time axis (seconds from the start).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseSpan {
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MarkKind {
    /// Fewer agents than assigned (a cluster lost one).
    Degraded,
    /// The schedulers were held.
    Paused,
}

/// A stretch of the run marked on the charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub kind: MarkKind,
    pub label: String,
    pub start_s: f64,
    /// `None`: still going (drawn to the end of the data).
    pub end_s: Option<f64>,
}

/// The numbers at the top of the page.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Headline {
    pub elapsed_s: f64,
    pub phase: Option<String>,
    pub phase_left_s: f64,
    pub run_left_s: f64,
    pub target_rps: f64,
    pub achieved_rps: f64,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
}

/// One phase, as far as the run got: what it planned, sent and did not send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRow {
    pub name: String,
    pub target_rps: f64,
    pub achieved_rps: f64,
    pub planned: u64,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Iterations a `unique` feeder had no row left for (not sent).
    pub exhausted: u64,
}

/// One request of one phase, as far as the run got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRow {
    pub phase: String,
    pub request: String,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub achieved_rps: f64,
    /// `null` until the request has an answer.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentState {
    /// Assigned, nothing reported yet.
    Waiting,
    Running,
    /// Sent its last delta.
    Done,
    /// Vanished before it was done.
    Lost,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentView {
    pub name: String,
    /// Fraction of every phase's rate it generates.
    pub share: f64,
    pub state: AgentState,
    /// Unix ms of the last delta merged from it.
    pub last_report_ms: Option<i64>,
    pub deltas: u64,
    pub requests: u64,
    /// Its saturation in the last second it reported, 0..=1 (`ptl_engine::result::generator`):
    /// near 1, this agent, not the target, is what limits the rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saturation: Option<f64>,
}

/// A phase's response-time distribution so far: the percentile chart's data, in the shape
/// `charts.js` reads (`phases` of the report's chart JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseLatency {
    pub name: String,
    pub duration_s: f64,
    pub target_rps: f64,
    pub latency: Latency,
}

/// Everything the page draws for one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub summary: RunSummary,
    pub phases: Vec<PhaseSpan>,
    pub series: Vec<SeriesPoint>,
    pub marks: Vec<Mark>,
    pub headline: Headline,
    pub phase_rows: Vec<PhaseRow>,
    pub requests: Vec<RequestRow>,
    pub phase_latency: Vec<PhaseLatency>,
    pub agents: Vec<AgentView>,
}

/// The once-a-second update of a live run: the new (or revised: same `t`) series points and
/// everything else as it is now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    pub summary: RunSummary,
    pub points: Vec<SeriesPoint>,
    pub marks: Vec<Mark>,
    pub headline: Headline,
    pub phase_rows: Vec<PhaseRow>,
    pub requests: Vec<RequestRow>,
    pub phase_latency: Vec<PhaseLatency>,
    pub agents: Vec<AgentView>,
}

/// What a browser gets first on every (re)connection: the runs list and the full view of
/// every run still going plus the latest one, so a reconnecting page redraws from here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub runs: Vec<RunSummary>,
    pub views: Vec<RunView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threshold(expr: &str, passed: bool, actual: Option<f64>) -> ThresholdResult {
        ThresholdResult {
            expr: expr.to_string(),
            passed,
            actual,
            abort: false,
        }
    }

    #[test]
    fn a_threshold_without_data_is_pending_while_the_run_goes_on_and_failed_after() {
        let waiting = threshold("peak.p99 < 1s", false, None);
        let live = Verdict::of(&waiting, true);
        assert_eq!(live.state, VerdictState::Pending);
        assert_eq!(Verdict::of(&waiting, false).state, VerdictState::Fail);
        assert_eq!(live.actual_text, "no data");
        let held = Verdict::of(&threshold("p99 < 1s", true, Some(12.34)), true);
        assert_eq!(held.state, VerdictState::Pass);
        assert_eq!(held.actual_text, "12.3 ms");
    }

    #[test]
    fn the_live_verdict_waits_for_pending_thresholds_but_not_after_a_failure() {
        let pass = Verdict::of(&threshold("p99 < 1s", true, Some(5.0)), true);
        let pending = Verdict::of(&threshold("peak.p99 < 1s", false, None), true);
        let fail = Verdict::of(&threshold("error_rate < 1%", false, Some(0.2)), true);
        assert_eq!(overall(&[]), None);
        assert_eq!(overall(std::slice::from_ref(&pass)), Some(true));
        assert_eq!(overall(&[pass.clone(), pending.clone()]), None);
        assert_eq!(overall(&[pass, pending, fail]), Some(false));
    }
}
