//! `ptl coordinator`: the elected leader takes pending runs, waits for enough agents, writes
//! the assignment, rebalances when an agent vanishes, merges every agent's interval deltas
//! exactly (histograms add; nothing is averaged) second by second, and writes the live view,
//! the final result (with its per-second series) and the merged record behind it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ptl_bytecode::Plan;
use ptl_runtime::record::{decode_delta, Recorded};
use ptl_runtime::results::{DegradedWindow as ResultDegraded, RunResult, SeriesPoint};
use serde::{Deserialize, Serialize};
use zookeeper_client::Client;

use crate::agent::DoneMarker;
use crate::agent_registry::{self, RegisteredAgent};
use crate::assignment::{self, Assignment, Share};
use crate::clock;
use crate::election::Candidate;
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::layout;
use crate::merged_record;
use crate::merged_windows::MergedWindows;
use crate::plan_store;
use crate::run::{self, DegradedWindow, LossPolicy, RunPhase, RunSpec};
use crate::zk::{self, ZkConfig};

/// What the final result is built from: the merged record of every agent.
pub struct SummaryInput<'a> {
    pub plan: &'a Plan,
    pub spec: &'a RunSpec,
    pub recorded: &'a Recorded,
    pub started_at_ms: i64,
    pub duration: Duration,
    pub stop_reason: Option<String>,
    /// The per-second series, built from every agent's windows by the runtime's collector.
    pub series: &'a [SeriesPoint],
}

/// Renders merged data as a `RunResult`. The CLI passes the runtime's own summary code, so a
/// cluster run reports exactly as `ptl run` would for the same totals.
pub type Summarise = Arc<dyn Fn(&SummaryInput<'_>) -> RunResult + Send + Sync>;

#[derive(Clone)]
pub struct CoordinatorConfig {
    pub zk: ZkConfig,
    /// Shown by `ptl status` as the leader.
    pub id: String,
    pub summarise: Summarise,
    /// How often a run's reports and agents are looked at.
    pub poll: Duration,
    /// Extra time past the plan's end before agents that never said `done` are given up on.
    pub finish_grace: Duration,
}

/// The data of `/runs/<id>/live`, rewritten as deltas arrive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveView {
    pub epoch: u32,
    pub agents: usize,
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Deltas merged so far, per agent.
    pub deltas: BTreeMap<String, u64>,
    /// Requests merged so far, per agent.
    pub agent_requests: BTreeMap<String, u64>,
    pub updated_at_ms: i64,
    /// The run's start instant, ZooKeeper clock, Unix ms.
    #[serde(default)]
    pub started_at_ms: i64,
    /// Response time percentiles of everything merged so far (exact merge, never averaged).
    #[serde(default)]
    pub p50_ms: f64,
    #[serde(default)]
    pub p99_ms: f64,
}

/// How often a run waiting for agents looks whether it was stopped meanwhile.
const STOP_CHECK: Duration = Duration::from_secs(1);

/// Leads (after winning the election) and coordinates runs until `shutdown` resolves.
pub async fn run_coordinator(
    config: CoordinatorConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ClusterError> {
    let client = zk::connect(&config.zk).await?;
    let candidate = Candidate::join(&client, &config.id).await?;
    tokio::pin!(shutdown);
    tokio::select! {
        _ = &mut shutdown => return candidate.resign().await,
        led = candidate.wait_until_leader() => led?,
    }
    let mut running: HashSet<RunId> = HashSet::new();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        for id in run::list(&client).await? {
            if running.contains(&id) {
                continue;
            }
            let Ok(state) = run::state(&client, &id).await else {
                continue;
            };
            let take = match takeover(&state) {
                Takeover::Leave => continue,
                Takeover::EndStopped => {
                    // Stopped while no coordinator ran it: nothing ran, so it simply ends.
                    running.insert(id.clone());
                    let reason = stopped_before_start(&id, &state).to_string();
                    run::update_state(&client, &id, |s| {
                        s.phase = RunPhase::Failed;
                        s.reason = Some(reason.clone());
                        true
                    })
                    .await?;
                    continue;
                }
                take => take,
            };
            running.insert(id.clone());
            let (client, config, id) = (client.clone(), config.clone(), id.clone());
            tasks.spawn(async move {
                let outcome = match take {
                    Takeover::Resume => resume(&client, &config, &id).await,
                    _ => coordinate(&client, &config, &id).await,
                };
                if let Err(error) = outcome {
                    let reason = error.to_string();
                    let _ = run::update_state(&client, &id, |s| {
                        s.phase = RunPhase::Failed;
                        s.reason = Some(reason.clone());
                        true
                    })
                    .await;
                }
            });
        }
        let (_, _, watcher) = client
            .get_and_watch_children(layout::RUNS)
            .await
            .map_err(|e| ClusterError::zk("watch", layout::RUNS, e))?;
        tokio::select! {
            _ = &mut shutdown => {
                tasks.abort_all();
                return candidate.resign().await;
            }
            _ = watcher.changed() => {}
            _ = tokio::time::sleep(config.poll * 5) => {}
        }
    }
}

/// What the leader does with a run it is not coordinating yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takeover {
    /// Finished: nothing to do.
    Leave,
    /// Stopped before it ever ran: it ends as failed, with the stop's reason.
    EndStopped,
    /// Pending: wait for agents and start it.
    Start,
    /// Running, or stopping after it ran, with no coordinator (the one that started it is
    /// gone): carry on from what ZooKeeper holds.
    Resume,
}

/// Only the leader coordinates, and it never hands a run over while alive, so a run it does
/// not coordinate is either new or left by a previous leader.
fn takeover(state: &run::RunState) -> Takeover {
    match state.phase {
        RunPhase::Pending => Takeover::Start,
        RunPhase::Running => Takeover::Resume,
        RunPhase::Stopping if state.running_since_ms.is_some() => Takeover::Resume,
        RunPhase::Stopping => Takeover::EndStopped,
        RunPhase::Done | RunPhase::Failed => Takeover::Leave,
    }
}

/// Takes one run from pending to done (or failed).
async fn coordinate(
    client: &Client,
    config: &CoordinatorConfig,
    id: &RunId,
) -> Result<(), ClusterError> {
    let spec = run::spec(client, id).await?;
    run::update_state(client, id, |s| {
        s.coordinator = Some(config.id.clone());
        true
    })
    .await?;
    let bytecode = plan_store::load(client, &spec.plan_hash).await?;
    let plan =
        ptl_bytecode::decode(&bytecode).map_err(|e| ClusterError::Bytecode(e.to_string()))?;

    let chosen = wait_for_agents(client, id, &spec).await?;
    let members: Vec<(AgentId, Option<f64>)> = chosen
        .iter()
        .map(|a| (a.id.clone(), a.info.capacity))
        .collect();
    let start_at_ms = clock::now_ms() + spec.start_delay_ms as i64;
    let current = assignment::assign(&members, start_at_ms, spec.stagger_ms);
    zk::put_json(client, &layout::run_assignment(id), &current, "assignment").await?;
    // Only a pending run starts: one stopped while it waited for agents ends here, before any
    // agent sees it running.
    let state = run::update_state(client, id, |s| {
        if s.phase != RunPhase::Pending {
            return false;
        }
        s.phase = RunPhase::Running;
        s.running_since_ms = Some(clock::now_ms());
        true
    })
    .await?;
    if state.phase != RunPhase::Running {
        return Err(stopped_before_start(id, &state));
    }
    let members = current
        .shares
        .iter()
        .map(|share| Member::of(share, current.start_at_ms))
        .collect();
    follow(client, config, id, &spec, &plan, current, members).await
}

/// Carries on with a run a previous leader started: its members are the assignment's agents
/// (lost ones as recorded in the state), every delta written so far is merged again from the
/// start, and following goes on as if this coordinator had started it.
async fn resume(
    client: &Client,
    config: &CoordinatorConfig,
    id: &RunId,
) -> Result<(), ClusterError> {
    let spec = run::spec(client, id).await?;
    let state = run::update_state(client, id, |s| {
        s.coordinator = Some(config.id.clone());
        true
    })
    .await?;
    let result_path = layout::run_result(id);
    let written = client
        .check_stat(&result_path)
        .await
        .map_err(|e| ClusterError::zk("read", &result_path, e))?;
    if written.is_some() {
        // The previous leader wrote the result and died before marking the run done.
        run::update_state(client, id, |s| {
            s.phase = RunPhase::Done;
            true
        })
        .await?;
        return Ok(());
    }
    let bytecode = plan_store::load(client, &spec.plan_hash).await?;
    let plan =
        ptl_bytecode::decode(&bytecode).map_err(|e| ClusterError::Bytecode(e.to_string()))?;
    let path = layout::run_assignment(id);
    let (current, _) = zk::get_json::<Assignment>(client, &path, "assignment")
        .await?
        .ok_or_else(|| ClusterError::malformed("assignment", &path, "missing for a started run"))?;
    let lost: HashSet<&str> = state.degraded.iter().map(|w| w.agent.as_str()).collect();
    let members = current
        .shares
        .iter()
        .chain(&current.departed)
        .map(|share| {
            let mut member = Member::of(share, current.start_at_ms);
            member.lost = lost.contains(share.agent.0.as_str());
            member
        })
        .collect();
    follow(client, config, id, &spec, &plan, current, members).await
}

/// One agent's part of the run as the coordinator follows it.
struct Member {
    id: AgentId,
    /// Its start, ZooKeeper clock, Unix ms: its window `k` began `k` seconds after it.
    start_at_ms: i64,
    /// The second of the run its window 0 falls in (its staggered start, rounded).
    offset_s: u64,
    /// Delta nodes merged.
    seen: HashSet<String>,
    /// Its latest window, held back until a later one comes or its done marker says how long
    /// that last one was.
    held: Option<(u64, Recorded)>,
    done: Option<DoneMarker>,
    lost: bool,
}

impl Member {
    fn of(share: &Share, run_start_ms: i64) -> Member {
        Member {
            id: share.agent.clone(),
            start_at_ms: run_start_ms + share.start_offset_ms as i64,
            offset_s: (share.start_offset_ms + 500) / 1000,
            seen: HashSet::new(),
            held: None,
            done: None,
            lost: false,
        }
    }

    fn finished(&self) -> bool {
        self.done.is_some() || self.lost
    }

    /// Seconds of the run before this one are complete as far as this agent goes.
    fn horizon(&self) -> u64 {
        if self.finished() {
            return u64::MAX;
        }
        let window = self.held.as_ref().map_or(0, |(window, _)| *window);
        self.offset_s + window
    }

    /// Hands the held window over, `seconds` long.
    fn release(&mut self, windows: &mut MergedWindows, seconds: f64) -> Result<(), ClusterError> {
        if let Some((window, recorded)) = self.held.take() {
            windows
                .add(self.offset_s + window, seconds, &recorded)
                .map_err(|e| ClusterError::malformed("interval delta", &self.id.0, e))?;
        }
        Ok(())
    }

    /// How long its last window was: from its window's start to when its engine returned.
    fn last_window_seconds(&self) -> f64 {
        let ended = self.done.as_ref().and_then(|d| d.ended_at_ms);
        match (ended, &self.held) {
            (Some(ended), Some((window, _))) => {
                let since_start = (ended - self.start_at_ms) as f64 / 1000.0;
                (since_start - *window as f64).clamp(0.0, 1.0)
            }
            _ => 1.0,
        }
    }
}

/// Follows a running run to its end: merges every delta, rebalances lost agents, judges
/// `abort` thresholds, writes the live view, then the final result.
async fn follow(
    client: &Client,
    config: &CoordinatorConfig,
    id: &RunId,
    spec: &RunSpec,
    plan: &Plan,
    mut current: Assignment,
    mut members: Vec<Member>,
) -> Result<(), ClusterError> {
    let start_at_ms = current.start_at_ms;
    let mut windows = MergedWindows::new(plan);
    let mut live = LiveView {
        epoch: current.epoch,
        agents: members.len(),
        requests: 0,
        errors: 0,
        dropped: 0,
        deltas: BTreeMap::new(),
        agent_requests: BTreeMap::new(),
        updated_at_ms: clock::now_ms(),
        started_at_ms: start_at_ms,
        p50_ms: 0.0,
        p99_ms: 0.0,
    };
    let plan_ms: u64 = plan
        .phases
        .iter()
        .map(|p| p.load.duration_us() / 1000)
        .sum();
    let last_offset_ms = current
        .shares
        .iter()
        .chain(&current.departed)
        .map(|s| s.start_offset_ms)
        .max()
        .unwrap_or(0);
    let give_up_at =
        start_at_ms + (last_offset_ms + plan_ms) as i64 + config.finish_grace.as_millis() as i64;
    let mut stop_reason = None;
    let mut stopped_at_ms = None;
    // A run taken over while stopping is not stopped again.
    let mut aborted = run::state(client, id).await?.phase == RunPhase::Stopping;

    loop {
        // Listed before merging: an agent done (or gone) by now has all its deltas written.
        let done = zk::children(client, &layout::run_done(id)).await?;
        let alive: HashSet<AgentId> = agent_registry::list(client)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        for member in members.iter_mut().filter(|m| m.done.is_none()) {
            if done.contains(&member.id.0) {
                let path = layout::agent_done(id, &member.id);
                member.done = zk::get_json::<DoneMarker>(client, &path, "agent done")
                    .await?
                    .map(|(marker, _)| marker);
            }
        }
        for member in members.iter_mut() {
            merge_new(client, id, member, &mut windows, &mut live).await?;
            if member.done.is_some() {
                let seconds = member.last_window_seconds();
                member.release(&mut windows, seconds)?;
            } else if member.lost {
                member.release(&mut windows, 1.0)?;
            }
        }
        let newly_lost: Vec<AgentId> = members
            .iter()
            .filter(|m| !alive.contains(&m.id) && !m.finished())
            .map(|m| m.id.clone())
            .collect();
        if !newly_lost.is_empty() {
            for member in members.iter_mut().filter(|m| newly_lost.contains(&m.id)) {
                member.lost = true;
                member.release(&mut windows, 1.0)?;
            }
            let now = clock::now_ms();
            let survivors: Vec<AgentId> = members
                .iter()
                .filter(|m| !m.lost)
                .map(|m| m.id.clone())
                .collect();
            let mut until = None;
            match spec.on_agent_loss {
                LossPolicy::Rebalance => {
                    if let Some(next) = assignment::rebalance(&current, &survivors, now) {
                        current = next;
                        zk::put_json(client, &layout::run_assignment(id), &current, "assignment")
                            .await?;
                        until = Some(now);
                    }
                }
                LossPolicy::Continue => {}
                LossPolicy::Abort => {
                    run::stop(client, id, "an agent was lost").await?;
                }
            }
            let epoch = current.epoch;
            run::update_state(client, id, |s| {
                for agent in &newly_lost {
                    s.degraded.push(DegradedWindow {
                        agent: agent.0.clone(),
                        from_ms: now,
                        until_ms: until,
                        epoch,
                    });
                }
                true
            })
            .await?;
            live.epoch = epoch;
        }
        let horizon = members
            .iter()
            .map(Member::horizon)
            .min()
            .unwrap_or(u64::MAX);
        if windows.advance(horizon) {
            if let Some(progress) = windows.progress() {
                (live.p50_ms, live.p99_ms) = (progress.p50_ms, progress.p99_ms);
            }
            // `abort` thresholds are judged here, on everything merged, never per agent.
            if !aborted {
                if let Some(expr) = windows.crossed_abort(plan) {
                    aborted = true;
                    run::stop(client, id, &format!("threshold {expr} crossed")).await?;
                }
            }
        }
        live.updated_at_ms = clock::now_ms();
        zk::put_json(client, &layout::run_live(id), &live, "live view").await?;

        let state = run::state(client, id).await?;
        if state.phase == RunPhase::Stopping {
            stop_reason = state.reason.clone();
            stopped_at_ms.get_or_insert(clock::now_ms());
        }
        if members.iter().all(Member::finished) {
            break;
        }
        if clock::now_ms() > give_up_at {
            stop_reason = Some("agents did not finish in time".into());
            stopped_at_ms.get_or_insert(clock::now_ms());
            for member in members.iter_mut() {
                member.release(&mut windows, 1.0)?;
            }
            break;
        }
        tokio::time::sleep(config.poll).await;
    }

    // As `ptl run` reports it: up to the stop, or to the end of the schedule; the agents'
    // own end when they ended earlier.
    let ended_at_ms = members
        .iter()
        .filter_map(|m| m.done.as_ref().and_then(|d| d.ended_at_ms))
        .max()
        .unwrap_or_else(clock::now_ms);
    let end_ms = stopped_at_ms.map_or(ended_at_ms, |s: i64| s.min(ended_at_ms));
    let duration_ms = ((end_ms - start_at_ms).max(0) as u64).min(last_offset_ms + plan_ms);
    let duration = Duration::from_millis(duration_ms);
    let (merged, series) = windows.finish();
    let mut result = (config.summarise)(&SummaryInput {
        plan,
        spec,
        recorded: &merged,
        started_at_ms: start_at_ms,
        duration,
        stop_reason: stop_reason.clone(),
        series: &series,
    });
    let seconds = |ms: i64| (ms - start_at_ms) as f64 / 1000.0;
    result.degraded = run::state(client, id)
        .await?
        .degraded
        .iter()
        .map(|w| ResultDegraded {
            agent: w.agent.clone(),
            from_s: seconds(w.from_ms),
            until_s: w.until_ms.map(seconds),
            epoch: w.epoch,
        })
        .collect();
    merged_record::store(client, id, &merged, start_at_ms, duration).await?;
    zk::put_json(client, &layout::run_result(id), &result, "run result").await?;
    run::update_state(client, id, |s| {
        s.phase = RunPhase::Done;
        if s.reason.is_none() {
            s.reason = stop_reason.clone();
        }
        true
    })
    .await?;
    Ok(())
}

/// Waits until enough eligible agents are registered; the first `spec.agents` in registration
/// order are chosen.
async fn wait_for_agents(
    client: &Client,
    id: &RunId,
    spec: &RunSpec,
) -> Result<Vec<RegisteredAgent>, ClusterError> {
    let wait = Duration::from_millis(spec.agent_wait_ms);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let (agents, watcher) = agent_registry::list_and_watch(client).await?;
        let mut eligible = Vec::new();
        let mut refused = Vec::new();
        for agent in agents {
            match refusal(&agent, spec) {
                None => eligible.push(agent),
                Some(why) => refused.push(format!("{} {why}", agent.id)),
            }
        }
        if eligible.len() >= spec.agents as usize {
            return Ok(eligible.into_iter().take(spec.agents as usize).collect());
        }
        let state = run::state(client, id).await?;
        if state.phase != RunPhase::Pending {
            return Err(stopped_before_start(id, &state));
        }
        // Wake at least every `STOP_CHECK` to notice a stop while no agent comes or goes.
        let wake = deadline.min(tokio::time::Instant::now() + STOP_CHECK);
        if tokio::time::timeout_at(wake, watcher.changed())
            .await
            .is_err()
            && tokio::time::Instant::now() >= deadline
        {
            return Err(ClusterError::NotEnoughAgents {
                run: id.to_string(),
                wanted: spec.agents,
                available: eligible.len() as u32,
                waited: wait,
                refused: if refused.is_empty() {
                    String::new()
                } else {
                    format!("; refused: {}", refused.join(", "))
                },
            });
        }
    }
}

/// Why an agent may not take part in a run, if it may not.
fn refusal(agent: &RegisteredAgent, spec: &RunSpec) -> Option<String> {
    let ours = env!("CARGO_PKG_VERSION");
    let info = &agent.info;
    if agent_registry::is_older(&info.version, ours) {
        return Some(format!(
            "runs ptl {}, older than this coordinator's {ours}",
            info.version
        ));
    }
    if info.bytecode_version < spec.bytecode_version {
        return Some(format!(
            "reads bytecode up to version {}, the plan is version {}",
            info.bytecode_version, spec.bytecode_version
        ));
    }
    match info.clock_offset_ms {
        Some(offset) if offset.abs() > spec.clock_tolerance_ms => Some(format!(
            "has a clock off by {offset} ms, beyond the {} ms tolerance",
            spec.clock_tolerance_ms
        )),
        _ => None,
    }
}

fn stopped_before_start(id: &RunId, state: &run::RunState) -> ClusterError {
    ClusterError::StoppedBeforeStart {
        run: id.to_string(),
        reason: state
            .reason
            .clone()
            .unwrap_or_else(|| "no reason given".into()),
    }
}

/// Merges the agent's deltas not merged yet: counted in the live view at once, handed to the
/// per-second windows one behind (see [`Member::held`]).
async fn merge_new(
    client: &Client,
    id: &RunId,
    member: &mut Member,
    windows: &mut MergedWindows,
    live: &mut LiveView,
) -> Result<(), ClusterError> {
    let dir = layout::agent_reports(id, &member.id);
    for name in zk::children(client, &dir).await? {
        if member.seen.contains(&name) {
            continue;
        }
        let path = format!("{dir}/{name}");
        let (bytes, _) = client
            .get_data(&path)
            .await
            .map_err(|e| ClusterError::zk("read", &path, e))?;
        let delta = decode_delta(&bytes)
            .map_err(|e| ClusterError::malformed("interval delta", &path, e))?;
        let requests: u64 = delta.recorded.request.iter().map(|r| r.completed).sum();
        live.requests += requests;
        live.errors += delta
            .recorded
            .request
            .iter()
            .map(|r| r.error_total())
            .sum::<u64>();
        live.dropped += delta.recorded.phase.iter().map(|p| p.dropped).sum::<u64>();
        *live.deltas.entry(member.id.0.clone()).or_default() += 1;
        *live.agent_requests.entry(member.id.0.clone()).or_default() += requests;
        member.release(windows, 1.0)?;
        member.held = Some((delta.window, delta.recorded));
        member.seen.insert(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_leader_starts_pending_runs_and_resumes_started_ones() {
        let mut state = run::RunState::pending();
        assert_eq!(takeover(&state), Takeover::Start);
        state.phase = RunPhase::Running;
        state.running_since_ms = Some(1);
        assert_eq!(takeover(&state), Takeover::Resume);
        // Stopped after it ran: its agents ran and the result is still owed.
        state.phase = RunPhase::Stopping;
        assert_eq!(takeover(&state), Takeover::Resume);
        // Stopped before it ever ran: no agent started, nothing to merge.
        state.running_since_ms = None;
        assert_eq!(takeover(&state), Takeover::EndStopped);
        for phase in [RunPhase::Done, RunPhase::Failed] {
            state.phase = phase;
            assert_eq!(takeover(&state), Takeover::Leave);
        }
    }
}
