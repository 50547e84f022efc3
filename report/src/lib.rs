//! ptl-report: renders a run's result for people and tools. [`table`] is the terminal summary
//! (`ptl run`, `ptl submit --wait`), [`html`] the self-contained HTML report (`--report`), [`junit`]
//! the thresholds as JUnit XML for CI (`--junit`), [`hdr_log`] the histograms as an
//! HdrHistogram interval log (`--hdr-log`); [`units`] formats durations, rates and shares the
//! same way in all of them; [`analysis`] is the capacity analysis of `ptl analyze`; [`traffic`] reads request logs and
//! compares them (`ptl compare`) or writes a plan from one (`ptl plan-from-log`). The data
//! comes from `ptl_engine::result`; nothing here runs load.
pub mod analysis;
pub mod error;
pub mod hdr_log;
pub mod html;
pub mod junit;
pub mod table;
pub mod traffic;
pub mod units;

pub use error::ReportError;
