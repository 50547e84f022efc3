//! The expectations other than status (`expect latency`, `body contains`, `body matches`,
//! `json(…) ==`/`!=`, `exists json(…)`, `header(…) contains`), compiled once at load.

use super::json_eq::json_eq;
use super::json_seek::SingularPath;
use super::{CheckFailure, FailureClass, Response};
use crate::vm::VmError;
use http::HeaderName;
use memchr::memmem::Finder;
use ptl_bytecode::plan::{ConstId, Expect, Plan};
use regex::bytes::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

#[derive(Debug)]
pub(crate) enum ExpectCheck {
    LatencyBelow {
        us: u64,
    },
    BodyContains {
        needle: Finder<'static>,
    },
    BodyMatches {
        re: Regex,
    },
    Json {
        source: String,
        path: JsonPath,
        fast: Option<SingularPath>,
        op: JsonOp,
    },
    HeaderContains {
        name: HeaderName,
        needle: Finder<'static>,
    },
}

/// What a `json(…)` expectation asks of the nodes its path selects.
#[derive(Debug)]
pub(crate) enum JsonOp {
    /// One of them equals the value.
    Eq(Value),
    /// There is one, and none equals the value.
    Ne(Value),
    /// There is one (a `null` counts).
    Exists,
}

impl ExpectCheck {
    /// Compiles an expectation; `Status` gives `None`: [`super::StepChecks`] judges status
    /// first, and by its own rule when there is none.
    pub fn compile(plan: &Plan, e: &Expect) -> Result<Option<ExpectCheck>, VmError> {
        let text = |id: ConstId| -> Result<&[u8], VmError> {
            plan.consts
                .get(id.0 as usize)
                .map(Vec::as_slice)
                .ok_or(VmError::ConstOutOfRange(id.0))
        };
        let json_value = |id: ConstId| -> Result<Value, VmError> {
            let raw = text(id)?;
            serde_json::from_slice(raw).map_err(|e| VmError::InvalidJsonValue {
                value: String::from_utf8_lossy(raw).into_owned(),
                reason: e.to_string(),
            })
        };
        let json = |path: ConstId, op: JsonOp| -> Result<ExpectCheck, VmError> {
            let source = String::from_utf8_lossy(text(path)?).into_owned();
            let compiled = JsonPath::parse(&source).map_err(|e| VmError::InvalidJsonPath {
                path: source.clone(),
                reason: e.to_string(),
            })?;
            Ok(ExpectCheck::Json {
                fast: SingularPath::parse(&source),
                source,
                path: compiled,
                op,
            })
        };
        Ok(Some(match e {
            Expect::LatencyBelow { us } => ExpectCheck::LatencyBelow { us: *us },
            Expect::BodyContains(id) => ExpectCheck::BodyContains {
                needle: Finder::new(text(*id)?).into_owned(),
            },
            Expect::BodyMatches(id) => {
                let pattern = String::from_utf8_lossy(text(*id)?).into_owned();
                let re = Regex::new(&pattern).map_err(|e| VmError::InvalidRegex {
                    pattern,
                    reason: e.to_string(),
                })?;
                ExpectCheck::BodyMatches { re }
            }
            Expect::JsonEq { path, value } => json(*path, JsonOp::Eq(json_value(*value)?))?,
            Expect::JsonNe { path, value } => json(*path, JsonOp::Ne(json_value(*value)?))?,
            Expect::JsonExists(path) => json(*path, JsonOp::Exists)?,
            Expect::HeaderContains { name, needle } => {
                let raw = text(*name)?;
                // `HeaderName` is lowercase, as `HeaderMap` keys are: the match ignores case.
                let name = HeaderName::from_bytes(raw).map_err(|_| VmError::InvalidHeaderName {
                    name: String::from_utf8_lossy(raw).into_owned(),
                })?;
                ExpectCheck::HeaderContains {
                    name,
                    needle: Finder::new(text(*needle)?).into_owned(),
                }
            }
            Expect::Status(_) => return Ok(None),
        }))
    }

    pub fn reads_body(&self) -> bool {
        !matches!(
            self,
            ExpectCheck::LatencyBelow { .. } | ExpectCheck::HeaderContains { .. }
        )
    }

    pub fn reads_headers(&self) -> bool {
        matches!(self, ExpectCheck::HeaderContains { .. })
    }

    pub fn check(&self, resp: &mut Response<'_>) -> Result<(), CheckFailure> {
        let fail = |detail: String| {
            Err(CheckFailure {
                class: FailureClass::Expect,
                detail,
            })
        };
        match self {
            ExpectCheck::LatencyBelow { us } => {
                if resp.response_time_us >= *us {
                    return fail(format!(
                        "latency {} ms, expected below {} ms",
                        resp.response_time_us as f64 / 1000.0,
                        *us as f64 / 1000.0
                    ));
                }
            }
            ExpectCheck::BodyContains { needle } => {
                if needle.find(resp.body).is_none() {
                    return fail(format!(
                        "body does not contain {:?}",
                        String::from_utf8_lossy(needle.needle())
                    ));
                }
            }
            ExpectCheck::BodyMatches { re } => {
                if !re.is_match(resp.body) {
                    return fail(format!("body does not match /{}/", re.as_str()));
                }
            }
            ExpectCheck::Json {
                source,
                path,
                fast,
                op,
            } => {
                let Some(nodes) = resp.nodes(fast.as_ref(), path) else {
                    return fail(format!("{source}: the body is not JSON"));
                };
                match op {
                    JsonOp::Eq(value) => {
                        if !nodes.iter().any(|n| json_eq(n, value)) {
                            return fail(match nodes.first() {
                                None => format!("{source} selects nothing, expected {value}"),
                                Some(n) => format!("{source} is {n}, expected {value}"),
                            });
                        }
                    }
                    JsonOp::Ne(value) => {
                        if nodes.is_empty() {
                            return fail(format!(
                                "{source} selects nothing, expected a value other than {value}"
                            ));
                        }
                        if nodes.iter().any(|n| json_eq(n, value)) {
                            return fail(format!("{source} is {value}, expected anything else"));
                        }
                    }
                    JsonOp::Exists => {
                        if nodes.is_empty() {
                            return fail(format!("{source} selects nothing, expected it to exist"));
                        }
                    }
                }
            }
            ExpectCheck::HeaderContains { name, needle } => {
                let mut values = resp.headers.get_all(name).iter().peekable();
                let wanted = || String::from_utf8_lossy(needle.needle()).into_owned();
                let Some(first) = values.peek().copied() else {
                    return fail(format!(
                        "no {name} header, expected one containing {:?}",
                        wanted()
                    ));
                };
                if !values.any(|v| needle.find(v.as_bytes()).is_some()) {
                    return fail(format!(
                        "header {name} is {:?}, expected it to contain {:?}",
                        String::from_utf8_lossy(first.as_bytes()),
                        wanted()
                    ));
                }
            }
        }
        Ok(())
    }
}
