//! Every problem the compiler reports about a plan: one enum, a stable code per variant.
//!
//! Codes are part of the interface (`docs/diagnostics.md` lists them, tools match on them), so a
//! variant's code never changes meaning; new problems get new codes. Errors are `ptl::E…`,
//! warnings `ptl::W…`. A variant holds only the facts its message needs and the spans it points
//! at; the file it belongs to is attached by [`crate::report::Report`].

use miette::SourceSpan;

#[derive(Debug, Clone, PartialEq, thiserror::Error, miette::Diagnostic)]
pub enum Diagnostic {
    #[error("syntax error: {message}")]
    #[diagnostic(code(ptl::E0001))]
    Syntax {
        message: String,
        #[label("{}", expected_label(expected))]
        span: SourceSpan,
        expected: Vec<String>,
    },

    #[error("cannot import `{path}`: {reason}")]
    #[diagnostic(
        code(ptl::E0002),
        help(
            "import paths are relative to the importing file; `std:NAME` names a built-in library"
        )
    )]
    ImportNotFound {
        path: String,
        reason: String,
        #[label("imported here")]
        span: SourceSpan,
    },

    #[error("import cycle: {chain}")]
    #[diagnostic(
        code(ptl::E0003),
        help("a library must not import, directly or indirectly, the file that imports it; move the shared items into a third library")
    )]
    ImportCycle {
        chain: String,
        #[label("this import closes the cycle")]
        span: SourceSpan,
    },

    #[error("`{path}` is a plan, not a library")]
    #[diagnostic(
        code(ptl::E0004),
        help("only libraries (items at top level, no `plan \"…\" {{ }}` block) can be imported")
    )]
    ImportedPlan {
        path: String,
        #[label("imported here")]
        span: SourceSpan,
    },

    #[error("this file is a library, not a plan")]
    #[diagnostic(
        code(ptl::E0005),
        help("wrap the items in `plan \"name\" {{ … }}`, or import this library from a plan")
    )]
    NotAPlan,

    #[error("plan `{plan}` has no phase")]
    #[diagnostic(
        code(ptl::E0006),
        help("add a phase, e.g. `phase main {{ rate 10/s for 1m }}`")
    )]
    NoPhase {
        plan: String,
        #[label("this plan would send nothing")]
        span: SourceSpan,
    },

    #[error("plan `{plan}` has no request")]
    #[diagnostic(
        code(ptl::E0007),
        help("add a request, e.g. `request home {{ GET \"/\" }}`, or a scenario")
    )]
    NoRequest {
        plan: String,
        #[label("this plan has nothing to send")]
        span: SourceSpan,
    },

    #[error("plan `{plan}` has no target")]
    #[diagnostic(
        code(ptl::E0008),
        help("add the base URL the requests go to, e.g. `target \"http://127.0.0.1:8080\"`")
    )]
    MissingTarget {
        plan: String,
        #[label("no `target` setting in this plan")]
        span: SourceSpan,
    },

    #[error("invalid target URL `{url}`: {reason}")]
    #[diagnostic(
        code(ptl::E0009),
        help("write an absolute http or https URL, e.g. `http://127.0.0.1:8080`")
    )]
    InvalidUrl {
        url: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("unknown variable `{name}`")]
    #[diagnostic(code(ptl::E0010))]
    UnknownVariable {
        name: String,
        #[label("not a let, param or capture in scope")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("threshold refers to unknown phase, request or scenario `{name}`")]
    #[diagnostic(code(ptl::E0011))]
    UnknownScope {
        name: String,
        #[label("no phase, request or scenario has this name")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("scenario `{scenario}` has no step `{name}`")]
    #[diagnostic(code(ptl::E0012))]
    UnknownStep {
        scenario: String,
        name: String,
        #[label("unknown step")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("unknown metric `{name}`")]
    #[diagnostic(code(ptl::E0013))]
    UnknownMetric {
        name: String,
        #[label("not a metric")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("duplicate {kind} `{name}`")]
    #[diagnostic(code(ptl::E0014))]
    Duplicate {
        kind: &'static str,
        name: String,
        #[label("defined again here")]
        span: SourceSpan,
        #[label("first defined here")]
        first: Option<SourceSpan>,
        /// Where the first definition is when it is in another file.
        #[help]
        help: Option<String>,
    },

    #[error("{what} must be above 0/s")]
    #[diagnostic(
        code(ptl::E0015),
        help(
            "an open-loop phase needs a positive rate; use `pause D` for a phase without traffic"
        )
    )]
    RateNotPositive {
        what: &'static str,
        #[label("this rate is {rate}")]
        span: SourceSpan,
        rate: String,
    },

    #[error("ramp starts and ends at 0/s")]
    #[diagnostic(
        code(ptl::E0016),
        help("a ramp may start or end at 0/s, but not both; use `pause D` for a phase without traffic")
    )]
    RampAllZero {
        #[label("this ramp sends nothing")]
        span: SourceSpan,
    },

    #[error("injection shares in phase `{phase}` add up to {total}, over 100%")]
    #[diagnostic(
        code(ptl::E0017),
        help("each request gets at most one fault, so the shares of one phase must add up to 100% or less")
    )]
    SharesOver100 {
        phase: String,
        total: String,
        #[label("this injection brings the total to {total}")]
        span: SourceSpan,
    },

    #[error("percentile {value} is out of range")]
    #[diagnostic(
        code(ptl::E0018),
        help("a percentile is above 0 and at most 100: p50, p99, p999 (= 99.9), p100 (= max)")
    )]
    PercentileOutOfRange {
        value: String,
        #[label("must be above 0 and at most 100")]
        span: SourceSpan,
    },

    #[error("expected {expected}, found {found}")]
    #[diagnostic(code(ptl::E0019))]
    WrongType {
        expected: &'static str,
        found: &'static str,
        #[label("{context}")]
        span: SourceSpan,
        /// What the value is for, e.g. "`timeout` takes a duration".
        context: String,
        #[help]
        help: Option<String>,
    },

    #[error("unknown setting `{key}`")]
    #[diagnostic(code(ptl::E0020))]
    UnknownSetting {
        key: String,
        #[label("not a setting here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("cannot read {kind} file `{path}`: {reason}")]
    #[diagnostic(
        code(ptl::E0021),
        help("data file paths are relative to the plan file that names them")
    )]
    FeedUnreadable {
        /// `CSV` or `JSON`.
        kind: &'static str,
        path: String,
        reason: String,
        #[label("named here")]
        span: SourceSpan,
    },

    #[error("malformed CSV file `{path}`{}: {reason}", row.map(|r| format!(", row {r}")).unwrap_or_default())]
    #[diagnostic(
        code(ptl::E0022),
        help("the first row names the columns; every other row needs exactly as many cells")
    )]
    CsvMalformed {
        path: String,
        /// 1-based row number in the file (the header is row 1).
        row: Option<u64>,
        reason: String,
        #[label("named here")]
        span: SourceSpan,
    },

    #[error("malformed JSON file `{path}`: {reason}")]
    #[diagnostic(
        code(ptl::E0090),
        help("a JSON feeder is an array of objects with the same fields: `[{{\"id\": 1}}, {{\"id\": 2}}]`")
    )]
    JsonFeedMalformed {
        path: String,
        reason: String,
        #[label("named here")]
        span: SourceSpan,
    },

    #[error("unknown draw mode {found}")]
    #[diagnostic(code(ptl::E0091))]
    UnknownDrawMode {
        found: String,
        #[label("a feeder draws `sequential`, `random` or `unique`")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("cannot read body file `{path}`: {reason}")]
    #[diagnostic(
        code(ptl::E0092),
        help("`file(…)` paths are relative to the plan file that names them")
    )]
    BodyFileUnreadable {
        path: String,
        reason: String,
        #[label("named here")]
        span: SourceSpan,
    },

    #[error("a `multipart` body sets its own `Content-Type`")]
    #[diagnostic(
        code(ptl::E0093),
        help("remove this header: `multipart` sends `multipart/form-data; boundary=…`, and the boundary must match the body")
    )]
    MultipartContentType {
        #[label("a second Content-Type")]
        span: SourceSpan,
        #[label("sets Content-Type with its boundary")]
        multipart: SourceSpan,
    },

    #[error("`stop_at knee` has no objective to judge a step by")]
    #[diagnostic(
        code(ptl::E0094),
        help("add a whole-run threshold on p50, p95 or p99 (`<`, `<=`) or on error_rate, e.g. `threshold p99 < 500ms`: each step of the run is judged by it, and the run stops at the first that breaks it")
    )]
    StopAtKneeWithoutSlo {
        #[label("no whole-run p50, p95, p99 or error_rate threshold")]
        span: SourceSpan,
    },

    #[error("a target is a URL or `env(\"NAME\")`, not `{name}(…)`")]
    #[diagnostic(
        code(ptl::E0095),
        help("write the URL in quotes, or read it where the plan runs: `target env(\"API_URL\")`")
    )]
    TargetCall {
        name: String,
        #[label("not `env`")]
        span: SourceSpan,
    },

    #[error("unknown generator `{name}`")]
    #[diagnostic(code(ptl::E0023))]
    UnknownGenerator {
        name: String,
        #[label("not a generator")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`{name}` takes {expected}, found {found}")]
    #[diagnostic(code(ptl::E0024))]
    GeneratorArity {
        name: String,
        expected: &'static str,
        found: usize,
        #[label("wrong number of arguments")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("invalid arguments to `{name}`: {reason}")]
    #[diagnostic(code(ptl::E0025))]
    GeneratorRange {
        name: String,
        reason: String,
        #[label("{reason}")]
        span: SourceSpan,
    },

    #[error("`weighted` weights add up to {total}, not 100%")]
    #[diagnostic(
        code(ptl::E0026),
        help("give every choice a percentage, e.g. `weighted(\"eu\" 70%, \"us\" 30%)`, adding up to exactly 100%")
    )]
    WeightsNot100 {
        total: String,
        #[label("weights add up to {total}")]
        span: SourceSpan,
    },

    #[error("template syntax error: {message}")]
    #[diagnostic(
        code(ptl::E0027),
        help("templates insert variables with `{{{{name}}}}` or `{{{{row.column}}}}`; write `\\{{{{` for literal braces")
    )]
    TemplateSyntax {
        message: String,
        #[label("here")]
        span: SourceSpan,
    },

    #[error("unsupported template expression `{expr}`")]
    #[diagnostic(
        code(ptl::E0028),
        help("only plain variables are allowed: `{{{{name}}}}`, `{{{{row.column}}}}` or a capture; no helpers, blocks or partials")
    )]
    TemplateExpression {
        expr: String,
        #[label("not a plain variable")]
        span: SourceSpan,
    },

    #[error("`--set {name}=…`: the plan has no param `{name}`")]
    #[diagnostic(code(ptl::E0029))]
    UnknownOverride {
        name: String,
        #[help]
        help: Option<String>,
    },

    #[error("`--set {name}={value}`: expected {expected}")]
    #[diagnostic(code(ptl::E0030))]
    BadOverride {
        name: String,
        value: String,
        expected: &'static str,
        #[label("`{name}` is declared here as {expected}")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("data row `{var}` has no column `{column}`")]
    #[diagnostic(code(ptl::E0031))]
    UnknownColumn {
        var: String,
        column: String,
        #[label("not a column of its data file")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`{var}` is not a data row, so `{var}.{field}` has no meaning")]
    #[diagnostic(
        code(ptl::E0032),
        help("`{{{{name.column}}}}` reads a column of a variable defined as `let name = csv(\"file.csv\")` or `json(\"file.json\")`")
    )]
    NotCsv {
        var: String,
        field: String,
        #[label("`{var}` is not a data row")]
        span: SourceSpan,
    },

    #[error("capture `{name}` is used before it is captured")]
    #[diagnostic(
        code(ptl::E0033),
        help("a capture holds a value from a response, so only steps after the defining request can use it")
    )]
    CaptureTooEarly {
        name: String,
        #[label("used here")]
        span: SourceSpan,
        #[label("captured here, from this request's response")]
        defined: SourceSpan,
    },

    #[error("capture `{name}` belongs to scenario `{scenario}`")]
    #[diagnostic(
        code(ptl::E0034),
        help("captures live for one iteration of their scenario; move this request into `{scenario}`")
    )]
    CaptureOutOfScope {
        name: String,
        scenario: String,
        #[label("not visible here")]
        span: SourceSpan,
    },

    #[error("capture `{name}` shadows the {kind} of the same name")]
    #[diagnostic(
        code(ptl::E0035),
        help("rename the capture, so that `{{{{{name}}}}}` has a single meaning")
    )]
    CaptureShadows {
        name: String,
        kind: &'static str,
        #[label("this capture")]
        span: SourceSpan,
    },

    #[error("invalid JSONPath: {message}")]
    #[diagnostic(
        code(ptl::E0036),
        help("JSONPath (RFC 9535) starts at `$`, e.g. `$.token` or `$.items[0].id`")
    )]
    InvalidJsonPath {
        message: String,
        #[label("{message}")]
        span: SourceSpan,
    },

    #[error("invalid regex: {message}")]
    #[diagnostic(code(ptl::E0037), help("the regex syntax is Rust's `regex` crate"))]
    InvalidRegex {
        message: String,
        #[label("{message}")]
        span: SourceSpan,
    },

    #[error("capture regex has no capture group")]
    #[diagnostic(
        code(ptl::E0038),
        help("wrap the part to capture in parentheses, e.g. `regex(\"order=([a-z0-9]+)\")`")
    )]
    RegexWithoutGroup {
        #[label("nothing to capture")]
        span: SourceSpan,
    },

    #[error("`think` outside a scenario")]
    #[diagnostic(
        code(ptl::E0039),
        help("think time goes between the requests of a scenario; in a closed phase write `users N for D think T`")
    )]
    ThinkOutsideScenario {
        #[label("not allowed here")]
        span: SourceSpan,
    },

    #[error("think range goes from {min} down to {max}")]
    #[diagnostic(
        code(ptl::E0040),
        help("write the shorter time first: `think 200ms..1s`")
    )]
    ThinkRange {
        min: String,
        max: String,
        #[label("minimum above maximum")]
        span: SourceSpan,
    },

    #[error("unknown request or scenario `{name}` in mix")]
    #[diagnostic(code(ptl::E0041))]
    UnknownMixEntry {
        name: String,
        #[label("no top-level request or scenario has this name")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("unknown param `{name}`")]
    #[diagnostic(code(ptl::E0042))]
    UnknownParam {
        name: String,
        #[label("not a param")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("unknown value `{found}` for {what}")]
    #[diagnostic(code(ptl::E0043))]
    BadKeyword {
        found: String,
        what: String,
        #[label("expected {expected}")]
        span: SourceSpan,
        expected: String,
        #[help]
        help: Option<String>,
    },

    #[error("phase `{phase}` has no load")]
    #[diagnostic(
        code(ptl::E0044),
        help("give the phase one of `rate R for D`, `ramp R1 -> R2 over D`, `steps R1 -> R2 by S every D`, `pause D`, `users N for D`")
    )]
    MissingLoad {
        phase: String,
        #[label("no `rate`, `ramp`, `steps`, `pause` or `users` here")]
        span: SourceSpan,
    },

    #[error("phase `{phase}` has more than one load")]
    #[diagnostic(
        code(ptl::E0045),
        help("a phase has exactly one load shape; split it into two phases")
    )]
    ExtraLoad {
        phase: String,
        #[label("second load")]
        span: SourceSpan,
        #[label("first load")]
        first: SourceSpan,
    },

    #[error("thresholds cannot compare with `==`")]
    #[diagnostic(
        code(ptl::E0046),
        help("measured values are never exact; use `<`, `<=`, `>` or `>=`")
    )]
    ThresholdEquals {
        #[label("use <, <=, > or >=")]
        span: SourceSpan,
    },

    #[error("metric `{metric}` does not apply to {scope}")]
    #[diagnostic(code(ptl::E0047))]
    MetricScope {
        metric: String,
        scope: String,
        #[label("not available here")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("{what} {value} is out of range")]
    #[diagnostic(code(ptl::E0048))]
    OutOfRange {
        what: String,
        value: String,
        #[label("must be {allowed}")]
        span: SourceSpan,
        allowed: String,
    },

    #[error("request `{request}` has no method line")]
    #[diagnostic(
        code(ptl::E0049),
        help("start the request with a method and a path, e.g. `GET \"/products\"`")
    )]
    MissingMethod {
        request: String,
        #[label("what should this request send?")]
        span: SourceSpan,
    },

    #[error("request `{request}` has more than one {what}")]
    #[diagnostic(
        code(ptl::E0050),
        help("a request has one method line and at most one body, `expect status` and `timeout`")
    )]
    RepeatedPart {
        request: String,
        what: &'static str,
        #[label("again here")]
        span: SourceSpan,
        #[label("first here")]
        first: SourceSpan,
    },

    #[error("`expect {word}` must use `<` or `<=`")]
    #[diagnostic(
        code(ptl::E0051),
        help("the expectation is an upper bound: `expect {word} < 2s`")
    )]
    LatencyComparison {
        /// `latency`, or `duration` as the plan spells it.
        word: &'static str,
        #[label("use < or <=")]
        span: SourceSpan,
    },

    #[error("scenario `{name}` has no request")]
    #[diagnostic(
        code(ptl::E0052),
        help("add at least one `request NAME {{ … }}` step to the scenario")
    )]
    EmptyScenario {
        name: String,
        #[label("empty scenario")]
        span: SourceSpan,
    },

    #[error("`{func}(…)` must be the whole value of a `let`")]
    #[diagnostic(
        code(ptl::E0053),
        help("write `let row = {func}(\"file\")` and use its fields in templates: `{{{{row.field}}}}`")
    )]
    CsvInExpression {
        func: String,
        #[label("combined with other parts")]
        span: SourceSpan,
    },

    #[error("`{var}` is a data row, not a single value")]
    #[diagnostic(code(ptl::E0054))]
    WholeCsvRow {
        var: String,
        #[label("pick a column")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("variable `{name}` is used before its definition")]
    #[diagnostic(
        code(ptl::E0055),
        help("a `let` can only use the lets above it; move the definition of `{name}` up")
    )]
    LetOrder {
        name: String,
        #[label("used here")]
        span: SourceSpan,
    },

    #[error("steps go from {from} down to {to}")]
    #[diagnostic(
        code(ptl::E0056),
        help("steps climb from the first rate to the second: `steps 10/s -> 100/s by 10/s every 30s`")
    )]
    StepsDown {
        from: String,
        to: String,
        #[label("the second rate is below the first")]
        span: SourceSpan,
    },

    #[error("{reason}")]
    #[diagnostic(
        code(ptl::E0057),
        help("only `weighted(…)` takes weights, and all of its choices need one: `weighted(\"eu\" 70%, \"us\" 30%)`")
    )]
    ArgumentWeight {
        reason: String,
        #[label("here")]
        span: SourceSpan,
    },

    #[error("{what} gives every entry weight 0")]
    #[diagnostic(code(ptl::E0058), help("give at least one entry a positive weight"))]
    ZeroWeights {
        what: String,
        #[label("nothing would be sent")]
        span: SourceSpan,
    },

    #[error("a step inside a scenario takes no weight")]
    #[diagnostic(
        code(ptl::E0059),
        help("a scenario runs all its steps in order; put the weight on the scenario")
    )]
    StepWeight {
        #[label("weight of a step")]
        span: SourceSpan,
    },

    #[error("`{name}` cannot be used in a fixed value")]
    #[diagnostic(
        code(ptl::E0060),
        help("this value is fixed when the plan is compiled, so its template may use params but no `let` or capture")
    )]
    NotConstant {
        name: String,
        #[label("varies per request")]
        span: SourceSpan,
    },

    #[error("`{path}` is not a valid threshold path")]
    #[diagnostic(
        code(ptl::E0061),
        help("a threshold is `metric`, `phase.metric`, `request.metric`, `scenario.metric` or `scenario.step.metric`")
    )]
    ThresholdPath {
        path: String,
        #[label("{reason}")]
        span: SourceSpan,
        reason: String,
    },

    #[error("unknown HTTP version `{found}`")]
    #[diagnostic(
        code(ptl::E0062),
        help("`http 1` (HTTP/1.1, the default) or `http 2` (HTTP/2: h2c for http://, ALPN h2 for https://)")
    )]
    UnknownHttpVersion {
        found: String,
        #[label("expected 1 or 2")]
        span: SourceSpan,
    },

    #[error("`{found}` cannot be sent in a request path")]
    #[diagnostic(code(ptl::E0063))]
    InvalidPathChar {
        found: String,
        #[label("not allowed in a URL")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("this absolute URL cannot be a request's host")]
    #[diagnostic(
        code(ptl::E0064),
        help("an absolute URL in a request line is `http://` or `https://` and a literal host (`\"http://10.0.0.5:8080/x\"`); for a host chosen at run time, declare `target NAME \"…\"` (a param can fill it) and write `GET NAME \"/x\"`")
    )]
    AbsoluteUrlPath {
        #[label("{what}")]
        span: SourceSpan,
        what: String,
    },

    #[error("unknown target `{name}`")]
    #[diagnostic(code(ptl::E0080))]
    UnknownTarget {
        name: String,
        #[label("no `target {name} \"…\"` in this plan")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("`default` is the name of the plan's unnamed target")]
    #[diagnostic(
        code(ptl::E0081),
        help("results and metrics call the unnamed `target \"…\"` `default`; give this one another name")
    )]
    ReservedTargetName {
        #[label("reserved")]
        span: SourceSpan,
    },

    #[error("request `{request}` names both a target and an absolute URL")]
    #[diagnostic(
        code(ptl::E0082),
        help("write either `GET {target} \"/path\"` or the whole URL, not both")
    )]
    TargetAndAbsoluteUrl {
        request: String,
        target: String,
        #[label("the target")]
        target_span: SourceSpan,
        #[label("an absolute URL")]
        url_span: SourceSpan,
    },

    #[error("no request has the tag {key} = {value:?}")]
    #[diagnostic(code(ptl::E0083))]
    UnknownTag {
        key: String,
        value: String,
        #[label("no request carries it")]
        span: SourceSpan,
        #[help]
        help: Option<String>,
    },

    #[error("a tag value cannot be empty")]
    #[diagnostic(
        code(ptl::E0084),
        help("a tag is a dimension of the results: `tag group = \"checkout\"`")
    )]
    EmptyTagValue {
        #[label("empty")]
        span: SourceSpan,
    },

    #[error("{name:?} is not a header name")]
    #[diagnostic(
        code(ptl::E0065),
        help("a header name is letters, digits and any of !#$%&'*+-.^_`|~ (e.g. `Content-Type`): no spaces, no `:`")
    )]
    InvalidHeaderName {
        name: String,
        #[label("{what}")]
        span: SourceSpan,
        what: &'static str,
    },

    #[error("timeout {timeout} is longer than phase `{phase}` ({duration})")]
    #[diagnostic(
        code(ptl::W0001),
        severity(Warning),
        help("a request sent near the end of the phase may still be waiting in the next one; shorten the timeout or lengthen the phase")
    )]
    TimeoutLongerThanPhase {
        timeout: String,
        phase: String,
        duration: String,
        #[label("{duration} long")]
        span: SourceSpan,
    },

    #[error("phase `{phase}` may need {rate} × {per_arrival} = {needed} in flight, above max_inflight {limit}")]
    #[diagnostic(
        code(ptl::W0002),
        severity(Warning),
        help("if the target slows down to the timeout, one arrival stays in flight for {per_arrival} (its requests' timeouts and think times), so by Little's law {rate} keeps {needed} in flight; raise `max_inflight` or lower the timeout, or the planned rate cannot be held")
    )]
    InflightOverMax {
        phase: String,
        rate: String,
        per_arrival: String,
        needed: u64,
        limit: u32,
        #[label("peak {rate}")]
        span: SourceSpan,
    },

    #[error("phase `{phase}` may need {rate} × {per_arrival} = {needed} connections, above the pool of {limit}")]
    #[diagnostic(
        code(ptl::W0003),
        severity(Warning),
        help("if the target slows down to the timeout, one arrival holds a connection for {per_arrival} (its requests' timeouts), so by Little's law {rate} needs {needed} connections at once; raise `connections` or lower the timeout, or the planned rate cannot be held")
    )]
    InflightOverConnections {
        phase: String,
        rate: String,
        per_arrival: String,
        needed: u64,
        limit: u32,
        #[label("peak {rate}")]
        span: SourceSpan,
    },

    #[error("environment variable `{name}` is not set here")]
    #[diagnostic(
        code(ptl::W0006),
        severity(Warning),
        help("`env(\"{name}\")` is read where the plan runs (each agent, or `ptl run`), when the run starts; if it is unset there too the run stops with a usage error. Set it, or give a default: `env(\"{name}\", \"…\")`")
    )]
    EnvUnset {
        name: String,
        #[label("read when the run starts")]
        span: SourceSpan,
    },

    #[error("`{name}` is not an environment variable name")]
    #[diagnostic(
        code(ptl::E0066),
        help("a name is one word without `=`, e.g. `API_TOKEN`")
    )]
    BadEnvName {
        name: String,
        #[label("not a variable name")]
        span: SourceSpan,
    },

    #[error("phase `{phase}` runs {users} users with no think time")]
    #[diagnostic(
        code(ptl::W0005),
        severity(Warning),
        help("each user sends its next request as soon as the last one is answered, so the rate is whatever the target can answer (tens of thousands a second on a fast one); add `think 1s` to the phase (or a `think` step to its scenarios), or use `rate N/s` for a fixed rate")
    )]
    UsersWithoutThink {
        phase: String,
        users: u32,
        #[label("as fast as the target answers")]
        span: SourceSpan,
    },

    #[error("unique feeder `{file}` has {rows} rows for {arrivals} planned arrivals")]
    #[diagnostic(
        code(ptl::W0011),
        severity(Warning),
        help("a `unique` feeder sends each row once, across every agent: the arrivals after the last row are not sent and are counted as `exhausted` in the result. Add rows, plan fewer arrivals, or draw `sequential` or `random` if rows may repeat")
    )]
    UniqueFeederShort {
        file: String,
        rows: usize,
        /// `20`, or `about 13` when a weighted mix decides how many draw from it.
        arrivals: String,
        #[label("{rows} rows; the open phases plan {arrivals} arrivals that draw from it")]
        span: SourceSpan,
    },

    #[error("no request goes to target `{name}`")]
    #[diagnostic(
        code(ptl::W0010),
        severity(Warning),
        help("name it in a request line (`GET {name} \"/path\"`), or remove it")
    )]
    UnusedTarget {
        name: String,
        #[label("declared here")]
        span: SourceSpan,
    },

    #[error("unused {kind} `{name}`")]
    #[diagnostic(
        code(ptl::W0004),
        severity(Warning),
        help("nothing refers to it; remove it, or use it in a template as `{{{{{name}}}}}`")
    )]
    Unused {
        kind: &'static str,
        name: String,
        #[label("defined here")]
        span: SourceSpan,
    },
}

fn expected_label(expected: &[String]) -> String {
    match expected {
        [] => "here".to_string(),
        [one] => format!("expected {one}"),
        _ => format!("expected one of {}", expected.join(", ")),
    }
}

impl Diagnostic {
    /// The stable code, e.g. `ptl::E0014`.
    pub fn code_str(&self) -> String {
        miette::Diagnostic::code(self)
            .map(|c| c.to_string())
            .unwrap_or_default()
    }

    pub fn is_error(&self) -> bool {
        !matches!(
            miette::Diagnostic::severity(self),
            Some(miette::Severity::Warning) | Some(miette::Severity::Advice)
        )
    }
}
