//! The production [`Engine`]: the runtime's own engine, started with the agent's share and the
//! ZooKeeper coordination (start instant, stop, delta shipping).

use std::sync::Arc;

use ptl_bytecode::Plan;
use ptl_runtime::coordination::{BoxFuture, Coordination};
use ptl_runtime::http::TlsOptions;
use ptl_runtime::vm::AgentShare;
use ptl_runtime::RunOptions;

use crate::agent::Engine;

#[derive(Debug, Clone, Copy, Default)]
pub struct RuntimeEngine {
    /// Worker threads of the generator (default: one per core), as `ptl run --workers`.
    pub workers: Option<usize>,
}

impl Engine for RuntimeEngine {
    fn run(
        &self,
        plan: Plan,
        share: AgentShare,
        coordination: Arc<dyn Coordination>,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(run(
            plan,
            share,
            coordination,
            self.workers,
            TlsOptions::default(),
        ))
    }
}

/// [`RuntimeEngine`] with the TLS options of `https://` targets (`ptl agent --ca-cert`,
/// `--insecure`). A separate type so that `RuntimeEngine { workers }` stays as it is built
/// today.
#[derive(Debug, Clone, Default)]
pub struct TlsRuntimeEngine {
    pub engine: RuntimeEngine,
    pub tls: TlsOptions,
}

impl Engine for TlsRuntimeEngine {
    fn run(
        &self,
        plan: Plan,
        share: AgentShare,
        coordination: Arc<dyn Coordination>,
    ) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(run(
            plan,
            share,
            coordination,
            self.engine.workers,
            self.tls.clone(),
        ))
    }
}

async fn run(
    plan: Plan,
    share: AgentShare,
    coordination: Arc<dyn Coordination>,
    workers: Option<usize>,
    tls: TlsOptions,
) -> Result<(), String> {
    let options = RunOptions {
        share,
        workers,
        coordination: Some(coordination),
        tls,
        ..RunOptions::default()
    };
    ptl_runtime::run(&plan, options)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
