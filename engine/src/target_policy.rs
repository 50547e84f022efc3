//! Where, and how fast, an engine may send load: the allow-list of `--allow-target` rules and
//! the `--max-rate` cap, shared by `ptl run` and `ptl agent`.
//!
//! Two kinds of rule:
//! - a **name** rule (`api.example.com`, `*.example.com`, either with `:port`) says which host
//!   names a plan may name; `*.example.com` matches any name below `example.com`, not
//!   `example.com` itself;
//! - an **address** rule (`10.0.0.0/8`, `127.0.0.1:8080`, `[::1]/128`, `[::1]:8080`,
//!   `10.0.0.0/8:8080`) says where connections may land.
//!
//! A target named by an IP address must match an address rule. A target named by a host name
//! must match a name rule when there are any, and when there are address rules, every address
//! connected to must match one: the check is made on each DNS answer the connection actually
//! uses ([`TargetPolicy::allowed_addrs`], called by the HTTP client's resolver), so a name
//! whose answer changes (DNS rebinding) cannot move the load outside. No rule at all allows
//! everything (a laptop's `ptl run`).
//!
//! The rate cap refuses a run whose planned peak rate for this engine's share is above it, and
//! a closed-model (`users`) phase, whose rate is not planned and so cannot be held to a cap: a
//! run is either sent as planned or not at all. A cluster may still raise an agent's share
//! mid-run (a lost agent's load rebalanced): the engine then sends at most the cap
//! ([`TargetPolicy::max_fraction`]) and the arrivals above it are never sent, which the
//! cluster's accounting counts as not sent (the run is degraded), so no loss is hidden.

use crate::vm::AgentShare;
use ptl_bytecode::plan::Plan;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use thiserror::Error;

/// A bad `--allow-target` or `--max-rate` value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {flag} {spec:?}: {reason}")]
pub struct PolicyError {
    pub flag: &'static str,
    pub spec: String,
    pub reason: String,
}

/// Why a run (or one connection of it) is not allowed to go out.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Refusal {
    #[error("target {target} is not in the allow-list ({rules})")]
    NotAllowed { target: String, rules: String },
    #[error("target {target} resolves to {addrs}, none in the allow-list ({rules})")]
    ResolvesOutside {
        target: String,
        addrs: String,
        rules: String,
    },
    #[error("cannot resolve {target} to check it against the allow-list: {reason}")]
    Resolve { target: String, reason: String },
    #[error("phase {phase} plans {rate:.1}/s for this share, above --max-rate {max}/s")]
    RateAbove { phase: String, rate: f64, max: f64 },
    #[error("phase {phase} is closed-model (users), whose rate --max-rate {max}/s cannot cap")]
    ClosedLoop { phase: String, max: f64 },
    #[error("the plan's target {0:?} is not a valid URL")]
    BadTarget(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NamePattern {
    Exact(String),
    /// `*.example.com`, kept as `.example.com`.
    Below(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NameRule {
    name: NamePattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NetRule {
    addr: IpAddr,
    prefix: u8,
    port: Option<u16>,
}

/// One `--allow-target` rule, as given.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Name(NameRule),
    Net(NetRule),
}

/// The rules an engine sends under; the default allows everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetPolicy {
    names: Vec<NameRule>,
    nets: Vec<NetRule>,
    /// The specs as given, for messages.
    specs: Vec<String>,
    max_rate: Option<f64>,
}

impl TargetPolicy {
    /// Parses `--allow-target` specs (none: every target allowed).
    pub fn from_specs<S: AsRef<str>>(specs: &[S]) -> Result<TargetPolicy, PolicyError> {
        let mut policy = TargetPolicy::default();
        for spec in specs {
            let spec = spec.as_ref();
            match parse_rule(spec)? {
                Rule::Name(r) => policy.names.push(r),
                Rule::Net(r) => policy.nets.push(r),
            }
            policy.specs.push(spec.trim().to_string());
        }
        Ok(policy)
    }

    /// With a cap on the rate this engine ever plans to send.
    pub fn with_max_rate(mut self, max_rate: Option<f64>) -> TargetPolicy {
        self.max_rate = max_rate;
        self
    }

    pub fn max_rate(&self) -> Option<f64> {
        self.max_rate
    }

    /// No allow-list: every target is allowed.
    pub fn allows_any_target(&self) -> bool {
        self.names.is_empty() && self.nets.is_empty()
    }

    fn rules(&self) -> String {
        self.specs
            .iter()
            .map(|s| format!("--allow-target {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Checks the target by how it is named: an IP against the address rules, a name against
    /// the name rules (its addresses are checked when resolved).
    pub fn check_target(&self, host: &str, port: u16) -> Result<(), Refusal> {
        if self.allows_any_target() {
            return Ok(());
        }
        let host = unbracket(host);
        let allowed = match host.parse::<IpAddr>() {
            Ok(ip) => self.net_allows(SocketAddr::new(ip, port)),
            Err(_) => {
                let name = normalise_name(host);
                self.names.is_empty() || self.names.iter().any(|r| r.allows(&name, port))
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(Refusal::NotAllowed {
                target: show(host, port),
                rules: self.rules(),
            })
        }
    }

    fn net_allows(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.nets.iter().any(|r| r.allows(ip, addr.port()))
    }

    /// The addresses of a DNS answer for `host:port` that connections may use: all of them
    /// without address rules (once the name passed [`TargetPolicy::check_target`]), those
    /// inside an address rule otherwise. Refused when none is left.
    pub fn allowed_addrs(
        &self,
        host: &str,
        port: u16,
        addrs: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Refusal> {
        self.check_target(host, port)?;
        if self.nets.is_empty() {
            return Ok(addrs);
        }
        let allowed: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| self.net_allows(*a))
            .collect();
        if allowed.is_empty() {
            let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            return Err(Refusal::ResolvesOutside {
                target: show(unbracket(host), port),
                addrs: if shown.is_empty() {
                    "no address".into()
                } else {
                    shown.join(", ")
                },
                rules: self.rules(),
            });
        }
        Ok(allowed)
    }

    /// Everything checked before a run sends anything: every target the plan names (resolved,
    /// when address rules apply to a name) and the planned rate of `share` against the cap.
    pub async fn check_plan(&self, plan: &Plan, share: &AgentShare) -> Result<(), Refusal> {
        self.check_rate(plan, share)?;
        for (host, port) in plan_targets(plan)? {
            self.check_target(&host, port)?;
            if self.nets.is_empty() || host.parse::<IpAddr>().is_ok() {
                continue;
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| Refusal::Resolve {
                    target: show(&host, port),
                    reason: e.to_string(),
                })?
                .collect();
            self.allowed_addrs(&host, port, addrs)?;
        }
        Ok(())
    }

    /// The largest share of the plan's rate the cap lets this engine send (`None`: no cap, or
    /// nothing with a rate to cap).
    pub fn max_fraction(&self, plan: &Plan) -> Option<f64> {
        Some(self.max_rate? / plan.peak_rate()?)
    }

    /// Refuses a share whose planned peak rate is above the cap.
    pub fn check_rate(&self, plan: &Plan, share: &AgentShare) -> Result<(), Refusal> {
        let Some(max) = self.max_rate else {
            return Ok(());
        };
        for phase in &plan.phases {
            let Some(peak) = phase.load.peak_rate() else {
                return Err(Refusal::ClosedLoop {
                    phase: phase.name.clone(),
                    max,
                });
            };
            let rate = peak * share.rate_fraction;
            // A share's split of a round rate may land a hair above it.
            if rate > max * (1.0 + 1e-9) {
                return Err(Refusal::RateAbove {
                    phase: phase.name.clone(),
                    rate,
                    max,
                });
            }
        }
        Ok(())
    }
}

impl fmt::Display for TargetPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.allows_any_target() {
            f.write_str("any target")?;
        } else {
            f.write_str(&self.specs.join(", "))?;
        }
        if let Some(max) = self.max_rate {
            write!(f, "; at most {max}/s")?;
        }
        Ok(())
    }
}

/// Every `(host, port)` the plan sends to: its target and every other host its requests name
/// (`target api "…"`, an absolute URL in a request line), so every one is checked before the
/// first request.
pub fn plan_targets(plan: &Plan) -> Result<Vec<(String, u16)>, Refusal> {
    let mut all = Vec::with_capacity(1 + plan.hosts.len());
    for url in plan.urls() {
        let bad = || Refusal::BadTarget(url.to_string());
        let uri: http::Uri = url.parse().map_err(|_| bad())?;
        let authority = uri.authority().ok_or_else(bad)?;
        let port =
            authority
                .port_u16()
                .unwrap_or(if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
                    443
                } else {
                    80
                });
        let target = (unbracket(authority.host()).to_string(), port);
        if !all.contains(&target) {
            all.push(target);
        }
    }
    Ok(all)
}

/// Parses a `--max-rate` value: `20000/s` or `20000`.
pub fn parse_max_rate(spec: &str) -> Result<f64, PolicyError> {
    let bad = |reason: &str| PolicyError {
        flag: "--max-rate",
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let number = spec.trim().strip_suffix("/s").unwrap_or(spec.trim());
    let rate: f64 = number
        .trim()
        .parse()
        .map_err(|_| bad("expected a rate such as 20000/s"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err(bad("the rate must be above 0"));
    }
    Ok(rate)
}

impl NameRule {
    fn allows(&self, name: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.name {
            NamePattern::Exact(n) => n == name,
            NamePattern::Below(suffix) => name.len() > suffix.len() && name.ends_with(suffix),
        }
    }
}

impl NetRule {
    fn allows(&self, ip: IpAddr, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128)
                    == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// The top `prefix` bits of a `width`-bit address.
fn masked(bits: u128, prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let drop = u32::from(width - prefix);
    (bits >> drop) << drop
}

fn unbracket(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Host names compare without case and without a trailing dot.
fn normalise_name(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn show(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn parse_rule(spec: &str) -> Result<Rule, PolicyError> {
    let bad = |reason: String| PolicyError {
        flag: "--allow-target",
        spec: spec.to_string(),
        reason,
    };
    let s = spec.trim();
    if s.is_empty() {
        return Err(bad("empty".into()));
    }
    let port = |p: &str| -> Result<u16, PolicyError> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad(format!("{p:?} is not a port (1-65535)"))),
            Ok(n) => Ok(n),
        }
    };
    if let Some(inner) = s.strip_prefix('[') {
        // `[v6]`, `[v6]:port`, `[v6]/len`, `[v6]/len:port`.
        let (addr, rest) = inner
            .split_once(']')
            .ok_or_else(|| bad("missing ']'".into()))?;
        let addr: Ipv6Addr = addr
            .parse()
            .map_err(|_| bad(format!("{addr:?} is not an IPv6 address")))?;
        let (prefix, port_part) = match rest.strip_prefix('/') {
            Some(r) => match r.split_once(':') {
                Some((len, p)) => (Some(len), Some(p)),
                None => (Some(r), None),
            },
            None if rest.is_empty() => (None, None),
            None => match rest.strip_prefix(':') {
                Some(p) => (None, Some(p)),
                None => return Err(bad(format!("unexpected {rest:?} after the address"))),
            },
        };
        return net_rule(
            IpAddr::V6(addr),
            prefix,
            port_part.map(port).transpose()?,
            &bad,
        );
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        // A bare address (IPv6 without brackets takes no port).
        return net_rule(ip, None, None, &bad);
    }
    if let Some((addr, rest)) = s.split_once('/') {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| bad(format!("{addr:?} is not an IP address (CIDRs are IP/len)")))?;
        let (len, p) = match (ip, rest.split_once(':')) {
            (IpAddr::V4(_), Some((len, p))) => (len, Some(port(p)?)),
            _ => (rest, None),
        };
        return net_rule(ip, Some(len), p, &bad);
    }
    let (host, p) = match s.rsplit_once(':') {
        Some((host, p)) => (host, Some(port(p)?)),
        None => (s, None),
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        if ip.is_ipv6() {
            return Err(bad(
                "an IPv6 address with a port goes in brackets: [::1]:8080".into(),
            ));
        }
        return net_rule(ip, None, p, &bad);
    }
    let name = normalise_name(host);
    let (pattern, labels) = match name.strip_prefix("*.") {
        Some(rest) => (NamePattern::Below(format!(".{rest}")), rest),
        None => (NamePattern::Exact(name.clone()), name.as_str()),
    };
    if labels.is_empty() {
        return Err(bad("no host name".into()));
    }
    for label in labels.split('.') {
        if label.is_empty()
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(format!(
                "{label:?} is not a host name label (a wildcard is only `*.` in front)"
            )));
        }
    }
    Ok(Rule::Name(NameRule {
        name: pattern,
        port: p,
    }))
}

fn net_rule(
    addr: IpAddr,
    prefix: Option<&str>,
    port: Option<u16>,
    bad: &dyn Fn(String) -> PolicyError,
) -> Result<Rule, PolicyError> {
    let addr = addr.to_canonical();
    let width = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => width,
        Some(len) => match len.parse::<u8>() {
            Ok(n) if n <= width => n,
            _ => return Err(bad(format!("{len:?} is not a prefix length (0-{width})"))),
        },
    };
    let bits = match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    if masked(bits, prefix, width) != bits {
        return Err(bad(format!(
            "{addr} has bits set past the /{prefix} prefix (a network starts at its first address)"
        )));
    }
    Ok(Rule::Net(NetRule { addr, prefix, port }))
}

#[cfg(test)]
mod tests;
