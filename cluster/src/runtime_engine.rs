//! The production [`Engine`]: the runtime's own engine, started with the agent's share and the
//! ZooKeeper coordination (start instant, stop, delta shipping).

use std::sync::Arc;

use ptl_bytecode::Plan;
use ptl_runtime::coordination::{BoxFuture, Coordination};
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
        Box::pin(async move {
            let options = RunOptions {
                share,
                workers: self.workers,
                coordination: Some(coordination),
                ..RunOptions::default()
            };
            ptl_runtime::run(&plan, options)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}
