//! `ptl run`: run a plan here, show it live, then write the results and decide the exit status
//! (the last part, [`conclude`], is shared with `ptl submit --wait`).

use crate::exit::Exit;
use crate::flags::{OutputArgs, ResultFiles, RunArgs, TlsArgs};
use crate::output::{fail, write_file, Done};
use crate::plan_source::{self, Compiled};
use crate::progress::LiveView;
use crate::runtime;
use crate::signals;
use ptl_dashboard::local::LocalDashboard;
use ptl_dashboard::ServerConfig;
use ptl_engine::coordination::stop_channel;
use ptl_engine::error::RuntimeError;
use ptl_engine::http::TlsOptions;
use ptl_engine::request_log::{LogSink, RequestLog};
use ptl_engine::result::RunResult;
use ptl_engine::target_policy::TargetPolicy;
use ptl_engine::{RunOptions, RunOutcome};
use ptl_report::hdr_log::SecondsLog;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub fn run(args: &RunArgs) -> Done {
    let compiled = plan_source::compile(&args.plan, &args.params)?;
    let tls = tls_options(&args.tls)?;
    let dashboard = crate::dashboard_setup::server_config(
        args.dashboard,
        &args.access,
        &args.dashboard_tls,
        "--dashboard ADDR",
    )?;
    let policy = args.policy.policy();
    let log = crate::request_log::start(&args.request_log)?;
    let serving = dashboard.map(|config| Serving {
        config,
        hold: args.dashboard_hold,
    });
    let done = execute_with(
        &compiled,
        &args.output,
        args.workers,
        serving,
        tls,
        policy,
        log.as_ref().map(RequestLog::sink),
    )
    .done;
    if let Some(log) = log {
        // Every worker has finished: the trailer counts every line.
        println!(
            "{}",
            crate::request_log::summary(&args.request_log, &log.finish())
        );
    }
    done
}

/// The TLS options of the flags, checked now (every CA file, the client certificate and key
/// read and parsed) so that a bad file is a usage error before anything starts. `--insecure`
/// is said once, on stderr.
pub fn tls_options(args: &TlsArgs) -> Result<TlsOptions, Exit> {
    // clap requires the two client flags together; a pair is all that can reach here.
    let client_cert = args.client_cert.clone().zip(args.client_key.clone());
    let tls = TlsOptions {
        ca_files: args.ca_certs.clone(),
        insecure: args.insecure,
        client_cert,
        client_key_password: args.client_key_password_file.clone(),
    };
    tls.client_config().map_err(|e| fail(Exit::Usage, e))?;
    if tls.insecure {
        eprintln!("warning: --insecure: server certificates of https:// targets are not verified");
    }
    Ok(tls)
}

/// The dashboard of a run here: where and how it is served, and how long after the run.
pub struct Serving {
    pub config: ServerConfig,
    /// Keep serving the finished run this long after the results are written.
    pub hold: Option<Duration>,
}

/// How a run here ended: its exit status, and its result when it ran.
pub struct Ran {
    pub done: Done,
    pub result: Option<RunResult>,
}

/// Run a compiled plan with this machine as the only agent; shared by `run` and `demo`.
pub fn execute(compiled: &Compiled, output: &OutputArgs, workers: Option<usize>) -> Ran {
    execute_with(
        compiled,
        output,
        workers,
        None,
        TlsOptions::default(),
        TargetPolicy::default(),
        None,
    )
}

/// [`execute`], serving the live dashboard at the address while the run goes on.
pub fn execute_with(
    compiled: &Compiled,
    output: &OutputArgs,
    workers: Option<usize>,
    serving: Option<Serving>,
    tls: TlsOptions,
    policy: TargetPolicy,
    request_log: Option<LogSink>,
) -> Ran {
    let runtime = match runtime::start(&mut tokio::runtime::Builder::new_current_thread()) {
        Ok(runtime) => runtime,
        Err(e) => {
            return Ran {
                done: Err(e),
                result: None,
            }
        }
    };
    let total = Duration::from_micros(compiled.plan.duration_us());
    let view = LiveView::new(total, output.quiet);
    let hdr_log = match output.hdr_log.as_deref() {
        Some(path) => match start_hdr_log(path, &compiled.plan.name, "one interval per second") {
            Ok(log) => Some((path, log)),
            Err(e) => {
                return Ran {
                    done: Err(e),
                    result: None,
                }
            }
        },
        None => None,
    };
    let (stop, signal) = stop_channel();
    let plan_hash = ptl_bytecode::hash(&compiled.bytes).to_hex();
    let mut opts = RunOptions {
        workers,
        stop: Some(signal),
        progress: view.callback(output.quiet),
        plan_hash: Some(plan_hash.clone()),
        tls,
        policy,
        request_log,
        windows: hdr_log.as_ref().map(|(_, log)| log.sink()),
        ..RunOptions::default()
    };
    let hold = serving.as_ref().and_then(|s| s.hold);
    let dashboard = match serving {
        None => None,
        Some(Serving { config, .. }) => {
            let plan = Arc::new(compiled.plan.clone());
            let started =
                runtime.block_on(LocalDashboard::start(config, plan, plan_hash, stop.clone()));
            let d = match started {
                Ok(d) => d,
                Err(e) => {
                    return Ran {
                        done: Err(fail(Exit::Usage, format!("dashboard: {e}"))),
                        result: None,
                    }
                }
            };
            match hold {
                Some(hold) => eprintln!(
                    "dashboard: {} (serving until the run ends, then {} more)",
                    d.url(),
                    ptl_report::units::format_duration_s(hold.as_secs_f64())
                ),
                None => eprintln!("dashboard: {} (serving until the run ends)", d.url()),
            }
            opts.coordination = Some(d.coordination());
            // The page's pause button holds the engine (the coordination hands it the
            // same receiver; this one counts if the coordination is ever dropped).
            opts.pauses = Some(d.pauses());
            opts.progress = Some(d.progress(opts.progress.take()));
            Some(d)
        }
    };
    let outcome = runtime.block_on(async {
        let interrupt = stop.clone();
        let signalled = tokio::spawn(async move {
            let signal = signals::first().await;
            signals::announce(
                signal,
                "letting requests in flight finish, then writing results",
            );
            interrupt.stop(signal.reason());
            signals::second_quits();
        });
        let outcome = ptl_engine::run(&compiled.plan, opts).await;
        signalled.abort();
        let kept = match (dashboard, &outcome) {
            (Some(d), Ok(o)) => {
                d.record_final(&o.result).await;
                Some(d)
            }
            (Some(d), Err(e)) => {
                d.fail(&e.to_string()).await;
                None
            }
            (None, _) => None,
        };
        (outcome, kept)
    });
    let (outcome, kept) = outcome;
    view.finish();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            let exit = match e {
                RuntimeError::Usage(_) => fail(Exit::Usage, e),
                // Refused by this machine's own rules before anything was sent: a usage error.
                RuntimeError::Refused(_) => fail(Exit::Usage, e),
                e => fail(Exit::RunFailed, e),
            };
            return Ran {
                done: Err(exit),
                result: None,
            };
        }
    };
    if let Some(reason) = ptl_engine::http::first_failure() {
        eprintln!("note: requests failed as `tls`; the first failure: {reason}");
    }
    let hdr_log = hdr_log.map(|(path, log)| HdrLog::Seconds(path, log, outcome.started_at));
    let done = conclude(&outcome.result, &output.files, hdr_log);
    if let Some(d) = kept {
        runtime.block_on(async move {
            if let Some(hold) = hold {
                eprintln!(
                    "dashboard: {} serves the finished run for {} (Ctrl-C ends it sooner)",
                    d.url(),
                    ptl_report::units::format_duration_s(hold.as_secs_f64())
                );
                tokio::select! {
                    _ = tokio::time::sleep(hold) => {}
                    _ = signals::first() => {}
                }
            }
            d.shutdown().await;
        });
    }
    Ran {
        done,
        result: Some(outcome.result),
    }
}

/// `--hdr-log` of a local run: the file is created before the run (a path that cannot be
/// written is a usage error, nothing sent) and filled second by second as it goes.
pub fn start_hdr_log(path: &Path, plan: &str, intervals: &str) -> Result<SecondsLog, Exit> {
    let cannot = |e: &dyn std::fmt::Display| {
        fail(Exit::Usage, format!("cannot write {}: {e}", path.display()))
    };
    let file = std::fs::File::create(path).map_err(|e| cannot(&e))?;
    SecondsLog::start(std::io::BufWriter::new(file), plan, intervals).map_err(|e| cannot(&e))
}

/// How `--hdr-log` is completed once the run is over.
pub enum HdrLog<'a> {
    /// Streamed second by second during a local run: what is left is written and it is closed.
    Seconds(&'a Path, SecondsLog, SystemTime),
    /// One interval per phase, from a merged record (a cluster run).
    PerPhase(&'a Path, &'a RunOutcome),
}

/// What every finished run ends with, local or cluster: the requested files, the summary
/// table on stdout, and the exit status for the result (Ctrl-C, a failed threshold).
pub fn conclude(result: &RunResult, files: &ResultFiles, hdr_log: Option<HdrLog<'_>>) -> Done {
    let written = write_outputs(result, files, hdr_log);
    print!(
        "{}",
        ptl_report::table::render_summary(result, std::io::stdout().is_terminal())
    );
    written.map_err(|e| fail(Exit::RunFailed, e))?;
    if result.stopped_early
        && result
            .stop_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("interrupted"))
    {
        return Err(Exit::Interrupted);
    }
    // Before the thresholds: they were judged on incomplete data.
    if result.accounting.as_ref().is_some_and(|a| a.degraded) {
        return Err(Exit::Degraded);
    }
    if result.thresholds.iter().all(|t| t.passed) {
        Ok(())
    } else {
        Err(Exit::ThresholdsFailed)
    }
}

/// Every requested output file; all are attempted even if one fails, so no data is lost.
fn write_outputs(
    result: &RunResult,
    files: &ResultFiles,
    hdr_log: Option<HdrLog<'_>>,
) -> Result<(), String> {
    let mut errors = Vec::new();
    let mut attempt = |path: Option<&Path>, make: &dyn Fn() -> Result<Vec<u8>, String>| {
        if let Some(path) = path {
            match make().and_then(|bytes| write_file(path, &bytes)) {
                Ok(()) => eprintln!("wrote {}", path.display()),
                Err(e) => errors.push(e),
            }
        }
    };
    attempt(files.out.as_deref(), &|| {
        serde_json::to_vec_pretty(result).map_err(|e| e.to_string())
    });
    attempt(files.report.as_deref(), &|| {
        Ok(ptl_report::html::render_report(result).into_bytes())
    });
    attempt(files.junit.as_deref(), &|| {
        Ok(ptl_report::junit::render_junit(result).into_bytes())
    });
    match hdr_log {
        Some(HdrLog::PerPhase(path, outcome)) => attempt(Some(path), &|| {
            let mut buf = Vec::new();
            ptl_report::hdr_log::write(outcome, &mut buf).map_err(|e| e.to_string())?;
            Ok(buf)
        }),
        Some(HdrLog::Seconds(path, log, started_at)) => match log.finish(started_at) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => errors.push(format!("cannot write {}: {e}", path.display())),
        },
        None => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}
