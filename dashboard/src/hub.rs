//! The dashboard's state: every run it knows (live ones with their series, finished ones with
//! their result), kept server-side so that any browser, connecting or reconnecting, gets the
//! whole picture at once; and the stream of events pushed to connected browsers.
//!
//! Feeds (`local` for `ptl run`, `cluster_feed` for `ptl coordinator`) write into the hub;
//! the server only reads. Every change is applied and broadcast under one lock, so a browser
//! that takes a snapshot and subscribes together never misses or doubles an event.

use crate::control::RunControl;
use crate::live_run::LiveRun;
use crate::model::{
    AgentState, AgentView, Controls, Headline, Mark, PhaseLatency, PhaseSpan, RequestRow,
    RunSource, RunStatus, RunSummary, RunView, Snapshot, Tick,
};
use ptl_bytecode::plan::Plan;
use ptl_runtime::record::IntervalDelta;
use ptl_runtime::results::RunResult;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast;

/// Finished runs kept for the runs list (the oldest go first; live runs are never dropped).
const MAX_RUNS: usize = 100;
/// Events a slow browser may fall behind before it is sent a fresh snapshot instead.
const EVENT_BACKLOG: usize = 256;

/// One server-sent event, already serialised.
#[derive(Debug, Clone)]
pub struct Event {
    /// Increases by one per event (the SSE `id:`).
    pub id: u64,
    pub name: &'static str,
    pub data: Arc<str>,
}

/// A run starting to be followed.
pub struct RunOpen {
    pub id: String,
    pub plan: Arc<Plan>,
    /// Hex SHA-256 of the bytecode.
    pub plan_hash: String,
    pub started_at: SystemTime,
    pub source: RunSource,
    pub status: RunStatus,
    pub control: Option<Arc<dyn RunControl>>,
}

/// What `/metrics` reads of one run.
pub struct RunMetrics {
    pub id: String,
    pub status: RunStatus,
    pub result: RunResult,
    pub target_rps: f64,
    pub achieved_rps: f64,
    /// Agents reporting (running); `None` when the source has no agents to speak of.
    pub agents_connected: Option<u64>,
}

struct RunEntry {
    id: String,
    plan_name: String,
    source: RunSource,
    status: RunStatus,
    reason: Option<String>,
    live: Option<LiveRun>,
    /// The live result (rebuilt every tick) or the final one.
    result: Option<RunResult>,
    agents: Vec<AgentView>,
    marks: Vec<Mark>,
    phases: Vec<PhaseSpan>,
    planned_s: f64,
    headline: Headline,
    control: Option<Arc<dyn RunControl>>,
}

struct HubState {
    runs: Vec<RunEntry>,
    next_event: u64,
    events: broadcast::Sender<Event>,
}

pub struct Hub {
    state: Mutex<HubState>,
}

#[derive(Serialize)]
struct TickEvent<'a> {
    id: &'a str,
    /// The points replace the whole series (it was compacted).
    reset: bool,
    #[serde(flatten)]
    tick: Tick,
}

#[derive(Serialize)]
struct RunsEvent {
    runs: Vec<RunSummary>,
}

impl Hub {
    pub fn new() -> Arc<Hub> {
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        Arc::new(Hub {
            state: Mutex::new(HubState {
                runs: Vec::new(),
                next_event: 1,
                events,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding the lock leaves plain data; the page is better served stale.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The snapshot a browser starts from, and the events after it.
    pub fn connect(&self) -> (Event, broadcast::Receiver<Event>) {
        let mut state = self.lock();
        let rx = state.events.subscribe();
        let snapshot = snapshot_of(&state);
        let event = state.event("snapshot", &snapshot);
        (event, rx)
    }

    /// Starts following a run (a run already known keeps its data).
    pub fn open_run(&self, open: RunOpen) {
        let mut state = self.lock();
        if state.runs.iter().any(|r| r.id == open.id) {
            return;
        }
        let live = LiveRun::new(open.plan.clone(), open.plan_hash, open.started_at);
        let entry = RunEntry {
            id: open.id,
            plan_name: open.plan.name.clone(),
            source: open.source,
            status: open.status,
            reason: None,
            phases: live.phase_spans(),
            planned_s: live.planned().as_secs_f64(),
            result: Some(live.result()),
            live: Some(live),
            agents: Vec::new(),
            marks: Vec::new(),
            headline: Headline::default(),
            control: open.control,
        };
        state.runs.push(entry);
        state.prune();
        let last = state.runs.len() - 1;
        self.publish_run(&mut state, last);
    }

    /// Adds a run known only by its final result (history).
    pub fn add_finished(&self, id: &str, source: RunSource, result: RunResult) {
        let mut state = self.lock();
        if state.runs.iter().any(|r| r.id == id) {
            return;
        }
        let mut at = 0.0;
        let phases = result
            .phases
            .iter()
            .map(|p| {
                let span = PhaseSpan {
                    name: p.name.clone(),
                    start_s: at,
                    end_s: at + p.duration_s,
                };
                at += p.duration_s;
                span
            })
            .collect();
        let entry = RunEntry {
            id: id.to_string(),
            plan_name: result.plan.clone(),
            source,
            status: RunStatus::Done,
            reason: result.stop_reason.clone(),
            live: None,
            phases,
            planned_s: at,
            headline: headline_of_final(&result),
            marks: degraded_marks(&result),
            result: Some(result),
            agents: Vec::new(),
            control: None,
        };
        state.runs.push(entry);
        state.prune();
        self.publish_runs(&mut state);
    }

    /// Adds a run that ended without a result.
    pub fn add_failed(&self, id: &str, plan_name: &str, source: RunSource, reason: &str) {
        let mut state = self.lock();
        if let Some(i) = state.index(id) {
            let run = &mut state.runs[i];
            run.status = RunStatus::Failed;
            run.reason = Some(reason.to_string());
            run.control = None;
            self.publish_run(&mut state, i);
            return;
        }
        state.runs.push(RunEntry {
            id: id.to_string(),
            plan_name: plan_name.to_string(),
            source,
            status: RunStatus::Failed,
            reason: Some(reason.to_string()),
            live: None,
            result: None,
            agents: Vec::new(),
            marks: Vec::new(),
            phases: Vec::new(),
            planned_s: 0.0,
            headline: Headline::default(),
            control: None,
        });
        state.prune();
        self.publish_runs(&mut state);
    }

    pub fn knows(&self, id: &str) -> bool {
        self.lock().index(id).is_some()
    }

    /// Merges one agent's interval delta into the run (not yet sent: see [`Hub::tick`]).
    pub fn add_delta(&self, id: &str, delta: &IntervalDelta) -> Result<(), String> {
        let mut state = self.lock();
        let live = state
            .index(id)
            .and_then(|i| state.runs[i].live.as_mut())
            .ok_or_else(|| format!("run {id} is not followed live"))?;
        live.add(delta)
    }

    /// Sets how far into the run it is (the engine's own figure, or the wall clock).
    pub fn set_elapsed(&self, id: &str, elapsed: Duration) {
        let mut state = self.lock();
        if let Some(live) = state.index(id).and_then(|i| state.runs[i].live.as_mut()) {
            live.set_elapsed(elapsed);
        }
    }

    pub fn set_status(&self, id: &str, status: RunStatus, reason: Option<String>) {
        let mut state = self.lock();
        if let Some(i) = state.index(id) {
            let run = &mut state.runs[i];
            if run.status == status && (reason.is_none() || run.reason == reason) {
                return;
            }
            run.status = status;
            if reason.is_some() {
                run.reason = reason.clone();
            }
            if let Some(live) = run.live.as_mut() {
                if status == RunStatus::Stopping {
                    live.set_stop_reason(reason);
                }
            }
            self.publish_runs(&mut state);
        }
    }

    pub fn set_agents(&self, id: &str, agents: Vec<AgentView>) {
        let mut state = self.lock();
        if let Some(i) = state.index(id) {
            state.runs[i].agents = agents;
        }
    }

    pub fn set_marks(&self, id: &str, marks: Vec<Mark>) {
        let mut state = self.lock();
        if let Some(i) = state.index(id) {
            state.runs[i].marks = marks;
        }
    }

    /// Rebuilds the run's live result and pushes the second's update to every browser.
    pub fn tick(&self, id: &str) {
        let mut state = self.lock();
        let Some(i) = state.index(id) else {
            return;
        };
        let run = &mut state.runs[i];
        let Some(live) = run.live.as_mut() else {
            return;
        };
        let result = live.result();
        run.headline = live.headline(&result);
        let (points, reset) = live.take_changed();
        run.result = Some(result);
        let event = TickEvent {
            id: &run.id,
            reset,
            tick: Tick {
                summary: run.summary(),
                points,
                marks: run.marks.clone(),
                headline: run.headline.clone(),
                requests: run.request_rows(),
                phase_latency: run.phase_latency(),
                agents: run.agents.clone(),
            },
        };
        let data = to_json(&event);
        state.send("tick", data);
    }

    /// The run ended with this result: it replaces the live one, and every browser gets the
    /// final view.
    pub fn finish(&self, id: &str, mut result: RunResult) {
        let mut state = self.lock();
        let Some(i) = state.index(id) else {
            return;
        };
        let run = &mut state.runs[i];
        if let Some(live) = run.live.as_ref() {
            // A cluster's result carries no series: the one merged here is the run's.
            if result.series.is_empty() {
                result.series = live.series();
            }
        }
        run.headline = headline_of_final(&result);
        run.status = RunStatus::Done;
        run.reason = result.stop_reason.clone();
        let mut marks: Vec<Mark> = run
            .marks
            .iter()
            .filter(|m| m.kind != crate::model::MarkKind::Degraded)
            .cloned()
            .collect();
        marks.extend(degraded_marks(&result));
        run.marks = marks;
        for agent in &mut run.agents {
            if agent.state == AgentState::Running || agent.state == AgentState::Waiting {
                agent.state = AgentState::Done;
            }
        }
        run.result = Some(result);
        run.control = None;
        self.publish_run(&mut state, i);
    }

    pub fn runs(&self) -> Vec<RunSummary> {
        self.lock()
            .runs
            .iter()
            .rev()
            .map(RunEntry::summary)
            .collect()
    }

    pub fn view(&self, id: &str) -> Option<RunView> {
        let state = self.lock();
        state.index(id).map(|i| state.runs[i].view())
    }

    /// The run's result: final, or as it stands.
    pub fn result(&self, id: &str) -> Option<(RunStatus, RunResult)> {
        let state = self.lock();
        let run = &state.runs[state.index(id)?];
        run.result.clone().map(|r| (run.status, r))
    }

    pub fn status(&self, id: &str) -> Option<RunStatus> {
        let state = self.lock();
        state.index(id).map(|i| state.runs[i].status)
    }

    pub fn control(&self, id: &str) -> Option<Arc<dyn RunControl>> {
        let state = self.lock();
        state.index(id).and_then(|i| state.runs[i].control.clone())
    }

    pub fn metrics(&self) -> Vec<RunMetrics> {
        let state = self.lock();
        state
            .runs
            .iter()
            .filter_map(|run| {
                Some(RunMetrics {
                    id: run.id.clone(),
                    status: run.status,
                    result: run.result.clone()?,
                    target_rps: run.headline.target_rps,
                    achieved_rps: run.headline.achieved_rps,
                    agents_connected: match run.source {
                        RunSource::Local => None,
                        RunSource::Cluster => Some(
                            run.agents
                                .iter()
                                .filter(|a| a.state == AgentState::Running)
                                .count() as u64,
                        ),
                    },
                })
            })
            .collect()
    }

    /// Sends the run's full view and the runs list (a run appeared or ended).
    fn publish_run(&self, state: &mut HubState, i: usize) {
        let view = state.runs[i].view();
        state.send("run", to_json(&view));
        self.publish_runs(state);
    }

    fn publish_runs(&self, state: &mut HubState) {
        let runs = RunsEvent {
            runs: state.runs.iter().rev().map(RunEntry::summary).collect(),
        };
        state.send("runs", to_json(&runs));
    }
}

impl HubState {
    fn index(&self, id: &str) -> Option<usize> {
        self.runs.iter().position(|r| r.id == id)
    }

    fn event(&mut self, name: &'static str, data: &impl Serialize) -> Event {
        let id = self.next_event;
        self.next_event += 1;
        Event {
            id,
            name,
            data: to_json(data).into(),
        }
    }

    fn send(&mut self, name: &'static str, data: String) {
        let id = self.next_event;
        self.next_event += 1;
        let event = Event {
            id,
            name,
            data: data.into(),
        };
        // No browser connected is not an error.
        let _ = self.events.send(event);
    }

    fn prune(&mut self) {
        while self.runs.len() > MAX_RUNS {
            match self.runs.iter().position(|r| r.status.is_finished()) {
                Some(i) => {
                    self.runs.remove(i);
                }
                None => break,
            }
        }
    }
}

impl RunEntry {
    fn summary(&self) -> RunSummary {
        let result = self.result.as_ref();
        let total = result.map(|r| &r.total);
        let verdicts = result.map(|r| r.thresholds.clone()).unwrap_or_default();
        let passed = (!verdicts.is_empty()).then(|| verdicts.iter().all(|t| t.passed));
        let can = |ok: bool| ok && self.control.is_some() && !self.status.is_finished();
        let pausable = self.control.as_ref().is_some_and(|c| c.can_pause());
        RunSummary {
            id: self.id.clone(),
            plan: self.plan_name.clone(),
            source: self.source,
            status: self.status,
            reason: self.reason.clone(),
            started_at: result.map(|r| r.started_at.clone()),
            duration_s: result.map_or(0.0, |r| r.duration_s),
            planned_s: self.planned_s,
            requests: total.map_or(0, |t| t.requests),
            errors: total.map_or(0, |t| t.errors),
            dropped: total.map_or(0, |t| t.dropped),
            achieved_rps: total.map_or(0.0, |t| t.achieved_rps),
            p95_ms: total.map_or(0.0, |t| t.response_time_ms.p95),
            p99_ms: total.map_or(0.0, |t| t.response_time_ms.p99),
            verdicts,
            passed,
            controls: Controls {
                stop: can(self.status != RunStatus::Stopping),
                pause: can(pausable && self.status == RunStatus::Running),
                resume: can(pausable && self.status == RunStatus::Paused),
            },
        }
    }

    fn request_rows(&self) -> Vec<RequestRow> {
        let Some(result) = self.result.as_ref() else {
            return Vec::new();
        };
        result
            .phases
            .iter()
            .filter(|p| p.duration_s > 0.0 || p.request_count > 0 || p.dropped > 0)
            .flat_map(|phase| {
                phase.requests.iter().map(move |r| RequestRow {
                    phase: phase.name.clone(),
                    request: r.name.clone(),
                    requests: r.requests,
                    errors: r.errors,
                    dropped: r.dropped,
                    achieved_rps: r.achieved_rps,
                    p50_ms: r.response_time_ms.p50,
                    p95_ms: r.response_time_ms.p95,
                    p99_ms: r.response_time_ms.p99,
                    max_ms: r.response_time_ms.max,
                })
            })
            .collect()
    }

    fn phase_latency(&self) -> Vec<PhaseLatency> {
        self.result
            .iter()
            .flat_map(|r| &r.phases)
            .filter(|p| p.request_count > 0)
            .map(|p| PhaseLatency {
                name: p.name.clone(),
                duration_s: p.duration_s,
                target_rps: p.target_rps,
                latency: p.response_time_ms,
            })
            .collect()
    }

    fn view(&self) -> RunView {
        let series = match (&self.live, &self.result) {
            (_, Some(r)) if self.status.is_finished() && !r.series.is_empty() => r.series.clone(),
            (Some(live), _) => live.series(),
            (None, Some(r)) => r.series.clone(),
            (None, None) => Vec::new(),
        };
        RunView {
            summary: self.summary(),
            phases: self.phases.clone(),
            series,
            marks: self.marks.clone(),
            headline: self.headline.clone(),
            requests: self.request_rows(),
            phase_latency: self.phase_latency(),
            agents: self.agents.clone(),
        }
    }
}

/// The runs list, and full views of the runs still going plus the latest run (so a page
/// opened after a run ended still shows it).
fn snapshot_of(state: &HubState) -> Snapshot {
    let latest = state.runs.len().checked_sub(1);
    let views = state
        .runs
        .iter()
        .enumerate()
        .filter(|(i, r)| !r.status.is_finished() || Some(*i) == latest)
        .map(|(_, r)| r.view())
        .collect();
    Snapshot {
        runs: state.runs.iter().rev().map(RunEntry::summary).collect(),
        views,
    }
}

fn headline_of_final(result: &RunResult) -> Headline {
    let last = result.series.last();
    Headline {
        elapsed_s: result.duration_s,
        phase: None,
        phase_left_s: 0.0,
        run_left_s: 0.0,
        target_rps: last.map_or(0.0, |p| p.target_rps),
        achieved_rps: last.map_or(0.0, |p| p.achieved_rps),
        requests: result.total.requests,
        errors: result.total.errors,
        dropped: result.total.dropped,
    }
}

/// A cluster result's degraded windows as chart marks.
pub fn degraded_marks(result: &RunResult) -> Vec<Mark> {
    result
        .degraded
        .iter()
        .map(|w| Mark {
            kind: crate::model::MarkKind::Degraded,
            label: format!("{} lost (epoch {})", w.agent, w.epoch),
            start_s: w.from_s,
            end_s: w.until_s,
        })
        .collect()
}

fn to_json(value: &impl Serialize) -> String {
    // Our types serialise infallibly (non-finite floats become null).
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string())
}
