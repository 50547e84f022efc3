//! `ptl agent`: register with the cluster and run the load assigned to this machine until
//! Ctrl-C or SIGTERM (a run in progress is finished first).

use crate::cluster_setup::{
    cluster_failure, default_name, host_name, runtime, shutdown_signal, zk_config,
};
use crate::exit::Exit;
use crate::flags::AgentArgs;
use ptl_cluster::agent::engine::RuntimeEngine;
use ptl_cluster::agent::{Agent, AgentConfig};
use std::sync::Arc;
use std::time::Duration;

pub fn run(args: &AgentArgs) -> Exit {
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    let mut config = AgentConfig::new(
        zk_config(&args.zk),
        args.name.clone().unwrap_or_else(default_name),
    );
    config.host = host_name();
    config.capacity = args.capacity;
    config.labels = args.labels.iter().cloned().collect();
    config.poll = Duration::from_millis(500);
    let tls = match super::run::tls_options(&args.tls) {
        Ok(tls) => tls,
        Err(exit) => return exit,
    };
    let engine = Arc::new(RuntimeEngine {
        workers: args.workers,
        tls,
    });
    runtime.block_on(async {
        let agent = match Agent::register(&config).await {
            Ok(agent) => agent,
            Err(e) => return cluster_failure(&e),
        };
        eprintln!(
            "agent {} ({}): registered with ZooKeeper {} (chroot {}); waiting for runs",
            config.name,
            agent.id(),
            config.zk.connect,
            config.zk.chroot
        );
        match agent
            .serve(engine, config.poll, shutdown_signal("agent"))
            .await
        {
            Ok(()) => Exit::Ok,
            Err(e) => cluster_failure(&e),
        }
    })
}
