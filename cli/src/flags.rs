//! Every command-line flag of `ptl`, defined once with its documentation.
//!
//! The rest of the binary receives these typed values, never raw strings: durations,
//! rates and shares are parsed here (with clap's error messages) so a bad flag is a usage
//! error before any work starts.

use crate::submit_options;
use clap::{Args, Parser, Subcommand, ValueEnum};
// The plan's own duration literals (`250ms`, `2s`, `1m`, `1h`).
use ptl_compiler::parse_duration;
use ptl_engine::request_log::Sample;
use ptl_report::analysis::slo::Slo;
use ptl_report::traffic::LogFormat;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "ptl",
    version,
    about = "ptl: open-loop load tests from plan files",
    long_about = "ptl runs load tests written as .ptl plan files: check and format them, compile them to \
                  bytecode, and run them here with exact, coordinated-omission-free measurements."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check plans for errors and warnings, without running them.
    Check(CheckArgs),
    /// Print plans in canonical form (or check / rewrite them in place).
    Fmt(FmtArgs),
    /// Compile a plan to bytecode (.ptlc).
    Compile(CompileArgs),
    /// Disassemble a compiled plan to readable text.
    Inspect(InspectArgs),
    /// Run a plan on this machine.
    Run(RunArgs),
    /// Start the demo target and run examples/quickstart.ptl against it (about 30 s).
    Demo(DemoArgs),
    /// Serve the built-in demo HTTP target.
    DemoTarget(DemoTargetArgs),
    /// Coordinate cluster runs through ZooKeeper (several may run; one is elected leader).
    Coordinator(CoordinatorArgs),
    /// Generate load for cluster runs: register with ZooKeeper and run what is assigned.
    Agent(AgentArgs),
    /// Simulate N agents in one process to measure a cluster's cost (docs/scale.md).
    #[command(hide = true)]
    SimAgents(SimAgentsArgs),
    /// Submit a plan to the cluster; with --wait, show it and exit like `ptl run`.
    Submit(SubmitArgs),
    /// Show the cluster: coordinator, agents, runs.
    Status(StatusArgs),
    /// Ask a cluster run to stop.
    Stop(StopArgs),
    /// Pause a cluster run: every agent holds its schedules from the same instant.
    Pause(PauseArgs),
    /// Resume a paused cluster run where it was.
    Resume(PauseArgs),
    /// Make an Ed25519 key to sign plans with (`submit --sign-key`, `--trusted-keys`).
    Keygen(KeygenArgs),
    /// Find a run's capacity: the knee where its SLOs broke, and a latency model (docs/analysis.md).
    Analyze(AnalyzeArgs),
    /// Secure the cluster's ZooKeeper: roles and ACLs (docs/security.md).
    Zk(ZkCommandArgs),
    /// Does test traffic look like a baseline's? Compare two request logs (docs/analysis.md).
    Compare(CompareArgs),
    /// Write a plan whose mix, paths, rate curve and arrivals come from a request log.
    PlanFromLog(PlanFromLogArgs),
}

/// A plan given on the command line: a `.ptl` file, a compiled `.ptlc`, or `std:NAME`.
pub type PlanRef = String;

#[derive(Debug, Args)]
pub struct ParamArgs {
    /// Override a plan parameter: `--set peak=300/s` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Silence a warning for this command, as `allow W0002` in the plan does (repeatable).
    #[arg(long = "allow", value_name = "CODE", value_parser = parse_warning_code)]
    pub allow: Vec<String>,
}

/// `--allow`: a warning code (errors cannot be silenced).
fn parse_warning_code(code: &str) -> Result<String, String> {
    let code = code.trim().to_ascii_uppercase();
    if ptl_compiler::WARNING_CODES.contains(&code.as_str()) {
        Ok(code)
    } else {
        Err(format!(
            "not a warning code; warnings are {} (errors cannot be silenced)",
            ptl_compiler::WARNING_CODES.join(", ")
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// Rich report with source excerpts (plain text when not a terminal).
    Human,
    /// One JSON document with every diagnostic, for editors and CI.
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Plan files (or `std:NAME`).
    #[arg(required = true, value_name = "PLAN")]
    pub plans: Vec<PlanRef>,
    #[command(flatten)]
    pub params: ParamArgs,
    /// Also print the schedule: per phase its duration, request count, peak rate, mix and in-flight need.
    #[arg(long)]
    pub explain: bool,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub format: DiagnosticFormat,
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Plan files to format.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Exit with status 1 if any file is not in canonical form; print nothing else.
    #[arg(long, conflicts_with = "write")]
    pub check: bool,
    /// Rewrite the files in place instead of printing them.
    #[arg(long, short)]
    pub write: bool,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Plan file (or `std:NAME`).
    #[arg(value_name = "PLAN")]
    pub plan: PlanRef,
    /// Where to write the bytecode (default: the plan's name with `.ptlc`).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub params: ParamArgs,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// A run's result, as written by `--out` (best a `steps` phase or `std:breakpoint`).
    #[arg(value_name = "RESULTS")]
    pub results: PathBuf,
    /// An objective each step is judged by: `p50|p95|p99 < 500ms` or `error_rate < 1%`
    /// (repeatable; `<=` also works).
    #[arg(long = "slo", value_name = "SLO", required = true, value_parser = parse_slo)]
    pub slos: Vec<Slo>,
    /// Predict p99 at this rate from the fitted model, e.g. `5000/s`.
    #[arg(long, value_name = "RATE", value_parser = parse_capacity)]
    pub at: Option<f64>,
    /// Text tables, or one JSON document (docs/analysis.md).
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Text)]
    pub format: AnalyzeFormat,
    /// Also write a self-contained HTML page: p99 against rate, the fitted curve, the SLOs and
    /// the knee, with the text analysis.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    Text,
    Json,
}

fn parse_slo(s: &str) -> Result<Slo, String> {
    Slo::parse(s).map_err(|e| e.to_string())
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A compiled plan (.ptlc).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// The files rendered from a run's result (a local run's or a cluster run's).
#[derive(Debug, Args)]
pub struct ResultFiles {
    /// Write the result as JSON (see docs/results.md).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write a self-contained HTML report with charts.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write the thresholds as JUnit XML.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub files: ResultFiles,
    /// Write the HdrHistogram interval log (response times).
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// No live progress; only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Plan: a .ptl file, a compiled .ptlc, or `std:NAME`.
    #[arg(value_name = "PLAN")]
    pub plan: PlanRef,
    #[command(flatten)]
    pub params: ParamArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Worker threads for the generator (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Serve the live dashboard (page, runs API, /metrics) at this address while the run goes
    /// on, e.g. `127.0.0.1:9090` (a bare port means 127.0.0.1).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr)]
    pub dashboard: Option<std::net::SocketAddr>,
    /// After the run, keep serving the dashboard this long (e.g. `10m`; Ctrl-C ends it
    /// sooner), for the finished run's page and its Capacity panel; the results are written
    /// first.
    #[arg(long, value_name = "D", value_parser = parse_duration, requires = "dashboard")]
    pub dashboard_hold: Option<Duration>,
    #[command(flatten)]
    pub access: DashboardAccessArgs,
    #[command(flatten)]
    pub dashboard_tls: DashboardTlsArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
    #[command(flatten)]
    pub request_log: RequestLogArgs,
}

#[derive(Debug, Args)]
pub struct RequestLogArgs {
    /// Write one JSON line per request (intended and actual send time, name, method, path,
    /// status, sizes, latency) to this file; format in docs/results.md ("Request log").
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,
    /// Log only a random share of the requests: `1/N`, a fraction (`0.1`) or a percentage (`10%`).
    #[arg(long, value_name = "SHARE", requires = "request_log", value_parser = parse_sample, default_value = "1")]
    pub request_log_sample: Sample,
}

fn parse_sample(s: &str) -> Result<Sample, String> {
    s.parse()
        .map_err(|e: ptl_engine::request_log::SampleError| e.to_string())
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference traffic: an access log (combined format), JSON lines or a ptl request log.
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// The traffic to judge, in any of the same formats (usually `ptl run --request-log`).
    #[arg(long, value_name = "FILE")]
    pub test: PathBuf,
    /// A dimension differs when its test's p-value is below this.
    #[arg(long, value_name = "P", default_value_t = 0.01, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Text tables, or one JSON document (docs/analysis.md).
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Text)]
    pub format: AnalyzeFormat,
    /// The baseline's format: combined, jsonl or ptl (default: detected from its first line).
    #[arg(long, value_name = "FORMAT", value_parser = parse_log_format)]
    pub baseline_format: Option<LogFormat>,
    /// The test log's format (default: detected).
    #[arg(long, value_name = "FORMAT", value_parser = parse_log_format)]
    pub test_format: Option<LogFormat>,
}

fn parse_alpha(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err("expected a probability between 0 and 1, such as 0.01".into()),
    }
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    s.parse()
        .map_err(|e: ptl_report::ReportError| e.to_string())
}

#[derive(Debug, Args)]
pub struct PlanFromLogArgs {
    /// The request log: an access log (combined format), JSON lines or a ptl request log.
    #[arg(value_name = "LOG")]
    pub log: PathBuf,
    /// Multiply the log's rates: `2x`, `0.5x`, `150%`.
    #[arg(long, value_name = "FACTOR", default_value = "1x", value_parser = parse_rate_scale)]
    pub rate_scale: f64,
    /// Where to write the plan (default: stdout).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The log's format: combined, jsonl or ptl (default: detected from its first line).
    #[arg(long, value_name = "FORMAT", value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,
    /// The default of the plan's `target` param (`--set target=…` when running it).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub target: String,
    /// The plan's name (default: the log file's name without its extension).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

fn parse_rate_scale(s: &str) -> Result<f64, String> {
    ptl_report::traffic::plan::parse_scale(s).map_err(|e| e.to_string())
}

/// Where and how fast this machine may send, whatever a plan or an assignment asks (`ptl run`,
/// `ptl agent`; see docs/security.md).
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Send only to targets this rule allows (repeatable): a host name (`api.example.com`,
    /// `*.example.com`), `host:port`, an IP or CIDR (`10.0.0.0/8`, `[::1]/128`, `[::1]:8080`).
    /// Resolved addresses must match the IP rules, on every DNS answer. None: any target.
    #[arg(long = "allow-target", value_name = "SPEC", value_parser = parse_allow_target)]
    pub allow_targets: Vec<String>,
    /// Refuse a run that plans more than this many arrivals per second here, e.g. `20000/s`
    /// (and a closed-model `users` phase, whose rate is not planned).
    #[arg(long, value_name = "RATE", value_parser = parse_max_rate)]
    pub max_rate: Option<f64>,
}

impl PolicyArgs {
    pub fn policy(&self) -> ptl_engine::target_policy::TargetPolicy {
        // Every spec passed `parse_allow_target` already.
        ptl_engine::target_policy::TargetPolicy::from_specs(&self.allow_targets)
            .unwrap_or_default()
            .with_max_rate(self.max_rate)
    }
}

fn parse_allow_target(s: &str) -> Result<String, String> {
    ptl_engine::target_policy::TargetPolicy::from_specs(&[s]).map_err(|e| e.reason)?;
    Ok(s.trim().to_string())
}

fn parse_max_rate(s: &str) -> Result<f64, String> {
    ptl_engine::target_policy::parse_max_rate(s).map_err(|e| e.reason)
}

/// How `https://` targets are verified (`ptl run`, `ptl agent`).
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// Trust the CA certificates of this PEM file besides the built-in roots (repeatable).
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<PathBuf>,
    /// Accept any server certificate, unverified (self-signed test targets only).
    #[arg(long)]
    pub insecure: bool,
    /// Present this client certificate (PEM, chain allowed) to servers that ask for one
    /// (mutual TLS); needs --client-key.
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// A file whose first line is the password of an encrypted --client-key (PKCS#8
    /// `ENCRYPTED PRIVATE KEY`).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_key_password_file: Option<PathBuf>,
}

/// Who may look at and control the dashboard (`ptl run --dashboard`, `ptl coordinator --http`).
#[derive(Debug, Args)]
pub struct DashboardAccessArgs {
    /// Operator token: may stop runs from the dashboard, and look.
    #[arg(long, value_name = "TOKEN", env = "PTL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Viewer token: may only look.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PTL_VIEWER_TOKEN",
        hide_env_values = true
    )]
    pub viewer_token: Option<String>,
    /// Anyone who reaches the address may look (control still needs --token). Looking is
    /// also open when no token is given at all.
    #[arg(long)]
    pub open_view: bool,
}

/// HTTPS for the dashboard (`ptl run --dashboard`, `ptl coordinator --http`).
#[derive(Debug, Args)]
pub struct DashboardTlsArgs {
    /// Serve the dashboard over HTTPS with this certificate (PEM, the server's certificate
    /// first, then its chain); needs --http-tls-key. The token cookie is then `Secure`.
    #[arg(long = "http-tls-cert", value_name = "FILE", requires = "http_tls_key")]
    pub http_tls_cert: Option<PathBuf>,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1, not encrypted) of --http-tls-cert.
    #[arg(long = "http-tls-key", value_name = "FILE", requires = "http_tls_cert")]
    pub http_tls_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub output: OutputArgs,
    /// Extra parameter overrides for the quickstart plan.
    #[command(flatten)]
    pub params: ParamArgs,
}

#[derive(Debug, Args)]
pub struct DemoTargetArgs {
    /// Port on 127.0.0.1 (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Added latency per response, e.g. `5ms`.
    #[arg(long, value_parser = parse_duration, default_value = "0ms")]
    pub latency: Duration,
    /// Share of responses that are 500s, e.g. `1%`.
    #[arg(long, value_parser = parse_share, default_value = "0%")]
    pub error_rate: f64,
    /// Serve at most this many requests per second, e.g. `2000/s`: an M/M/c-like server whose
    /// latency rises as the rate nears it and which sheds the excess with 503 (default:
    /// unlimited).
    #[arg(long, value_name = "RATE", value_parser = parse_capacity)]
    pub capacity: Option<f64>,
}

/// Where the cluster's ZooKeeper is, shared by every cluster command.
#[derive(Debug, Args)]
pub struct ZkArgs {
    /// ZooKeeper ensemble: `host:port[,host:port…]`.
    #[arg(long = "zk", value_name = "HOSTS", env = "PTL_ZK")]
    pub connect: String,
    /// Everything ptl keeps in ZooKeeper lives under this path.
    #[arg(long, value_name = "PATH", default_value = "/ptl")]
    pub chroot: String,
    /// Give up on an unreachable ensemble after this long.
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "10s")]
    pub connect_timeout: Duration,
    /// ZooKeeper session timeout: a dead agent or coordinator is noticed this long after it dies.
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "6s")]
    pub session_timeout: Duration,
    /// The ZooKeeper login, from a file (never the command line): `digest:USER:PASSWORD`, or
    /// `sasl:USER:PASSWORD` for SASL DIGEST-MD5. Needed for a chroot secured by `ptl zk init`
    /// (docs/security.md).
    #[arg(
        long = "zk-auth-file",
        alias = "auth-file",
        value_name = "FILE",
        env = "PTL_ZK_AUTH_FILE"
    )]
    pub auth_file: Option<PathBuf>,
    /// Connect over TLS, to ZooKeeper's secure client port (the --zk hosts are then TLS ports),
    /// trusting the CA certificate(s) in this PEM file.
    #[arg(long = "zk-tls-ca", value_name = "FILE", env = "PTL_ZK_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// This process's certificate (PEM), for an ensemble that requires client certificates
    /// (`ssl.clientAuth=need`); with --zk-tls-key and --zk-tls-ca.
    #[arg(
        long = "zk-tls-cert",
        value_name = "FILE",
        env = "PTL_ZK_TLS_CERT",
        requires_all = ["tls_ca", "tls_key"]
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --zk-tls-cert.
    #[arg(
        long = "zk-tls-key",
        value_name = "FILE",
        env = "PTL_ZK_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ZkCommandArgs {
    #[command(subcommand)]
    pub command: ZkCommand,
}

#[derive(Debug, Subcommand)]
pub enum ZkCommand {
    /// Secure a chroot: store the roles and give every top-level node its ACL (idempotent).
    /// The `--zk-auth-file` login becomes the admin.
    Init(Box<ZkInitArgs>),
    /// Print the identity a login file proves (`digest:USER:HASH` or `sasl:USER`), for the
    /// role files.
    Id(ZkIdArgs),
}

#[derive(Debug, Args)]
pub struct ZkInitArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// Identities (one per line, as `ptl zk id` prints them) that may submit runs.
    #[arg(long, value_name = "FILE")]
    pub submitters: Option<PathBuf>,
    /// Identities of the agents; each may write only its own reports.
    #[arg(long, value_name = "FILE")]
    pub agents: Option<PathBuf>,
    /// Identities of the coordinators, which manage runs.
    #[arg(long, value_name = "FILE")]
    pub coordinators: Option<PathBuf>,
    /// More admins besides the login of --zk-auth-file.
    #[arg(long, value_name = "FILE")]
    pub admins: Option<PathBuf>,
    /// Change nothing: print what differs from the role files and exit 1 if anything does.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct ZkIdArgs {
    /// The login file: `digest:USER:PASSWORD` or `sasl:USER:PASSWORD`.
    #[arg(long = "auth-file", alias = "zk-auth-file", value_name = "FILE")]
    pub auth_file: PathBuf,
}

#[derive(Debug, Args)]
pub struct CoordinatorArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// Name shown by `ptl status` (default: host name and process id).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Serve the live dashboard of the cluster's runs (page, runs API, /metrics) at this
    /// address, e.g. `127.0.0.1:9090` (a bare port means 127.0.0.1).
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_addr)]
    pub http: Option<std::net::SocketAddr>,
    /// A directory of `.ptl` plans the dashboard may start, with params, for the operator
    /// (repeatable); the standard `std:` plans are always offered.
    #[arg(long = "plans", value_name = "DIR", requires = "http")]
    pub plans: Vec<PathBuf>,
    /// The address browsers reach this dashboard at, e.g. `http://coord-2.example:9090`
    /// (default: the `--http` address, unless it is 0.0.0.0 or ::). Listed in ZooKeeper, so
    /// that a page whose coordinator stops answering moves to another one.
    #[arg(long = "public-url", value_name = "URL", requires = "http", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub access: DashboardAccessArgs,
    #[command(flatten)]
    pub dashboard_tls: DashboardTlsArgs,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Finished runs kept in ZooKeeper (result and merged record; their deltas go when they
    /// end). Older ones are deleted; with 0, each goes once `submit --wait` has its result.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub keep_runs: usize,
    /// Intervals of a running run's merged seconds kept in ZooKeeper: one second each until
    /// there are more, then twice as wide each time (a run's footprint stops growing after
    /// its first N seconds). A long run's `submit --hdr-log` has intervals as wide.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_HISTORY_INTERVALS,
          value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub history_intervals: u32,
    /// When a run's agents cannot carry its plan (their declared capacities fall short), run
    /// `sh -c "CMD N"` with N the agents it wants (also in PTL_WANTED_AGENTS, the run in
    /// PTL_RUN), once per change of N; agents that then register are given a share.
    #[arg(long, value_name = "CMD")]
    pub scale_hook: Option<String>,
}

const DEFAULT_HISTORY_INTERVALS: u32 =
    ptl_cluster::coordinator::merged_history::DEFAULT_INTERVALS as u32;

/// An `http://` or `https://` address, kept without a trailing slash.
fn parse_public_url(s: &str) -> Result<String, String> {
    let url = url::Url::parse(s).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("an http:// or https:// address with a host is needed".into());
    }
    Ok(s.trim_end_matches('/').to_string())
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// Name shown by `ptl status` (default: host name and process id).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Arrivals per second this machine can sustain, e.g. `20000/s`; shares are proportional.
    #[arg(long, value_name = "RATE", value_parser = parse_capacity)]
    pub capacity: Option<f64>,
    /// A label to describe the agent, e.g. `region=eu` (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub labels: Vec<(String, String)>,
    /// Worker threads for the generator (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// On SIGTERM or Ctrl-C during a run: finish the run if it ends within this long,
    /// otherwise hand the share over to the other agents at once (below Kubernetes' 30 s
    /// termination grace by default).
    #[arg(long, value_name = "D", value_parser = parse_duration, default_value = "20s")]
    pub drain_grace: Duration,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Debug, Args)]
pub struct SimAgentsArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// Simulated agents, each with its own ZooKeeper session.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: u32,
    /// Declared capacity of each agent, e.g. `10000/s` (shares are proportional to it).
    #[arg(long, value_name = "RATE", value_parser = parse_capacity)]
    pub capacity_per_agent: Option<f64>,
    /// Response times drawn by the agents: `lognormal:MEDIAN,SIGMA`, `constant:D` or
    /// `uniform:LOW..HIGH`.
    #[arg(long, value_name = "MODEL", default_value = "lognormal:5ms,0.5")]
    pub latency_model: ptl_cluster::sim::latency::LatencyModel,
    /// Stop after this long (default: at Ctrl-C or SIGTERM).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub duration_limit: Option<Duration>,
    /// The coordinator's process id: its CPU and RSS are read from /proc.
    #[arg(long, value_name = "PID")]
    pub coordinator_pid: Option<u32>,
    /// Kill (drop the connections of) this share of the sessions, e.g. `0.1`, `--kill-after`
    /// the first run's start.
    #[arg(long, value_name = "SHARE", requires = "kill_after")]
    pub kill_share: Option<f64>,
    #[arg(long, value_name = "D", value_parser = parse_duration, requires = "kill_share")]
    pub kill_after: Option<Duration>,
    /// Write everything measured as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Agents' name prefix (`sim-0`, `sim-1`, …).
    #[arg(long, value_name = "NAME", default_value = "sim")]
    pub name: String,
    /// Play saturated generators: each starts at most this many arrivals a second, late
    /// (50 ms of schedule lag), and drops the rest, e.g. `100/s`.
    #[arg(long, value_name = "RATE", value_parser = parse_capacity)]
    pub saturate_above: Option<f64>,
}

/// What the survivors do when an agent is lost mid-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnAgentLoss {
    /// The survivors take over the lost share (the total rate is kept).
    Rebalance,
    /// The survivors keep their shares (less load).
    Continue,
    /// The run stops.
    Abort,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Plan: a .ptl file, a compiled .ptlc, or `std:NAME`.
    #[arg(value_name = "PLAN")]
    pub plan: PlanRef,
    #[command(flatten)]
    pub zk: ZkArgs,
    /// How many agents run the plan.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub agents: u32,
    #[command(flatten)]
    pub params: ParamArgs,
    /// Wait for the result: live progress, the summary, the output files and `ptl run`'s exit status.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub files: ResultFiles,
    /// Write the HdrHistogram interval log (response times), from the cluster's merged
    /// histograms.
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
    /// No live progress while waiting; only the final summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// With --wait: give up waiting after this long (default: the plan's length plus the agent
    /// wait plus a minute).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    // The start options' defaults are ptl_cluster's `StartOptions::default()`, shown as text
    // by `submit_options` (which the dashboard's "Start a run" shares).
    /// How long the coordinator waits for N agents before failing the run.
    #[arg(long, value_name = "D", value_parser = parse_duration,
          default_value = submit_options::DEFAULTS.agent_wait.as_str())]
    pub agent_wait: Duration,
    /// What happens when an agent is lost mid-run.
    #[arg(long, value_enum,
          default_value_t = OnAgentLoss::from(ptl_cluster::client::submit::StartOptions::default().on_agent_loss))]
    pub on_agent_loss: OnAgentLoss,
    /// Time between the assignment and the common start, for agents to load the plan.
    #[arg(long, value_name = "D", value_parser = parse_duration,
          default_value = submit_options::DEFAULTS.start_delay.as_str())]
    pub start_delay: Duration,
    /// Space the agents' starts by this much each (default: all at once).
    #[arg(long, value_name = "D", value_parser = parse_duration,
          default_value = submit_options::DEFAULTS.stagger.as_str())]
    pub stagger: Duration,
    /// Sign the run with this key (`ptl keygen`): coordinators and agents started with
    /// `--trusted-keys` run only signed plans.
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where the private key goes (created, never overwritten; mode 0600); the public key is
    /// written beside it as FILE.pub.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The key's name, recorded as the submitter of the runs it signs (default: the file's
    /// name without extension).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// Run only plans signed by a key whose public key (`*.pub`) is in this directory.
    #[arg(long, value_name = "DIR")]
    pub trusted_keys: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub zk: ZkArgs,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The run: `run-0000000003` or `3`.
    #[arg(value_name = "RUN", value_parser = parse_run_id)]
    pub run: ptl_cluster::ids::RunId,
    #[command(flatten)]
    pub zk: ZkArgs,
}

/// `ptl pause RUN` and `ptl resume RUN`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// The run: `run-0000000003` or `3`.
    #[arg(value_name = "RUN", value_parser = parse_run_id)]
    pub run: ptl_cluster::ids::RunId,
    #[command(flatten)]
    pub zk: ZkArgs,
}

fn parse_run_id(s: &str) -> Result<ptl_cluster::ids::RunId, String> {
    ptl_cluster::ids::RunId::parse(s.trim())
        .ok_or_else(|| format!("`{s}` is not a run: write e.g. `run-0000000003` or `3`"))
}

/// `HOST:PORT`, or a bare port on loopback: the dashboard is never exposed by accident.
pub fn parse_listen_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().map_err(|_| {
        format!("`{s}` is not an address: expected HOST:PORT (e.g. 127.0.0.1:9090) or a port")
    })
}

/// `20000/s` or `20000`: arrivals per second, positive.
pub fn parse_capacity(s: &str) -> Result<f64, String> {
    ptl_report::analysis::parse_rate(s).ok_or_else(|| {
        format!("`{s}` is not a capacity: write arrivals per second, e.g. `20000/s`")
    })
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("expected NAME=VALUE, found `{s}`")),
    }
}

/// `5%` or `0.05`, as a fraction in 0..=1.
pub fn parse_share(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let value = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| format!("`{s}` is not a share: write e.g. `5%`"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{s}` is outside 0%..100%"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_params_parse() {
        assert_eq!(parse_share("5%"), Ok(0.05));
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert!(parse_share("150%").is_err());
        assert_eq!(
            parse_param("peak=300/s"),
            Ok(("peak".to_string(), "300/s".to_string()))
        );
        assert!(parse_param("peak").is_err());
    }

    #[test]
    fn capacities_and_run_ids_parse() {
        assert_eq!(parse_capacity("20000/s"), Ok(20000.0));
        assert_eq!(parse_capacity(" 1.5 "), Ok(1.5));
        assert!(parse_capacity("0/s").is_err());
        assert!(parse_capacity("-3").is_err());
        assert!(parse_capacity("fast").is_err());
        assert!(parse_capacity("inf").is_err());
        assert_eq!(
            parse_run_id("3").map(|r| r.0),
            Ok("run-0000000003".to_string())
        );
        assert!(parse_run_id("run-x").is_err());
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
