//! `expect latency`, `expect body contains` and `expect json(…) == …`, compiled once.

use super::json_eq::json_eq;
use super::json_seek::SingularPath;
use super::{CheckFailure, FailureClass, Lookup, Response};
use crate::vm::VmError;
use memchr::memmem::Finder;
use ptl_bytecode::plan::{Expect, Plan};
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
    JsonEq {
        source: String,
        path: JsonPath,
        fast: Option<SingularPath>,
        value: Value,
    },
}

impl ExpectCheck {
    /// Compiles an expectation; `Status` gives `None`: [`super::StepChecks`] judges status
    /// first, and by its own rule when there is none.
    pub fn compile(plan: &Plan, e: &Expect) -> Result<Option<ExpectCheck>, VmError> {
        let text = |id: ptl_bytecode::plan::ConstId| -> Result<&[u8], VmError> {
            plan.consts
                .get(id.0 as usize)
                .map(Vec::as_slice)
                .ok_or(VmError::ConstOutOfRange(id.0))
        };
        Ok(Some(match e {
            Expect::LatencyBelow { us } => ExpectCheck::LatencyBelow { us: *us },
            Expect::BodyContains(id) => ExpectCheck::BodyContains {
                needle: Finder::new(text(*id)?).into_owned(),
            },
            Expect::JsonEq { path, value } => {
                let source = String::from_utf8_lossy(text(*path)?).into_owned();
                let compiled = JsonPath::parse(&source).map_err(|e| VmError::InvalidJsonPath {
                    path: source.clone(),
                    reason: e.to_string(),
                })?;
                let raw = text(*value)?;
                let value = serde_json::from_slice(raw).map_err(|e| VmError::InvalidJsonValue {
                    value: String::from_utf8_lossy(raw).into_owned(),
                    reason: e.to_string(),
                })?;
                ExpectCheck::JsonEq {
                    fast: SingularPath::parse(&source),
                    source,
                    path: compiled,
                    value,
                }
            }
            Expect::Status(_) => return Ok(None),
        }))
    }

    pub fn reads_body(&self) -> bool {
        !matches!(self, ExpectCheck::LatencyBelow { .. })
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
            ExpectCheck::JsonEq {
                source,
                path,
                fast: Some(fast),
                value,
            } => match resp.first(Some(fast), path) {
                Lookup::Found(n) if json_eq(&n, value) => {}
                Lookup::Found(n) => return fail(format!("{source} is {n}, expected {value}")),
                Lookup::Missing => {
                    return fail(format!("{source} selects nothing, expected {value}"))
                }
                Lookup::NotJson => return fail(format!("{source}: the body is not JSON")),
            },
            ExpectCheck::JsonEq {
                source,
                path,
                fast: None,
                value,
            } => {
                let Some(doc) = resp.json() else {
                    return fail(format!("{source}: the body is not JSON"));
                };
                let nodes = path.query(doc);
                if !nodes.iter().any(|n| json_eq(n, value)) {
                    return fail(match nodes.first() {
                        None => format!("{source} selects nothing, expected {value}"),
                        Some(n) => format!("{source} is {n}, expected {value}"),
                    });
                }
            }
        }
        Ok(())
    }
}
