//! ptl-runtime: runs a compiled plan (`ptl_bytecode::Plan`) and measures the target truthfully.
//!
//! The path of a request: [`vm`] builds it from the plan's templates and generators,
//! [`schedule`] gives its intended send time (open loop), [`engine`] sends it over [`http`] and
//! checks the answer ([`response_check`]), [`record`] keeps histograms and counters,
//! [`summary`] and [`thresholds`] turn them into a [`results::RunResult`], rendered by
//! [`summary_table`], [`report_html`], [`junit`] and [`hdr_log`]. [`coordination`] is what a
//! cluster plugs into; [`demo_target`] is the built-in target. It never depends on the compiler.
pub mod coordination;
pub mod demo_target;
pub mod engine;
pub mod error;
pub mod hdr_log;
pub mod http;
pub mod junit;
pub mod record;
pub mod report_format;
pub mod report_html;
pub mod response_check;
pub mod results;
pub mod schedule;
pub mod summary;
pub mod summary_table;
pub mod thresholds;
pub mod vm;
pub use engine::{run, run_blocking, Progress, RunOptions, RunOutcome};
