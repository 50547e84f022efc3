//! Following the runs the simulated agents take part in, as an outsider: the lag from each
//! agent's interval end to the coordinator's live view counting it, the epochs (rebalances)
//! and when they were written, and, once a run ends, the start skew from the agents' own done
//! markers and the merged count against the agents' own.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use zookeeper_client::Client;

use crate::agent::DoneMarker;
use crate::coordinator::report_lag::ReportLagMs;
use crate::coordinator::LiveView;
use crate::error::ClusterError;
use crate::ids::RunId;
use crate::run::assignment::Assignment;
use crate::run::{self, RunPhase};
use crate::zk::{self, clock, layout};

/// What was seen of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSeen {
    pub run: String,
    pub agents: usize,
    /// Lag from an interval's end to the live view counting its delta, ms, one per delta.
    #[serde(skip)]
    pub lags_ms: Vec<i64>,
    pub lag_p50_ms: Option<i64>,
    pub lag_p99_ms: Option<i64>,
    /// The coordinator's own split of that lag (its live view's last word): write (second's
    /// end to the delta's node) and merge (node to merge).
    pub report_lag_ms: Option<ReportLagMs>,
    /// Epochs of the assignment, with when each was written (ZooKeeper clock, Unix ms).
    pub epochs: Vec<(u32, i64)>,
    /// Latest minus earliest start timer among the agents (their done markers).
    pub start_spread_ms: Option<i64>,
    /// The largest distance of an agent's start from its planned instant.
    pub start_skew_ms: Option<i64>,
    /// The median and 99th percentile of those distances (one late agent, or many).
    pub start_skew_p50_ms: Option<i64>,
    pub start_skew_p99_ms: Option<i64>,
    /// Requests of the result, and the agents' own done markers summed.
    pub result_requests: Option<u64>,
    pub agents_requests: Option<u64>,
    pub phase: String,
    /// When the run was seen running (ZooKeeper clock, Unix ms).
    pub started_at_ms: Option<i64>,
    /// Deltas each agent had merged at the last look, and the done markers read: kept here so
    /// that following again after an error goes on where it was.
    #[serde(skip)]
    merged: BTreeMap<String, u64>,
    #[serde(skip)]
    done: BTreeMap<String, DoneMarker>,
}

impl RunSeen {
    fn finish(&mut self) {
        self.lags_ms.sort_unstable();
        let at = |q: f64| {
            let n = self.lags_ms.len();
            (n > 0).then(|| self.lags_ms[((n as f64 * q).ceil() as usize).clamp(1, n) - 1])
        };
        self.lag_p50_ms = at(0.50);
        self.lag_p99_ms = at(0.99);
    }
}

/// Follows every run that starts while `seen` is kept, until `stop`.
pub async fn follow(
    client: Client,
    seen: std::sync::Arc<std::sync::Mutex<BTreeMap<String, RunSeen>>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let known: Vec<RunId> = run::list(&client).await.unwrap_or_default();
    let mut followed: std::collections::HashSet<RunId> = known.into_iter().collect();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        if let Ok(ids) = run::list(&client).await {
            for id in ids {
                if followed.insert(id.clone()) {
                    let (client, seen) = (client.clone(), seen.clone());
                    tasks.spawn(async move {
                        let mut run = RunSeen {
                            run: id.to_string(),
                            ..RunSeen::default()
                        };
                        // A ZooKeeper error (a connection lost while the ensemble is busy)
                        // must not end the figures of the run: follow again, a few times.
                        for attempt in 1..=5 {
                            match follow_run(&client, &id, &mut run).await {
                                Ok(()) => break,
                                Err(e) => {
                                    eprintln!(
                                        "sim-agents: following {id} (attempt {attempt}): {e}"
                                    );
                                    tokio::time::sleep(Duration::from_millis(500)).await;
                                }
                            }
                        }
                        run.finish();
                        seen.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(id.to_string(), run);
                    });
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    // Runs still going are reported as far as they got.
    tasks.abort_all();
}

async fn follow_run(client: &Client, id: &RunId, seen: &mut RunSeen) -> Result<(), ClusterError> {
    let mut assignment: Option<Assignment> = None;
    // Done markers are read as they are filled in, not after the run: retention may delete a
    // finished run at once (`--keep-runs 0`).
    let mut done_read_at: Option<std::time::Instant> = None;
    loop {
        let state = run::state(client, id).await?;
        // Once a second while none is written (the instrument must not load ZooKeeper more
        // than the coordinator does); every time from the first on, as the run may be deleted
        // soon after the last.
        if !seen.done.is_empty()
            || state.phase != RunPhase::Running
            || done_read_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            done_read_at = Some(std::time::Instant::now());
            for (agent, data) in zk::written_children(client, &layout::run_done(id)).await? {
                if let Ok(marker) = serde_json::from_slice::<DoneMarker>(&data) {
                    seen.done.insert(agent, marker);
                }
            }
        }
        seen.phase = format!("{:?}", state.phase).to_lowercase();
        let path = layout::run_assignment(id);
        if let Some((a, stat)) = zk::get_json::<Assignment>(client, &path, "assignment").await? {
            if seen.epochs.last().is_none_or(|(e, _)| *e != a.epoch) {
                seen.epochs.push((a.epoch, stat.mtime));
            }
            seen.agents = seen.agents.max(a.shares.len() + a.departed.len());
            seen.started_at_ms.get_or_insert(a.start_at_ms);
            assignment = Some(a);
        }
        if state.phase.is_finished() {
            break;
        }
        let live_path = layout::run_live(id);
        let watched = client.get_and_watch_data(&live_path).await;
        let now = clock::now_ms();
        if let (Ok((data, _, watcher)), Some(a)) = (watched, &assignment) {
            if let Ok(live) = serde_json::from_slice::<LiveView>(&data) {
                seen.report_lag_ms = live.report_lag_ms.or(seen.report_lag_ms);
                for (agent, &count) in &live.deltas {
                    let before = seen.merged.insert(agent.clone(), count).unwrap_or(0);
                    let Some(share) = a
                        .shares
                        .iter()
                        .chain(&a.departed)
                        .find(|s| s.agent.0 == *agent)
                    else {
                        continue;
                    };
                    let start = a.start_at_ms + share.start_offset_ms as i64;
                    for window in before..count {
                        let ended = start + (window as i64 + 1) * 1000;
                        seen.lags_ms.push(now - ended);
                    }
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), watcher.changed()).await;
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    if let Some(a) = &assignment {
        let mut starts = Vec::new();
        let mut requests = 0;
        for share in a.shares.iter().chain(&a.departed) {
            if let Some(done) = seen.done.get(&share.agent.0) {
                requests += done.requests;
                if let Some(at) = done.started_at_ms {
                    let planned = a.start_at_ms + share.start_offset_ms as i64;
                    starts.push((at, at - planned));
                }
            }
        }
        seen.agents_requests = Some(requests);
        let first = starts.iter().map(|s| s.0).min();
        let last = starts.iter().map(|s| s.0).max();
        seen.start_spread_ms = first.zip(last).map(|(f, l)| l - f);
        let mut skews: Vec<i64> = starts.iter().map(|s| s.1.abs()).collect();
        skews.sort_unstable();
        let at = |q: f64| {
            skews
                .get(((skews.len() as f64 * q) as usize).min(skews.len().saturating_sub(1)))
                .copied()
        };
        seen.start_skew_ms = skews.last().copied();
        (seen.start_skew_p50_ms, seen.start_skew_p99_ms) = (at(0.5), at(0.99));
    }
    if state_done(client, id).await? {
        let path = layout::run_result(id);
        if let Some((result, _)) =
            zk::get_json::<serde_json::Value>(client, &path, "run result").await?
        {
            seen.result_requests = result["total"]["requests"].as_u64();
        }
    }
    Ok(())
}

async fn state_done(client: &Client, id: &RunId) -> Result<bool, ClusterError> {
    Ok(run::state(client, id).await?.phase == RunPhase::Done)
}
