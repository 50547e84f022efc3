//! `ptl coordinator`: join the leader election and, when leading, coordinate cluster runs until
//! Ctrl-C or SIGTERM; with `--http`, serve the cluster's dashboard, which may start the plans of
//! the library (`--plans DIR` and the standard ones).

use crate::cluster_setup::{cluster_failure, default_name, runtime, zk_config};
use crate::exit::Exit;
use crate::flags::CoordinatorArgs;
use crate::output::{fail, Done};
use crate::plan_library::PlanLibrary;
use ptl_cluster::coordinator::{run_coordinator, CoordinatorConfig};
use ptl_dashboard::cluster_feed::{ClusterDashboard, ClusterFeedConfig};
use ptl_dashboard::launch::PlanLauncher;
use ptl_dashboard::DashboardError;
use std::sync::Arc;
use std::time::Duration;

pub fn run(args: &CoordinatorArgs) -> Done {
    if let Some(dir) = args.plans.iter().find(|d| !d.is_dir()) {
        return Err(fail(
            Exit::Usage,
            format!("--plans {}: not a directory", dir.display()),
        ));
    }
    // Certificate and key are checked before anything connects.
    let server = crate::dashboard_setup::server_config(
        args.http,
        &args.access,
        &args.dashboard_tls,
        "--http ADDR",
    )?;
    let runtime = runtime()?;
    let zk = zk_config(&args.zk)?;
    let id = args.name.clone().unwrap_or_else(default_name);
    eprintln!(
        "coordinator {id}: ZooKeeper {} (chroot {}); leads when elected",
        zk.connect, zk.chroot
    );
    let config = CoordinatorConfig {
        zk,
        id,
        summarise: Arc::new(ptl_cluster::coordinator::result::runtime_summary),
        poll: Duration::from_millis(250),
        finish_grace: Duration::from_secs(30),
        trusted_keys: crate::cluster_setup::trusted_keys(&args.trust, "coordinator")?,
        keep_runs: args.keep_runs,
        history_intervals: args.history_intervals as usize,
        scale_hook: args.scale_hook.clone(),
    };
    let dashboard = match server {
        None => None,
        Some(server) => {
            let feed = ClusterFeedConfig {
                public_url: args.public_url.clone(),
                ..ClusterFeedConfig::new(config.zk.clone())
            };
            let library: Arc<dyn PlanLauncher> =
                Arc::new(PlanLibrary::new(args.plans.clone(), config.zk.clone()));
            let d = runtime
                .block_on(ClusterDashboard::start_with(server, feed, Some(library)))
                .map_err(|e| match e {
                    DashboardError::Cluster(e) => cluster_failure(e),
                    e => fail(Exit::Usage, format!("dashboard: {e}")),
                })?;
            eprintln!("coordinator {}: dashboard at {}", config.id, d.url());
            Some(d)
        }
    };
    let led = runtime.block_on(async {
        run_coordinator(config, crate::signals::shutdown_token("coordinator")).await
    });
    if let Some(d) = dashboard {
        if let Err(e) = runtime.block_on(d.shutdown()) {
            eprintln!("dashboard: {e}");
        }
    }
    led.map_err(cluster_failure)
}
