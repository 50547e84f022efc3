//! ptl-engine: runs a compiled plan (`ptl_bytecode::Plan`) and measures the target truthfully.
//!
//! The path of a request: `vm` builds it from the plan's templates and generators,
//! `schedule` gives its intended send time (open loop), [`runner`] sends it over [`http`] and
//! checks the answer (`response_check`), [`record`] keeps histograms and counters, and
//! [`result`] turns them into a [`result::RunResult`] with its thresholds evaluated. It never
//! depends on the compiler, so an agent links the engine and nothing of the front end;
//! rendering a result is `ptl-report`'s, the demo target `ptl-demo-target`'s.
//!
//! The public surface, deliberately small:
//! - running: [`run`], [`run_blocking`], [`RunOptions`], [`RunOutcome`], [`Progress`];
//! - what a cluster plugs in and reads back: [`coordination`] (start, stop, pauses, share
//!   changes, delta shipping), [`vm::AgentShare`], [`record`] (the interval deltas and their
//!   exact merge), and from [`runner`] the pieces a coordinator rebuilds a run's series and
//!   timing with exactly as the engine does (`collect`, `timeline`, `pause_clock`, `spans`);
//! - the result: [`result`] (the JSON model, `summarize`, `thresholds`);
//! - [`lease`]: the permission to send an agent of a cluster holds (no zombie load);
//! - [`http`]'s TLS options, and its pool for the engine's own benchmark;
//! - [`target_env`]: targets read from the environment, resolved when the run starts;
//! - [`target_policy`]: where and how fast a run may send (`--allow-target`, `--max-rate`);
//! - [`request_log`]: one JSON line per request (`--request-log`), written off the workers.
pub mod coordination;
pub mod error;
pub mod http;
pub mod lease;
pub mod record;
pub mod request_log;
mod response_check;
pub mod result;
pub mod runner;
mod schedule;
pub mod target_env;
pub mod target_policy;
pub mod vm;
pub use runner::{run, run_blocking, Progress, RunOptions, RunOutcome, WindowFn, WindowRecord};
