//! `ptl submit`: compile a plan, hand it to the cluster, and with `--wait` follow the run live
//! and end exactly as `ptl run` does (summary, output files, exit status).

use crate::cluster_setup::{cluster_failure, runtime, zk_config};
use crate::cmd::run::{conclude, start_hdr_log, HdrLog};
use crate::exit::Exit;
use crate::flags::SubmitArgs;
use crate::output::{fail, Done};
use crate::plan_source;
use crate::progress::LiveView;
use crate::signals;
use ptl_bytecode::Plan;
use ptl_cluster::client::submit::{self, SubmitConfig, Submitted};
use ptl_cluster::coordinator::LiveView as ClusterLive;
use ptl_cluster::coordinator::{merged_record, merged_seconds};
use ptl_cluster::ids::RunId;
use ptl_cluster::run::{self, RunPhase};
use ptl_cluster::signing::PlanSigner;
use ptl_cluster::zk::{self, ZkConfig};
use ptl_cluster::ClusterError;
use ptl_engine::result::RunResult;
use ptl_engine::runner::timeline::Timeline;
use ptl_engine::vm::AgentShare;
use ptl_engine::{Progress, RunOutcome};
use ptl_report::hdr_log::SecondsLog;
use std::time::Duration;

/// How often the run's state and live view are read while waiting.
const POLL: Duration = Duration::from_secs(1);

/// Added to the run's own length for the default `--timeout`.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(60);

pub fn run(args: &SubmitArgs) -> Done {
    let files = &args.files;
    let any_file = files.out.is_some()
        || files.report.is_some()
        || files.junit.is_some()
        || args.hdr_log.is_some();
    if !args.wait && any_file {
        return Err(fail(
            Exit::Usage,
            "--out, --report, --junit and --hdr-log need --wait (without it, submit returns once the run is created)",
        ));
    }
    let compiled = plan_source::compile(&args.plan, &args.params)?;
    if compiled.plan.stop_at_knee {
        eprintln!(
            "warning: `stop_at knee` is judged by `ptl run` only: this cluster run will not \
             stop at the knee (an `abort` threshold does stop it; docs/analysis.md)"
        );
    }
    let runtime = runtime()?;
    let zk = zk_config(&args.zk)?;
    let mut config = SubmitConfig::new(zk.clone(), compiled.bytes.clone(), args.agents);
    config.params = args.params.params.iter().cloned().collect();
    config.agent_wait = args.agent_wait;
    config.on_agent_loss = args.on_agent_loss.into();
    config.start_delay = args.start_delay;
    config.stagger = args.stagger;
    if let Some(path) = &args.sign_key {
        let signer = PlanSigner::read(path).map_err(|e| fail(Exit::Usage, e))?;
        config.signer = Some(std::sync::Arc::new(signer));
    }
    let timeout = args
        .timeout
        .unwrap_or_else(|| default_timeout(&compiled.plan, args));

    runtime.block_on(async {
        let id = match submit::submit(config).await.map_err(cluster_failure)? {
            Submitted::Created(id) => id,
            Submitted::Finished(_, result) => return conclude(&result, files, None),
        };
        if !args.wait {
            // The id alone on stdout, for scripts; the rest is for people.
            println!("{id}");
            eprintln!(
                "submitted {id}: `ptl status --zk {}` shows it, `ptl stop {id} --zk {}` stops it",
                zk.connect, zk.connect
            );
            return Ok(());
        }
        eprintln!(
            "submitted {id}; waiting for {} agent(s), then the run (at most {})",
            args.agents,
            humanise(timeout)
        );
        let followed = follow(&zk, &id, timeout, &compiled.plan, args.quiet)
            .await
            .map_err(cluster_failure)?;
        let result = match followed {
            Followed::Result(result) => result,
            Followed::StoppedBeforeStart => {
                eprintln!("{id} was stopped before it started: no results");
                return Err(Exit::Interrupted);
            }
        };
        let Some(path) = args.hdr_log.as_deref() else {
            return conclude(&result, files, None);
        };
        match merged_outcome(&zk, &id, &compiled.plan, &result).await {
            Ok(outcome) => match seconds_log(&zk, &id, &outcome, path).await {
                Ok(log) => conclude(
                    &result,
                    files,
                    Some(HdrLog::Seconds(path, log, outcome.started_at)),
                ),
                Err(e) => {
                    eprintln!(
                        "note: the run's merged seconds could not be read ({e}): {} has one interval per phase",
                        path.display()
                    );
                    conclude(&result, files, Some(HdrLog::PerPhase(path, &outcome)))
                }
            },
            Err(e) => {
                // The summary and the other files still; the status is the missing log's.
                let _ = conclude(&result, files, None);
                Err(fail(
                    Exit::RunFailed,
                    format!("cannot write {}: {e}", path.display()),
                ))
            }
        }
    })
}

/// The finished run with the cluster's merged histograms, for the HdrHistogram log.
async fn merged_outcome(
    zk: &ZkConfig,
    id: &RunId,
    plan: &Plan,
    result: &RunResult,
) -> Result<RunOutcome, ClusterError> {
    let client = zk::connect(zk).await?;
    merged_record::load_outcome(&client, id, plan, result.clone()).await
}

/// `--hdr-log` with one interval per second (wider in a long run), from the coordinator's
/// merged history (see `ptl_cluster::coordinator::merged_seconds`). An error if it is gone or
/// damaged: the log written so far is closed, and the caller writes the per-phase one over it.
async fn seconds_log(
    zk: &ZkConfig,
    id: &RunId,
    outcome: &RunOutcome,
    path: &std::path::Path,
) -> Result<SecondsLog, String> {
    let intervals = "one interval per second, wider in a run longer than the coordinator's \
                     --history-intervals";
    let log = start_hdr_log(path, &outcome.result.plan, intervals)
        .map_err(|_| "cannot create the file")?;
    let visited = async {
        let client = zk::connect(zk).await?;
        let mut sink = log.sink();
        merged_seconds::visit(&client, id, outcome, |w| sink(w)).await
    }
    .await;
    match visited {
        Ok(()) => Ok(log),
        Err(e) => {
            let _ = log.finish(outcome.started_at);
            Err(e.to_string())
        }
    }
}

/// The run's own length plus the time it may wait for agents and to start, plus a margin.
fn default_timeout(plan: &Plan, args: &SubmitArgs) -> Duration {
    Duration::from_micros(plan.duration_us())
        .saturating_add(args.agent_wait)
        .saturating_add(args.start_delay)
        .saturating_add(args.stagger.saturating_mul(args.agents))
        .saturating_add(TIMEOUT_MARGIN)
}

enum Followed {
    Result(Box<RunResult>),
    StoppedBeforeStart,
}

/// Waits for the result, showing the run's phase changes and its merged live view; Ctrl-C
/// stops the whole run (the partial result still comes back), a second Ctrl-C quits at once.
async fn follow(
    zk: &ZkConfig,
    id: &RunId,
    timeout: Duration,
    plan: &Plan,
    quiet: bool,
) -> Result<Followed, ClusterError> {
    let client = zk::connect(zk).await?;
    let timeline = Timeline::of(plan, &AgentShare::solo());
    let view = LiveView::new(Duration::from_micros(timeline.total_us), quiet);
    let mut show = view.callback(quiet);
    let waiting = submit::wait_for_result_reconnecting(zk, id, timeout);
    tokio::pin!(waiting);
    let mut ticker = tokio::time::interval(POLL);
    let mut phase = RunPhase::Pending;
    let mut previous: Option<ClusterLive> = None;
    let mut interrupted = false;
    // Agents already said to be silent (said again if they report and fall silent again).
    let mut silent = std::collections::BTreeSet::new();
    let outcome = loop {
        tokio::select! {
            result = &mut waiting => break result.map(|r| Followed::Result(Box::new(r))),
            signal = signals::first() => {
                if interrupted {
                    std::process::exit(Exit::Interrupted as i32);
                }
                interrupted = true;
                signals::announce(signal, &format!("stopping {id} on every agent, then writing the results so far"));
                // The phase replaced, read in the same version-checked write: a run stopped
                // while pending never starts (the coordinator only starts pending runs).
                let mut replaced = None;
                run::update_state(&client, id, |s| {
                    if s.phase.is_finished() || s.phase == RunPhase::Stopping {
                        return false;
                    }
                    replaced = Some(s.phase);
                    s.phase = RunPhase::Stopping;
                    s.reason = Some(signal.reason().to_string());
                    true
                })
                .await?;
                if replaced == Some(RunPhase::Pending) {
                    break Ok(Followed::StoppedBeforeStart);
                }
            }
            _ = ticker.tick() => {
                if let Ok(state) = run::state(&client, id).await {
                    if state.phase != phase {
                        phase = state.phase;
                        if !quiet && phase == RunPhase::Running {
                            eprintln!("{id} is running");
                        }
                    }
                }
                let Ok(Some(live)) = submit::live_view(&client, id).await else { continue };
                for (agent, seconds) in &live.silent {
                    if !quiet && silent.insert(agent.clone()) {
                        eprintln!(
                            "{agent} silent for {seconds:.0} s: no report from it; its share is taken over if its session times out"
                        );
                    }
                }
                silent.retain(|agent| live.silent.contains_key(agent));
                let Some(show) = show.as_mut() else { continue };
                if previous.as_ref().is_none_or(|p| p.updated_at_ms != live.updated_at_ms) {
                    show(&progress(&live, previous.as_ref(), &timeline));
                    previous = Some(live);
                }
            }
        }
    };
    view.finish();
    outcome
}

/// The cluster's merged live view in the shape `ptl run`'s display takes.
fn progress(live: &ClusterLive, previous: Option<&ClusterLive>, timeline: &Timeline) -> Progress {
    let elapsed_ms = (live.updated_at_ms - live.started_at_ms).max(0) as u64;
    let elapsed_us = elapsed_ms.saturating_mul(1000);
    let phase = timeline.phase_at(elapsed_us);
    let achieved_rps = previous
        .filter(|p| live.updated_at_ms > p.updated_at_ms)
        .map_or(0.0, |p| {
            let seconds = (live.updated_at_ms - p.updated_at_ms) as f64 / 1000.0;
            live.requests.saturating_sub(p.requests) as f64 / seconds
        });
    Progress {
        elapsed: Duration::from_millis(elapsed_ms),
        phase: phase.map(|p| p.name.clone()),
        phase_index: phase.map(|p| p.index),
        phase_left: Duration::from_micros(
            phase.map_or(0, |p| p.end_us().saturating_sub(elapsed_us)),
        ),
        run_left: Duration::from_micros(timeline.total_us.saturating_sub(elapsed_us)),
        target_rps: phase.map_or(0.0, |p| p.target_rps),
        achieved_rps,
        p50_ms: live.p50_ms,
        p99_ms: live.p99_ms,
        requests: live.requests,
        errors: live.errors,
        dropped: live.dropped,
        paused: live.paused,
    }
}

fn humanise(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 120 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}
