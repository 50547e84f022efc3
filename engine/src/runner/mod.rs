//! The engine: runs a compiled plan against its target and records what happened.
//!
//! [`run`] loads the plan into the VM, starts one worker thread per core (each a
//! single-threaded runtime owning its part of the arrivals, connections and in-flight cap; see
//! `worker`), waits for the start instant from [`Coordination`], then once a second harvests
//! the workers' recordings, merges them exactly, extends the series, reports progress and
//! checks `abort` thresholds. A stop (Ctrl-C, `ptl stop`, an abort threshold) stops the
//! schedules at once; requests in flight finish or time out; the result is partial and says so.
//!
//! A run may be paused and resumed ([`RunOptions::pauses`], [`Coordination::pauses`]): every
//! worker moves its planned instants by the pauses (see `pause_clock`), so the schedules hold
//! and continue, phases keep their planned running time and the run lasts longer by the
//! pauses; the result lists the pauses and leaves them out of the achieved rates.

mod arrival_timer;
mod closed_loop;
pub mod collect;
mod exchange;
mod inflight;
mod inject;
mod iteration;
pub mod knee;
mod open_loop;
pub mod pause_clock;
pub mod spans;
pub mod timeline;
mod worker;
mod worker_pauses;
mod worker_shares;

use crate::coordination::{Coordination, Embedded, Pause, ShareChange, StopSignal};
use crate::error::RuntimeError;
use crate::record::series::DEFAULT_CAP;
use crate::record::{IntervalDelta, Layout, Recorded};
use crate::result::generator::{CpuMeter, GeneratorLoad};
use crate::result::summarize::{self, SummaryInput};
use crate::result::thresholds;
use crate::result::RunResult;
use crate::target_policy::TargetPolicy;
use crate::vm::{AgentShare, Program, VmError};
use collect::Collector;
use inject::Injector;
use pause_clock::PauseClock;
use ptl_bytecode::plan::Plan;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use timeline::{after, after_us, split, Timeline};
use tokio::sync::{oneshot, watch};
use worker::{Finished, WorkerHandle, WorkerSetup};

/// A snapshot of the run, once a second.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Since the run start, at the end of the window just merged.
    pub elapsed: Duration,
    /// The phase running (`None` after the last one, while in-flight requests finish).
    pub phase: Option<String>,
    pub phase_index: Option<usize>,
    pub phase_left: Duration,
    pub run_left: Duration,
    /// Planned and achieved arrival rates over the last second; in the second a phase begins,
    /// that phase's own (its planned rate, its arrivals over the part of the second it ran).
    pub target_rps: f64,
    pub achieved_rps: f64,
    /// Response time of the current phase so far.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Whole run so far.
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    /// The run is paused at the end of the window just merged.
    pub paused: bool,
}

pub type ProgressFn = Box<dyn FnMut(&Progress) + Send>;

/// One merged one-second window of this run, as the collector took it in: for consumers that
/// keep per-second data (`--hdr-log`) without the engine holding every second.
pub struct WindowRecord<'a> {
    /// The run's start.
    pub started_at: SystemTime,
    /// Offset of the window from the run's start (wall time: pauses included).
    pub start: Duration,
    /// 1 s, or less for the last window.
    pub length: Duration,
    pub layout: &'a Layout,
    /// What every worker recorded in the window, merged.
    pub recorded: &'a Recorded,
}

pub type WindowFn = Box<dyn FnMut(&WindowRecord<'_>) + Send>;

/// How to run a plan.
pub struct RunOptions {
    /// This agent's part of the run (`AgentShare::solo()` for a single agent). Ignored when
    /// `coordination` is given: its share is the one that counts.
    pub share: AgentShare,
    /// Worker threads; default: one per available core. Capped by the plan's connections and
    /// in-flight limits, since every worker needs at least one of each.
    pub workers: Option<usize>,
    /// Stop request (Ctrl-C, `ptl stop`).
    pub stop: Option<StopSignal>,
    /// Called once a second with a snapshot.
    pub progress: Option<ProgressFn>,
    /// Called with every window's merged record, in order, once a second and for the last one.
    pub windows: Option<WindowFn>,
    /// Start instant, outside stop and delta shipping; default [`Embedded`].
    pub coordination: Option<Arc<dyn Coordination>>,
    /// Hex SHA-256 of the bytecode, when the caller has it; computed from the plan otherwise.
    pub plan_hash: Option<String>,
    /// Bound on series points.
    pub series_cap: usize,
    /// Pauses of a local run (the receiver of [`pause_channel`]). Ignored when `coordination`
    /// is given and has pauses of its own ([`Coordination::pauses`] is `Some`): those count.
    ///
    /// [`pause_channel`]: crate::coordination::pause_channel
    pub pauses: Option<watch::Receiver<Vec<Pause>>>,
    /// TLS for an `https://` target (trusted CA files, insecure mode).
    pub tls: crate::http::TlsOptions,
    /// Where and how fast the run may send: checked before anything is sent, and on every
    /// DNS answer a connection uses.
    pub policy: TargetPolicy,
    /// Where every request's line goes (`--request-log`); see [`crate::request_log`].
    pub request_log: Option<crate::request_log::LogSink>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            share: AgentShare::solo(),
            workers: None,
            stop: None,
            progress: None,
            windows: None,
            coordination: None,
            plan_hash: None,
            series_cap: DEFAULT_CAP,
            pauses: None,
            tls: crate::http::TlsOptions::default(),
            policy: TargetPolicy::default(),
            request_log: None,
        }
    }
}

/// Where a phase sat in the run, for logs.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    pub name: String,
    /// Offset of the phase start from the run start.
    pub start: Duration,
    /// How long it ran, pauses included (shorter than planned if the run stopped early; 0 if
    /// never reached).
    pub ran: Duration,
}

/// What a run produced: the results, and the raw merged record behind them (for
/// `--hdr-log`, or for merging with other agents).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub result: RunResult,
    pub recorded: Recorded,
    pub layout: Layout,
    pub phases: Vec<PhaseSpan>,
    pub started_at: SystemTime,
}

/// Runs `plan` on a tokio runtime built for the purpose (the workers have their own).
pub fn run_blocking(plan: &Plan, opts: RunOptions) -> Result<RunOutcome, RuntimeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(RuntimeError::Startup)?;
    rt.block_on(run(plan, opts))
}

/// The share changes with every rate fraction held to `max` (the `--max-rate` cap): a cluster
/// that raises this agent's share above it (a rebalance) gets at most the cap from it, and the
/// arrivals above are never sent (the cluster's accounting counts them as not sent).
fn capped(
    changes: Option<watch::Receiver<Vec<ShareChange>>>,
    max: Option<f64>,
) -> Option<watch::Receiver<Vec<ShareChange>>> {
    let Some(max) = max else {
        return changes;
    };
    let mut changes = changes?;
    let clamp = move |all: &[ShareChange]| -> Vec<ShareChange> {
        all.iter()
            .map(|c| ShareChange {
                at: c.at,
                rate_fraction: c.rate_fraction.min(max),
            })
            .collect()
    };
    let (tx, rx) = watch::channel(clamp(&changes.borrow_and_update()));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        // No more changes: dropping `tx` tells the workers so.
                        return;
                    }
                    let next = clamp(&changes.borrow_and_update());
                    if tx.send(next).is_err() {
                        return;
                    }
                }
                () = tx.closed() => return,
            }
        }
    });
    Some(rx)
}

fn worker_count(plan: &Plan, timeline: &Timeline, requested: Option<usize>) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut n = requested.unwrap_or(cores).max(1);
    n = n.min(plan.connections.max(1) as usize);
    for p in timeline.phases.iter().filter(|p| p.is_open()) {
        n = n.min(p.max_inflight.max(1) as usize);
    }
    n.max(1)
}

pub async fn run(plan: &Plan, mut opts: RunOptions) -> Result<RunOutcome, RuntimeError> {
    // Targets read from the environment first: everything below sees the URLs actually used
    // (but the plan's hash is the compiled plan's).
    let compiled = plan;
    let resolved = crate::target_env::resolve(plan)?;
    let plan: &Plan = &resolved;
    // A coordination's pauses count; a caller's local ones only when it has none.
    let local_pauses = opts.pauses.take();
    let pauses = opts
        .coordination
        .as_ref()
        .and_then(|c| c.pauses())
        .or(local_pauses);
    let coordination: Arc<dyn Coordination> = opts.coordination.take().unwrap_or_else(|| {
        Arc::new(Embedded {
            share: opts.share,
            ..Embedded::default()
        })
    });
    let share = coordination.share();
    share
        .validate()
        .map_err(|e| RuntimeError::InvalidOptions(e.to_string()))?;
    let program = Arc::new(Program::new(plan, share).map_err(|e| match e {
        VmError::MissingEnv { .. } => RuntimeError::Usage(e.to_string()),
        e => RuntimeError::InvalidPlan(e.to_string()),
    })?);
    // Before any worker exists: a refused run sends nothing.
    opts.policy.check_plan(plan, &share).await?;
    let share_changes = capped(coordination.share_changes(), opts.policy.max_fraction(plan));
    let policy = Arc::new(std::mem::take(&mut opts.policy));
    let endpoints = worker::EndpointSetup::all(&program, plan.http, &opts.tls)?;
    let layout = Arc::new(Layout::of(plan));
    let timeline = Arc::new(Timeline::of(plan, &share));
    let injectors = Arc::new(
        plan.phases
            .iter()
            .map(|p| Injector::for_phase(plan, p))
            .collect::<Result<Vec<_>, _>>()?,
    );
    // Two timeouts bound the drain at the end; a day is already far beyond any real timeout.
    let day = Duration::from_secs(24 * 3600);
    let timeout = Duration::from_micros(plan.timeout_us.max(1)).min(day);
    // The drain waits for the slowest request a plan allows: a request's own `timeout` may be
    // longer than the plan's.
    let longest_timeout =
        longest_request_timeout(plan).map_or(timeout, |t| t.max(timeout).min(day));
    let count = worker_count(plan, &timeline, opts.workers);
    let plan_hash = opts
        .plan_hash
        .take()
        .unwrap_or_else(|| ptl_bytecode::hash(&ptl_bytecode::encode(compiled)).to_hex());

    let (stop_tx, stop_rx) = watch::channel(None::<String>);
    let mut handles: Vec<WorkerHandle> = Vec::with_capacity(count);
    for index in 0..count {
        let setup = WorkerSetup {
            index,
            count,
            program: program.clone(),
            layout: layout.clone(),
            timeline: timeline.clone(),
            share,
            injectors: injectors.clone(),
            vm: program.worker(index as u32),
            endpoints: endpoints.clone(),
            policy: policy.clone(),
            connections: split(plan.connections.max(1) as u64, count, index).max(1) as usize,
            http: plan.http,
            timeout,
            longest_timeout,
            share_changes: share_changes.clone(),
            pauses: pauses.clone(),
            lease: coordination.lease(),
            log: opts.request_log.as_ref().map(|s| s.for_worker(index)),
        };
        // On failure the handles spawned so far drop their start senders and those workers end.
        handles.push(worker::spawn(setup, stop_rx.clone()).map_err(RuntimeError::Startup)?);
    }

    let run_start = coordination.start().await?;
    let now = (Instant::now(), SystemTime::now());
    let started_at = if run_start >= now.0 {
        now.1 + (run_start - now.0)
    } else {
        now.1 - (now.0 - run_start)
    };
    // Before the workers hear of the start: the log's clock precedes its first line.
    if let Some(log) = &opts.request_log {
        log.start(run_start, started_at, &layout);
    }
    for h in &mut handles {
        if let Some(tx) = h.start.take() {
            let _ = tx.send(run_start);
        }
    }

    let (fin_tx, mut fin_rx) = oneshot::channel::<Vec<Finished>>();
    let dones: Vec<_> = handles
        .iter_mut()
        .map(|h| std::mem::replace(&mut h.done, oneshot::channel().1))
        .collect();
    tokio::spawn(async move {
        let mut ends = Vec::with_capacity(dones.len());
        for d in dones {
            ends.push(
                d.await
                    .unwrap_or_else(|_| Err("a worker thread died".to_string())),
            );
        }
        let _ = fin_tx.send(ends);
    });

    let mut collector = Collector::new(layout.clone(), timeline.clone(), share, opts.series_cap);
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::from_std(after(run_start, Duration::from_secs(1))),
        Duration::from_secs(1),
    );
    let mut external = opts.stop.take();
    let external_stop = async move {
        match external.as_mut() {
            Some(s) => s.stopped().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(external_stop);
    let mut coordination_stop = coordination.stopped();
    let live_aborts =
        coordination.local_abort_thresholds() && plan.thresholds.iter().any(|t| t.abort);
    // Like abort thresholds, judged where the whole run's data is: here, unless a coordinator
    // merges the agents' (it stops them).
    let knee = knee::KneeWatch::of(plan).filter(|_| coordination.local_abort_thresholds());
    let mut stop_reason: Option<String> = None;
    let mut stopped_at: Option<Instant> = None;
    let mut window = 0u64;
    // Each window carries the CPU the process used in it (saturation, here and on a coordinator).
    let mut cpu = CpuMeter::new(count);
    let clock = |pauses: &Option<watch::Receiver<Vec<Pause>>>| match pauses {
        Some(rx) => PauseClock::from_pauses(&rx.borrow(), run_start).before_plan(timeline.total_us),
        None => PauseClock::default(),
    };
    let stop =
        |reason: String, stop_reason: &mut Option<String>, stopped_at: &mut Option<Instant>| {
            if stop_reason.is_none() {
                *stop_reason = Some(reason.clone());
                *stopped_at = Some(Instant::now());
                let _ = stop_tx.send(Some(reason));
            }
        };

    let ends = loop {
        tokio::select! {
            ends = &mut fin_rx => break ends.unwrap_or_default(),
            _ = ticker.tick() => {
                let mut delta = harvest(&handles, &layout).await;
                delta.generator.add(&cpu.take());
                let progress = collector.window(window, 1.0, &delta, &clock(&pauses));
                if let Some(f) = opts.windows.as_mut() {
                    f(&WindowRecord {
                        started_at,
                        start: Duration::from_secs(window),
                        length: Duration::from_secs(1),
                        layout: &layout,
                        recorded: &delta,
                    });
                }
                coordination.report(&IntervalDelta { agent: share.index, window, recorded: delta });
                window += 1;
                if let Some(f) = opts.progress.as_mut() {
                    f(&progress);
                }
                if live_aborts {
                    if let Some(expr) = collector.crossed_abort(plan) {
                        stop(format!("threshold {expr} crossed"), &mut stop_reason, &mut stopped_at);
                    }
                }
                if let Some(reason) = knee.as_ref().and_then(|k| k.broken(collector.series.points())) {
                    stop(reason, &mut stop_reason, &mut stopped_at);
                }
            }
            reason = &mut external_stop, if stop_reason.is_none() => {
                stop(reason, &mut stop_reason, &mut stopped_at);
            }
            reason = &mut coordination_stop, if stop_reason.is_none() => {
                stop(reason, &mut stop_reason, &mut stopped_at);
            }
        }
    };
    let finished = Instant::now();

    // What the workers recorded since the last harvest is the last (partial) window; then
    // hanging up on them lets their threads end.
    let mut last = harvest(&handles, &layout).await;
    last.generator.add(&cpu.take());
    drop(handles);
    let failures: Vec<String> = ends.into_iter().filter_map(Result::err).collect();
    let window_start = after(run_start, Duration::from_secs(window));
    let seconds = finished
        .saturating_duration_since(window_start)
        .as_secs_f64()
        .min(1.0);
    if !last.is_empty() {
        let progress = collector.window(window, seconds, &last, &clock(&pauses));
        if let Some(f) = opts.windows.as_mut() {
            f(&WindowRecord {
                started_at,
                start: Duration::from_secs(window),
                length: Duration::from_secs_f64(seconds),
                layout: &layout,
                recorded: &last,
            });
        }
        coordination.report(&IntervalDelta {
            agent: share.index,
            window,
            recorded: last,
        });
        if let Some(f) = opts.progress.as_mut() {
            f(&progress);
        }
    }
    if !failures.is_empty() && stop_reason.is_none() {
        stop_reason = Some(format!("worker failure: {}", failures.join("; ")));
        stopped_at = Some(finished);
    }

    // The schedule ends at its plan end, moved by the pauses (never, while one still runs:
    // then the run ended by a stop).
    let clock = clock(&pauses);
    let end_of_schedule = clock
        .wall_of(timeline.total_us)
        .map_or(finished, |us| after_us(run_start, us));
    let span_end = match stopped_at {
        Some(t) if t < end_of_schedule => t,
        _ => end_of_schedule,
    };
    let span = span_end.saturating_duration_since(run_start);
    let span_us = u64::try_from(span.as_micros()).unwrap_or(u64::MAX);
    let (phases, paused) = spans::of(&timeline, &clock, span_us);
    let recorded = collector.cumulative;
    let mut result = summarize::build_paused(
        SummaryInput {
            plan,
            layout: &layout,
            recorded: &recorded,
            plan_hash,
            started_at,
            duration: span,
            phase_seconds: phases.iter().map(|p| p.ran.as_secs_f64()).collect(),
            phase_target_rps: timeline.phases.iter().map(|p| p.target_rps).collect(),
            stop_reason,
            thresholds: thresholds::evaluate(plan, &layout, &recorded),
            series: collector.series.finish(),
        },
        &paused,
    );
    result.generator = Some(GeneratorLoad {
        summary: collector.load,
        agents: Default::default(),
    });
    Ok(RunOutcome {
        result,
        recorded,
        layout: Arc::unwrap_or_clone(layout),
        phases,
        started_at,
    })
}

/// The longest `timeout` a request of the plan sets for itself.
fn longest_request_timeout(plan: &Plan) -> Option<Duration> {
    plan.scenarios
        .iter()
        .flat_map(|s| &s.steps)
        .filter_map(|step| match step {
            ptl_bytecode::Step::Request(r) => r.timeout_us,
            ptl_bytecode::Step::Think(_) => None,
        })
        .max()
        .map(|us| Duration::from_micros(us.max(1)))
}

/// Collects every worker's recording since the previous harvest.
async fn harvest(handles: &[WorkerHandle], layout: &Layout) -> Recorded {
    let mut replies = Vec::with_capacity(handles.len());
    for h in handles {
        let (tx, rx) = oneshot::channel();
        if h.harvest.send(tx).is_ok() {
            replies.push(rx);
        }
    }
    let mut delta = Recorded::new(
        layout.phases.len(),
        layout.requests.len(),
        layout.scenarios.len(),
    );
    for rx in replies {
        // A worker that has ended answers with nothing; what it had is in its end result.
        if let Ok(r) = rx.await {
            delta.merge(&r);
        }
    }
    delta
}
