//! `capture name = json(…) | header(…) | regex(…) | status()`, compiled once, writing into the
//! iteration's registers.

use super::json_seek::SingularPath;
use super::{CheckFailure, FailureClass, Lookup, Response};
use crate::vm::{Iteration, VmError};
use bytes::Bytes;
use http::HeaderName;
use ptl_bytecode::plan::{Capture, CaptureSource, ConstId, Plan};
use regex::bytes::Regex;
use serde_json::Value;
use serde_json_path::JsonPath;

#[derive(Debug)]
enum Source {
    Json {
        source: String,
        path: JsonPath,
        fast: Option<SingularPath>,
    },
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
                let fast = SingularPath::parse(&source);
                Source::Json { source, path, fast }
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

    pub fn reads_headers(&self) -> bool {
        matches!(self.source, Source::Header(_))
    }

    pub fn apply(&self, resp: &mut Response<'_>, it: &mut Iteration) -> Result<(), CheckFailure> {
        let mut not_json = false;
        let r = self.register;
        let found = match &self.source {
            Source::Json { path, fast, .. } => match resp.first(fast.as_ref(), path) {
                Lookup::Found(v) => {
                    // A string is captured as its text, anything else as JSON.
                    match v.as_ref() {
                        Value::String(s) => it.set_register(r, s.as_bytes()),
                        other => it.set_register(r, other.to_string().as_bytes()),
                    }
                    true
                }
                Lookup::Missing => false,
                Lookup::NotJson => {
                    not_json = true;
                    false
                }
            },
            Source::Header(name) => match resp.headers.get(name) {
                Some(v) => {
                    it.set_register(r, v.as_bytes());
                    true
                }
                None => false,
            },
            Source::Regex(re) => match re.captures(resp.body).and_then(|c| c.get(1)) {
                Some(m) => {
                    it.set_register(r, m.as_bytes());
                    true
                }
                None => false,
            },
            Source::Status => {
                it.set_register(r, itoa::Buffer::new().format(resp.status).as_bytes());
                true
            }
        };
        if found {
            return Ok(());
        }
        if let Some(d) = &self.default {
            it.set_register(self.register, d);
            return Ok(());
        }
        Err(CheckFailure {
            class: FailureClass::Capture,
            detail: match &self.source {
                Source::Json { source, .. } if not_json => {
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
