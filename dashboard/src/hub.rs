//! The dashboard's state: every run it knows (live ones with their series, finished ones with
//! their result), kept server-side so that any browser, connecting or reconnecting, gets the
//! whole picture at once; and the stream of events pushed to connected browsers.
//!
//! Feeds (`local` for `ptl run`, `cluster_feed` for `ptl coordinator`) write into the hub;
//! the server only reads. Every change is applied and broadcast under one lock, so a browser
//! that takes a snapshot and subscribes together never misses or doubles an event.
//!
//! The newest events are also kept in a bounded backlog, and each carries a [`Cursor`] as its
//! SSE id, so a browser that reconnects with `Last-Event-ID` is sent only what it missed: the
//! events after its own from the backlog when this hub still has them, else a `resume` event
//! with each run's series from the window it had on (see [`Hub::connect_after`]).

use crate::control::RunControl;
use crate::cursor::Cursor;
use crate::live_run::LiveRun;
use crate::model::{
    self, AgentState, AgentView, Controls, Headline, Mark, MarkKind, PhaseLatency, PhaseRow,
    PhaseSpan, RequestRow, RunSource, RunStatus, RunSummary, RunView, Snapshot, Tick, Verdict,
};
use ptl_bytecode::plan::Plan;
use ptl_engine::record::IntervalDelta;
use ptl_engine::result::{DegradedWindow, PauseWindow, RunResult};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast;

/// Finished runs kept for the runs list (the oldest go first; live runs are never dropped).
const MAX_RUNS: usize = 100;
/// Events a slow browser may fall behind before it is sent a fresh snapshot instead.
const EVENT_BACKLOG: usize = 256;
/// Events kept for replay to a browser reconnecting with `Last-Event-ID` (a few minutes of a
/// handful of live runs: one tick per run per second, plus the occasional run or runs event).
const REPLAY_EVENTS: usize = 1024;
/// Windows before the browser's newest one that a `resume` sends again: a late delta may still
/// revise them (the live series keeps 8 windows revisable), and the page replaces a point it
/// already has by its `t`, so resending them costs a few points and never duplicates one.
pub const RESUME_OVERLAP: u64 = 10;

/// One server-sent event, already serialised.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its place in this hub's stream: increases by one per published event (a snapshot or a
    /// resume carries the place of the last event it includes).
    pub seq: u64,
    /// The SSE `id:`: the encoded [`Cursor`] of a browser that has seen this event.
    pub id: Arc<str>,
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
    /// Arrivals per second of the plan's peak rate no agent was given, because the agents'
    /// declared capacities fall short (cluster runs; 0 once the run ended).
    pub capacity_shortfall: Option<f64>,
    /// Agents the run wants: those it has, plus enough to carry the shortfall at their mean
    /// declared capacity (cluster runs; 0 once the run ended).
    pub wanted_agents: Option<f64>,
    /// Each reporting agent's saturation in its last second (cluster runs).
    pub agent_saturation: Vec<(String, f64)>,
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
    /// See [`RunMetrics::capacity_shortfall`].
    shortfall_rps: f64,
    wanted_agents: usize,
    marks: Vec<Mark>,
    phases: Vec<PhaseSpan>,
    planned_s: f64,
    headline: Headline,
    control: Option<Arc<dyn RunControl>>,
    /// The newest series window published for it (ticks and run views).
    sent_window: Option<u64>,
}

struct HubState {
    /// Tells this hub's stream positions from another's (a restarted or other coordinator).
    instance: u64,
    runs: Vec<RunEntry>,
    next_event: u64,
    events: broadcast::Sender<Event>,
    /// The newest published events, oldest first.
    backlog: VecDeque<Event>,
}

pub struct Hub {
    state: Mutex<HubState>,
    /// Other dashboards showing the same runs (a cluster's other coordinators), where the page
    /// goes when this server stops answering.
    peers: Mutex<Vec<String>>,
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

/// What a browser reconnecting from another stream position gets instead of a snapshot: the
/// same runs and views, except that the series of each run named in `since` holds only the
/// points from that window on (to merge into what the browser has).
#[derive(Serialize)]
struct ResumeEvent {
    runs: Vec<RunSummary>,
    views: Vec<RunView>,
    since: BTreeMap<String, u64>,
}

impl Hub {
    pub fn new() -> Arc<Hub> {
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        Arc::new(Hub {
            state: Mutex::new(HubState {
                // Random per hub: two servers (or one restarted) never share stream positions.
                instance: RandomState::new().hash_one(std::process::id()),
                runs: Vec::new(),
                next_event: 1,
                events,
                backlog: VecDeque::new(),
            }),
            peers: Mutex::new(Vec::new()),
        })
    }

    /// The other dashboards' addresses, in the order the page should try them.
    pub fn set_peers(&self, peers: Vec<String>) {
        *self.peers.lock().unwrap_or_else(|p| p.into_inner()) = peers;
    }

    pub fn peers(&self) -> Vec<String> {
        self.peers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding the lock leaves plain data; the page is better served stale.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The snapshot a browser starts from, and the events after it.
    pub fn connect(&self) -> (Event, broadcast::Receiver<Event>) {
        let state = self.lock();
        let rx = state.events.subscribe();
        let snapshot = snapshot_of(&state);
        let event = state.event("snapshot", &snapshot);
        (event, rx)
    }

    /// What a browser whose last event had the id `last` (its `Last-Event-ID`) is sent first,
    /// and the events after that:
    /// - the events it missed, from the backlog, when `last` is this hub's and still covered
    ///   (none when it missed nothing);
    /// - else, when `last` names runs with the windows it had, one `resume` event;
    /// - else (no id, a foreign one) the full snapshot, as [`Hub::connect`].
    pub fn connect_after(&self, last: Option<&str>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let state = self.lock();
        let rx = state.events.subscribe();
        let cursor = last.and_then(Cursor::parse);
        let first = match cursor {
            Some(cursor) => match state.replay(&cursor) {
                Some(events) => events,
                None if !cursor.windows.is_empty() => {
                    let resume = resume_of(&state, &cursor);
                    vec![state.event("resume", &resume)]
                }
                None => vec![state.event("snapshot", &snapshot_of(&state))],
            },
            None => vec![state.event("snapshot", &snapshot_of(&state))],
        };
        (first, rx)
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
            shortfall_rps: 0.0,
            wanted_agents: 0,
            marks: Vec::new(),
            headline: Headline::default(),
            control: open.control,
            sent_window: None,
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
            marks: degraded_marks(&result.degraded),
            result: Some(result),
            agents: Vec::new(),
            shortfall_rps: 0.0,
            wanted_agents: 0,
            control: None,
            sent_window: None,
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
            shortfall_rps: 0.0,
            wanted_agents: 0,
            marks: Vec::new(),
            phases: Vec::new(),
            planned_s: 0.0,
            headline: Headline::default(),
            control: None,
            sent_window: None,
        });
        state.prune();
        self.publish_runs(&mut state);
    }

    pub fn knows(&self, id: &str) -> bool {
        self.lock().index(id).is_some()
    }

    /// Merges one agent's interval delta into the run (not yet sent: see [`Hub::tick`]).
    pub fn add_delta(&self, id: &str, delta: &IntervalDelta) -> Result<(), String> {
        self.add_span(id, delta, 1)
    }

    /// Merges an interval of the coordinator's history, `seconds` wide ([`LiveRun::add_span`]).
    pub fn add_span(&self, id: &str, delta: &IntervalDelta, seconds: u64) -> Result<(), String> {
        let mut state = self.lock();
        let live = state
            .index(id)
            .and_then(|i| state.runs[i].live.as_mut())
            .ok_or_else(|| format!("run {id} is not followed live"))?;
        live.add_span(delta, seconds)
    }

    /// Forgets the run's merged deltas, to merge them again from the start.
    pub fn clear_deltas(&self, id: &str) {
        let mut state = self.lock();
        if let Some(live) = state.index(id).and_then(|i| state.runs[i].live.as_mut()) {
            live.clear();
        }
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

    pub fn set_shortfall(&self, id: &str, rps: f64, wanted_agents: usize) {
        let mut state = self.lock();
        if let Some(i) = state.index(id) {
            state.runs[i].shortfall_rps = rps;
            state.runs[i].wanted_agents = wanted_agents;
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
        run.sent_window = run.sent_window.max(points.iter().map(|p| p.t).max());
        let event = TickEvent {
            id: &run.id,
            reset,
            tick: Tick {
                summary: run.summary(),
                points,
                marks: run.marks.clone(),
                headline: run.headline.clone(),
                phase_rows: run.phase_rows(),
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
            .filter(|m| m.kind != MarkKind::Degraded)
            .cloned()
            .collect();
        marks.extend(degraded_marks(&result.degraded));
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
                    capacity_shortfall: run.while_sending(run.shortfall_rps),
                    wanted_agents: run.while_sending(run.wanted_agents as f64),
                    agent_saturation: run
                        .agents
                        .iter()
                        .filter(|a| a.state == AgentState::Running)
                        .filter_map(|a| Some((a.name.clone(), a.saturation?)))
                        .collect(),
                })
            })
            .collect()
    }

    /// Sends the run's full view and the runs list (a run appeared or ended).
    fn publish_run(&self, state: &mut HubState, i: usize) {
        let view = state.runs[i].view();
        let run = &mut state.runs[i];
        run.sent_window = run.sent_window.max(view.series.last().map(|p| p.t));
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

    /// A snapshot or resume: it includes every event published so far, so its place is the
    /// last one's (a browser reconnecting from it is replayed what came after).
    fn event(&self, name: &'static str, data: &impl Serialize) -> Event {
        let seq = self.next_event - 1;
        Event {
            seq,
            id: self.cursor(seq).encode().into(),
            name,
            data: to_json(data).into(),
        }
    }

    fn send(&mut self, name: &'static str, data: String) {
        let seq = self.next_event;
        self.next_event += 1;
        let event = Event {
            seq,
            id: self.cursor(seq).encode().into(),
            name,
            data: data.into(),
        };
        if self.backlog.len() == REPLAY_EVENTS {
            self.backlog.pop_front();
        }
        self.backlog.push_back(event.clone());
        // No browser connected is not an error.
        let _ = self.events.send(event);
    }

    /// Where a browser stands once it has the event at `seq`: the runs still going, each with
    /// the newest window published for it.
    fn cursor(&self, seq: u64) -> Cursor {
        Cursor {
            stream: Some((self.instance, seq)),
            windows: self
                .runs
                .iter()
                .filter(|r| !r.status.is_finished())
                .filter_map(|r| Some((r.id.clone(), r.sent_window?)))
                .collect(),
        }
    }

    /// The events after the cursor's, when it is this hub's and the backlog still holds them
    /// all.
    fn replay(&self, cursor: &Cursor) -> Option<Vec<Event>> {
        let (instance, seq) = cursor.stream?;
        if instance != self.instance || seq >= self.next_event {
            return None;
        }
        let first_kept = self.backlog.front().map_or(self.next_event, |e| e.seq);
        if seq.saturating_add(1) < first_kept {
            return None;
        }
        Some(
            self.backlog
                .iter()
                .filter(|e| e.seq > seq)
                .cloned()
                .collect(),
        )
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
    /// A cluster run's scaling figure: `value` while it sends, 0 once it ended, none for a
    /// local run (no agents to scale).
    fn while_sending(&self, value: f64) -> Option<f64> {
        match (self.source, self.status) {
            (RunSource::Local, _) => None,
            (_, RunStatus::Running | RunStatus::Paused | RunStatus::Stopping) => Some(value),
            _ => Some(0.0),
        }
    }

    fn summary(&self) -> RunSummary {
        let result = self.result.as_ref();
        let total = result.map(|r| &r.total);
        let live = !self.status.is_finished();
        let verdicts: Vec<Verdict> = result
            .map(|r| r.thresholds.iter().map(|t| Verdict::of(t, live)).collect())
            .unwrap_or_default();
        let passed = model::overall(&verdicts);
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
            p95_ms: total.and_then(|t| t.response_time_ms.map(|l| l.p95)),
            p99_ms: total.and_then(|t| t.response_time_ms.map(|l| l.p99)),
            verdicts,
            passed,
            controls: Controls {
                stop: can(self.status != RunStatus::Stopping),
                pause: can(pausable && self.status == RunStatus::Running),
                resume: can(pausable && self.status == RunStatus::Paused),
            },
        }
    }

    /// The phases the run has reached: begun, or with anything counted.
    fn reached(&self) -> impl Iterator<Item = &ptl_engine::result::PhaseResult> {
        self.result
            .iter()
            .flat_map(|r| &r.phases)
            .filter(|p| p.duration_s > 0.0 || p.request_count > 0 || p.dropped > 0)
    }

    fn phase_rows(&self) -> Vec<PhaseRow> {
        self.reached()
            .map(|p| PhaseRow {
                name: p.name.clone(),
                target_rps: p.target_rps,
                achieved_rps: p.achieved_rps,
                planned: p.planned,
                requests: p.request_count,
                errors: p.errors,
                dropped: p.dropped,
                exhausted: p.exhausted,
            })
            .collect()
    }

    fn request_rows(&self) -> Vec<RequestRow> {
        self.reached()
            .flat_map(|phase| {
                phase.requests.iter().map(move |r| RequestRow {
                    phase: phase.name.clone(),
                    request: r.name.clone(),
                    requests: r.requests,
                    errors: r.errors,
                    dropped: r.dropped,
                    achieved_rps: r.achieved_rps,
                    p50_ms: r.response_time_ms.map(|l| l.p50),
                    p95_ms: r.response_time_ms.map(|l| l.p95),
                    p99_ms: r.response_time_ms.map(|l| l.p99),
                    max_ms: r.response_time_ms.map(|l| l.max),
                })
            })
            .collect()
    }

    fn phase_latency(&self) -> Vec<PhaseLatency> {
        self.result
            .iter()
            .flat_map(|r| &r.phases)
            .filter_map(|p| {
                Some(PhaseLatency {
                    name: p.name.clone(),
                    duration_s: p.duration_s,
                    target_rps: p.target_rps,
                    latency: p.response_time_ms?,
                })
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
            phase_rows: self.phase_rows(),
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

/// The snapshot's runs and views, plus the view of every run the cursor names, each of those
/// with its series cut to the windows the browser may lack or hold stale.
fn resume_of(state: &HubState, cursor: &Cursor) -> ResumeEvent {
    let latest = state.runs.len().checked_sub(1);
    let mut since = BTreeMap::new();
    let views = state
        .runs
        .iter()
        .enumerate()
        .filter(|(i, r)| {
            !r.status.is_finished() || Some(*i) == latest || cursor.windows.contains_key(&r.id)
        })
        .map(|(_, r)| {
            let mut view = r.view();
            if let Some(&window) = cursor.windows.get(&r.id) {
                let from = window.saturating_sub(RESUME_OVERLAP);
                view.series.retain(|p| p.t >= from);
                since.insert(r.id.clone(), from);
            }
            view
        })
        .collect();
    ResumeEvent {
        runs: state.runs.iter().rev().map(RunEntry::summary).collect(),
        views,
        since,
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

/// A cluster run's degraded windows (live, or as its result lists them) as chart marks.
pub fn degraded_marks(windows: &[DegradedWindow]) -> Vec<Mark> {
    windows
        .iter()
        .map(|w| Mark {
            kind: MarkKind::Degraded,
            label: format!("{} lost (epoch {})", w.agent, w.epoch),
            start_s: w.from_s,
            end_s: w.until_s,
        })
        .collect()
}

/// Pauses in milliseconds from the run's start (as a result lists them) as chart marks.
pub fn pause_marks(windows: &[PauseWindow]) -> Vec<Mark> {
    let seconds = |ms: u64| ms as f64 / 1000.0;
    windows
        .iter()
        .map(|w| Mark {
            kind: MarkKind::Paused,
            label: "paused".to_string(),
            start_s: seconds(w.start_ms),
            end_s: w.end_ms.map(seconds),
        })
        .collect()
}

fn to_json(value: &impl Serialize) -> String {
    // Our types serialise infallibly (non-finite floats become null).
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_plan::plan;
    use serde_json::Value;

    fn open(hub: &Hub, id: &str) {
        hub.open_run(RunOpen {
            id: id.to_string(),
            plan: plan(),
            plan_hash: "h".into(),
            started_at: SystemTime::UNIX_EPOCH,
            source: RunSource::Cluster,
            status: RunStatus::Running,
            control: None,
        });
    }

    /// Second `window` of run `id`: `n` answers of 1 ms, then the once-a-second tick.
    fn second(hub: &Hub, id: &str, window: u64, n: u64) {
        crate::test_plan::answered_second(hub, id, window, n, 1000, 1);
    }

    fn data(e: &Event) -> Value {
        serde_json::from_str(&e.data).expect("JSON")
    }

    /// What the page does with points: one per `t`, a later one replacing an earlier.
    fn merge(into: &mut BTreeMap<u64, f64>, points: &Value) {
        for p in points.as_array().expect("points") {
            let t = p["t"].as_u64().expect("t");
            into.insert(t, p["achieved_rps"].as_f64().expect("rate"));
        }
    }

    #[test]
    fn a_browser_of_this_hub_is_replayed_exactly_what_it_missed() {
        let hub = Hub::new();
        open(&hub, "r1");
        for w in 0..5 {
            second(&hub, "r1", w, w + 1);
        }
        let (first, _) = hub.connect_after(None);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].name, "snapshot");
        let seen = first[0].id.to_string();
        for w in 5..9 {
            second(&hub, "r1", w, w + 1);
        }
        let (missed, _) = hub.connect_after(Some(&seen));
        let names: Vec<&str> = missed.iter().map(|e| e.name).collect();
        assert_eq!(names, vec!["tick"; 4]);
        assert!(missed.windows(2).all(|w| w[1].seq == w[0].seq + 1));
        assert_eq!(missed[0].seq, first[0].seq + 1);
        let ts: Vec<u64> = missed
            .iter()
            .flat_map(|e| data(e)["points"].as_array().cloned().unwrap_or_default())
            .map(|p| p["t"].as_u64().expect("t"))
            .collect();
        assert_eq!(ts, vec![5, 6, 7, 8]);
        // Caught up: nothing to send, and the id says where the run is.
        let last = missed.last().expect("events").id.to_string();
        assert!(last.ends_with(" r1:8"), "{last}");
        assert!(hub.connect_after(Some(&last)).0.is_empty());
    }

    #[test]
    fn another_hub_resumes_each_run_from_its_window_without_a_gap() {
        // Two coordinators' dashboards following the same run: the browser was on `a`.
        let (a, b) = (Hub::new(), Hub::new());
        open(&a, "r1");
        open(&b, "r1");
        let mut page = BTreeMap::new();
        let (snap, _) = a.connect_after(None);
        assert_eq!(snap[0].name, "snapshot");
        for w in 0..30 {
            second(&a, "r1", w, w + 1);
        }
        let (after, _) = a.connect_after(Some(&snap[0].id));
        for e in &after {
            merge(&mut page, &data(e)["points"]);
        }
        let last = after.last().expect("ticks").id.to_string();
        for w in 0..40 {
            second(&b, "r1", w, w + 1);
        }
        let (resume, _) = b.connect_after(Some(&last));
        assert_eq!(resume.len(), 1);
        assert_eq!(resume[0].name, "resume");
        let body = data(&resume[0]);
        assert_eq!(body["since"]["r1"], 29 - RESUME_OVERLAP);
        let view = &body["views"][0];
        assert_eq!(view["summary"]["id"], "r1");
        let sent: Vec<u64> = view["series"]
            .as_array()
            .expect("series")
            .iter()
            .map(|p| p["t"].as_u64().expect("t"))
            .collect();
        assert_eq!(sent, ((29 - RESUME_OVERLAP)..40).collect::<Vec<_>>());
        merge(&mut page, &view["series"]);
        let full: BTreeMap<u64, f64> = b
            .view("r1")
            .expect("known")
            .series
            .iter()
            .map(|p| (p.t, p.achieved_rps))
            .collect();
        assert_eq!(page, full);
    }

    #[test]
    fn a_browser_too_far_behind_gets_a_resume_and_a_stranger_a_snapshot() {
        let hub = Hub::new();
        open(&hub, "r1");
        second(&hub, "r1", 0, 1);
        let (snap, _) = hub.connect_after(None);
        let seen = snap[0].id.to_string();
        for w in 1..(REPLAY_EVENTS as u64 + 10) {
            second(&hub, "r1", w, 1);
        }
        let (first, _) = hub.connect_after(Some(&seen));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].name, "resume");
        for foreign in ["", "17", "garbage id", "run-1:notanumber"] {
            let (first, _) = hub.connect_after(Some(foreign));
            assert_eq!(first[0].name, "snapshot", "{foreign:?}");
        }
    }

    #[test]
    fn a_run_that_ended_leaves_the_cursor_and_is_resumed_with_its_final_view() {
        let (a, b) = (Hub::new(), Hub::new());
        for hub in [&a, &b] {
            open(hub, "r1");
            for w in 0..20 {
                second(hub, "r1", w, 2);
            }
        }
        let (snap, _) = a.connect_after(None);
        assert!(snap[0].id.contains("r1:19"), "{}", snap[0].id);
        let result = b.result("r1").expect("live result").1;
        b.finish("r1", result);
        let (resume, _) = b.connect_after(Some(&snap[0].id));
        let body = data(&resume[0]);
        assert_eq!(body["views"][0]["summary"]["status"], "done");
        assert_eq!(body["since"]["r1"], 19 - RESUME_OVERLAP);
        assert!(!resume[0].id.contains("r1:"), "{}", resume[0].id);
    }
}
