//! The renderings of a run result: JUnit XML, the HdrHistogram interval log, the HTML report and its chart script, the summary table.
//!
//! One test binary for the crate (linking is paid once, not once per file); each module is
//! what used to be its own `tests/NAME.rs`.

mod hdr_log;
mod junit;
mod report_charts_js;
mod report_fixture;
mod report_html;
mod summary_table;
