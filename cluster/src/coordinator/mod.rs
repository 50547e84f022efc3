//! `ptl coordinator`: the elected leader takes pending runs, waits for enough agents, writes
//! the assignment and marks them running, and resumes the runs a previous leader had started;
//! following a running run to its result (merging, rebalancing, joiners, the result) is in
//! `follow`.

pub mod accounting;
pub mod dashboards;
pub mod election;
pub(crate) mod failpoint;
pub mod joining;
pub mod merge_mark;
pub mod merged_history;
pub mod merged_record;
pub mod merged_seconds;
pub mod merged_windows;
pub mod publish;
pub mod report_lag;
pub mod result;
pub mod retention;
pub mod scale_hook;
pub mod strain;
pub(crate) mod supervise;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ptl_bytecode::Plan;
use ptl_engine::record::Recorded;
use ptl_engine::result::{RunResult, SeriesPoint};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use zookeeper_client::Client;

use crate::access;
use crate::agent::registry::{self, RegisteredAgent};
use crate::coordinator::election::Candidate;
use crate::coordinator::joining::Busy;
use crate::coordinator::supervise::{follow, Member, RunContext};
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::plan_store;
use crate::run::assignment::{self, Assignment};
use crate::run::pauses::PauseWindow;
use crate::run::{self, RunPhase, RunSpec};
use crate::signing::TrustedKeys;
use crate::zk::clock;
use crate::zk::durable::{DurableSession, SessionHandle};
use crate::zk::layout;
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
    /// The run's pause windows (ZooKeeper clock): their time is left out of the rates.
    pub pauses: &'a [PauseWindow],
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
    /// Only runs signed by one of these keys are started or resumed (`--trusted-keys`).
    pub trusted_keys: Option<Arc<TrustedKeys>>,
    /// Finished runs kept in ZooKeeper (their result and merged record; deltas go when a run
    /// ends). See [`retention`].
    pub keep_runs: usize,
    /// Intervals of a running run's merged history kept in ZooKeeper (see
    /// [`merged_history`]): its footprint's bound, and the resolution of a long run's
    /// per-interval HdrHistogram log.
    pub history_intervals: usize,
    /// Run with the wanted agent count when a run is short of capacity (`--scale-hook`).
    pub scale_hook: Option<String>,
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
    /// Response time percentiles of the current phase so far, as `ptl run` shows them, from
    /// the seconds every agent has reported (exact merge, never averaged).
    #[serde(default)]
    pub p50_ms: f64,
    #[serde(default)]
    pub p99_ms: f64,
    /// The run is paused (its last pause window is open).
    #[serde(default)]
    pub paused: bool,
    /// Agents of the run that have not reported for over two seconds, and for how long (s):
    /// a lost agent shows here from its first missed reports, before its session times out.
    #[serde(default)]
    pub silent: BTreeMap<String, f64>,
    /// Arrivals per second of the plan's peak rate that no agent was given: the agents'
    /// declared capacities fall short by this much (`ptl_cluster_capacity_shortfall`).
    #[serde(default)]
    pub shortfall_rps: f64,
    /// How late the agents' deltas were merged: from their second's end to their node's
    /// creation, and from there to the merge (`report_lag`); `None` before the first.
    #[serde(default)]
    pub report_lag_ms: Option<report_lag::ReportLagMs>,
}

/// How often a run waiting for agents looks whether it was stopped meanwhile.
const STOP_CHECK: Duration = Duration::from_secs(1);

/// Leads (after winning the election) and coordinates runs until `shutdown` is cancelled,
/// then resigns at once so a standby takes over. ZooKeeper not answering (a blip, a leader
/// election, quorum lost) is waited out; a session that expired meanwhile is replaced and the
/// coordinator joins the election again (its runs are resumed by whoever leads).
pub async fn run_coordinator(
    config: CoordinatorConfig,
    shutdown: CancellationToken,
) -> Result<(), ClusterError> {
    // The first connection fails fast: a wrong `--zk` is said at once, not retried forever.
    let mut session = DurableSession::open(&config.zk).await?;
    if access::policy::load(&session.client()).await?.is_none() {
        eprintln!(
            "coordinator {}: WARNING: chroot {} has no access policy, so the fleet is open: anyone \
             who reaches ZooKeeper can read plans and submit runs (secure it with `ptl zk init`, \
             docs/security.md)",
            config.id, config.zk.chroot
        );
    }
    loop {
        match lead(&session.handle(), &config, &shutdown).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() || session.ended() => {
                eprintln!(
                    "coordinator {}: lost its place in the election ({e}); joining again",
                    config.id
                );
            }
            Err(e) => return Err(e),
        }
        if !session.ended() {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(RECONNECT) => {}
            }
            continue;
        }
        session = loop {
            match DurableSession::open(&config.zk).await {
                Ok(session) => break session,
                Err(e) if e.is_transient() => {
                    eprintln!(
                        "coordinator {}: cannot reach ZooKeeper yet ({e})",
                        config.id
                    );
                }
                Err(e) => return Err(e),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(RECONNECT) => {}
            }
        };
    }
}

/// How often the leader deletes what finished runs no longer need ([`retention`]).
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Pause before trying again after the coordinator lost its session or its candidacy.
const RECONNECT: Duration = Duration::from_secs(1);

/// One session's candidacy: waits to lead, then takes runs until shutdown (`Ok`) or the
/// session ends (`Err`). ZooKeeper not answering is waited out here; the session outlives a
/// client that gave up during an outage (`zk::durable`).
async fn lead(
    session: &SessionHandle,
    config: &CoordinatorConfig,
    shutdown: &CancellationToken,
) -> Result<(), ClusterError> {
    let candidate = Candidate::join(session, &config.id).await?;
    tokio::select! {
        _ = shutdown.cancelled() => return candidate.resign().await,
        led = candidate.wait_until_leader() => led?,
    }
    let mut running: HashSet<RunId> = HashSet::new();
    let busy = Busy::default();
    let mut tasks = tokio::task::JoinSet::new();
    let mut said = false;
    let mut swept_at = tokio::time::Instant::now();
    loop {
        if session.ended() {
            tasks.abort_all();
            return Err(ClusterError::SessionLost(
                "the coordinator's session".into(),
            ));
        }
        let client = session.client();
        let passed = match take_new_runs(session, config, &mut running, &busy, &mut tasks).await {
            Ok(()) if swept_at.elapsed() >= SWEEP_EVERY => {
                swept_at = tokio::time::Instant::now();
                retention::sweep(&client, config.keep_runs)
                    .await
                    .map(|_| ())
            }
            Ok(()) => Ok(()),
            Err(e) => Err(e),
        };
        match passed {
            Ok(()) => said = false,
            Err(e) if e.is_transient() => {
                if !std::mem::replace(&mut said, true) {
                    eprintln!(
                        "coordinator {}: ZooKeeper not answering ({e}); waiting",
                        config.id
                    );
                }
            }
            Err(e) => return Err(e),
        }
        let watcher = client.get_and_watch_children(layout::RUNS).await.ok();
        tokio::select! {
            _ = shutdown.cancelled() => {
                tasks.abort_all();
                return candidate.resign().await;
            }
            _ = async {
                match watcher {
                    Some((_, _, w)) => { w.changed().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
            _ = tokio::time::sleep(config.poll * 5) => {}
        }
    }
}

/// Starts following every run this leader does not follow yet and that needs a coordinator.
async fn take_new_runs(
    session: &SessionHandle,
    config: &CoordinatorConfig,
    running: &mut HashSet<RunId>,
    busy: &Busy,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<(), ClusterError> {
    let client = &session.client();
    for id in run::list(client).await? {
        if running.contains(&id) {
            continue;
        }
        let Ok(state) = run::state(client, &id).await else {
            continue;
        };
        let take = match takeover(&state) {
            Takeover::Leave => continue,
            Takeover::EndStopped => {
                // Stopped while no coordinator ran it: nothing ran, so it simply ends.
                let reason = stopped_before_start(&id, &state).to_string();
                run::update_state(client, &id, |s| {
                    s.phase = RunPhase::Failed;
                    s.reason = Some(reason.clone());
                    true
                })
                .await?;
                running.insert(id.clone());
                continue;
            }
            take => take,
        };
        running.insert(id.clone());
        let (session, config, id) = (session.clone(), config.clone(), id.clone());
        let busy = busy.clone();
        tasks.spawn(async move { handle(&session, &config, &id, &busy, take).await });
    }
    Ok(())
}

/// Takes one run to its end. ZooKeeper not answering midway is waited out and the run taken
/// up again from where ZooKeeper says it stands (resumed, if it was running); a session that
/// ended leaves it to the next leader; anything else fails the run with the error as reason.
async fn handle(
    session: &SessionHandle,
    config: &CoordinatorConfig,
    id: &RunId,
    busy: &Busy,
    take: Takeover,
) {
    let mut take = take;
    loop {
        let client = session.client();
        let outcome = match take {
            Takeover::Resume => resume(&client, config, id, busy).await,
            _ => coordinate(&client, config, id, busy).await,
        };
        let error = match outcome {
            Ok(()) => return,
            Err(e) if session.ended() => {
                eprintln!(
                    "coordinator {}: run {id} left to the next leader ({e})",
                    config.id
                );
                return;
            }
            Err(e) if e.is_transient() => e,
            Err(error) => {
                let reason = error.to_string();
                let _ = run::update_state(&client, id, |s| {
                    s.phase = RunPhase::Failed;
                    s.reason = Some(reason.clone());
                    true
                })
                .await;
                return;
            }
        };
        eprintln!(
            "coordinator {}: run {id}: ZooKeeper not answering ({error}); carrying on when it does",
            config.id
        );
        // Where the run stands now decides how to go on.
        take = loop {
            tokio::time::sleep(config.poll * 4).await;
            if session.ended() {
                return;
            }
            match run::state(&session.client(), id).await {
                Ok(state) => break takeover(&state),
                Err(e) if e.is_transient() => continue,
                Err(_) => return,
            }
        };
        if matches!(take, Takeover::Leave | Takeover::EndStopped) {
            return;
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
    busy: &Busy,
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
    check_signature(config, id, &spec, &plan)?;

    let chosen = wait_for_agents(client, id, &spec).await?;
    let members: Vec<(AgentId, Option<f64>)> = chosen
        .iter()
        .map(|a| (a.id.clone(), a.info.capacity))
        .collect();
    let start_at_ms = clock::now_ms() + spec.start_delay_ms as i64;
    let current = assignment::assign(&members, start_at_ms, spec.stagger_ms, plan.peak_rate());
    publish::publish(client, id, &current).await?;
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
    let run = RunContext {
        client,
        config,
        id,
        spec: &spec,
        plan: &plan,
        busy,
    };
    follow(&run, current, members).await
}

/// Carries on with a run a previous leader started: its members are the assignment's agents
/// (lost ones as recorded in the state), every delta written so far is merged again from the
/// start, and following goes on as if this coordinator had started it.
async fn resume(
    client: &Client,
    config: &CoordinatorConfig,
    id: &RunId,
    busy: &Busy,
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
    check_signature(config, id, &spec, &plan)?;
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
            let member = Member::of(share, current.start_at_ms);
            if lost.contains(share.agent.0.as_str()) {
                member.lost()
            } else {
                member
            }
        })
        .collect();
    let run = RunContext {
        client,
        config,
        id,
        spec: &spec,
        plan: &plan,
        busy,
    };
    follow(&run, current, members).await
}

/// With trusted keys, a run whose plan is not signed by one of them (or not as stored) fails
/// with the reason, before any agent is given a share.
fn check_signature(
    config: &CoordinatorConfig,
    id: &RunId,
    spec: &RunSpec,
    plan: &Plan,
) -> Result<(), ClusterError> {
    match &config.trusted_keys {
        None => Ok(()),
        Some(keys) => keys
            .check(spec, plan)
            .map(|_| ())
            .map_err(|reason| ClusterError::Refused {
                run: id.to_string(),
                reason,
            }),
    }
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
        let (agents, watcher) = registry::list_and_watch(client).await?;
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
pub(crate) fn refusal(agent: &RegisteredAgent, spec: &RunSpec) -> Option<String> {
    let ours = env!("CARGO_PKG_VERSION");
    let info = &agent.info;
    if registry::is_older(&info.version, ours) {
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
