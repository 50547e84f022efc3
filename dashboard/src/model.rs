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
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// Threshold verdicts (live: as judged so far).
    pub verdicts: Vec<ThresholdResult>,
    /// All thresholds passed (`None` while the run has none judged).
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

/// One request of one phase, as far as the run got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRow {
    pub phase: String,
    pub request: String,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub achieved_rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
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
