//! Requests: the method line, headers, body, expectations and captures of one request, and
//! the plan-wide `headers { }` block.

use rustc_hash::FxHashMap;

use ptl_bytecode::Method;

use crate::ast::{
    CaptureSource, CmpOp, Expect, Header, Item, MethodName, Request, RequestStmt, Span, Stmt,
    ValueKind,
};
use crate::check::model::{
    CaptureModel, CaptureSourceModel, ExpectModel, HeaderModel, Piece, RequestModel,
};
use crate::check::names::duplicate;
use crate::check::templates::{self, Scope};
use crate::check::values::{source_text, Want};
use crate::check::{bodies, captures, paths};
use crate::check::{CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;

/// The headers of every `headers { }` block, in order.
pub fn plan_headers(cx: &CheckContext<'_>, sink: &mut Sink) -> Vec<HeaderModel> {
    let mut seen = HeaderNames::default();
    let mut out = Vec::new();
    for (file, stmt) in cx.items() {
        let Item::Headers(list) = &stmt.node else {
            continue;
        };
        for h in list {
            seen.check(sink, file, &h.node);
            if let Some(m) = header(cx, sink, file, &h.node, Scope::Plan) {
                out.push(m);
            }
        }
    }
    out
}

/// Header names already set in one block, case-insensitively (HTTP header names are).
#[derive(Default)]
struct HeaderNames {
    seen: FxHashMap<String, (FileId, Span)>,
}

impl HeaderNames {
    fn check(&mut self, sink: &mut Sink, file: FileId, h: &Header) {
        let key = h.name.value.to_ascii_lowercase();
        match self.seen.get(&key) {
            Some(&(first_file, first)) => {
                let first = (first_file == file).then_some(first);
                sink.push(
                    file,
                    duplicate("header", &h.name.value, h.name.span, first, None),
                );
            }
            None => {
                self.seen.insert(key, (file, h.name.span));
            }
        }
    }
}

fn header(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    h: &Header,
    scope: Scope,
) -> Option<HeaderModel> {
    let name = templates::template(cx, sink, file, &h.name, scope);
    let value = templates::template(cx, sink, file, &h.value, scope);
    Some(HeaderModel {
        name: name?,
        value: value?,
    })
}

/// Checks one request, a step of scenario `scenario`.
pub fn request(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    req: &Request,
    scenario: usize,
    step: usize,
) -> Option<RequestModel> {
    let errors = sink.errors();
    let scope = Scope::Step { scenario, step };
    let mut line: Option<(Method, Vec<crate::check::model::Piece>, Span)> = None;
    let mut line_missing_ok = false;
    let mut body: Option<(Option<Vec<crate::check::model::Piece>>, Span)> = None;
    let mut headers = Vec::new();
    let mut header_names = HeaderNames::default();
    let mut expects = Vec::new();
    let mut status_seen: Option<Span> = None;
    let mut captures = Vec::new();
    let mut host: Option<u32> = None;
    let mut timeout: Option<(Option<u64>, Span)> = None;
    let mut tags: Vec<(u32, Span)> = Vec::new();
    let mut tag_keys: Vec<(&str, Span)> = Vec::new();
    let mut multipart: Option<(Option<HeaderModel>, Span)> = None;
    for stmt in &req.body {
        match &stmt.node {
            RequestStmt::Line {
                method,
                path,
                target,
                ..
            } => {
                if let Some((_, _, first)) = &line {
                    sink.push(file, repeated(req, "method line", stmt.span, *first));
                    continue;
                }
                let named = target
                    .as_ref()
                    .map(|t| (t, cx.targets.named(sink, file, t)));
                match paths::path(cx, sink, file, path, scope) {
                    Some(p) => {
                        host = match (&named, &p.base) {
                            (Some((t, _)), Some(_)) => {
                                sink.push(
                                    file,
                                    Diagnostic::TargetAndAbsoluteUrl {
                                        request: req.name.name.clone(),
                                        target: t.name.clone(),
                                        target_span: t.span.into(),
                                        url_span: path.span.into(),
                                    },
                                );
                                None
                            }
                            (Some((_, index)), None) => *index,
                            (None, Some(base)) => cx.targets.absolute(base),
                            (None, None) => None,
                        };
                        line = Some((method_of(*method), p.pieces, stmt.span));
                    }
                    None => line_missing_ok = true,
                }
            }
            RequestStmt::Timeout(v) => {
                if let Some((_, first)) = &timeout {
                    sink.push(file, repeated(req, "`timeout`", stmt.span, *first));
                    continue;
                }
                let us = sink.take(
                    file,
                    cx.params()
                        .positive_us(v, "timeout", "`timeout` takes a duration"),
                );
                timeout = Some((us, stmt.span));
            }
            RequestStmt::Tag { key, value } => {
                if let Some((_, first)) = tag_keys.iter().find(|(k, _)| *k == key.name) {
                    sink.push(
                        file,
                        duplicate("tag", &key.name, key.span, Some(*first), None),
                    );
                    continue;
                }
                tag_keys.push((&key.name, key.span));
                if value.value.is_empty() {
                    sink.push(
                        file,
                        Diagnostic::EmptyTagValue {
                            span: value.span.into(),
                        },
                    );
                    continue;
                }
                if let Some(i) = crate::check::tags::index(&cx.tags, &key.name, &value.value) {
                    tags.push((i, stmt.span));
                }
            }
            RequestStmt::Header(h) => {
                header_names.check(sink, file, h);
                if let Some(m) = header(cx, sink, file, h, scope) {
                    headers.push(m);
                }
            }
            RequestStmt::Body(lit) => {
                if let Some((_, first)) = &body {
                    sink.push(file, repeated(req, "body", stmt.span, *first));
                    continue;
                }
                body = Some((templates::template(cx, sink, file, lit, scope), stmt.span));
            }
            RequestStmt::BodyFile(path) => {
                if let Some((_, first)) = &body {
                    sink.push(file, repeated(req, "body", stmt.span, *first));
                    continue;
                }
                let bytes = bodies::file_bytes(cx, sink, file, path);
                body = Some((bytes.map(|b| vec![Piece::Bytes(b)]), stmt.span));
            }
            RequestStmt::Multipart(entries) => {
                if let Some((_, first)) = &body {
                    sink.push(file, repeated(req, "body", stmt.span, *first));
                    continue;
                }
                let built = bodies::multipart(cx, sink, file, entries, scope);
                body = Some((built.as_ref().map(|(b, _)| b.clone()), stmt.span));
                multipart = Some((built.map(|(_, h)| h), stmt.span));
            }
            RequestStmt::Expect(e) => {
                if let Expect::Status { .. } = e {
                    if let Some(first) = status_seen {
                        sink.push(file, repeated(req, "`expect status`", stmt.span, first));
                        continue;
                    }
                    status_seen = Some(stmt.span);
                }
                if let Some(m) = expect(cx, sink, file, e, stmt) {
                    expects.push(m);
                }
            }
            RequestStmt::Capture(c) => {
                let register = cx
                    .names
                    .scenarios
                    .get(scenario)
                    .and_then(|s| s.captures.iter().find(|e| e.span == c.name.span))
                    .map(|e| e.register);
                let source = match &c.source {
                    CaptureSource::Json(lit) => sink
                        .take(file, captures::json_path(lit))
                        .map(|_| CaptureSourceModel::Json(lit.value.clone())),
                    CaptureSource::Header(lit) => sink
                        .take(file, captures::header_name(lit))
                        .map(|_| CaptureSourceModel::Header(lit.value.clone())),
                    CaptureSource::Regex(lit) => sink
                        .take(file, captures::capture_regex(lit))
                        .map(|_| CaptureSourceModel::Regex(lit.value.clone())),
                    CaptureSource::Status => Some(CaptureSourceModel::Status),
                };
                // A capture without a register is a duplicate, reported with the names.
                if let (Some(register), Some(source)) = (register, source) {
                    captures.push(CaptureModel {
                        register,
                        source,
                        default: c.default.as_ref().map(|d| d.value.clone()),
                    });
                }
            }
        }
    }
    let Some((method, path, _)) = line else {
        if !line_missing_ok {
            sink.push(
                file,
                Diagnostic::MissingMethod {
                    request: req.name.name.clone(),
                    span: req.head_span.into(),
                },
            );
        }
        return None;
    };
    if let Some((header, span)) = multipart {
        // The boundary is in the Content-Type: a request that sets its own would send a body
        // the server cannot split.
        match header_names.seen.get("content-type") {
            Some(&(_, set)) => sink.push(
                file,
                Diagnostic::MultipartContentType {
                    span: set.into(),
                    multipart: span.into(),
                },
            ),
            None => headers.extend(header),
        }
    }
    if sink.errors() > errors {
        return None;
    }
    let body = match body {
        Some((Some(b), _)) => Some(b),
        Some((None, _)) => return None,
        None => None,
    };
    Some(RequestModel {
        name: req.name.name.clone(),
        method,
        path,
        headers,
        body,
        expects,
        captures,
        host,
        timeout_us: timeout.and_then(|(us, _)| us),
        tags: tags.into_iter().map(|(i, _)| i).collect(),
    })
}

fn repeated(req: &Request, what: &'static str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::RepeatedPart {
        request: req.name.name.clone(),
        what,
        span: span.into(),
        first: first.into(),
    }
}

fn expect<T>(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    e: &Expect,
    stmt: &Stmt<T>,
) -> Option<ExpectModel> {
    let p = cx.params();
    match e {
        Expect::Status { codes, .. } => {
            let mut ranges = Vec::new();
            let mut ok = true;
            for v in codes {
                match status_range(cx, v) {
                    Ok(r) => ranges.push(r),
                    Err(d) => {
                        sink.push(file, d);
                        ok = false;
                    }
                }
            }
            ok.then_some(ExpectModel::Status(ranges))
        }
        Expect::Latency {
            cmp,
            value,
            duration,
        } => {
            let (word, hint) = if *duration {
                ("duration", "`expect duration` takes a duration")
            } else {
                ("latency", "`expect latency` takes a duration")
            };
            if !matches!(cmp, CmpOp::Lt | CmpOp::Le) {
                sink.push(
                    file,
                    Diagnostic::LatencyComparison {
                        word,
                        span: stmt.span.into(),
                    },
                );
                return None;
            }
            let us = sink.take(file, p.positive_us(value, "latency bound", hint))?;
            Some(ExpectModel::LatencyBelow { us })
        }
        Expect::BodyContains(lit) => Some(ExpectModel::BodyContains(lit.value.clone())),
        Expect::BodyMatches(lit) => sink
            .take(file, captures::match_regex(lit))
            .map(|_| ExpectModel::BodyMatches(lit.value.clone())),
        Expect::Json { path, equal, value } => {
            let path_ok = sink.take(file, captures::json_path(path)).is_some();
            let hint = if *equal {
                "`expect json(…) ==` compares with a JSON value"
            } else {
                "`expect json(…) !=` compares with a JSON value"
            };
            let json = json_value(cx, sink, file, value, hint);
            let (true, Some(value)) = (path_ok, json) else {
                return None;
            };
            let path = path.value.clone();
            Some(if *equal {
                ExpectModel::JsonEq { path, value }
            } else {
                ExpectModel::JsonNe { path, value }
            })
        }
        Expect::JsonExists(path) => sink
            .take(file, captures::json_path(path))
            .map(|_| ExpectModel::JsonExists(path.value.clone())),
        Expect::HeaderContains { name, needle } => sink
            .take(file, captures::header_name(name))
            .map(|_| ExpectModel::HeaderContains {
                name: name.value.clone(),
                needle: needle.value.clone(),
            }),
    }
}

/// The JSON text of the value an `expect json(…)` compares with.
fn json_value(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    value: &crate::ast::Value,
    hint: &'static str,
) -> Option<String> {
    let p = cx.params();
    let r = p.resolve(value);
    match r.kind {
        ValueKind::Str(s) => Some(serde_json::Value::String(s.value.clone()).to_string()),
        ValueKind::Int(n) => Some(n.to_string()),
        ValueKind::Float(f) if f.is_finite() => Some(serde_json::Value::from(*f).to_string()),
        ValueKind::Bool(b) => Some(b.to_string()),
        ValueKind::Ident(w) if w == "null" && r.param.is_none() => Some("null".to_string()),
        _ => {
            sink.push(file, p.wrong(Want::Json, r, hint));
            None
        }
    }
}

/// `200` or `200..299`, as an inclusive range of valid status codes.
fn status_range(cx: &CheckContext<'_>, v: &crate::ast::Value) -> Result<(u16, u16), Diagnostic> {
    let p = cx.params();
    let r = p.resolve(v);
    let code = |v: &crate::ast::Value| -> Result<u16, Diagnostic> {
        Ok(p.int_in(v, "status", 100, 599, "`expect status` takes status codes")? as u16)
    };
    match r.kind {
        ValueKind::Int(_) => {
            let c = code(v)?;
            Ok((c, c))
        }
        ValueKind::Range(a, b) => {
            let (lo, hi) = (code(a)?, code(b)?);
            if lo > hi {
                return Err(crate::check::values::out_of_range(
                    "status range",
                    source_text(r.kind),
                    v.span,
                    "from the lower code to the higher",
                ));
            }
            Ok((lo, hi))
        }
        _ => Err(p.wrong(Want::Status, r, "`expect status` takes status codes")),
    }
}

fn method_of(m: MethodName) -> Method {
    match m {
        MethodName::Get => Method::Get,
        MethodName::Post => Method::Post,
        MethodName::Put => Method::Put,
        MethodName::Delete => Method::Delete,
        MethodName::Patch => Method::Patch,
        MethodName::Head => Method::Head,
        MethodName::Options => Method::Options,
    }
}
