//! What can fail while writing a report (the output itself) or analysing a run (its input).

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("histogram log: {0}")]
    HdrLog(String),
    #[error("report template does not compile: {0}")]
    HtmlTemplate(String),
    #[error("report template failed to render: {0}")]
    HtmlRender(String),
    #[error("SLO `{slo}`: {reason}")]
    InvalidSlo { slo: String, reason: String },
    #[error("analysis: {0}")]
    Analysis(String),
    /// A request log that cannot be read or compared, or a plan that cannot be written from it.
    #[error("{0}")]
    Traffic(String),
}
