//! The result of a run as written by `--out` (documented in `docs/results.md`), and how it is
//! made: [`summarize`] turns a merged record into a [`RunResult`], [`thresholds`] judges the
//! plan's thresholds against it.
//!
//! These names are a public format other tools read: add fields, never rename them.
//! Latencies are milliseconds (f64); rates are per second; shares are fractions 0..=1.
//! Exact merging across agents happens on histograms (see `histogram_merge`), never on these
//! summaries: this is the rendering of merged histograms.

pub mod generator;
pub mod summarize;
pub mod thresholds;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Format version of this JSON.
    pub schema: u32,
    pub ptl_version: String,
    pub plan: String,
    /// Hex SHA-256 of the bytecode: the plan's content address.
    pub plan_hash: String,
    pub params: BTreeMap<String, String>,
    pub seed: u64,
    pub target: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub duration_s: f64,
    /// True when the run was stopped early (Ctrl-C, an `abort` threshold, `ptl stop`).
    pub stopped_early: bool,
    pub stop_reason: Option<String>,
    /// Whole run, all requests.
    pub total: Totals,
    pub phases: Vec<PhaseResult>,
    pub thresholds: Vec<ThresholdResult>,
    /// One-second buckets from the start of the run (bounded: see `series`).
    pub series: Vec<SeriesPoint>,
    /// Cluster runs only: agents lost during the run (absent when none was).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<DegradedWindow>,
    /// When the run was paused (oldest first; empty when never). Paused time is left out of
    /// every `achieved_rps`.
    #[serde(default)]
    pub pauses: Vec<PauseWindow>,
    /// Cluster runs only: where the plan's arrivals went, and whether the run lost any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounting: Option<Accounting>,
    /// Cluster runs of a signed plan: who signed it, `name (key id)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// Whether the generator was the bottleneck: its saturation (docs/results.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<generator::GeneratorLoad>,
    /// Plans that send to more than one host: a row per host, the plan's `target` first (as
    /// `default`), over the whole run. Absent for a plan with one host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostResult>,
    /// A row per `tag key = "value"` pair the plan's requests carry, over the whole run, in
    /// the order the plan first uses them. Absent for a plan without tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagResult>,
}

/// What a set of requests did over the whole run: the requests of one host, or of one tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct GroupResult {
    /// Requests completed (with any outcome); `errors` are among them.
    pub requests: u64,
    pub errors: u64,
    /// Arrivals dropped before their first request (counted for that request's host or tags).
    pub dropped: u64,
    pub errors_by_class: BTreeMap<String, u64>,
    pub injected: BTreeMap<String, u64>,
    pub status_codes: BTreeMap<String, u64>,
    pub response_time_ms: Option<Latency>,
    pub service_time_ms: Option<Latency>,
}

/// One host's row: `name` is `default` for the plan's `target`, the target's name for a
/// `target NAME "…"`, and the base URL for a host named by an absolute URL in a request line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostResult {
    pub name: String,
    /// The base URL requests to it were joined onto.
    pub url: String,
    #[serde(flatten)]
    pub stats: GroupResult,
}

/// One tag's row: every request carrying `key = "value"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagResult {
    pub key: String,
    pub value: String,
    #[serde(flatten)]
    pub stats: GroupResult,
}

/// A cluster run's account of the plan's open-model arrivals (`docs/results.md`):
/// `planned = reported + unreported + lost_share` (give or take each agent's rounding of its
/// share), where `reported` holds every arrival some agent's reports account for (sent, or
/// dropped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Accounting {
    /// The plan's own count of arrivals over the time the run ran (pauses left out).
    pub planned: u64,
    /// Arrivals in the agents' reports: started or dropped (the phases' `planned` added).
    pub reported: u64,
    /// Arrivals agents held back because they could not prove their place in the run (their
    /// lease had lapsed: paused, cut off from ZooKeeper). Not in `reported`: those due before
    /// another agent took the share over are in `lost_share`, the rest were sent by it.
    pub fenced: u64,
    /// Sent by agents that were lost before they reported them: estimated from the schedule
    /// (the lost agent's share over the reporting interval after its last report).
    pub unreported: u64,
    /// Planned but sent by no agent: a lost agent's share before the survivors took it over.
    pub lost_share: u64,
    /// The run lost part of its load or of its data: the verdict says so, and `ptl submit
    /// --wait` exits 5.
    pub degraded: bool,
    /// Why, in words (empty when not degraded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// A stretch of the run during which its schedules held (no arrival due, no closed-model
/// user starting an iteration); requests already in flight finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseWindow {
    /// Milliseconds from the run start when the pause began.
    pub start_ms: u64,
    /// When it was resumed (`null`: the run stopped while paused).
    pub end_ms: Option<u64>,
}

/// A stretch of a cluster run with fewer agents than assigned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DegradedWindow {
    /// The lost agent.
    pub agent: String,
    /// Seconds from the run start when the lost share stopped: the end of the agent's last
    /// reported interval.
    pub from_s: f64,
    /// When the survivors' larger shares took effect (`null`: never; the run went on with
    /// less load, or stopped).
    pub until_s: Option<f64>,
    /// The assignment epoch in force after the loss.
    pub epoch: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Totals {
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Arrivals sent within their phase, per second of the run (paused time excluded).
    pub achieved_rps: f64,
    pub response_time_ms: Option<Latency>,
    pub service_time_ms: Option<Latency>,
    pub schedule_lag_ms: Option<Latency>,
    pub errors_by_class: BTreeMap<String, u64>,
    /// Arrivals sent after the end of their own phase (the phases' `sent_after_end` added).
    #[serde(default)]
    pub sent_after_end: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    pub name: String,
    /// Mean planned arrival rate over the phase (0 for `pause` and closed `users` phases).
    pub target_rps: f64,
    /// Arrivals sent within the phase (started, less `sent_after_end`) per second of its
    /// running time (`duration_s` less `paused_ms`).
    pub achieved_rps: f64,
    /// Wall-clock time the phase spanned, pauses included.
    pub duration_s: f64,
    /// Of `duration_s`, the time the run was paused (left out of `achieved_rps`).
    #[serde(default)]
    pub paused_ms: u64,
    /// Planned arrivals over the phase (as far as it ran).
    pub planned: u64,
    /// Requests completed (with any outcome); `errors` and `injected` are among them.
    /// (`requests` is the per-request breakdown below, as the schema asks.)
    pub request_count: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Arrivals that started, but were sent after the phase's end (they waited in the
    /// `overflow queue` or for a connection past it); not in `achieved_rps`.
    #[serde(default)]
    pub sent_after_end: u64,
    /// Iterations that could not start because a `unique` feeder had no row left (in an open
    /// phase they are also in `dropped`; in a closed phase each stopped one user).
    #[serde(default)]
    pub exhausted: u64,
    pub errors_by_class: BTreeMap<String, u64>,
    /// Requests that carried an injected fault, by fault kind; not counted in `errors`.
    pub injected: BTreeMap<String, u64>,
    pub response_time_ms: Option<Latency>,
    pub service_time_ms: Option<Latency>,
    pub schedule_lag_ms: Option<Latency>,
    /// One entry per request (top-level `request`s and scenario steps by `scenario.step`).
    pub requests: Vec<RequestResult>,
    pub scenarios: Vec<ScenarioResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestResult {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Requests sent within the phase (`requests` less `sent_after_end`) per second of it.
    pub achieved_rps: f64,
    /// Of `requests`, those sent after the phase's end; not in `achieved_rps`.
    #[serde(default)]
    pub sent_after_end: u64,
    pub errors_by_class: BTreeMap<String, u64>,
    pub injected: BTreeMap<String, u64>,
    pub status_codes: BTreeMap<String, u64>,
    pub response_time_ms: Option<Latency>,
    pub service_time_ms: Option<Latency>,
    pub schedule_lag_ms: Option<Latency>,
    /// Scenario steps only: steps not run because an earlier step ended the iteration.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// The host it went to (`default`, a target's name, or an absolute URL's base); only in
    /// the results of a plan with more than one host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Its tags, key to value (absent when it has none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub iterations: u64,
    pub completed: u64,
    pub failed: u64,
    pub dropped: u64,
    /// Of `iterations`, those started after the phase's end.
    #[serde(default)]
    pub sent_after_end: u64,
    pub iteration_time_ms: Option<Latency>,
    pub steps: Vec<RequestResult>,
}

/// Percentiles of one histogram, in milliseconds. Every field holding one is an `Option`:
/// `null` when the histogram has no sample (no answered request, no finished iteration), so
/// "no data" never reads as 0 ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    pub passed: bool,
    /// The measured value, in the threshold's unit (ms for latencies, fraction for rates).
    pub actual: Option<f64>,
    pub abort: bool,
}

/// One second of the run, all phases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SeriesPoint {
    /// Seconds since the start of the run.
    pub t: u64,
    pub phase: String,
    /// Planned rate over the point's time; 0 for the part of it that was paused.
    pub target_rps: f64,
    pub achieved_rps: f64,
    pub errors: u64,
    pub dropped: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Fraction (0..=1) of the point's time the run was paused.
    #[serde(default)]
    pub paused: f64,
}

/// Planned rates within this share of each other are one step (`stop_at knee`, `ptl analyze`).
pub const SAME_STEP_RATE: f64 = 0.01;

impl SeriesPoint {
    /// Errors over the requests sent in the point's unpaused time (0 when none were).
    pub fn error_rate(&self) -> f64 {
        let sent = self.achieved_rps * (1.0 - self.paused);
        if sent > 0.0 {
            (self.errors as f64 / sent).min(1.0)
        } else {
            0.0
        }
    }

    /// Part of the same step as `other`: the same phase, a planned rate within
    /// [`SAME_STEP_RATE`] of it.
    pub fn same_step_as(&self, other: &SeriesPoint) -> bool {
        self.phase == other.phase
            && (self.target_rps - other.target_rps).abs() <= SAME_STEP_RATE * other.target_rps
    }

    /// Two neighbouring points as one, when a bounded series halves its resolution: counts
    /// add, rates, p50 and the paused fraction average, the upper percentiles keep the larger
    /// (a bound, since percentiles of two seconds cannot be recovered from their points).
    pub fn merged_with(self, next: SeriesPoint) -> SeriesPoint {
        SeriesPoint {
            t: self.t,
            target_rps: (self.target_rps + next.target_rps) / 2.0,
            achieved_rps: (self.achieved_rps + next.achieved_rps) / 2.0,
            errors: self.errors + next.errors,
            dropped: self.dropped + next.dropped,
            p50_ms: (self.p50_ms + next.p50_ms) / 2.0,
            p95_ms: self.p95_ms.max(next.p95_ms),
            p99_ms: self.p99_ms.max(next.p99_ms),
            max_ms: self.max_ms.max(next.max_ms),
            paused: (self.paused + next.paused) / 2.0,
            phase: self.phase,
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
