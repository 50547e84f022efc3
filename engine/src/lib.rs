//! ptl-engine: runs a compiled plan (`ptl_bytecode::Plan`) and measures the target truthfully.
//!
//! The path of a request: [`vm`] builds it from the plan's templates and generators,
//! [`schedule`] gives its intended send time (open loop), [`runner`] sends it over [`http`] and
//! checks the answer ([`response_check`]), [`record`] keeps histograms and counters, and
//! [`result`] turns them into a [`result::RunResult`] with its thresholds evaluated.
//! [`coordination`] is what a cluster plugs into. Rendering the result (tables, HTML, JUnit,
//! HdrHistogram logs) is `ptl-report`'s; the demo target is `ptl-demo-target`'s. It never
//! depends on the compiler, so an agent links the engine and nothing of the front end.
pub mod coordination;
pub mod error;
pub mod http;
pub mod record;
pub mod response_check;
pub mod result;
pub mod runner;
pub mod schedule;
pub mod vm;
pub use runner::{run, run_blocking, Progress, RunOptions, RunOutcome};
