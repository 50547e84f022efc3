//! The syntax tree of a `.ptl` file, with a span on everything a diagnostic can point at.
//!
//! The parser builds it, the checker reads it, the formatter prints it back. Literals are
//! already typed here (durations, rates, percentages), but names are not resolved yet: a
//! `Value::Ident` may be a parameter reference or a keyword such as `drop` or `on`.
//! Comments ride along on items and statements so that `ptl fmt` keeps them.

use std::ops::Range;

/// Byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.end - s.start).into()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// Comments attached to an item or statement: whole-line comments above it, and one at the
/// end of its last line. Text excludes the `//` marker and surrounding whitespace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comments {
    pub leading: Vec<String>,
    pub trailing: Option<String>,
    /// For a statement with a block (`request`, `scenario`, `phase`, `headers`): comments after
    /// the block's last statement, just before its closing `}`, so that `ptl fmt` keeps them there.
    pub before_close: Vec<String>,
}

/// A statement of any block with its comments and the span of the whole statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt<T> {
    pub node: T,
    pub span: Span,
    pub comments: Comments,
}

/// A parsed file: either a plan (`plan "name" { … }`) or a library for `import`
/// (items at top level, no `plan` block).
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// `Some` for a plan file, `None` for a library.
    pub plan_name: Option<StrLit>,
    pub items: Vec<Stmt<Item>>,
    /// Comments at the top of the file before `plan`, kept by the formatter.
    pub header_comments: Vec<String>,
    /// Comments after the last item (inside the plan block, or at the end of a library).
    pub trailing_comments: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `target "…"`, `timeout 2s`, `connections 200`, `seed 42`, `max_inflight 500`,
    /// `overflow drop`, `cookies on`… any `key value` pair; the checker knows the keys.
    Setting(Setting),
    /// `target api "https://api.example.com"`: a named host (the unnamed `target "…"` is a
    /// `Setting`).
    Target {
        name: Ident,
        value: Value,
    },
    /// `target env("API_URL")` (unnamed: `name` is `None`), `target api env("API_URL")`: a
    /// target read from the environment where the plan runs.
    EnvTarget {
        name: Option<Ident>,
        call: Call,
    },
    Param {
        name: Ident,
        value: Value,
    },
    Headers(Vec<Stmt<Header>>),
    Let {
        name: Ident,
        expr: Expr,
    },
    Import(StrLit),
    Request(Request),
    Scenario(Scenario),
    Phase(Phase),
    Threshold(Threshold),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: Ident,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub kind: ValueKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    Int(i64),
    Float(f64),
    Duration(Duration),
    Rate(Rate),
    Percent(Percent),
    Str(StrLit),
    Bool(bool),
    /// A bare word: a parameter reference, or a keyword value (`drop`, `on`, `poisson`).
    Ident(String),
    /// `200ms..1s`
    Range(Box<Value>, Box<Value>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Ms,
    S,
    M,
    H,
}

impl TimeUnit {
    pub fn micros(self) -> u64 {
        match self {
            TimeUnit::Ms => 1_000,
            TimeUnit::S => 1_000_000,
            TimeUnit::M => 60_000_000,
            TimeUnit::H => 3_600_000_000,
        }
    }
    pub fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Ms => "ms",
            TimeUnit::S => "s",
            TimeUnit::M => "m",
            TimeUnit::H => "h",
        }
    }
}

/// A duration as written: the number and unit are kept so that `ptl fmt` prints `1m`, not `60s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Duration {
    pub amount: f64,
    pub unit: TimeUnit,
}

impl Duration {
    pub fn micros(self) -> u64 {
        (self.amount * self.unit.micros() as f64).round() as u64
    }
}

/// An arrival rate as written: `100/s`, `600/m` (also `/h`; `ms` is not a rate unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub amount: f64,
    pub per: TimeUnit,
}

impl Rate {
    pub fn per_sec(self) -> f64 {
        self.amount * 1_000_000.0 / self.per.micros() as f64
    }
}

/// `70%` is `Percent(70.0)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent(pub f64);

/// A string literal, decoded (escapes resolved, triple-quote indentation stripped).
#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub value: String,
    /// Span of the whole literal, quotes included.
    pub span: Span,
    pub triple: bool,
    /// For mapping positions in `value` back to the source: sorted pairs of
    /// (offset in `value`, offset in the source file). A position `p` in `value` maps to
    /// `src + (p - val)` using the last pair with `val <= p`.
    pub offsets: Vec<(usize, usize)>,
}

impl StrLit {
    /// Source span of `value[range]`, for diagnostics that point inside a string
    /// (an unknown `{{name}}`, a bad JSONPath).
    pub fn source_span(&self, range: Range<usize>) -> Span {
        let map = |p: usize| -> usize {
            match self.offsets.iter().rev().find(|(v, _)| *v <= p) {
                Some((v, s)) => s + (p - v),
                None => self.span.start + 1,
            }
        };
        let start = map(range.start).min(self.span.end);
        let end = map(range.end).clamp(start, self.span.end);
        Span::new(start, end)
    }
}

/// `"user_" + int(1, 100000)`: parts concatenated.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub parts: Vec<ExprPart>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprPart {
    /// A literal (string or number) or a reference to a `let`/`param` (`ValueKind::Ident`).
    Value(Value),
    Call(Call),
}

/// A generator call: `int(1, 5)`, `weighted("eu" 70%, "us" 30%)`, `csv("customers.csv")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub value: Value,
    /// The weight in `weighted("eu" 70%, …)`.
    pub weight: Option<Value>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub name: StrLit,
    pub value: StrLit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub name: Ident,
    pub weight: Option<Value>,
    pub body: Vec<Stmt<RequestStmt>>,
    /// Span of `request name`, for diagnostics about the request as a whole.
    pub head_span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodName {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
    Options,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RequestStmt {
    /// `POST "/checkout"`
    Line {
        method: MethodName,
        method_span: Span,
        /// `GET auth "/token"`: the named target it goes to.
        target: Option<Ident>,
        path: StrLit,
    },
    /// `timeout 2s`
    Timeout(Value),
    /// `tag group = "checkout"`
    Tag {
        key: Ident,
        value: StrLit,
    },
    Header(Header),
    Body(StrLit),
    /// `body file("payload.bin")`: the file's bytes, embedded.
    BodyFile(StrLit),
    /// `multipart { field "a" = "…"  file "f" = file("x.png") }`
    Multipart(Vec<MultipartEntry>),
    Expect(Expect),
    Capture(Capture),
}

/// One part of a `multipart { … }` body.
#[derive(Debug, Clone, PartialEq)]
pub enum MultipartEntry {
    /// `field "name" = "value"` (the value is a template).
    Field { name: StrLit, value: StrLit },
    /// `file "name" = file("path")`: the file's bytes, with its name and a content type.
    File { name: StrLit, path: StrLit },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// `expect status 200`, `expect status 200, 201`, `expect status 200..299`; `in` after
    /// `status` is another spelling of the same (`expect status in 200..299`), kept for `ptl fmt`.
    Status { codes: Vec<Value>, with_in: bool },
    /// `expect latency < 2s`, or the same spelled `expect duration < 2s` (`duration` is true).
    Latency {
        cmp: CmpOp,
        value: Value,
        duration: bool,
    },
    /// `expect body contains "paid"`
    BodyContains(StrLit),
    /// `expect body matches /order=[0-9]+/`: the regex as written between the slashes, with
    /// `\/` decoded to `/`.
    BodyMatches(StrLit),
    /// `expect json("$.ok") == true`, or `!=` (`equal` is false).
    Json {
        path: StrLit,
        equal: bool,
        value: Value,
    },
    /// `expect exists json("$.id")`
    JsonExists(StrLit),
    /// `expect header("Content-Type") contains "json"`
    HeaderContains { name: StrLit, needle: StrLit },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub name: Ident,
    pub source: CaptureSource,
    pub source_span: Span,
    /// `or "none"`
    pub default: Option<StrLit>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CaptureSource {
    Json(StrLit),
    Header(StrLit),
    Regex(StrLit),
    Status,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: Ident,
    pub weight: Option<Value>,
    pub body: Vec<Stmt<ScenarioStmt>>,
    pub head_span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioStmt {
    Request(Request),
    /// `think 500ms`, `think 200ms..1s` or `think exponential(1s)`
    Think(ThinkTime),
    /// `cookies on`
    Setting(Setting),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: Ident,
    pub body: Vec<Stmt<PhaseStmt>>,
    pub head_span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PhaseStmt {
    Load(Load),
    /// `arrivals poisson`, `max_inflight 500`, `overflow queue`
    Setting(Setting),
    Inject(Inject),
    Mix(Vec<MixEntry>),
    /// `think 1s` as used by `users N for D think 1s` is part of `Load::Users`; a standalone
    /// `think` in a phase is kept here so the checker can reject it with a precise message.
    Think(ThinkTime),
}

/// A think time as written: `1s`, `1s..3s` (uniform), or `exponential(1s)` (its mean).
#[derive(Debug, Clone, PartialEq)]
pub enum ThinkTime {
    /// A duration or a range of durations.
    Value(Value),
    /// `exponential(mean)`; `span` covers the whole call.
    Exponential { mean: Value, span: Span },
}

impl ThinkTime {
    pub fn span(&self) -> Span {
        match self {
            ThinkTime::Value(v) => v.span,
            ThinkTime::Exponential { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// `rate R for D`
    Rate { rate: Value, duration: Value },
    /// `ramp R1 -> R2 over D`
    Ramp {
        from: Value,
        to: Value,
        duration: Value,
    },
    /// `steps R1 -> R2 by S every D`
    Steps {
        from: Value,
        to: Value,
        by: Value,
        every: Value,
    },
    /// `pause D`
    Pause { duration: Value },
    /// `users N for D [think T]`
    Users {
        users: Value,
        duration: Value,
        think: Option<ThinkTime>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct MixEntry {
    pub name: Ident,
    pub weight: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Inject {
    pub fault: Fault,
    pub share: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Abort,
    Delay(Value),
    Reset,
    Corrupt,
    Header { name: StrLit, value: StrLit },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Eq => "==",
        }
    }
}

/// `threshold baseline.p99 < 1s abort`: `path` is `[baseline, p99]`, the last segment is the metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// `tag(group = "checkout").` before the path: the requests carrying that tag.
    pub tag: Option<TagScope>,
    pub path: Vec<Ident>,
    pub cmp: CmpOp,
    pub cmp_span: Span,
    pub value: Value,
    pub abort: bool,
}

/// `tag(group = "checkout")` in a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct TagScope {
    pub key: Ident,
    pub value: StrLit,
    /// From `tag` to `)`.
    pub span: Span,
}
