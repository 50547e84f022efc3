//! `ptl sim-agents`: the measuring instrument of a cluster's cost. N simulated agents in one
//! process, each with its own ZooKeeper session, registering, following assignments, epochs,
//! pauses and stops through the agent's own code ([`crate::agent::Agent`]); only the engine is
//! replaced, by [`synth::SynthEngine`], which reports the deltas a real agent would at its
//! share of the rate. The coordinator cannot tell them from real agents.
//!
//! While they serve, the harness reads ZooKeeper's `mntr` and the coordinator's `/proc` once a
//! second ([`zk_stats`]) and follows the runs ([`runs`]): writes and bytes per second, znode
//! count and data size over time, coordinator CPU and RSS, the lag from interval end to the
//! live view, start skew, and, when asked, the rebalance after a share of the sessions is
//! killed (their connections dropped without closing, as `kill -9` does: the sessions expire
//! after their timeout).

pub mod latency;
pub mod runs;
pub mod synth;
pub mod zk_stats;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::agent::{Agent, AgentConfig, Engine};
use crate::error::ClusterError;
use crate::sim::latency::LatencyModel;
use crate::sim::runs::RunSeen;
use crate::sim::synth::{SynthEngine, Tally};
use crate::sim::zk_stats::ProcReading;
use crate::zk::{clock, ZkConfig};

/// Agents registering at once: a thousand sessions opened together would time out each
/// other's connects on a small machine.
const REGISTER_BATCH: usize = 25;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub zk: ZkConfig,
    pub count: usize,
    /// Declared capacity of each agent, arrivals/s (shares are proportional to it).
    pub capacity_per_agent: Option<f64>,
    pub latency: LatencyModel,
    /// Stop after this long (else at shutdown).
    pub duration_limit: Option<Duration>,
    /// The coordinator's process, for its CPU and RSS.
    pub coordinator_pid: Option<u32>,
    /// Kill this share of the sessions this long after the first run started.
    pub kill: Option<(f64, Duration)>,
    /// Name prefix of the agents (`sim-0`, `sim-1`, …).
    pub name: String,
    /// Each agent starts at most this many arrivals a second, late; the rest are dropped.
    pub saturate_above: Option<f64>,
    /// Print a line of figures every this many seconds (none: quiet).
    pub progress_every: Option<Duration>,
}

/// One second's reading.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    /// Seconds since the harness started.
    pub t_s: f64,
    pub writes_per_s: f64,
    pub bytes_per_s: f64,
    pub znodes: u64,
    pub data_bytes: u64,
    pub coordinator_cpu: Option<f64>,
    pub coordinator_rss_bytes: Option<u64>,
    /// Deltas the simulated agents reported during the second (a run was going on).
    pub deltas: u64,
    /// The newest run's merge mark and history (`runs/<id>/merged` and its nodes): nodes and
    /// data bytes, the part of the footprint that grows with a run's length if anything does.
    pub history_nodes: u64,
    pub history_bytes: u64,
}

/// Everything measured, for printing and for tests (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct SimReport {
    pub agents: usize,
    pub killed: usize,
    pub requests_reported: u64,
    pub deltas_reported: u64,
    pub samples: Vec<Sample>,
    pub runs: Vec<RunSeen>,
    /// With the agents registered, before any run and at the end (the last reading).
    pub baseline: Footprint,
    pub end: Footprint,
    pub during_runs: Option<Steady>,
    /// From the kill to the first new epoch written, and the epochs written after the kill.
    pub rebalance_ms: Option<i64>,
    pub epochs_after_kill: Option<usize>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Footprint {
    pub znodes: u64,
    pub data_bytes: u64,
}

/// Means over the seconds during which agents reported.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Steady {
    pub seconds: usize,
    pub writes_per_s: f64,
    pub bytes_per_s: f64,
    pub max_writes_per_s: f64,
    pub max_bytes_per_s: f64,
    pub max_znodes: u64,
    pub max_data_bytes: u64,
    /// The least and most data in the tree after the first minute of reports (the issue's
    /// "flat within 10 %"); `None` for a shorter run.
    pub data_after_first_minute: Option<(u64, u64)>,
    /// The newest run's history after the first minute: least and most nodes, least and most
    /// bytes.
    pub history_after_first_minute: Option<((u64, u64), (u64, u64))>,
    pub coordinator_cpu: Option<f64>,
    pub coordinator_max_rss_bytes: Option<u64>,
}

/// Registers `config.count` simulated agents, serves runs until `shutdown` (or the duration
/// limit), measuring, and returns what was measured.
pub async fn run_sim(
    config: SimConfig,
    shutdown: CancellationToken,
) -> Result<SimReport, ClusterError> {
    let begun = tokio::time::Instant::now();
    let tally = Arc::new(Tally::default());
    let engine: Arc<dyn Engine> = Arc::new(SynthEngine {
        model: config.latency,
        seed: 0x5EED,
        tally: tally.clone(),
        saturate_above: config.saturate_above,
    });
    let victims = config
        .kill
        .map_or(0, |(share, _)| {
            (config.count as f64 * share).ceil() as usize
        })
        .min(config.count);
    // The victims live on a runtime of their own: shutting it down drops their connections
    // without closing their sessions.
    let doomed = Doomed(Some(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ptl-sim-doomed")
            .enable_all()
            .build()
            .map_err(|e| ClusterError::Engine(format!("runtime: {e}")))?,
    ));
    let stop_agents = shutdown.child_token();
    let mut agents = tokio::task::JoinSet::new();
    let mut registering = tokio::task::JoinSet::new();
    for i in 0..config.count {
        let mut agent = AgentConfig::new(config.zk.clone(), format!("{}-{i}", config.name));
        agent.capacity = config.capacity_per_agent;
        agent.host = "sim".into();
        agent.poll = Duration::from_millis(500);
        let on_doomed = i >= config.count - victims;
        registering.spawn(async move { (on_doomed, Agent::register(&agent).await) });
        if registering.len() >= REGISTER_BATCH || i + 1 == config.count {
            while let Some(done) = registering.join_next().await {
                let (on_doomed, registered) =
                    done.map_err(|e| ClusterError::Engine(format!("register: {e}")))?;
                let agent = registered?;
                let (engine, stop) = (engine.clone(), stop_agents.clone());
                let serve =
                    async move { agent.serve(engine, Duration::from_millis(500), stop).await };
                if on_doomed {
                    doomed.spawn(serve);
                } else {
                    agents.spawn(serve);
                }
            }
        }
    }
    eprintln!(
        "sim-agents: {} agents registered in {:.1} s",
        config.count,
        begun.elapsed().as_secs_f64()
    );
    // The baseline is the tree with the agents registered and no run: what a run must return
    // it to.
    let first = zk_stats::read(&config.zk.connect).await;
    if first.servers == 0 {
        eprintln!(
            "sim-agents: ZooKeeper at {} does not answer `mntr` (4lw.commands.whitelist): ZooKeeper's figures will read 0",
            config.zk.connect
        );
    }
    let baseline = Footprint {
        znodes: first.znodes,
        data_bytes: first.data_bytes,
    };
    let observer = crate::zk::connect(&config.zk).await?;
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let stop_follow = CancellationToken::new();
    let follower = tokio::spawn(runs::follow(
        observer.clone(),
        seen.clone(),
        stop_follow.clone(),
    ));

    let deadline = config
        .duration_limit
        .map(|d| tokio::time::Instant::now() + d);
    let mut samples = Vec::new();
    let mut last = (tokio::time::Instant::now(), first, proc_of(&config));
    let mut last_deltas = 0;
    let mut doomed = doomed;
    let mut kill_at_ms = None;
    let mut next_print = config
        .progress_every
        .map(|d| tokio::time::Instant::now() + d);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let now = tokio::time::Instant::now();
        let reading = zk_stats::read(&config.zk.connect).await;
        let proc = proc_of(&config);
        let dt = now.duration_since(last.0).as_secs_f64().max(1e-3);
        let deltas = tally.deltas.load(Ordering::Relaxed);
        let (history_nodes, history_bytes) = history_size(&observer).await;
        let sample = Sample {
            t_s: now.duration_since(begun).as_secs_f64(),
            writes_per_s: reading.writes.saturating_sub(last.1.writes) as f64 / dt,
            bytes_per_s: reading.bytes_received.saturating_sub(last.1.bytes_received) as f64 / dt,
            znodes: reading.znodes,
            data_bytes: reading.data_bytes,
            coordinator_cpu: proc.zip(last.2).map(|(p, q)| (p.cpu_s - q.cpu_s) / dt),
            coordinator_rss_bytes: proc.map(|p| p.rss_bytes),
            deltas: deltas - last_deltas,
            history_nodes,
            history_bytes,
        };
        samples.push(sample);
        last = (now, reading, proc);
        last_deltas = deltas;
        if next_print.is_some_and(|at| now >= at) {
            eprintln!("sim-agents: {sample}");
            next_print = config.progress_every.map(|d| now + d);
        }
        if let (Some((_, after)), Some(started)) =
            (config.kill, first_start(&seen, &observer).await)
        {
            if doomed.0.is_some() && clock::now_ms() >= started + after.as_millis() as i64 {
                kill_at_ms = Some(clock::now_ms());
                doomed.kill();
                eprintln!("sim-agents: killed {victims} sessions (connections dropped)");
            }
        }
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
    }
    // The end state is the last reading with the agents still registered, as the baseline.
    let end = samples.last().map_or(baseline, |s| Footprint {
        znodes: s.znodes,
        data_bytes: s.data_bytes,
    });
    stop_agents.cancel();
    while agents.join_next().await.is_some() {}
    doomed.kill();
    stop_follow.cancel();
    let _ = follower.await;
    let runs: Vec<RunSeen> = seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .cloned()
        .collect();
    let (rebalance_ms, epochs_after_kill) = match kill_at_ms {
        Some(kill) => {
            let after: Vec<i64> = runs
                .iter()
                .flat_map(|r| r.epochs.iter().map(|(_, at)| *at))
                .filter(|at| *at >= kill)
                .collect();
            (after.iter().min().map(|at| at - kill), Some(after.len()))
        }
        None => (None, None),
    };
    Ok(SimReport {
        agents: config.count,
        killed: if kill_at_ms.is_some() { victims } else { 0 },
        requests_reported: tally.requests.load(Ordering::Relaxed),
        deltas_reported: tally.deltas.load(Ordering::Relaxed),
        during_runs: steady(&samples),
        samples,
        runs,
        baseline,
        end,
        rebalance_ms,
        epochs_after_kill,
    })
}

/// The runtime of the sessions to be killed. A runtime cannot be dropped in async code; shut
/// down in the background, its tasks stop where they are and their sockets close unannounced.
struct Doomed(Option<tokio::runtime::Runtime>);

impl Doomed {
    fn spawn<F>(&self, task: F)
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if let Some(rt) = &self.0 {
            rt.spawn(task);
        }
    }

    fn kill(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Doomed {
    fn drop(&mut self) {
        self.kill();
    }
}

fn proc_of(config: &SimConfig) -> Option<ProcReading> {
    config.coordinator_pid.and_then(zk_stats::read_proc)
}

/// When the first run followed started (its assignment's start instant).
async fn first_start(
    seen: &Mutex<BTreeMap<String, RunSeen>>,
    client: &zookeeper_client::Client,
) -> Option<i64> {
    if let Some(at) = seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .find_map(|r| r.started_at_ms)
    {
        return Some(at);
    }
    let ids = crate::run::list(client).await.ok()?;
    let path = crate::zk::layout::run_assignment(ids.last()?);
    crate::zk::get_json::<crate::run::assignment::Assignment>(client, &path, "assignment")
        .await
        .ok()
        .flatten()
        .map(|(a, _)| a.start_at_ms)
}

/// The newest run's `merged` node and its children: how many, and their data bytes (0, 0
/// when there is none or ZooKeeper does not answer).
async fn history_size(client: &zookeeper_client::Client) -> (u64, u64) {
    let Some(run) = crate::run::list(client)
        .await
        .ok()
        .and_then(|ids| ids.last().cloned())
    else {
        return (0, 0);
    };
    let dir = crate::zk::layout::run_merged(&run);
    let Ok(Some(stat)) = client.check_stat(&dir).await else {
        return (0, 0);
    };
    let (mut nodes, mut bytes) = (1, stat.data_length as u64);
    for child in crate::zk::children(client, &dir).await.unwrap_or_default() {
        if let Ok(Some(stat)) = client.check_stat(&format!("{dir}/{child}")).await {
            nodes += 1;
            bytes += stat.data_length as u64;
        }
    }
    (nodes, bytes)
}

/// The seconds during which agents reported, averaged (the first and last, partly outside a
/// run, left out when there are more).
fn steady(samples: &[Sample]) -> Option<Steady> {
    let mut during: Vec<&Sample> = samples.iter().filter(|s| s.deltas > 0).collect();
    if during.len() > 4 {
        during = during[1..during.len() - 1].to_vec();
    }
    let n = during.len();
    if n == 0 {
        return None;
    }
    let mean = |f: &dyn Fn(&Sample) -> f64| during.iter().map(|s| f(s)).sum::<f64>() / n as f64;
    let cpu: Vec<f64> = during.iter().filter_map(|s| s.coordinator_cpu).collect();
    let later: Vec<&Sample> = during
        .iter()
        .copied()
        .filter(|s| s.t_s >= during[0].t_s + 60.0)
        .collect();
    let range = |f: &dyn Fn(&Sample) -> u64| {
        let least = later.iter().map(|s| f(s)).min()?;
        Some((least, later.iter().map(|s| f(s)).max()?))
    };
    let data_after_first_minute = range(&|s| s.data_bytes);
    let history_after_first_minute = range(&|s| s.history_nodes).zip(range(&|s| s.history_bytes));
    Some(Steady {
        seconds: n,
        writes_per_s: mean(&|s| s.writes_per_s),
        bytes_per_s: mean(&|s| s.bytes_per_s),
        max_writes_per_s: during.iter().map(|s| s.writes_per_s).fold(0.0, f64::max),
        max_bytes_per_s: during.iter().map(|s| s.bytes_per_s).fold(0.0, f64::max),
        max_znodes: during.iter().map(|s| s.znodes).max().unwrap_or(0),
        max_data_bytes: during.iter().map(|s| s.data_bytes).max().unwrap_or(0),
        data_after_first_minute,
        history_after_first_minute,
        coordinator_cpu: (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
        coordinator_max_rss_bytes: during.iter().filter_map(|s| s.coordinator_rss_bytes).max(),
    })
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t={:.0}s writes/s={:.0} bytes/s={:.0} znodes={} data={} B deltas/s={} history={} nodes/{} B",
            self.t_s,
            self.writes_per_s,
            self.bytes_per_s,
            self.znodes,
            self.data_bytes,
            self.deltas,
            self.history_nodes,
            self.history_bytes
        )?;
        if let (Some(cpu), Some(rss)) = (self.coordinator_cpu, self.coordinator_rss_bytes) {
            write!(
                f,
                " coordinator cpu={:.0}% rss={} MiB",
                cpu * 100.0,
                rss >> 20
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} simulated agents: {} deltas, {} requests reported",
            self.agents, self.deltas_reported, self.requests_reported
        )?;
        if let Some(s) = &self.during_runs {
            writeln!(
                f,
                "ZooKeeper during runs ({} s): {:.0} writes/s (max {:.0}), {:.0} bytes/s received (max {:.0})",
                s.seconds, s.writes_per_s, s.max_writes_per_s, s.bytes_per_s, s.max_bytes_per_s
            )?;
            writeln!(
                f,
                "footprint: baseline {} znodes / {} B, max during runs {} / {} B, at the end {} / {} B",
                self.baseline.znodes,
                self.baseline.data_bytes,
                s.max_znodes,
                s.max_data_bytes,
                self.end.znodes,
                self.end.data_bytes
            )?;
            if let Some((least, most)) = s.data_after_first_minute {
                writeln!(
                    f,
                    "data after the first minute of reports: {least} to {most} B ({:+.1} % of the least)",
                    (most as f64 / least.max(1) as f64 - 1.0) * 100.0
                )?;
            }
            if let Some(((n0, n1), (b0, b1))) = s.history_after_first_minute {
                writeln!(
                    f,
                    "the run's merge mark and history after the first minute: {n0} to {n1} nodes, {b0} to {b1} B"
                )?;
            }
            if let (Some(cpu), Some(rss)) = (s.coordinator_cpu, s.coordinator_max_rss_bytes) {
                writeln!(
                    f,
                    "coordinator: {:.0}% of a core, RSS up to {} MiB",
                    cpu * 100.0,
                    rss >> 20
                )?;
            }
        }
        for r in &self.runs {
            writeln!(
                f,
                "{} ({}): {} agents, lag to live view p50 {} ms p99 {} ms, start spread {} ms (skew from the planned instants: p50 {} ms, p99 {} ms, max {} ms), epochs {:?}, requests: result {} agents {}",
                r.run,
                r.phase,
                r.agents,
                opt(r.lag_p50_ms),
                opt(r.lag_p99_ms),
                opt(r.start_spread_ms),
                opt(r.start_skew_p50_ms),
                opt(r.start_skew_p99_ms),
                opt(r.start_skew_ms),
                r.epochs.iter().map(|e| e.0).collect::<Vec<_>>(),
                opt(r.result_requests),
                opt(r.agents_requests),
            )?;
            if let Some(l) = r.report_lag_ms {
                writeln!(
                    f,
                    "  the coordinator's split of the lag: write (second's end to its node) p50 {} ms p99 {} ms, merge (node to merged) p50 {} ms p99 {} ms",
                    l.write_p50, l.write_p99, l.merge_p50, l.merge_p99
                )?;
            }
        }
        if let Some(ms) = self.rebalance_ms {
            writeln!(
                f,
                "killed {} sessions: first new epoch after {ms} ms; {} epoch(s) written after the kill",
                self.killed,
                self.epochs_after_kill.unwrap_or(0)
            )?;
        }
        Ok(())
    }
}

fn opt<T: fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}
