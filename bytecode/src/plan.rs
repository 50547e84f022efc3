//! The compiled plan as Rust values: what the compiler produces and the runtime consumes.
//!
//! This is the contract between the front end and the engine. Everything here is already
//! resolved: names are indices, durations are microseconds, rates are per second, shares are
//! parts per million, templates are flat op lists. An agent needs nothing but this.
//! `encode`/`decode` turn it into bytes and back; see `docs/bytecode.md`.

/// Index into [`Plan::consts`], the constant pool of byte strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConstId(pub u32);

/// Parts per million: 1_000_000 is 100 %. Shares and percentages are stored this way so that
/// the same source always encodes to the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ppm(pub u32);

impl Ppm {
    pub const ONE: Ppm = Ppm(1_000_000);
    pub fn as_fraction(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }
}

/// The name of the plan's unnamed `target` in results and metrics (a named target cannot
/// take it).
pub const DEFAULT_HOST: &str = "default";

/// A whole compiled plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    /// Base URL (`http://host:port/prefix`); request paths are joined onto it.
    pub target: String,
    pub timeout_us: u64,
    /// Connection pool size per agent.
    pub connections: u32,
    pub seed: u64,
    /// Plan-wide cap on requests (or iterations) in flight.
    pub max_inflight: u32,
    pub overflow: Overflow,
    /// The HTTP version connections speak (format v2; a v1 plan is HTTP/1.1).
    pub http: HttpVersion,
    /// `stop_at knee` (format v7): once a second, the run's newest step is judged by the
    /// thresholds that [`Threshold::judges_a_step`], and the run stops at the first step that
    /// breaks one.
    pub stop_at_knee: bool,
    /// Resolved parameter values, as canonical source text (`peak = 100/s`), for reports.
    pub params: Vec<(String, String)>,
    /// The hosts besides `target` that requests name (format v5): `target api "…"`, and the
    /// base of every absolute URL in a request line. A request's [`Request::host`] indexes it.
    pub hosts: Vec<Host>,
    /// Targets read from the environment where the plan runs (format v7): `target
    /// env("API_URL")`, `target api env("API_URL")`. Their URL in [`Plan::target`] or
    /// [`Host::url`] is a stand-in (`env("API_URL")`) until the runtime resolves them.
    pub target_envs: Vec<TargetEnv>,
    /// Every distinct `tag key = "value"` pair of the plan's requests (format v5), in order
    /// of first use; [`Request::tags`] and [`Scope::Tag`] index it.
    pub tags: Vec<Tag>,
    /// Constant pool: every literal byte string templates and generators refer to.
    pub consts: Vec<Vec<u8>>,
    /// Embedded CSV data (agents need no files).
    pub datasets: Vec<Dataset>,
    /// `let` variables in declaration order; a variable's index is its slot in the VM.
    pub vars: Vec<Var>,
    /// Plan-wide default headers, sent with every request unless the request sets the same name.
    pub headers: Vec<HeaderTemplate>,
    /// Every top-level `request` is a one-step scenario; mix weights live here.
    pub scenarios: Vec<Scenario>,
    pub phases: Vec<Phase>,
    pub thresholds: Vec<Threshold>,
}

/// A host requests may go to besides the plan's `target`: its own base URL, connection pool
/// and rows in the results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `api` for `target api "…"`; the base URL itself (`http://other:8080`) for a host
    /// named by an absolute URL in a request line.
    pub name: String,
    /// Base URL, as [`Plan::target`] is.
    pub url: String,
}

/// A target whose URL is an environment variable, read where the plan runs when the run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetEnv {
    /// 0 for [`Plan::target`], `i + 1` for `Plan::hosts[i]`.
    pub host: u32,
    /// The variable's name.
    pub name: String,
    /// The URL when the variable is unset.
    pub default: Option<String>,
}

impl TargetEnv {
    /// How the plan shows the target until it is resolved: `env("API_URL")`.
    pub fn stand_in(name: &str) -> String {
        format!("env(\"{name}\")")
    }
}

/// One `tag key = "value"` pair: a dimension of the results, of the metrics and of thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// The plan's `http` setting: which protocol the runtime's connections speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 keep-alive connections, one request at a time on each.
    #[default]
    Http1,
    /// HTTP/2: requests multiplexed as streams (h2c by prior knowledge for `http://`, ALPN
    /// `h2` for `https://`).
    Http2,
}

impl HttpVersion {
    /// The number written in a plan (`http 1`, `http 2`).
    pub fn number(self) -> u8 {
        match self {
            HttpVersion::Http1 => 1,
            HttpVersion::Http2 => 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Count a request that cannot start on time as dropped.
    Drop,
    /// Send it late; its response time (from the intended send) shows the delay.
    Queue,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// File name as written in the plan, for reports and `inspect`.
    pub name: String,
    pub columns: Vec<String>,
    /// One entry per CSV row, each with exactly `columns.len()` cells.
    pub rows: Vec<Vec<ConstId>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    pub name: String,
    /// The value is the concatenation of the parts, drawn once per request (per iteration in a
    /// scenario).
    pub parts: Vec<VarPart>,
}

impl Var {
    /// The dataset whose rows this variable draws, when it is a CSV row variable: exactly one
    /// part, a [`Generator::Csv`]. Only such variables may be read column by column
    /// ([`TemplateOp::Field`]); the decoder enforces it.
    pub fn csv_dataset(&self) -> Option<u32> {
        match self.parts.as_slice() {
            [VarPart::Gen(Generator::Csv { dataset, .. })] => Some(*dataset),
            _ => None,
        }
    }
}

/// How a feeder picks its rows. Every mode keeps agents on disjoint rows when there are at
/// least as many rows as agents (agent i of n owns rows i, i + n, i + 2n …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Draw {
    /// In order, wrapping around (the only mode before format v6).
    #[default]
    Sequential,
    /// A uniformly random row of the agent's own, drawn with the worker's seeded generator.
    Random,
    /// Each row at most once across the whole run and every agent; when the agent's rows run
    /// out, its iterations no longer start (counted as `exhausted`), never a repeated row.
    Unique,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VarPart {
    Lit(ConstId),
    /// The value of an earlier variable (always a lower slot).
    Var(u32),
    Gen(Generator),
    /// `base64(…)`, `url_encode(…)`, `basic_auth(…)`: the joined `parts` (only `Lit` and `Var`)
    /// encoded when the iteration draws its values (format v6).
    Encode {
        encoding: Encoding,
        parts: Vec<VarPart>,
    },
}

/// How an `Encode` part transforms its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Standard base64 with padding (RFC 4648 §4).
    Base64,
    /// Percent-encoding of every byte but the unreserved `A-Z a-z 0-9 - . _ ~` (RFC 3986).
    UrlEncode,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Generator {
    /// Uniform integer in `[min, max]`, both inclusive.
    Int {
        min: i64,
        max: i64,
    },
    /// Uniform float in `[min, max)`.
    Float {
        min: f64,
        max: f64,
    },
    OneOf(Vec<ConstId>),
    /// Weighted choice; weights are shares in ppm and sum to `Ppm::ONE`.
    Weighted(Vec<(ConstId, Ppm)>),
    Uuid,
    /// 0, 1, 2 … unique across agents (the runtime interleaves agents' sequences).
    Seq,
    /// A row of a dataset per draw (a `csv(…)` or `json(…)` feeder), chosen by `draw`.
    Csv {
        dataset: u32,
        draw: Draw,
    },
    /// Zipf-distributed integer in `[min, max]` with exponent `s`.
    Zipf {
        min: i64,
        max: i64,
        s: f64,
    },
    /// `n` random alphanumeric characters.
    Str {
        len: u32,
    },
    /// Wall clock, milliseconds since the Unix epoch.
    Now,
    /// The environment variable `name` of the process that runs the plan (an agent, or `ptl
    /// run`), read once when the run starts; `default` when it is unset. Its value is never in
    /// the plan, so a secret read this way is not in the bytecode, ZooKeeper or the results.
    Env {
        name: ConstId,
        default: Option<ConstId>,
    },
}

/// A template lowered to ops: literal bytes and variable inserts. Nothing is parsed at run time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub ops: Vec<TemplateOp>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TemplateOp {
    Lit(ConstId),
    /// The whole value of a variable.
    Var(u32),
    /// One column of a CSV variable's current row: `{{customer.email}}`.
    Field {
        var: u32,
        column: u32,
    },
    /// A value captured earlier in the same scenario iteration.
    Capture(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeaderTemplate {
    pub name: Template,
    pub value: Template,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    /// Weight in the default mix.
    pub weight: u32,
    /// True for a scenario written as a top-level `request`: reports show it as a request.
    pub single_request: bool,
    /// A cookie jar per iteration.
    pub cookies: bool,
    /// How many capture registers an iteration needs.
    pub registers: u32,
    pub steps: Vec<Step>,
}

impl Scenario {
    /// What a top-level `request` compiles to: a one-step scenario of that name, weight 1, with
    /// no cookie jar and no capture registers.
    pub fn single(request: Request) -> Scenario {
        Scenario {
            name: request.name.clone(),
            weight: 1,
            single_request: true,
            cookies: false,
            registers: 0,
            steps: vec![Step::Request(request)],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Request(Request),
    /// Pause between steps.
    Think(Think),
}

/// A pause drawn anew each time it is taken: a scenario's `think` step, or a closed-model
/// user's pause between iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Think {
    /// Uniform in `[min_us, max_us]`: a fixed time when they are equal, none when both are 0.
    Uniform { min_us: u64, max_us: u64 },
    /// Exponential with this mean (format v3): memoryless pauses, as between the visits of
    /// independent users.
    Exponential { mean_us: u64 },
}

impl Think {
    /// No pause at all.
    pub const NONE: Think = Think::Uniform {
        min_us: 0,
        max_us: 0,
    };

    /// Always `us`.
    pub fn fixed(us: u64) -> Think {
        Think::Uniform {
            min_us: us,
            max_us: us,
        }
    }

    /// Whether every draw is 0.
    pub fn is_none(self) -> bool {
        matches!(
            self,
            Think::Uniform { max_us: 0, .. } | Think::Exponential { mean_us: 0 }
        )
    }

    /// The mean of the draws, µs.
    pub fn mean_us(self) -> f64 {
        match self {
            Think::Uniform { min_us, max_us } => (min_us as f64 + max_us as f64) / 2.0,
            Think::Exponential { mean_us } => mean_us as f64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
    Options,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub name: String,
    pub method: Method,
    /// Path (and query) template, joined onto the plan's target.
    pub path: Template,
    pub headers: Vec<HeaderTemplate>,
    pub body: Option<Template>,
    pub expects: Vec<Expect>,
    pub captures: Vec<Capture>,
    /// Where it goes (format v5): `None` for the plan's `target`, `Some(i)` for
    /// `Plan::hosts[i]`.
    pub host: Option<u32>,
    /// Its own `timeout` (format v5), overriding [`Plan::timeout_us`].
    pub timeout_us: Option<u64>,
    /// Its tags (format v5): indices into [`Plan::tags`], each key at most once.
    pub tags: Vec<u32>,
}

impl Request {
    /// `GET` of the constant `path` with nothing else: no headers, body, expects or captures.
    pub fn get(name: &str, path: ConstId) -> Request {
        Request {
            name: name.into(),
            method: Method::Get,
            path: Template {
                ops: vec![TemplateOp::Lit(path)],
            },
            headers: vec![],
            body: None,
            expects: vec![],
            captures: vec![],
            host: None,
            timeout_us: None,
            tags: vec![],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// The status must fall in one of these inclusive ranges. Without any status expectation
    /// the runtime treats 2xx and 3xx as success.
    Status(Vec<(u16, u16)>),
    /// Slower than this (response time from the intended send) is an error.
    LatencyBelow {
        us: u64,
    },
    BodyContains(ConstId),
    /// The JSONPath must select a value equal to this JSON text.
    JsonEq {
        path: ConstId,
        value: ConstId,
    },
    /// The body must match this regex (Rust `regex` syntax, unanchored). Format v3.
    BodyMatches(ConstId),
    /// The JSONPath must select something, and nothing it selects may equal this JSON text.
    /// Format v3.
    JsonNe {
        path: ConstId,
        value: ConstId,
    },
    /// The JSONPath must select something (a `null` counts). Format v3.
    JsonExists(ConstId),
    /// A header of this name (matched case-insensitively) must contain the text. Format v3.
    HeaderContains {
        name: ConstId,
        needle: ConstId,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// Register the value is stored in for later steps of the same iteration.
    pub register: u32,
    pub source: CaptureSource,
    /// Used when the source finds nothing; without it the iteration ends with a capture error.
    pub default: Option<ConstId>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CaptureSource {
    /// JSONPath, validated at compile time.
    Json(ConstId),
    Header(ConstId),
    /// A regex with at least one group; the first group is captured.
    Regex(ConstId),
    Status,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: String,
    pub load: Load,
    pub arrivals: Arrivals,
    /// Overrides [`Plan::max_inflight`] for this phase.
    pub max_inflight: Option<u32>,
    pub overflow: Option<Overflow>,
    pub injections: Vec<Injection>,
    /// Overrides the scenarios' default weights: `(scenario index, weight)`.
    pub mix: Option<Vec<(u32, u32)>>,
}

/// The rate function of a phase. Open-loop rates count arrivals (requests, or iterations for
/// scenarios) per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    Rate {
        per_sec: f64,
        duration_us: u64,
    },
    /// Linear from `from` to `to` over the duration.
    Ramp {
        from: f64,
        to: f64,
        duration_us: u64,
    },
    /// Stepped ramp: starts at `from`, adds `by` every `every_us`, up to and including `to`.
    Steps {
        from: f64,
        to: f64,
        by: f64,
        every_us: u64,
    },
    Pause {
        duration_us: u64,
    },
    /// Closed model: `users` virtual users sending back to back, pausing `think` between
    /// iterations ([`Think::NONE`] for no pause).
    Users {
        users: u32,
        duration_us: u64,
        think: Think,
    },
}

impl Load {
    /// The phase's highest planned arrival rate (`None` for closed-model `users`, whose rate
    /// is not planned).
    pub fn peak_rate(&self) -> Option<f64> {
        match *self {
            Load::Rate { per_sec, .. } => Some(per_sec),
            Load::Ramp { from, to, .. } | Load::Steps { from, to, .. } => Some(from.max(to)),
            Load::Pause { .. } => Some(0.0),
            Load::Users { .. } => None,
        }
    }

    /// Length of the phase in microseconds.
    pub fn duration_us(&self) -> u64 {
        match *self {
            Load::Rate { duration_us, .. }
            | Load::Ramp { duration_us, .. }
            | Load::Pause { duration_us }
            | Load::Users { duration_us, .. } => duration_us,
            Load::Steps {
                from,
                to,
                by,
                every_us,
            } => {
                if by <= 0.0 {
                    return every_us;
                }
                // Saturating: a decoded plan may hold any u64, and overflow must not panic.
                let steps = (((to - from) / by).floor().max(0.0) as u64).saturating_add(1);
                steps.saturating_mul(every_us)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    Uniform,
    /// Exponential gaps with the same mean rate.
    Poisson,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    pub fault: Fault,
    pub share: Ppm,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The client drops the request after sending it.
    Abort,
    /// The client stalls this long before sending.
    Delay { us: u64 },
    /// The client resets the TCP connection.
    Reset,
    /// The body is replaced with malformed bytes.
    Corrupt,
    /// An extra header, e.g. Envoy's `x-envoy-fault-abort-request`.
    Header { name: ConstId, value: ConstId },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// Canonical source text, e.g. `baseline.p99 < 1s`; reports use it as the threshold's name.
    pub expr: String,
    pub scope: Scope,
    pub metric: Metric,
    pub cmp: Cmp,
    /// In the metric's unit: microseconds for latencies, a fraction (0..=1) for rates and shares.
    pub value: f64,
    /// Stop the run as soon as it is crossed.
    pub abort: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Phase(u32),
    Scenario(u32),
    Step {
        scenario: u32,
        step: u32,
    },
    /// Every request carrying `Plan::tags[i]` (format v5), over the whole run.
    Tag(u32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// Response-time percentile, 0 < p <= 100 (e.g. 99.9).
    Percentile(f64),
    Max,
    Mean,
    ErrorRate,
    /// Achieved / target arrival rate.
    AchievedRate,
    DroppedRate,
    /// Scenario iteration-time percentile.
    IterationPercentile(f64),
    CompletionRate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Threshold {
    /// A whole-run bound on p50, p95 or p99 (`<`, `<=`) or on the error rate: an objective a
    /// step of the run can be judged by on its own (`stop_at knee`, `ptl analyze`), as each
    /// second's series point holds these figures.
    pub fn judges_a_step(&self) -> bool {
        let metric = match self.metric {
            Metric::Percentile(p) => [50.0, 95.0, 99.0].contains(&p),
            Metric::ErrorRate => true,
            _ => false,
        };
        self.scope == Scope::All && metric && matches!(self.cmp, Cmp::Lt | Cmp::Le)
    }
}

impl Cmp {
    pub fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            Cmp::Lt => actual < bound,
            Cmp::Le => actual <= bound,
            Cmp::Gt => actual > bound,
            Cmp::Ge => actual >= bound,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

impl Plan {
    pub fn constant(&self, id: ConstId) -> &[u8] {
        &self.consts[id.0 as usize]
    }

    /// The highest planned arrival rate of any phase; `None` when no phase plans a rate (only
    /// closed-model `users`, or none above 0).
    pub fn peak_rate(&self) -> Option<f64> {
        let peak = self
            .phases
            .iter()
            .filter_map(|p| p.load.peak_rate())
            .fold(0.0, f64::max);
        (peak > 0.0).then_some(peak)
    }

    /// The name results give a request's host: `default` for the plan's `target`.
    pub fn host_name(&self, host: Option<u32>) -> &str {
        match host.and_then(|h| self.hosts.get(h as usize)) {
            Some(h) => &h.name,
            None => DEFAULT_HOST,
        }
    }

    /// The base URL of a request's host.
    pub fn host_url(&self, host: Option<u32>) -> &str {
        match host.and_then(|h| self.hosts.get(h as usize)) {
            Some(h) => &h.url,
            None => &self.target,
        }
    }

    /// Every base URL the plan sends to: `target` first, then the hosts in order.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.target.as_str()).chain(self.hosts.iter().map(|h| h.url.as_str()))
    }

    /// The schedule's length: every phase's duration, added (pauses of a run not included).
    pub fn duration_us(&self) -> u64 {
        self.phases
            .iter()
            .map(|p| p.load.duration_us())
            .fold(0, u64::saturating_add)
    }

    /// A plan whose only traffic is `GET /` as the top-level request `request`, over `phases`:
    /// one connection, at most 10 in flight (dropping beyond), a 1 s timeout, seed 0, HTTP/1.1.
    /// For hand-built plans (tests, benchmarks), which set what else they need with
    /// `Plan { .., ..Plan::get_root(..) }`.
    pub fn get_root(name: &str, target: &str, request: &str, phases: Vec<Phase>) -> Plan {
        Plan {
            name: name.into(),
            target: target.into(),
            timeout_us: 1_000_000,
            connections: 1,
            seed: 0,
            max_inflight: 10,
            overflow: Overflow::Drop,
            http: HttpVersion::Http1,
            stop_at_knee: false,
            params: vec![],
            hosts: vec![],
            target_envs: vec![],
            tags: vec![],
            consts: vec![b"/".to_vec()],
            datasets: vec![],
            vars: vec![],
            headers: vec![],
            scenarios: vec![Scenario::single(Request::get(request, ConstId(0)))],
            phases,
            thresholds: vec![],
        }
    }
}

impl Phase {
    /// A phase with only its `load`: uniform arrivals, the plan's cap and overflow, no
    /// injections, the default mix.
    pub fn new(name: &str, load: Load) -> Phase {
        Phase {
            name: name.into(),
            load,
            arrivals: Arrivals::Uniform,
            max_inflight: None,
            overflow: None,
            injections: vec![],
            mix: None,
        }
    }
}
