//! A request step written straight in HTTP/1.1 wire form, the form the engine sends, without
//! building a [`BuiltRequest`](super::BuiltRequest) and its header map first. What is constant
//! is laid out at load: the request line of a fixed path, the `host` line, and the whole line
//! of every fixed header; a request then costs a few copies plus rendering its templated parts.
//!
//! The bytes are those of the built request encoded by [`crate::http::request::encode`]
//! (tested side by side), except that headers of different names keep the plan's order
//! instead of being grouped by name. A step with templated header names, or a templated
//! framing header, goes the built route, where replacements by runtime name are exact.

use super::cookies;
use super::generators::Table;
use super::iteration::Iteration;
use super::request::{CompiledRequest, Name};
use super::target::Target;
use super::template::Escape;
use super::VmError;
use crate::http::request as wire_request;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, COOKIE, HOST, TRANSFER_ENCODING};
use http::uri::PathAndQuery;
use http::Method;

/// What a fault changes in a request as it is written.
#[derive(Debug, Clone, Copy, Default)]
pub struct WireEdit<'a> {
    /// One more header, replacing any of the same name (as `HeaderMap::insert`).
    pub header: Option<(&'a HeaderName, &'a HeaderValue)>,
    /// The body replaced by this function of the original body's length, sent with its own
    /// length (any `content-length` of the plan is dropped).
    pub body: Option<fn(usize) -> Bytes>,
}

thread_local! {
    /// A worker thread's buffer for rendering templated bodies.
    static BODY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The constant parts of a step's wire form.
#[derive(Debug)]
pub(crate) struct Wire {
    /// The whole request line, when the path has no inserts.
    line: Option<Vec<u8>>,
    /// `METHOD ` for a templated path.
    method: Vec<u8>,
    /// `host: …\r\n`, when the plan does not set `Host` itself.
    host: Option<Vec<u8>>,
    headers: Vec<WireHeader>,
    /// The plan sets `content-length`.
    has_length: bool,
    /// The plan sets `transfer-encoding`; whether its last coding is `chunked`.
    transfer_encoding: Option<bool>,
}

#[derive(Debug)]
struct WireHeader {
    name: HeaderName,
    /// `name: value\r\n` for a fixed value.
    line: Option<Vec<u8>>,
    /// Its index among the request's headers (for the value template).
    index: usize,
}

impl Wire {
    /// `None` when the step must go the built route.
    pub fn compile(req: &CompiledRequest, target: &Target) -> Option<Wire> {
        let mut headers = Vec::with_capacity(req.headers.len());
        let mut has_length = false;
        let mut te_values: Vec<&[u8]> = Vec::new();
        for (index, h) in req.headers.iter().enumerate() {
            let Name::Static(name) = &h.name else {
                return None;
            };
            if name == CONTENT_LENGTH {
                has_length = true;
            }
            if name == TRANSFER_ENCODING {
                te_values.push(h.fixed.as_ref()?.as_bytes());
            }
            let line = h
                .fixed
                .as_ref()
                .map(|v| header_line(name.as_str().as_bytes(), v.as_bytes()));
            headers.push(WireHeader {
                name: name.clone(),
                line,
                index,
            });
        }
        let transfer_encoding = te_values.last().map(|v| last_coding_is_chunked(v));
        let mut method = req.method.as_str().as_bytes().to_vec();
        method.push(b' ');
        let line = req.fixed_uri.as_ref().map(|(_, pq)| {
            let mut l = method.clone();
            l.extend_from_slice(pq.as_str().as_bytes());
            l.extend_from_slice(b" HTTP/1.1\r\n");
            l
        });
        let host = req
            .set_host
            .then(|| header_line(b"host", target.host.as_bytes()));
        Some(Wire {
            line,
            method,
            host,
            headers,
            has_length,
            transfer_encoding,
        })
    }
}

fn header_line(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut l = Vec::with_capacity(name.len() + value.len() + 4);
    wire_request::write_header(&mut l, name, value);
    l
}

fn last_coding_is_chunked(value: &[u8]) -> bool {
    value
        .rsplit(|&b| b == b',')
        .next()
        .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// The rule `HeaderValue` checks values against.
fn valid_value(v: &[u8]) -> bool {
    v.iter().all(|&b| b >= 32 && b != 127 || b == b'\t')
}

/// Appends the request in wire form to `out` (left as it was on error). Returns whether it is
/// a HEAD request (its answer has no body).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write(
    req: &CompiledRequest,
    target: &Target,
    tables: &[Table],
    it: &Iteration,
    cookies: bool,
    edit: &WireEdit<'_>,
    out: &mut Vec<u8>,
) -> Result<bool, VmError> {
    let head = req.method == Method::HEAD;
    let fast = req.wire.as_ref().filter(|_| {
        !edit
            .header
            .is_some_and(|(n, _)| n == CONTENT_LENGTH || n == TRANSFER_ENCODING)
    });
    let Some(wire) = fast else {
        return write_built(req, target, tables, it, cookies, edit, out).map(|()| head);
    };
    let start = out.len();
    let result = BODY.with_borrow_mut(|scratch| {
        write_fast(req, wire, target, tables, it, cookies, edit, scratch, out)
    });
    if result.is_err() {
        out.truncate(start);
    }
    result.map(|()| head)
}

#[allow(clippy::too_many_arguments)]
fn write_fast(
    req: &CompiledRequest,
    wire: &Wire,
    target: &Target,
    tables: &[Table],
    it: &Iteration,
    cookies: bool,
    edit: &WireEdit<'_>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> Result<(), VmError> {
    // The body first: its length decides the framing headers.
    scratch.clear();
    let original: &[u8] = match req.body.as_ref().map(|b| (b, b.constant())) {
        None => &[],
        Some((_, Some(c))) => c,
        Some((b, None)) => {
            b.render_into(it, tables, Escape::None, scratch);
            scratch
        }
    };
    let replaced = edit.body.map(|f| f(original.len()));
    let body: &[u8] = replaced.as_deref().unwrap_or(original);

    match &wire.line {
        Some(line) => out.extend_from_slice(line),
        None => {
            let pq = render_path(req, target, tables, it)?;
            out.extend_from_slice(&wire.method);
            out.extend_from_slice(pq.as_str().as_bytes());
            out.extend_from_slice(b" HTTP/1.1\r\n");
        }
    }
    let injected = edit.header.map(|(n, _)| n);
    if let Some(host) = &wire.host {
        if injected != Some(&HOST) {
            out.extend_from_slice(host);
        }
    }
    let jar =
        cookies && injected != Some(&COOKIE) && !it.cookies.is_empty() && cookies::jar_is_valid(it);
    let chunked = !body.is_empty() && wire.transfer_encoding.is_some();
    let drop_length = chunked || edit.body.is_some();
    for h in &wire.headers {
        if (drop_length && h.name == CONTENT_LENGTH)
            || (jar && h.name == COOKIE)
            || injected == Some(&h.name)
        {
            continue;
        }
        match &h.line {
            Some(line) => out.extend_from_slice(line),
            None => {
                out.extend_from_slice(h.name.as_str().as_bytes());
                out.extend_from_slice(b": ");
                let from = out.len();
                req.headers[h.index]
                    .value
                    .render_into(it, tables, Escape::None, out);
                if !valid_value(&out[from..]) {
                    return Err(VmError::InvalidHeaderValue {
                        name: h.name.as_str().to_string(),
                    });
                }
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    if jar {
        out.extend_from_slice(b"cookie: ");
        cookies::write_value(it, out);
        out.extend_from_slice(b"\r\n");
    }
    if let Some((name, value)) = edit.header {
        wire_request::write_header(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if body.is_empty() {
        out.extend_from_slice(b"\r\n");
    } else if chunked {
        if wire.transfer_encoding != Some(true) {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        out.extend_from_slice(b"\r\n");
        wire_request::write_chunk(body, out);
    } else {
        if drop_length || !wire.has_length {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }
    Ok(())
}

/// A templated path joined onto the target's prefix and checked as `build` does.
fn render_path(
    req: &CompiledRequest,
    target: &Target,
    tables: &[Table],
    it: &Iteration,
) -> Result<PathAndQuery, VmError> {
    let mut p = Vec::with_capacity(target.prefix.len() + 64);
    p.extend_from_slice(&target.prefix);
    if super::request::needs_slash(req.path.first_byte(it, tables), &target.prefix) {
        p.push(b'/');
    }
    req.path.render_into(it, tables, Escape::Path, &mut p);
    let p = Bytes::from(p);
    PathAndQuery::from_maybe_shared(p.clone()).map_err(|e| VmError::InvalidPath {
        path: String::from_utf8_lossy(&p).into_owned(),
        reason: e.to_string(),
    })
}

/// The built route: the request as [`CompiledRequest::build`] makes it, edited, encoded.
fn write_built(
    req: &CompiledRequest,
    target: &Target,
    tables: &[Table],
    it: &Iteration,
    cookies: bool,
    edit: &WireEdit<'_>,
    out: &mut Vec<u8>,
) -> Result<(), VmError> {
    let mut b = req.build(target, tables, it, cookies)?;
    if let Some(f) = edit.body {
        b.headers.remove(CONTENT_LENGTH);
        b.body = f(b.body.len());
    }
    if let Some((name, value)) = edit.header {
        b.headers.insert(name.clone(), value.clone());
    }
    wire_request::encode(
        &b.method,
        b.path_and_query.as_str(),
        &b.headers,
        &b.body,
        out,
    );
    Ok(())
}

#[cfg(test)]
mod tests;
