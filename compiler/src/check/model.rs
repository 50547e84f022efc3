//! The checked plan: every name resolved to an index, every value typed and converted to the
//! engine's units, templates split into pieces. Text is still text here; lowering interns it
//! into the constant pool and emits the bytecode types.

use ptl_bytecode::{Arrivals, Load, Method, Overflow, Ppm, Think, Threshold};

use crate::ast::Span;
use crate::source::FileId;

/// Where something was written, for warnings computed after checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub file: FileId,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    pub target: String,
    pub timeout_us: u64,
    /// Where the timeout was set, if it was (a default timeout has no span to point at).
    pub timeout_origin: Option<Origin>,
    pub connections: u32,
    pub seed: u64,
    pub max_inflight: u32,
    /// Which of `connections` and `max_inflight` the plan left to their defaults: lowering
    /// then sizes them for the plan's peak (`capacity::size_defaults`).
    pub defaults: SizedByDefault,
    /// Warning codes the plan silences (`allow W0002`).
    pub allowed: Vec<&'static str>,
    pub overflow: Overflow,
    pub http: ptl_bytecode::HttpVersion,
    /// `stop_at knee`: stop once a step breaks the plan's whole-run latency or error SLOs.
    pub stop_at_knee: bool,
    pub params: Vec<(String, String)>,
    pub datasets: Vec<DatasetData>,
    pub vars: Vec<VarModel>,
    pub headers: Vec<HeaderModel>,
    pub scenarios: Vec<ScenarioModel>,
    /// Hosts besides `target`, as `Plan::hosts`.
    pub hosts: Vec<ptl_bytecode::Host>,
    /// Targets read from the environment, as `Plan::target_envs`.
    pub target_envs: Vec<ptl_bytecode::TargetEnv>,
    /// The requests' distinct tags, as `Plan::tags`.
    pub tags: Vec<ptl_bytecode::Tag>,
    pub phases: Vec<PhaseModel>,
    pub thresholds: Vec<Threshold>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatasetData {
    /// The file name as written in the plan.
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VarModel {
    pub name: String,
    /// Where the `let` was written, for warnings computed after lowering.
    pub origin: Origin,
    pub parts: Vec<LetPart>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LetPart {
    Lit(String),
    Var(u32),
    Gen(Gen),
    /// `base64(…)`, `url_encode(…)`: `parts` (only `Lit` and `Var`) joined, then encoded.
    Encode {
        encoding: ptl_bytecode::Encoding,
        parts: Vec<LetPart>,
    },
}

/// A generator with its texts not yet interned.
#[derive(Debug, Clone, PartialEq)]
pub enum Gen {
    Int {
        min: i64,
        max: i64,
    },
    Float {
        min: f64,
        max: f64,
    },
    OneOf(Vec<String>),
    Weighted(Vec<(String, Ppm)>),
    Uuid,
    Seq,
    Csv {
        dataset: u32,
        draw: ptl_bytecode::Draw,
    },
    Zipf {
        min: i64,
        max: i64,
        s: f64,
    },
    Str {
        len: u32,
    },
    Now,
    Env {
        name: String,
        default: Option<String>,
    },
}

/// One piece of a template. Params are already replaced by their text.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Lit(String),
    /// Bytes that need not be text: an embedded file, a multipart body's fixed parts.
    Bytes(Vec<u8>),
    Var(u32),
    Field {
        var: u32,
        column: u32,
    },
    Capture(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeaderModel {
    pub name: Vec<Piece>,
    pub value: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioModel {
    pub name: String,
    pub weight: u32,
    pub single_request: bool,
    pub cookies: bool,
    pub registers: u32,
    pub steps: Vec<StepModel>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepModel {
    Request(RequestModel),
    Think(Think),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestModel {
    pub name: String,
    pub method: Method,
    pub path: Vec<Piece>,
    pub headers: Vec<HeaderModel>,
    pub body: Option<Vec<Piece>>,
    pub expects: Vec<ExpectModel>,
    pub captures: Vec<CaptureModel>,
    /// `None`: the plan's target; `Some(i)`: `Model::hosts[i]`.
    pub host: Option<u32>,
    /// Its own `timeout`.
    pub timeout_us: Option<u64>,
    /// Indices into `Model::tags`.
    pub tags: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExpectModel {
    Status(Vec<(u16, u16)>),
    LatencyBelow { us: u64 },
    BodyContains(String),
    BodyMatches(String),
    JsonEq { path: String, value: String },
    JsonNe { path: String, value: String },
    JsonExists(String),
    HeaderContains { name: String, needle: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CaptureModel {
    pub register: u32,
    pub source: CaptureSourceModel,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CaptureSourceModel {
    Json(String),
    Header(String),
    Regex(String),
    Status,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PhaseModel {
    pub name: String,
    pub origin: Origin,
    pub load: Load,
    pub arrivals: Arrivals,
    pub max_inflight: Option<u32>,
    pub overflow: Option<Overflow>,
    pub injections: Vec<InjectionModel>,
    pub mix: Option<Vec<(u32, u32)>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InjectionModel {
    pub fault: FaultModel,
    pub share: Ppm,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultModel {
    Abort,
    Delay { us: u64 },
    Reset,
    Corrupt,
    Header { name: String, value: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SizedByDefault {
    pub connections: bool,
    pub max_inflight: bool,
}
