//! One request step resolved at load (method, path and header templates, header names as
//! `HeaderName`s, the default headers it inherits) and turned into a [`BuiltRequest`] per send.

use super::cookies;
use super::generators::Table;
use super::iteration::Iteration;
use super::target::Target;
use super::template::{CompiledTemplate, Escape, VarInfo};
use super::wire::{self, Wire, WireEdit};
use super::VmError;
use crate::response_check::StepChecks;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, HOST};
use http::uri::{self, PathAndQuery};
use http::{HeaderMap, Method, Uri};
use ptl_bytecode::plan::{HeaderTemplate, Plan, Request, Template};
use std::cell::RefCell;

/// A request ready to hand to an HTTP client.
#[derive(Debug, Clone)]
pub struct BuiltRequest {
    pub method: Method,
    /// Absolute: scheme, authority, path and query.
    pub uri: Uri,
    /// The origin-form request target (what an HTTP/1 request line carries).
    pub path_and_query: PathAndQuery,
    /// Plan default headers, then the request's own (which replace defaults of the same
    /// name), `Host` from the target unless the plan sets it, and `Cookie` when the scenario
    /// keeps cookies.
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Debug)]
pub(super) enum Name {
    Static(HeaderName),
    /// A header name with inserts: checked when rendered.
    Dynamic(CompiledTemplate),
}

#[derive(Debug)]
pub(super) struct Header {
    pub(super) name: Name,
    pub(super) value: CompiledTemplate,
    /// The value as a header value, when it has no inserts.
    pub(super) fixed: Option<HeaderValue>,
    /// Request headers replace earlier ones of the same name; defaults only append.
    replace: bool,
}

#[derive(Debug)]
pub(crate) struct CompiledRequest {
    pub(super) method: Method,
    pub(super) path: CompiledTemplate,
    /// URI and path when the path template has no inserts.
    pub(super) fixed_uri: Option<(Uri, PathAndQuery)>,
    pub(super) headers: Vec<Header>,
    pub(super) set_host: bool,
    pub(super) body: Option<CompiledTemplate>,
    pub checks: StepChecks,
    /// The constant parts of its wire form (`None`: it goes the built route).
    pub(super) wire: Option<Wire>,
    /// Index of its target in the program's targets (0: the plan's `target`).
    pub(super) host: usize,
    /// Its own `timeout`, when it has one.
    pub(crate) timeout: Option<std::time::Duration>,
}

pub(crate) struct RequestContext<'a> {
    pub plan: &'a Plan,
    /// The program's targets: the plan's `target`, then `Plan::hosts`.
    pub targets: &'a [Target],
    pub vars: &'a VarInfo<'a>,
    pub scenario: &'a str,
    pub registers: u32,
}

impl CompiledRequest {
    pub fn compile(cx: &RequestContext<'_>, req: &Request) -> Result<CompiledRequest, VmError> {
        let plan = cx.plan;
        let host = req.host.map_or(0, |h| h as usize + 1);
        let target = cx.targets.get(host).ok_or(VmError::HostOutOfRange {
            request: req.name.clone(),
            host: req.host.unwrap_or(0),
        })?;
        let tmpl = |t: &Template| -> Result<CompiledTemplate, VmError> {
            let t = CompiledTemplate::compile(plan, t, cx.vars)?;
            if let Some(register) = t.registers().find(|&r| r >= cx.registers) {
                return Err(VmError::RegisterOutOfRange {
                    scenario: cx.scenario.to_string(),
                    register,
                    registers: cx.registers,
                });
            }
            Ok(t)
        };
        let header = |h: &HeaderTemplate, replace: bool| -> Result<Header, VmError> {
            let name_t = tmpl(&h.name)?;
            let name = match name_t.constant() {
                Some(n) => Name::Static(HeaderName::from_bytes(n).map_err(|_| {
                    VmError::InvalidHeaderName {
                        name: String::from_utf8_lossy(n).into_owned(),
                    }
                })?),
                None => Name::Dynamic(name_t),
            };
            let value = tmpl(&h.value)?;
            let fixed = match value.constant() {
                Some(v) => Some(HeaderValue::from_maybe_shared(v.clone()).map_err(|_| {
                    VmError::InvalidHeaderValue {
                        name: header_label(&name),
                    }
                })?),
                None => None,
            };
            Ok(Header {
                name,
                value,
                fixed,
                replace,
            })
        };

        let own: Vec<Header> = req
            .headers
            .iter()
            .map(|h| header(h, true))
            .collect::<Result<_, _>>()?;
        let overridden = |n: &HeaderName| {
            own.iter()
                .any(|h| matches!(&h.name, Name::Static(o) if o == n))
        };
        let mut headers = Vec::with_capacity(plan.headers.len() + own.len());
        for h in &plan.headers {
            let h = header(h, false)?;
            if !matches!(&h.name, Name::Static(n) if overridden(n)) {
                headers.push(h);
            }
        }
        // Among the request's own headers only the first of a name replaces; repeats append.
        let mut seen: Vec<HeaderName> = Vec::new();
        for mut h in own {
            if let Name::Static(n) = &h.name {
                if seen.contains(n) {
                    h.replace = false;
                } else {
                    seen.push(n.clone());
                }
            }
            headers.push(h);
        }
        let set_host = !headers
            .iter()
            .any(|h| matches!(&h.name, Name::Static(n) if n == HOST));

        let path = tmpl(&req.path)?;
        let fixed_uri = match path.constant() {
            Some(c) => {
                let slash = needs_slash(c.first().copied(), &target.prefix);
                let mut p = target.prefix.clone();
                if slash {
                    p.push(b'/');
                }
                p.extend_from_slice(c);
                let fixed =
                    join(target, Bytes::from(p)).map_err(|reason| VmError::InvalidPath {
                        path: String::from_utf8_lossy(c).into_owned(),
                        reason,
                    })?;
                Some(fixed)
            }
            None => None,
        };
        let body = req.body.as_ref().map(tmpl).transpose()?;
        let checks = StepChecks::compile(plan, cx.scenario, cx.registers, req)?;
        let mut compiled = CompiledRequest {
            method: method(req.method),
            path,
            fixed_uri,
            headers,
            set_host,
            body,
            checks,
            wire: None,
            host,
            timeout: req
                .timeout_us
                .map(|us| std::time::Duration::from_micros(us.max(1))),
        };
        compiled.wire = Wire::compile(&compiled, target);
        Ok(compiled)
    }

    /// Appends the request in HTTP/1.1 wire form to `out`, with a fault's edits. Returns
    /// whether it is a HEAD request.
    pub fn write_wire(
        &self,
        target: &Target,
        tables: &[Table],
        it: &Iteration,
        cookies: bool,
        edit: &WireEdit<'_>,
        out: &mut Vec<u8>,
    ) -> Result<bool, VmError> {
        wire::write(self, target, tables, it, cookies, edit, out)
    }

    /// Variable slots this request reads.
    pub fn vars(&self) -> impl Iterator<Item = u32> + '_ {
        let names = self.headers.iter().flat_map(|h| match &h.name {
            Name::Dynamic(t) => Some(t.vars()),
            Name::Static(_) => None,
        });
        self.path
            .vars()
            .chain(self.headers.iter().flat_map(|h| h.value.vars()))
            .chain(names.flatten())
            .chain(self.body.iter().flat_map(CompiledTemplate::vars))
    }

    /// Builds the request. Every part with inserts (path, header names and values, body) is
    /// rendered back to back into a per-thread buffer and copied once into a single shared
    /// allocation that the parts then slice, so a request costs one allocation for all its
    /// variable bytes besides the header map.
    pub fn build(
        &self,
        target: &Target,
        tables: &[Table],
        it: &Iteration,
        cookies: bool,
    ) -> Result<BuiltRequest, VmError> {
        SCRATCH.with_borrow_mut(|scratch| self.build_with(target, tables, it, cookies, scratch))
    }

    fn build_with(
        &self,
        target: &Target,
        tables: &[Table],
        it: &Iteration,
        cookies: bool,
        scratch: &mut Scratch,
    ) -> Result<BuiltRequest, VmError> {
        let Scratch { bytes: buf, ends } = scratch;
        buf.clear();
        ends.clear();
        // Rendering order: path, then per header its name and value, then the body; the
        // assembly below takes the parts back in the same order.
        if self.fixed_uri.is_none() {
            buf.extend_from_slice(&target.prefix);
            if needs_slash(self.path.first_byte(it, tables), &target.prefix) {
                buf.push(b'/');
            }
            self.path.render_into(it, tables, Escape::Path, buf);
            ends.push(buf.len());
        }
        for h in &self.headers {
            if let Name::Dynamic(t) = &h.name {
                t.render_into(it, tables, Escape::None, buf);
                ends.push(buf.len());
            }
            if h.fixed.is_none() {
                h.value.render_into(it, tables, Escape::None, buf);
                ends.push(buf.len());
            }
        }
        let body_constant = self.body.as_ref().map_or(Some(&EMPTY), |b| b.constant());
        if let (Some(body), None) = (&self.body, body_constant) {
            body.render_into(it, tables, Escape::None, buf);
            ends.push(buf.len());
        }

        let all = Bytes::copy_from_slice(buf);
        let mut parts = ends.iter().scan(0, |start, &end| {
            let range = *start..end;
            *start = end;
            Some(range)
        });
        let mut next = || parts.next().unwrap_or(0..0);

        let (uri, path_and_query) = match &self.fixed_uri {
            Some((u, p)) => (u.clone(), p.clone()),
            None => {
                let range = next();
                join(target, all.slice(range.clone())).map_err(|reason| VmError::InvalidPath {
                    path: String::from_utf8_lossy(&buf[range]).into_owned(),
                    reason,
                })?
            }
        };

        let mut headers = HeaderMap::with_capacity(self.headers.len() + 2);
        if self.set_host {
            headers.insert(HOST, target.host.clone());
        }
        for h in &self.headers {
            let name = match &h.name {
                Name::Static(n) => n.clone(),
                Name::Dynamic(_) => {
                    let n = &buf[next()];
                    HeaderName::from_bytes(n).map_err(|_| VmError::InvalidHeaderName {
                        name: String::from_utf8_lossy(n).into_owned(),
                    })?
                }
            };
            let value = match &h.fixed {
                Some(v) => v.clone(),
                None => HeaderValue::from_maybe_shared(all.slice(next())).map_err(|_| {
                    VmError::InvalidHeaderValue {
                        name: name.as_str().to_string(),
                    }
                })?,
            };
            if h.replace {
                headers.insert(name, value);
            } else {
                headers.append(name, value);
            }
        }
        if cookies {
            if let Some(v) = cookies::header_value(it) {
                headers.insert(http::header::COOKIE, v);
            }
        }

        let body = match body_constant {
            Some(c) => c.clone(),
            None => all.slice(next()),
        };
        Ok(BuiltRequest {
            method: self.method.clone(),
            uri,
            path_and_query,
            headers,
            body,
        })
    }
}

static EMPTY: Bytes = Bytes::new();

/// A worker thread's render buffer, reused by every request it builds.
#[derive(Default)]
struct Scratch {
    bytes: Vec<u8>,
    /// Where each rendered part ends in `bytes`.
    ends: Vec<usize>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn join(target: &Target, path: Bytes) -> Result<(Uri, PathAndQuery), String> {
    let pq = PathAndQuery::from_maybe_shared(path).map_err(|e| e.to_string())?;
    let mut parts = uri::Parts::default();
    parts.scheme = Some(target.scheme.clone());
    parts.authority = Some(target.authority.clone());
    parts.path_and_query = Some(pq.clone());
    let uri = Uri::from_parts(parts).map_err(|e| e.to_string())?;
    Ok((uri, pq))
}

/// Paths join onto the target's prefix with exactly one `/`; a bare query (`?q=1`) joins
/// onto a non-empty prefix directly.
pub(super) fn needs_slash(first: Option<u8>, prefix: &[u8]) -> bool {
    match first {
        Some(b'/') => false,
        Some(b'?') => prefix.is_empty(),
        _ => true,
    }
}

fn header_label(name: &Name) -> String {
    match name {
        Name::Static(n) => n.as_str().to_string(),
        Name::Dynamic(_) => "(templated name)".to_string(),
    }
}

fn method(m: ptl_bytecode::plan::Method) -> Method {
    use ptl_bytecode::plan::Method as M;
    match m {
        M::Get => Method::GET,
        M::Post => Method::POST,
        M::Put => Method::PUT,
        M::Delete => Method::DELETE,
        M::Patch => Method::PATCH,
        M::Head => Method::HEAD,
        M::Options => Method::OPTIONS,
    }
}
