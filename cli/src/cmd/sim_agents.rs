//! `ptl sim-agents`: N simulated agents in this process, measuring what they cost ZooKeeper and
//! the coordinator until Ctrl-C, SIGTERM or `--duration-limit`; prints the figures (and writes
//! them as JSON with `--json`). The harness itself is `ptl_cluster::sim`.

use crate::cluster_setup::{cluster_failure, runtime, zk_config};
use crate::exit::Exit;
use crate::flags::SimAgentsArgs;
use crate::output::{fail, Done};
use ptl_cluster::sim::{run_sim, SimConfig};
use std::time::Duration;

pub fn run(args: &SimAgentsArgs) -> Done {
    if let Some(share) = args.kill_share {
        if !(0.0..=1.0).contains(&share) {
            return Err(fail(Exit::Usage, "--kill-share must be between 0 and 1"));
        }
    }
    let config = SimConfig {
        zk: zk_config(&args.zk)?,
        count: args.count as usize,
        capacity_per_agent: args.capacity_per_agent,
        latency: args.latency_model,
        duration_limit: args.duration_limit,
        coordinator_pid: args.coordinator_pid,
        kill: args.kill_share.zip(args.kill_after),
        name: args.name.clone(),
        saturate_above: args.saturate_above,
        progress_every: Some(Duration::from_secs(5)),
    };
    let runtime = runtime()?;
    let report = runtime
        .block_on(async { run_sim(config, crate::signals::shutdown_token("sim-agents")).await })
        .map_err(cluster_failure)?;
    print!("{report}");
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).map_err(|e| fail(Exit::Usage, e))?;
        std::fs::write(path, json)
            .map_err(|e| fail(Exit::Usage, format!("{}: {e}", path.display())))?;
    }
    // The runtime holds a thousand sessions' tasks: leave without waiting for each to wind down.
    runtime.shutdown_background();
    Ok(())
}
