//! The engine's error type: what can stop a run from starting or finishing. Failures of single
//! requests are never errors here; they are counted by class in the recorded results.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("the plan cannot run: {0}")]
    InvalidPlan(String),
    /// What the plan needs from where it runs is missing (an `env(…)` variable): the user's
    /// to fix, not the plan's.
    #[error("{0}")]
    Usage(String),
    #[error("invalid run options: {0}")]
    InvalidOptions(String),
    #[error("could not start the engine: {0}")]
    Startup(#[source] std::io::Error),
    #[error("a worker thread failed: {0}")]
    Worker(String),
    #[error("coordination failed: {0}")]
    Coordination(String),
    #[error("interval delta: {0}")]
    Delta(String),
    /// The run breaks the engine's target allow-list or rate cap: nothing was sent.
    #[error("refused: {0}")]
    Refused(#[from] crate::target_policy::Refusal),
}
