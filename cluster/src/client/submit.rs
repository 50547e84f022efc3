//! `ptl submit`: store the plan, create the run, and optionally wait for its result.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ptl_engine::result::RunResult;
use zookeeper_client::Client;

use crate::coordinator::LiveView;
use crate::error::ClusterError;
use crate::ids::RunId;
use crate::plan_store;
use crate::run::{self, LossPolicy, RunPhase, RunSpec};
use crate::signing::PlanSigner;
use crate::zk::clock;
use crate::zk::layout;
use crate::zk::retry;
use crate::zk::{self, ZkConfig};

#[derive(Debug, Clone)]
pub struct SubmitConfig {
    pub zk: ZkConfig,
    /// The compiled plan (`ptl_bytecode::encode`).
    pub bytecode: Vec<u8>,
    /// Resolved parameters, for reports.
    pub params: BTreeMap<String, String>,
    pub agents: u32,
    /// How long the coordinator waits for `agents` agents before failing the run.
    pub agent_wait: Duration,
    pub on_agent_loss: LossPolicy,
    /// Between assignment and start, for agents to load the plan and open connections.
    pub start_delay: Duration,
    pub stagger: Duration,
    pub clock_tolerance: Duration,
    /// Wait for the result, at most this long; `None` returns once the run is created.
    pub wait: Option<Duration>,
    /// Signs the run (`ptl submit --sign-key`).
    pub signer: Option<Arc<PlanSigner>>,
}

/// How a run waits for its agents, starts and survives losing one: what `ptl submit` lets the
/// operator choose besides the plan and the agent count. Its `Default` is `ptl submit`'s
/// defaults, written only here: the flags, [`SubmitConfig::new`] and the dashboard's "Start a
/// run" all take them from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartOptions {
    /// How long the coordinator waits for the agents before failing the run.
    pub agent_wait: Duration,
    pub on_agent_loss: LossPolicy,
    /// Between assignment and start, for agents to load the plan and open connections.
    pub start_delay: Duration,
    /// Spacing of the agents' starts (zero: all at once).
    pub stagger: Duration,
}

impl Default for StartOptions {
    fn default() -> StartOptions {
        StartOptions {
            agent_wait: Duration::from_secs(60),
            on_agent_loss: LossPolicy::default(),
            start_delay: Duration::from_secs(2),
            stagger: Duration::ZERO,
        }
    }
}

impl SubmitConfig {
    pub fn new(zk: ZkConfig, bytecode: Vec<u8>, agents: u32) -> SubmitConfig {
        let start = StartOptions::default();
        SubmitConfig {
            zk,
            bytecode,
            params: BTreeMap::new(),
            agents,
            agent_wait: start.agent_wait,
            on_agent_loss: start.on_agent_loss,
            start_delay: start.start_delay,
            stagger: start.stagger,
            clock_tolerance: Duration::from_millis(250),
            wait: None,
            signer: None,
        }
    }

    /// Takes these start options instead of the ones it has.
    pub fn set_start(&mut self, start: StartOptions) {
        self.agent_wait = start.agent_wait;
        self.on_agent_loss = start.on_agent_loss;
        self.start_delay = start.start_delay;
        self.stagger = start.stagger;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    Created(RunId),
    Finished(RunId, Box<RunResult>),
}

pub async fn submit(config: SubmitConfig) -> Result<Submitted, ClusterError> {
    // Refuse what no agent could run before anything is written.
    let plan = ptl_bytecode::decode(&config.bytecode)
        .map_err(|e| ClusterError::Bytecode(e.to_string()))?;
    if config.agents == 0 {
        return Err(ClusterError::Engine(
            "a run needs at least one agent".into(),
        ));
    }
    let client = zk::connect(&config.zk).await?;
    let plan_hash = plan_store::store(&client, &config.bytecode).await?;
    let submitted_at_ms = clock::now_ms();
    let signature = config.signer.as_ref().map(|signer| {
        signer.sign(
            &plan_hash.to_string(),
            &config.params,
            &plan,
            submitted_at_ms,
        )
    });
    let spec = RunSpec {
        plan_hash,
        plan_name: plan.name.clone(),
        params: config.params.clone(),
        agents: config.agents,
        agent_wait_ms: millis(config.agent_wait),
        on_agent_loss: config.on_agent_loss,
        start_delay_ms: millis(config.start_delay),
        stagger_ms: millis(config.stagger),
        clock_tolerance_ms: millis(config.clock_tolerance) as i64,
        bytecode_version: ptl_bytecode::FORMAT_VERSION,
        submitted_at_ms,
        signature,
    };
    let id = run::create(&client, &spec).await?;
    match config.wait {
        None => Ok(Submitted::Created(id)),
        Some(timeout) => {
            let result = wait_for_result(&client, &id, timeout).await?;
            Ok(Submitted::Finished(id, Box::new(result)))
        }
    }
}

/// Waits until the run is done and returns its result; a failed run is an error, and so is a
/// run still going after `timeout`.
pub async fn wait_for_result(
    client: &Client,
    id: &RunId,
    timeout: Duration,
) -> Result<RunResult, ClusterError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let path = layout::run_state(id);
    let timed_out = |state: &str| ClusterError::RunTimedOut {
        run: id.to_string(),
        waited: timeout,
        state: state.to_owned(),
    };
    let mut last_phase = "unknown".to_owned();
    loop {
        let (data, _, watcher) = match client.get_and_watch_data(&path).await {
            Ok(read) => read,
            Err(zookeeper_client::Error::NoNode) => {
                return Err(ClusterError::RunNotFound(id.to_string()))
            }
            // ZooKeeper not answering (a blip, quorum lost): ask again until the deadline.
            Err(e) if retry::is_retryable(&e) => {
                if tokio::time::Instant::now() + RETRY > deadline {
                    return Err(timed_out(&last_phase));
                }
                tokio::time::sleep(RETRY).await;
                continue;
            }
            Err(e) => return Err(ClusterError::zk("watch", &path, e)),
        };
        let state: run::RunState = serde_json::from_slice(&data)
            .map_err(|e| ClusterError::malformed("run state", &path, e))?;
        match state.phase {
            RunPhase::Done => {
                let result = read_result(client, id).await?;
                crate::coordinator::retention::mark_collected(client, id).await;
                return Ok(result);
            }
            RunPhase::Failed => {
                return Err(ClusterError::RunFailed {
                    run: id.to_string(),
                    reason: state.reason.unwrap_or_else(|| "no reason given".into()),
                })
            }
            _ => {}
        }
        last_phase = format!("{:?}", state.phase).to_lowercase();
        if tokio::time::timeout_at(deadline, watcher.changed())
            .await
            .is_err()
        {
            return Err(timed_out(&last_phase));
        }
    }
}

/// [`wait_for_result`] on a session of its own, opened again if it expires (quorum lost for
/// longer than the session timeout): what `ptl submit --wait` waits with.
pub async fn wait_for_result_reconnecting(
    zk: &ZkConfig,
    id: &RunId,
    timeout: Duration,
) -> Result<RunResult, ClusterError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let attempt = match zk::connect(zk).await {
            Ok(client) => wait_for_result(&client, id, left).await,
            Err(e) => Err(e),
        };
        match attempt {
            Err(e) if e.is_transient() && tokio::time::Instant::now() + RETRY < deadline => {
                tokio::time::sleep(RETRY).await;
            }
            other => return other,
        }
    }
}

/// Pause before asking ZooKeeper again when it did not answer.
const RETRY: Duration = Duration::from_millis(250);

/// The run's merged live view, once the coordinator has written one (what `submit --wait`
/// shows while the run goes on).
pub async fn live_view(client: &Client, id: &RunId) -> Result<Option<LiveView>, ClusterError> {
    Ok(zk::get_json(client, &layout::run_live(id), "live view")
        .await?
        .map(|(live, _)| live))
}

pub async fn read_result(client: &Client, id: &RunId) -> Result<RunResult, ClusterError> {
    zk::get_json(client, &layout::run_result(id), "run result")
        .await?
        .map(|(result, _)| result)
        .ok_or_else(|| ClusterError::RunFailed {
            run: id.to_string(),
            reason: "marked done without a result".into(),
        })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
