//! stub
pub mod demo_target;
pub mod junit;
pub mod report_format;
pub mod report_html;
pub mod summary_table;
pub mod response_check;
pub mod schedule;
pub mod vm;
pub mod error;
pub mod record;
pub mod results;
pub mod coordination;
pub mod engine;
pub mod hdr_log;
pub mod http;
pub mod summary;
pub mod thresholds;
pub use engine::{run, run_blocking, Progress, RunOptions, RunOutcome};
