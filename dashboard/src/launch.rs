//! Starting a stored plan from the dashboard: the plan library the page offers (each plan with
//! its declared params) and the launcher that compiles one with the operator's params and
//! submits it. Params are resolved by the compiler, which this crate must not depend on, so the
//! launcher is a trait the binary implements (`ptl coordinator --plans DIR`); a server without
//! one offers no "Start a run" panel. The same goes for `ptl submit`'s start options (agent wait,
//! what happens when an agent is lost, start delay, stagger): the launcher says which it takes,
//! with their defaults, and reads the operator's values with submit's own parsers.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// What a declared param holds, as the plan's literal says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// A whole number (`200`).
    Int,
    /// A number with a fraction (`1.5`).
    Number,
    /// `2s`, `500ms`, `10m`.
    Duration,
    /// `100/s`.
    Rate,
    /// `5%`.
    Percent,
    /// Text; given without quotes.
    String,
    /// `true` or `false`.
    Bool,
    /// A bare word (`poisson`).
    Name,
    /// `200ms..1s`.
    Range,
}

/// One `param` of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamInfo {
    pub name: String,
    pub kind: ParamKind,
    /// The declared value, written as `--set` takes it (strings without quotes).
    pub default: String,
}

/// One plan the dashboard may start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// What to ask for in `POST /api/runs`: `std:load`, or a file's path under its library
    /// directory without `.ptl` (`checkout`, `team/search`).
    pub name: String,
    /// Where it comes from: the file's path, or `std:NAME`.
    pub source: String,
    /// The `plan "…"` name, when the file reads as a plan.
    pub plan: Option<String>,
    /// Its params in declaration order (imports included).
    pub params: Vec<ParamInfo>,
    /// It checks without errors with its defaults.
    pub checks: bool,
    /// The diagnostics of a plan that does not check, as plain text.
    pub diagnostics: Option<String>,
}

/// What a start option's value is, for the field the page draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOptionKind {
    /// `90s`, `500ms`, `2m`.
    Duration,
    /// One of [`RunOptionInfo::choices`].
    Choice,
}

/// One of `ptl submit`'s start options the launcher takes in [`LaunchRequest::options`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptionInfo {
    /// Its key in [`LaunchRequest::options`] (`agent_wait`).
    pub name: String,
    /// The `ptl submit` flag it stands for (`--agent-wait`).
    pub flag: String,
    pub kind: RunOptionKind,
    /// `ptl submit`'s default, written as the option takes it.
    pub default: String,
    /// The values a [`RunOptionKind::Choice`] takes (empty otherwise).
    pub choices: Vec<String>,
    /// The flag's help line.
    pub help: String,
}

/// The body of `POST /api/runs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    /// A [`PlanEntry::name`].
    pub plan: String,
    /// Overrides (`--set NAME=VALUE`); params left out keep their defaults.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// How many agents run it (default 1).
    #[serde(default)]
    pub agents: Option<u32>,
    /// `ptl submit`'s start options by [`RunOptionInfo::name`] (`{"agent_wait": "90s"}`), as
    /// the flag takes them; an option left out or blank keeps submit's default.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// Why a run was not started; each maps to an HTTP status (see [`LaunchError::status`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LaunchError {
    #[error("no plan `{0}` in the library")]
    UnknownPlan(String),
    #[error("{0}")]
    BadRequest(String),
    /// The plan does not compile with these params: the compiler's plain diagnostics.
    #[error("the plan has errors with these params")]
    Compile { diagnostics: String },
    #[error("the cluster refused the run: {0}")]
    Cluster(String),
}

impl LaunchError {
    pub fn status(&self) -> http::StatusCode {
        match self {
            LaunchError::UnknownPlan(_) => http::StatusCode::NOT_FOUND,
            LaunchError::BadRequest(_) => http::StatusCode::BAD_REQUEST,
            LaunchError::Compile { .. } => http::StatusCode::UNPROCESSABLE_ENTITY,
            LaunchError::Cluster(_) => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The new run's id, or why there is none.
pub type LaunchFuture = Pin<Box<dyn Future<Output = Result<String, LaunchError>> + Send>>;

/// The plans a dashboard may start, and how it starts one.
pub trait PlanLauncher: Send + Sync {
    /// The library as it is now (files are read again, so a `git pull` shows). May block: the
    /// server calls it on a blocking thread.
    fn plans(&self) -> Vec<PlanEntry>;

    /// The start options [`PlanLauncher::start`] takes, with their defaults (none by default).
    fn options(&self) -> Vec<RunOptionInfo> {
        Vec::new()
    }

    /// Compiles the request's plan with its params and submits it to run on its agents
    /// (default 1) with its start options; an option it does not take, or a value the option
    /// does not read, is a [`LaunchError::BadRequest`].
    fn start(&self, request: LaunchRequest) -> LaunchFuture;
}

/// Reads a `POST /api/runs` body, refusing what is not one.
pub fn parse_request(body: &[u8]) -> Result<LaunchRequest, LaunchError> {
    let request: LaunchRequest = serde_json::from_slice(body)
        .map_err(|e| LaunchError::BadRequest(format!("the body is not a run request: {e}")))?;
    if request.plan.trim().is_empty() {
        return Err(LaunchError::BadRequest("no plan named".to_string()));
    }
    if request.agents == Some(0) {
        return Err(LaunchError::BadRequest(
            "a run needs at least one agent".to_string(),
        ));
    }
    if let Some(name) = request.params.keys().find(|k| k.trim().is_empty()) {
        return Err(LaunchError::BadRequest(format!(
            "a param needs a name (got {name:?})"
        )));
    }
    if let Some(name) = request.options.keys().find(|k| k.trim().is_empty()) {
        return Err(LaunchError::BadRequest(format!(
            "an option needs a name (got {name:?})"
        )));
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reads_with_defaults() {
        let r = parse_request(br#"{"plan":"std:load","params":{"rps":"50/s"}}"#).expect("valid");
        assert_eq!(r.plan, "std:load");
        assert_eq!(r.params.get("rps").map(String::as_str), Some("50/s"));
        assert_eq!(r.agents, None);
        let r = parse_request(br#"{"plan":"x","agents":3}"#).expect("valid");
        assert_eq!(r.agents, Some(3));
        assert!(r.params.is_empty());
        assert!(r.options.is_empty());
        let r = parse_request(br#"{"plan":"x","options":{"stagger":"50ms"}}"#).expect("valid");
        assert_eq!(r.options.get("stagger").map(String::as_str), Some("50ms"));
    }

    #[test]
    fn bad_requests_are_refused_with_400() {
        for body in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"plan":""}"#,
            br#"{"plan":"x","agents":0}"#,
            br#"{"plan":"x","agents":-1}"#,
            br#"{"plan":"x","params":{"a":1}}"#,
            br#"{"plan":"x","params":{"":"1"}}"#,
            br#"{"plan":"x","extra":true}"#,
            br#"{"plan":"x","options":{"stagger":5}}"#,
            br#"{"plan":"x","options":{" ":"5s"}}"#,
            br#"{"plan":"x","options":["5s"]}"#,
        ] {
            let e = parse_request(body).expect_err(&String::from_utf8_lossy(body));
            assert_eq!(e.status(), http::StatusCode::BAD_REQUEST, "{e}");
        }
    }
}
