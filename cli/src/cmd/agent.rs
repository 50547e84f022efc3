//! `ptl agent`: register with the cluster and run the load assigned to this machine until
//! Ctrl-C or SIGTERM (a run in progress is finished if it ends within `--drain-grace`, handed
//! over to the other agents otherwise).

use crate::cluster_setup::{cluster_failure, default_name, host_name, runtime, zk_config};
use crate::flags::AgentArgs;
use crate::output::Done;
use ptl_cluster::agent::engine::RuntimeEngine;
use ptl_cluster::agent::{Agent, AgentConfig};
use std::sync::Arc;
use std::time::Duration;

pub fn run(args: &AgentArgs) -> Done {
    let runtime = runtime()?;
    let mut config = AgentConfig::new(
        zk_config(&args.zk)?,
        args.name.clone().unwrap_or_else(default_name),
    );
    config.host = host_name();
    config.capacity = args.capacity;
    config.labels = args.labels.iter().cloned().collect();
    config.poll = Duration::from_millis(500);
    config.drain_grace = args.drain_grace;
    config.trusted_keys = crate::cluster_setup::trusted_keys(&args.trust, "agent")?;
    config.policy = args.policy.policy();
    let tls = super::run::tls_options(&args.tls)?;
    let engine = Arc::new(RuntimeEngine {
        workers: args.workers,
        tls,
        policy: config.policy.clone(),
    });
    runtime.block_on(async {
        let agent = Agent::register(&config).await.map_err(cluster_failure)?;
        eprintln!(
            "agent {} ({}): registered with ZooKeeper {} (chroot {}); waiting for runs",
            config.name,
            agent.id(),
            config.zk.connect,
            config.zk.chroot
        );
        if !config.policy.allows_any_target() || config.policy.max_rate().is_some() {
            eprintln!("agent {}: sends only under: {}", config.name, config.policy);
        }
        agent
            .serve(engine, config.poll, crate::signals::shutdown_token("agent"))
            .await
            .map_err(cluster_failure)
    })
}
