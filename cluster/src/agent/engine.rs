//! The production [`Engine`]: the runtime's own engine, started with the agent's share and the
//! ZooKeeper coordination (start instant, stop, delta shipping).

use std::sync::Arc;

use ptl_bytecode::Plan;
use ptl_engine::coordination::{BoxFuture, Coordination};
use ptl_engine::error::RuntimeError;
use ptl_engine::http::TlsOptions;
use ptl_engine::target_policy::TargetPolicy;
use ptl_engine::vm::AgentShare;
use ptl_engine::RunOptions;

use crate::agent::Engine;

#[derive(Debug, Clone, Default)]
pub struct RuntimeEngine {
    /// Worker threads of the generator (default: one per core), as `ptl run --workers`.
    pub workers: Option<usize>,
    /// How `https://` targets are spoken to (`ptl agent --ca-cert`, `--insecure`).
    pub tls: TlsOptions,
    /// The agent's allow-list and rate cap, held by the engine too: checked again before the
    /// first request and on every DNS answer a connection uses.
    pub policy: TargetPolicy,
}

impl Engine for RuntimeEngine {
    fn run(
        &self,
        plan: Plan,
        share: AgentShare,
        coordination: Arc<dyn Coordination>,
    ) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let options = RunOptions {
            share,
            workers: self.workers,
            coordination: Some(coordination),
            tls: self.tls.clone(),
            policy: self.policy.clone(),
            ..RunOptions::default()
        };
        Box::pin(async move { ptl_engine::run(&plan, options).await.map(|_| ()) })
    }
}
