//! The production [`Engine`]: the runtime's own engine, started with the agent's share and the
//! ZooKeeper coordination (start instant, stop, delta shipping).

use std::sync::Arc;

use ptl_bytecode::Plan;
use ptl_runtime::coordination::{BoxFuture, Coordination};
use ptl_runtime::http::TlsOptions;
use ptl_runtime::vm::AgentShare;
use ptl_runtime::RunOptions;

use crate::agent::Engine;

#[derive(Debug, Clone, Default)]
pub struct RuntimeEngine {
    /// Worker threads of the generator (default: one per core), as `ptl run --workers`.
    pub workers: Option<usize>,
    /// How `https://` targets are spoken to (`ptl agent --ca-cert`, `--insecure`).
    pub tls: TlsOptions,
}

impl Engine for RuntimeEngine {
    fn run(
        &self,
        plan: Plan,
        share: AgentShare,
        coordination: Arc<dyn Coordination>,
    ) -> BoxFuture<'_, Result<(), String>> {
        let options = RunOptions {
            share,
            workers: self.workers,
            coordination: Some(coordination),
            tls: self.tls.clone(),
            ..RunOptions::default()
        };
        Box::pin(async move {
            ptl_runtime::run(&plan, options)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}
