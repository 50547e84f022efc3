//! Building requests (method line, headers, body, expectations, captures) and scenarios.

use super::build::{block_inside, ident, stmt, with_block_comments, Builder};
use super::comments::BlockComments;
use super::error::SyntaxError;
use super::grammar::Rule;
use super::tree::{span_of, Kids, Node};
use crate::ast::{
    Capture, CaptureSource, CmpOp, Expect, Header, MethodName, MultipartEntry, Request,
    RequestStmt, Scenario, ScenarioStmt, Span, StrLit, Value,
};

impl<'s> Builder<'s> {
    /// `file("path")`: the path's literal.
    fn file_ref(&mut self, node: Node<'_>) -> Result<StrLit, SyntaxError> {
        let mut k = Kids::of(node);
        self.string(k.take(Rule::string)?)
    }

    /// The request and the comments of its block that belong to the statement holding it.
    pub(crate) fn request(
        &mut self,
        pair: Node<'_>,
    ) -> Result<(Request, BlockComments), SyntaxError> {
        let mut k = Kids::of(pair);
        let kw = k.take(Rule::kw_request)?;
        let name = ident(k.take(Rule::ident)?);
        let head_span = Span::new(kw.start(), name.span.end);
        let weight = self.weight(&mut k)?;
        let open = k.take(Rule::lbrace)?;
        let mut body = Vec::with_capacity(k.count(Rule::request_stmt));
        while let Some(s) = k.opt(Rule::request_stmt) {
            let span = span_of(&s);
            let mut sk = Kids::of(s);
            let Some(inner) = sk.next_node() else {
                return Err(SyntaxError::internal(span, "empty request statement"));
            };
            body.push(stmt(self.request_stmt(inner)?, span));
        }
        let close = k.take(Rule::rbrace)?;
        let (a, b) = block_inside(&open, &close);
        let closing = self.comments.attach(&mut body, a, b, true);
        Ok((
            Request {
                name,
                weight,
                body,
                head_span,
            },
            closing,
        ))
    }

    fn weight(&mut self, k: &mut Kids<'_>) -> Result<Option<Value>, SyntaxError> {
        match k.opt(Rule::weight) {
            Some(w) => {
                let mut wk = Kids::of(w);
                Ok(Some(self.value(wk.take(Rule::value)?)?))
            }
            None => Ok(None),
        }
    }

    fn request_stmt(&mut self, pair: Node<'_>) -> Result<RequestStmt, SyntaxError> {
        let span = span_of(&pair);
        let rule = pair.as_rule();
        let mut k = Kids::of(pair);
        Ok(match rule {
            Rule::request_line => {
                let m = k.take(Rule::method)?;
                let method_span = span_of(&m);
                let method = match m.as_str() {
                    "GET" => MethodName::Get,
                    "POST" => MethodName::Post,
                    "PUT" => MethodName::Put,
                    "DELETE" => MethodName::Delete,
                    "PATCH" => MethodName::Patch,
                    "HEAD" => MethodName::Head,
                    "OPTIONS" => MethodName::Options,
                    other => {
                        return Err(SyntaxError::internal(
                            method_span,
                            &format!("unknown method {other}"),
                        ))
                    }
                };
                let target = k.opt(Rule::ident).map(ident);
                let path = self.string(k.take(Rule::string)?)?;
                RequestStmt::Line {
                    method,
                    method_span,
                    target,
                    path,
                }
            }
            Rule::header_stmt => {
                let name = self.string(k.take(Rule::string)?)?;
                let value = self.string(k.take(Rule::string)?)?;
                RequestStmt::Header(Header { name, value })
            }
            Rule::body_stmt => match k.opt(Rule::file_ref) {
                Some(f) => RequestStmt::BodyFile(self.file_ref(f)?),
                None => RequestStmt::Body(self.string(k.take(Rule::string)?)?),
            },
            Rule::multipart_stmt => {
                let mut entries = Vec::new();
                while let Some(e) = k.opt(Rule::multipart_entry) {
                    let mut e = Kids::of(e);
                    let name = self.string(e.take(Rule::string)?)?;
                    entries.push(match e.opt(Rule::file_ref) {
                        Some(f) => MultipartEntry::File {
                            name,
                            path: self.file_ref(f)?,
                        },
                        None => MultipartEntry::Field {
                            name,
                            value: self.string(e.take(Rule::string)?)?,
                        },
                    });
                }
                RequestStmt::Multipart(entries)
            }
            Rule::timeout_stmt => {
                k.take(Rule::kw_timeout)?;
                RequestStmt::Timeout(self.value(k.take(Rule::value)?)?)
            }
            Rule::tag_stmt => {
                k.take(Rule::kw_tag)?;
                let key = ident(k.take(Rule::ident)?);
                k.take(Rule::eq)?;
                RequestStmt::Tag {
                    key,
                    value: self.string(k.take(Rule::string)?)?,
                }
            }
            Rule::expect_stmt => {
                let Some(e) = k.next_node() else {
                    return Err(SyntaxError::internal(span, "empty expect"));
                };
                RequestStmt::Expect(self.expect(e)?)
            }
            Rule::capture_stmt => {
                let name = ident(k.take(Rule::ident)?);
                let source_pair = k.take(Rule::capture_source)?;
                let source_span = span_of(&source_pair);
                let source = self.capture_source(source_pair)?;
                let default = match k.opt(Rule::capture_default) {
                    Some(d) => Some(self.string(Kids::of(d).take(Rule::string)?)?),
                    None => None,
                };
                RequestStmt::Capture(Capture {
                    name,
                    source,
                    source_span,
                    default,
                })
            }
            other => {
                return Err(SyntaxError::internal(
                    span,
                    &format!("unexpected {other:?} in a request"),
                ))
            }
        })
    }

    fn expect(&mut self, pair: Node<'_>) -> Result<Expect, SyntaxError> {
        let span = span_of(&pair);
        let rule = pair.as_rule();
        let mut k = Kids::of(pair);
        Ok(match rule {
            Rule::expect_status => {
                let with_in = k.opt(Rule::kw_in).is_some();
                let mut codes = Vec::new();
                while let Some(v) = k.opt(Rule::value) {
                    codes.push(self.value(v)?);
                }
                Expect::Status { codes, with_in }
            }
            Rule::expect_latency => {
                let duration = k.opt(Rule::kw_duration).is_some();
                let cmp = cmp_op(k.take(Rule::cmp_op)?)?;
                let value = self.value(k.take(Rule::value)?)?;
                Expect::Latency {
                    cmp,
                    value,
                    duration,
                }
            }
            Rule::expect_body => Expect::BodyContains(self.string(k.take(Rule::string)?)?),
            Rule::expect_matches => Expect::BodyMatches(self.regex(k.take(Rule::regex)?)?),
            Rule::expect_json => {
                let path = self.string(k.take(Rule::string)?)?;
                let equal = k.opt(Rule::not_eq).is_none();
                let value = self.value(k.take(Rule::value)?)?;
                Expect::Json { path, equal, value }
            }
            Rule::expect_exists => Expect::JsonExists(self.string(k.take(Rule::string)?)?),
            Rule::expect_header => {
                let name = self.string(k.take(Rule::string)?)?;
                let needle = self.string(k.take(Rule::string)?)?;
                Expect::HeaderContains { name, needle }
            }
            other => {
                return Err(SyntaxError::internal(
                    span,
                    &format!("unexpected {other:?} after expect"),
                ))
            }
        })
    }

    fn capture_source(&mut self, pair: Node<'_>) -> Result<CaptureSource, SyntaxError> {
        let span = span_of(&pair);
        let mut k = Kids::of(pair);
        let Some(inner) = k.next_node() else {
            return Err(SyntaxError::internal(span, "empty capture source"));
        };
        let rule = inner.as_rule();
        let mut ik = Kids::of(inner);
        Ok(match rule {
            Rule::capture_json => CaptureSource::Json(self.string(ik.take(Rule::string)?)?),
            Rule::capture_header => CaptureSource::Header(self.string(ik.take(Rule::string)?)?),
            Rule::capture_regex => CaptureSource::Regex(self.string(ik.take(Rule::string)?)?),
            Rule::capture_status => CaptureSource::Status,
            other => {
                return Err(SyntaxError::internal(
                    span,
                    &format!("unexpected {other:?} as a capture source"),
                ))
            }
        })
    }

    /// The scenario and the comments of its block that belong to the statement holding it.
    pub(crate) fn scenario(
        &mut self,
        pair: Node<'_>,
    ) -> Result<(Scenario, BlockComments), SyntaxError> {
        let mut k = Kids::of(pair);
        let kw = k.take(Rule::kw_scenario)?;
        let name = ident(k.take(Rule::ident)?);
        let head_span = Span::new(kw.start(), name.span.end);
        let weight = self.weight(&mut k)?;
        let open = k.take(Rule::lbrace)?;
        let mut body = Vec::new();
        while let Some(s) = k.opt(Rule::scenario_stmt) {
            let span = span_of(&s);
            let Some(inner) = Kids::of(s).next_node() else {
                return Err(SyntaxError::internal(span, "empty scenario statement"));
            };
            let mut block = BlockComments::default();
            let node = match inner.as_rule() {
                Rule::request => {
                    let (request, comments) = self.request(inner)?;
                    block = comments;
                    ScenarioStmt::Request(request)
                }
                Rule::think => {
                    ScenarioStmt::Think(self.think_time(Kids::of(inner).take(Rule::think_time)?)?)
                }
                Rule::setting => ScenarioStmt::Setting(self.setting(inner)?),
                other => {
                    return Err(SyntaxError::internal(
                        span,
                        &format!("unexpected {other:?} in a scenario"),
                    ))
                }
            };
            body.push(with_block_comments(stmt(node, span), block));
        }
        let close = k.take(Rule::rbrace)?;
        let (a, b) = block_inside(&open, &close);
        let closing = self.comments.attach(&mut body, a, b, true);
        Ok((
            Scenario {
                name,
                weight,
                body,
                head_span,
            },
            closing,
        ))
    }
}

pub(crate) fn cmp_op(pair: Node<'_>) -> Result<CmpOp, SyntaxError> {
    Ok(match pair.as_str() {
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        "==" => CmpOp::Eq,
        other => {
            return Err(SyntaxError::internal(
                span_of(&pair),
                &format!("unknown comparison {other}"),
            ))
        }
    })
}
