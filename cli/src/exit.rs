//! The process exit statuses of `ptl`, one place, documented in docs/cli.md.
//!
//! Scripts and CI branch on these, so they never change meaning.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything passed.
    Ok = 0,
    /// The run finished but a threshold failed (or `fmt --check` found unformatted files).
    ThresholdsFailed = 1,
    /// Bad flags or arguments (clap uses 2 as well).
    Usage = 2,
    /// The plan has errors (`check`, or any command given a broken plan).
    PlanInvalid = 3,
    /// The run could not be carried out (target unusable, I/O error writing results…).
    RunFailed = 4,
    /// A cluster run finished degraded: part of its load or data was lost (agents lost or
    /// fenced, reports missing); the results were written and say what.
    Degraded = 5,
    /// Stopped by Ctrl-C or SIGTERM; the results so far were written.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}
