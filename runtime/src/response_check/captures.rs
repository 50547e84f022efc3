//! `capture name = json(…) | header(…) | regex(…) | status()`, compiled once, writing into the
//! iteration's registers.

use super::{CheckFailure, FailureClass, Response};
use crate::vm::{Iteration, VmError};
use bytes::Bytes;
use http::HeaderName;
use ptl_bytecode::plan::{Capture, CaptureSource, ConstId, Plan};
use regex::bytes::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

#[derive(Debug)]
enum Source {
    Json { source: String, path: JsonPath },
    Header(HeaderName),
    Regex(Regex),
    Status,
}

#[derive(Debug)]
pub(crate) struct CaptureCheck {
    register: u32,
    source: Source,
    default: Option<Bytes>,
}

impl CaptureCheck {
    pub fn compile(
        plan: &Plan,
        scenario: &str,
        registers: u32,
        c: &Capture,
    ) -> Result<CaptureCheck, VmError> {
        if c.register >= registers {
            return Err(VmError::RegisterOutOfRange {
                scenario: scenario.to_string(),
                register: c.register,
                registers,
            });
        }
        let text = |id: ConstId| -> Result<String, VmError> {
            plan.consts
                .get(id.0 as usize)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .ok_or(VmError::ConstOutOfRange(id.0))
        };
        let source = match &c.source {
            CaptureSource::Json(id) => {
                let source = text(*id)?;
                let path = JsonPath::parse(&source).map_err(|e| VmError::InvalidJsonPath {
                    path: source.clone(),
                    reason: e.to_string(),
                })?;
                Source::Json { source, path }
            }
            CaptureSource::Header(id) => {
                let name = text(*id)?;
                Source::Header(
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| VmError::InvalidHeaderName { name })?,
                )
            }
            CaptureSource::Regex(id) => {
                let pattern = text(*id)?;
                let re = Regex::new(&pattern).map_err(|e| VmError::InvalidRegex {
                    pattern: pattern.clone(),
                    reason: e.to_string(),
                })?;
                if re.captures_len() < 2 {
                    return Err(VmError::InvalidRegex {
                        pattern,
                        reason: "it needs a group: the first group is what is captured".into(),
                    });
                }
                Source::Regex(re)
            }
            CaptureSource::Status => Source::Status,
        };
        let default = c
            .default
            .map(|id| {
                plan.consts
                    .get(id.0 as usize)
                    .map(|d| Bytes::copy_from_slice(d))
                    .ok_or(VmError::ConstOutOfRange(id.0))
            })
            .transpose()?;
        Ok(CaptureCheck {
            register: c.register,
            source,
            default,
        })
    }

    pub fn reads_body(&self) -> bool {
        matches!(self.source, Source::Json { .. } | Source::Regex(_))
    }

    pub fn apply(&self, resp: &mut Response<'_>, it: &mut Iteration) -> Result<(), CheckFailure> {
        let found = match &self.source {
            Source::Json { path, .. } => match resp.json() {
                Some(doc) => path.query(doc).first().map(|v| {
                    match v {
                        // A string is captured as its text, anything else as JSON.
                        Value::String(s) => it.set_register(self.register, s.as_bytes()),
                        other => it.set_register(self.register, other.to_string().as_bytes()),
                    }
                }),
                None => None,
            },
            Source::Header(name) => resp
                .headers
                .get(name)
                .map(|v| it.set_register(self.register, v.as_bytes())),
            Source::Regex(re) => re
                .captures(resp.body)
                .and_then(|c| c.get(1))
                .map(|m| it.set_register(self.register, m.as_bytes())),
            Source::Status => {
                let mut buf = itoa::Buffer::new();
                it.set_register(self.register, buf.format(resp.status).as_bytes());
                Some(())
            }
        };
        if found.is_some() {
            return Ok(());
        }
        if let Some(d) = &self.default {
            it.set_register(self.register, d);
            return Ok(());
        }
        Err(CheckFailure {
            class: FailureClass::Capture,
            detail: match &self.source {
                Source::Json { source, .. } if resp.json().is_none() => {
                    format!("capture {source}: the body is not JSON")
                }
                Source::Json { source, .. } => format!("capture {source} found nothing"),
                Source::Header(name) => format!("capture header {name}: no such header"),
                Source::Regex(re) => format!("capture regex {:?} did not match", re.as_str()),
                Source::Status => "capture status found nothing".to_string(),
            },
        })
    }
}
