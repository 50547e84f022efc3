//! `ptl demo`: the demo target on a free loopback port and the quickstart plan against it.

use crate::cmd::run::execute;
use crate::exit::Exit;
use crate::flags::DemoArgs;
use crate::output::{fail, Done};
use crate::plan_source;
use crate::runtime;
use ptl_demo_target::{serve, DemoTargetConfig};
use ptl_engine::result::RunResult;
use ptl_report::analysis::{analyze, render, slo};

/// Embedded so that `ptl demo` works from any directory, like the standard plans.
const QUICKSTART: &str = include_str!("../../../examples/quickstart.ptl");

pub fn run(args: &DemoArgs) -> Done {
    // The target gets its own threads so that it does not compete with the generator's
    // runtime for the same scheduler.
    let target_rt = runtime::start(tokio::runtime::Builder::new_multi_thread().worker_threads(1))?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let target = target_rt.block_on(serve(DemoTargetConfig::default(), async move {
        let _ = shutdown_rx.await;
    }));
    let target = target.map_err(|e| {
        fail(
            Exit::RunFailed,
            format!("cannot start the demo target: {e}"),
        )
    })?;
    eprintln!(
        "demo target on {}; running examples/quickstart.ptl against it (about 30 s, Ctrl-C stops early)",
        target.url()
    );
    let mut params = vec![("target".to_string(), format!("\"{}\"", target.url()))];
    params.extend(args.params.params.iter().cloned());
    let checked = plan_source::check(
        std::path::Path::new("examples/quickstart.ptl"),
        QUICKSTART,
        &params,
        &args.params.allow,
    );
    let done = match checked.plan {
        Some(plan) => {
            let bytes = ptl_bytecode::encode(&plan);
            let ran = execute(&plan_source::Compiled { plan, bytes }, &args.output, None);
            if let Some(result) = &ran.result {
                println!("{}", capacity_line(result));
            }
            ran.done
        }
        None => Err(fail(Exit::PlanInvalid, "the quickstart plan has errors")),
    };
    let _ = shutdown_tx.send(());
    done
}

/// What the run says of the demo target's capacity, judged by the quickstart's own whole-run
/// thresholds (`ptl analyze`'s analysis), and how to find the knee when the run stayed below it.
fn capacity_line(result: &RunResult) -> String {
    let line = step_line(result);
    // Steps are judged by their median second, the whole run by all its requests: a run whose
    // slow seconds failed a threshold must not read as if everything held.
    let failed: Vec<&str> = result
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| t.expr.as_str())
        .collect();
    if failed.is_empty() {
        line
    } else {
        format!(
            "{line} (each step judged by its median second; over the whole run {} failed)",
            failed.join(", ")
        )
    }
}

fn step_line(result: &RunResult) -> String {
    let slos = slo::from_thresholds(&result.thresholds);
    match analyze(result, &slos, None) {
        Ok(analysis) if analysis.first_break_rps.is_none() => {
            let written: Vec<String> = slos.iter().map(|s| format!("--slo \"{s}\"")).collect();
            format!(
                "{}; find it with `ptl run std:breakpoint --set target=URL --out r.json` and \
                 `ptl analyze r.json {}`",
                render::capacity_line(&analysis),
                written.join(" ")
            )
        }
        Ok(analysis) => render::capacity_line(&analysis),
        Err(e) => format!("capacity: not analysed ({e})"),
    }
}
