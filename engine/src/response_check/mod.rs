//! What happens to a response: the step's expectations decide success, and its captures store
//! values for later steps of the iteration. JSONPaths, regexes and needles are compiled once
//! at load ([`StepChecks::compile`]); a response's body is parsed as JSON at most once.

mod captures;
mod expects;
mod json_eq;
mod json_seek;

use crate::vm::{Iteration, Program, VmError};
use captures::CaptureCheck;
use expects::ExpectCheck;
use json_seek::{Seek, SingularPath};
use ptl_bytecode::plan::{Plan, Request};
use serde_json::Value;
use serde_json_path::JsonPath;
use std::borrow::Cow;
use std::fmt;

/// Why a response counts as an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// The status is outside the expected ones (2xx/3xx when nothing is expected).
    Status,
    /// A latency, body or JSON expectation does not hold.
    Expect,
    /// A capture found nothing and has no default.
    Capture,
}

impl FailureClass {
    /// The key used in results' `errors_by_class`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Status => "status",
            FailureClass::Expect => "expect",
            FailureClass::Capture => "capture",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    pub class: FailureClass,
    /// A human-readable reason, e.g. `status 503, expected 200`.
    pub detail: String,
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class.as_str(), self.detail)
    }
}

impl std::error::Error for CheckFailure {}

/// The compiled expectations and captures of one request step.
#[derive(Debug)]
pub(crate) struct StepChecks {
    /// Every `expect status` (all must hold); empty means "2xx or 3xx".
    status: Vec<Vec<(u16, u16)>>,
    expects: Vec<ExpectCheck>,
    captures: Vec<CaptureCheck>,
    needs_body: bool,
    needs_headers: bool,
}

impl StepChecks {
    pub fn compile(
        plan: &Plan,
        scenario: &str,
        registers: u32,
        req: &Request,
    ) -> Result<StepChecks, VmError> {
        let mut status = Vec::new();
        let mut expects = Vec::new();
        for e in &req.expects {
            if let ptl_bytecode::plan::Expect::Status(ranges) = e {
                status.push(ranges.clone());
            }
            expects.extend(ExpectCheck::compile(plan, e)?);
        }
        let captures = req
            .captures
            .iter()
            .map(|c| CaptureCheck::compile(plan, scenario, registers, c))
            .collect::<Result<Vec<_>, _>>()?;
        let needs_body = expects.iter().any(ExpectCheck::reads_body)
            || captures.iter().any(CaptureCheck::reads_body);
        let needs_headers = expects.iter().any(ExpectCheck::reads_headers)
            || captures.iter().any(CaptureCheck::reads_headers);
        Ok(StepChecks {
            status,
            expects,
            captures,
            needs_body,
            needs_headers,
        })
    }

    pub fn needs_body(&self) -> bool {
        self.needs_body
    }

    /// Whether an expectation or a capture reads response headers (cookies are the
    /// program's business).
    pub fn needs_headers(&self) -> bool {
        self.needs_headers
    }

    fn check_status(&self, status: u16) -> Result<(), CheckFailure> {
        if self.status.is_empty() {
            return if (200..400).contains(&status) {
                Ok(())
            } else {
                Err(CheckFailure {
                    class: FailureClass::Status,
                    detail: format!("status {status}, expected 2xx or 3xx"),
                })
            };
        }
        for ranges in &self.status {
            if !ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&status)) {
                return Err(CheckFailure {
                    class: FailureClass::Status,
                    detail: format!("status {status}, expected {}", ranges_text(ranges)),
                });
            }
        }
        Ok(())
    }
}

fn ranges_text(ranges: &[(u16, u16)]) -> String {
    let parts: Vec<String> = ranges
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}..{hi}")
            }
        })
        .collect();
    parts.join(", ")
}

/// A response's facts, with the body's JSON parsed on first use.
pub(crate) struct Response<'a> {
    pub status: u16,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    pub response_time_us: u64,
    json: Option<Option<Value>>,
}

/// The nodes a JSONPath selects in a response.
pub(crate) enum Lookup<'v> {
    Found(Cow<'v, Value>),
    Missing,
    NotJson,
}

impl Response<'_> {
    /// The body as JSON, or `None` if it is not JSON.
    pub fn json(&mut self) -> Option<&Value> {
        let body = self.body;
        self.json
            .get_or_insert_with(|| serde_json::from_slice(body).ok())
            .as_ref()
    }

    /// Every node `path` selects, or `None` when the body is not JSON. A singular path
    /// selects at most one, found as [`Response::first`] finds it.
    pub fn nodes(
        &mut self,
        fast: Option<&SingularPath>,
        path: &JsonPath,
    ) -> Option<Vec<Cow<'_, Value>>> {
        if fast.is_some() {
            return match self.first(fast, path) {
                Lookup::Found(v) => Some(vec![v]),
                Lookup::Missing => Some(Vec::new()),
                Lookup::NotJson => None,
            };
        }
        let doc = self.json()?;
        Some(
            path.query(doc)
                .all()
                .into_iter()
                .map(Cow::Borrowed)
                .collect(),
        )
    }

    /// The first node `path` selects. A singular path (`fast`) streams through the body
    /// unless the document is parsed already; other paths parse it (once per response).
    pub fn first(&mut self, fast: Option<&SingularPath>, path: &JsonPath) -> Lookup<'_> {
        if let (Some(fast), None) = (fast, &self.json) {
            return match fast.seek(self.body) {
                Seek::Found(v) => Lookup::Found(Cow::Owned(v)),
                Seek::Missing => Lookup::Missing,
                Seek::NotJson => Lookup::NotJson,
            };
        }
        match self.json() {
            None => Lookup::NotJson,
            Some(doc) => match path.query(doc).first() {
                Some(v) => Lookup::Found(Cow::Borrowed(v)),
                None => Lookup::Missing,
            },
        }
    }
}

impl Program {
    /// Judges a response to `step` of `scenario` and stores its captures in `it`.
    ///
    /// Order: status, then the other expectations in plan order, then captures (a capture
    /// without a match and without a default is a failure). The first failure is returned;
    /// cookies (for `cookies on` scenarios) are stored whatever the outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn check_response(
        &self,
        it: &mut Iteration,
        scenario: u32,
        step: u32,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
        response_time_us: u64,
    ) -> Result<(), CheckFailure> {
        if self.keeps_cookies(scenario) {
            self.store_cookies(it, headers);
        }
        let Some(checks) = self.find_request(scenario, step).map(|r| &r.checks) else {
            let detail = match self.checks(scenario, step) {
                Err(e) => e.to_string(),
                Ok(_) => "no such request".to_string(),
            };
            return Err(CheckFailure {
                class: FailureClass::Expect,
                detail,
            });
        };
        checks.check_status(status)?;
        let mut resp = Response {
            status,
            headers,
            body,
            response_time_us,
            json: None,
        };
        for e in &checks.expects {
            e.check(&mut resp)?;
        }
        for c in &checks.captures {
            c.apply(&mut resp, it)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_richer;
