//! Everything that can go wrong turning a plan into requests: mostly caught once, when the
//! [`Program`](super::Program) is loaded, so that nothing input-derived can fail per request
//! except values that generators or captures produce at run time.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum VmError {
    #[error("invalid target URL {target:?}: {reason}")]
    InvalidTarget { target: String, reason: String },
    #[error("invalid agent share: {0}")]
    InvalidShare(String),
    #[error("the plan has no scenarios")]
    NoScenarios,
    #[error("request `{request}` goes to host {host}, which the plan does not list")]
    HostOutOfRange { request: String, host: u32 },
    #[error("constant #{0} is not in the plan's constant pool")]
    ConstOutOfRange(u32),
    #[error("variable #{0} does not exist (or refers to itself or a later variable)")]
    VarOutOfRange(u32),
    #[error("dataset #{0} does not exist")]
    DatasetOutOfRange(u32),
    #[error("dataset {name:?} has no rows")]
    EmptyDataset { name: String },
    #[error("dataset {name:?}: row {row} has {cells} cells, expected {columns}")]
    RaggedDataset {
        name: String,
        row: usize,
        cells: usize,
        columns: usize,
    },
    #[error("variable {var:?}: {reason}")]
    InvalidGenerator { var: String, reason: String },
    #[error("`let {var} = env(\"{name}\")`: the environment variable {name} is not set (set it where the plan runs, or give a default)")]
    MissingEnv { var: String, name: String },
    #[error("{{{{{var}.…}}}}: variable {var:?} is not a csv row")]
    FieldWithoutCsv { var: String },
    #[error("{{{{{var}.…}}}}: column #{column} does not exist")]
    ColumnOutOfRange { var: String, column: u32 },
    #[error(
        "capture register #{register} is out of range (scenario {scenario:?} has {registers})"
    )]
    RegisterOutOfRange {
        scenario: String,
        register: u32,
        registers: u32,
    },
    #[error("invalid header name {name:?}")]
    InvalidHeaderName { name: String },
    #[error("invalid value for header {name:?}")]
    InvalidHeaderValue { name: String },
    #[error("invalid request path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("invalid JSONPath {path:?}: {reason}")]
    InvalidJsonPath { path: String, reason: String },
    #[error("invalid JSON value {value:?} in an expectation: {reason}")]
    InvalidJsonValue { value: String, reason: String },
    #[error("invalid regex {pattern:?}: {reason}")]
    InvalidRegex { pattern: String, reason: String },
    #[error("scenario #{0} does not exist")]
    ScenarioOutOfRange(u32),
    #[error("scenario #{scenario} has no step #{step}")]
    StepOutOfRange { scenario: u32, step: u32 },
    #[error("scenario #{scenario} step #{step} is a think time, not a request")]
    NotARequest { scenario: u32, step: u32 },
    #[error("phase {phase:?}: mix names scenario #{scenario}, which does not exist")]
    MixScenarioOutOfRange { phase: String, scenario: u32 },
}
