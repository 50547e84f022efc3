//! Bytes → plan, trusting nothing. The header is checked first (magic, version, flags, length,
//! CRC-32), then each section is read with a bounds-checked [`Reader`]. Sections only refer
//! backwards, so every index is checked against the tables already decoded at the moment it is
//! read, with the offset of the offending bytes; the same goes for the few value rules the
//! runtime relies on (non-empty choices, ordered ranges, shares summing to 100 %). A plan that
//! decodes can be indexed by the runtime without further checks.

use crate::error::DecodeError;
use crate::format::{
    tag, Section, ARRIVALS, CHECKSUM_OFFSET, CMPS, DRAWS, DRAW_SINCE, ENCODE_SINCE, ENCODINGS,
    ENV_SINCE, FLAGS_OFFSET, FORMAT_VERSION, HEADER_LEN, HOSTS_SINCE, HTTP_VERSIONS,
    HTTP_VERSION_SINCE, KNOWN_FLAGS, MAGIC, METHODS, MIN_FORMAT_VERSION, OVERFLOWS,
    RICHER_EXPECTS_SINCE, SOURCES_SECTION_ID, SOURCES_SINCE, STOP_AT_SINCE, TARGET_ENV_SINCE,
    THINK_SINCE,
};
use crate::plan::{
    Arrivals, Capture, CaptureSource, Cmp, ConstId, Dataset, Draw, Encoding, Expect, Fault,
    Generator, HeaderTemplate, Host, HttpVersion, Injection, Load, Method, Metric, Overflow, Phase,
    Plan, Ppm, Request, Scenario, Scope, Step, Tag, TargetEnv, Template, TemplateOp, Think,
    Threshold, Var, VarPart,
};
use crate::reader::Reader;

type Result<T> = std::result::Result<T, DecodeError>;

/// Decodes and validates an encoded plan. See `docs/bytecode.md` for what is checked.
pub fn decode(bytes: &[u8]) -> Result<Plan> {
    decode_with_layout(bytes).map(|(plan, _)| plan)
}

/// The source files stored with a plan by [`crate::encode_with_sources`] (none if it was
/// encoded without), after checking the whole plan as [`decode`] does.
pub fn sources(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    decode_with_layout(bytes).map(|(_, layout)| layout.sources)
}

/// What the header said and where each section sits; `inspect` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The optional sources section (v6 and later): (path, bytes) of every file compiled.
    pub sources: Vec<(String, Vec<u8>)>,
    pub version: u16,
    pub payload_len: u64,
    pub checksum: u32,
    /// Each section with the offset and length of its body.
    pub sections: Vec<(Section, usize, usize)>,
}

pub(crate) fn decode_with_layout(bytes: &[u8]) -> Result<(Plan, Layout)> {
    let mut r = Reader::new(bytes, 0);
    let mut layout = header(&mut r)?;
    let mut plan = Plan {
        name: String::new(),
        target: String::new(),
        timeout_us: 0,
        connections: 0,
        seed: 0,
        max_inflight: 0,
        overflow: Overflow::Drop,
        http: HttpVersion::Http1,
        stop_at_knee: false,
        params: Vec::new(),
        hosts: Vec::new(),
        target_envs: Vec::new(),
        tags: Vec::new(),
        consts: Vec::new(),
        datasets: Vec::new(),
        vars: Vec::new(),
        headers: Vec::new(),
        scenarios: Vec::new(),
        phases: Vec::new(),
        thresholds: Vec::new(),
    };
    for section in Section::ALL {
        let at = r.offset();
        let id = r.u8("section id")?;
        if id != section.id() {
            return Err(DecodeError::UnexpectedSection {
                offset: at,
                expected: section.name(),
                expected_id: section.id(),
                found: id,
            });
        }
        let len = r.len("section length")?;
        let mut body = r.sub(len, "section")?;
        layout.sections.push((section, body.offset(), len));
        let b = &mut body;
        match section {
            Section::Meta => meta(b, &mut plan, layout.version)?,
            Section::Consts => plan.consts = list(b, "const count", const_bytes)?,
            Section::Datasets => plan.datasets = list(b, "dataset count", |r| dataset(r, &plan))?,
            Section::Vars => plan.vars = vars(b, &plan, layout.version)?,
            Section::Headers => {
                let scope = TemplateScope::plan_wide(&plan);
                plan.headers = list(b, "header count", |r| header_template(r, &scope))?;
            }
            Section::Scenarios => {
                plan.scenarios = list(b, "scenario count", |r| scenario(r, &plan, layout.version))?
            }
            Section::Phases => {
                plan.phases = list(b, "phase count", |r| phase(r, &plan, layout.version))?
            }
            Section::Thresholds => {
                plan.thresholds = list(b, "threshold count", |r| {
                    threshold(r, &plan, layout.version)
                })?
            }
        }
        body.finish(section.name())?;
    }
    if layout.version >= SOURCES_SINCE && r.remaining() > 0 {
        let at = r.offset();
        let id = r.u8("section id")?;
        if id != SOURCES_SECTION_ID {
            return bad_tag(at, "section after the thresholds (only 9, sources)", id);
        }
        let len = r.len("section length")?;
        let mut body = r.sub(len, "sources")?;
        layout.sources = list(&mut body, "source count", |r| {
            Ok((r.string("source path")?, r.bytes("source")?.to_vec()))
        })?;
        body.finish("sources")?;
    }
    r.finish("the last section")?;
    Ok((plan, layout))
}

fn header(r: &mut Reader) -> Result<Layout> {
    let head = r.take(r.remaining().min(MAGIC.len()), "magic")?;
    if head != &MAGIC[..head.len()] {
        return Err(DecodeError::BadMagic {
            found: head.to_vec(),
        });
    }
    r.take(MAGIC.len() - head.len(), "magic")?;
    let version = r.u16_le("format version")?;
    if version > FORMAT_VERSION {
        return Err(DecodeError::NewerVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version < MIN_FORMAT_VERSION {
        return Err(DecodeError::OlderVersion {
            found: version,
            oldest: MIN_FORMAT_VERSION,
        });
    }
    let flags = r.u16_le("flags")?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(DecodeError::UnknownFlags {
            offset: FLAGS_OFFSET,
            flags,
        });
    }
    let payload_len = r.u64_le("payload length")?;
    let checksum = r.u32_le("checksum")?;
    let available = r.remaining();
    if payload_len > available as u64 {
        return Err(DecodeError::Truncated {
            offset: HEADER_LEN,
            what: "payload",
            needed: payload_len,
            available,
        });
    }
    if payload_len < available as u64 {
        return Err(DecodeError::TrailingBytes {
            offset: HEADER_LEN + payload_len as usize,
            what: "the payload",
            count: available - payload_len as usize,
        });
    }
    let payload_start = r.offset();
    let payload = r.take(available, "payload")?;
    let actual = crc32fast::hash(payload);
    if actual != checksum {
        return Err(DecodeError::ChecksumMismatch {
            offset: CHECKSUM_OFFSET,
            expected: checksum,
            actual,
        });
    }
    // From here on the caller reads the (now verified) payload, with offsets still absolute.
    *r = Reader::new(payload, payload_start);
    Ok(Layout {
        sources: Vec::new(),
        version,
        payload_len,
        checksum,
        sections: Vec::with_capacity(Section::ALL.len()),
    })
}

fn list<T>(
    r: &mut Reader,
    what: &'static str,
    mut item: impl FnMut(&mut Reader) -> Result<T>,
) -> Result<Vec<T>> {
    let n = r.len(what)?;
    // `n` is at most the bytes left, but each item may be far larger in memory than its one
    // byte; grow as items actually decode instead of trusting the count.
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        out.push(item(r)?);
    }
    Ok(out)
}

fn option<T>(
    r: &mut Reader,
    what: &'static str,
    item: impl FnOnce(&mut Reader) -> Result<T>,
) -> Result<Option<T>> {
    if r.bool(what)? {
        item(r).map(Some)
    } else {
        Ok(None)
    }
}

fn invalid<T>(offset: usize, problem: String) -> Result<T> {
    Err(DecodeError::Invalid { offset, problem })
}

fn bad_tag<T>(offset: usize, what: &'static str, tag: u8) -> Result<T> {
    Err(DecodeError::BadTag { offset, what, tag })
}

/// A fieldless enum stored as its position in `table`.
fn table_tag<T: Copy>(r: &mut Reader, what: &'static str, table: &[T]) -> Result<T> {
    let at = r.offset();
    let t = r.u8(what)?;
    match table.get(usize::from(t)) {
        Some(v) => Ok(*v),
        None => bad_tag(at, what, t),
    }
}

fn konst(r: &mut Reader, plan: &Plan, what: &'static str) -> Result<ConstId> {
    r.index(what, plan.consts.len()).map(ConstId)
}

fn const_bytes(r: &mut Reader) -> Result<Vec<u8>> {
    r.bytes("const").map(<[u8]>::to_vec)
}

fn meta(r: &mut Reader, plan: &mut Plan, version: u16) -> Result<()> {
    plan.name = r.string("plan name")?;
    plan.target = r.string("target")?;
    plan.timeout_us = r.var_u64("timeout")?;
    plan.connections = r.var_u32("connections")?;
    plan.seed = r.var_u64("seed")?;
    plan.max_inflight = r.var_u32("max_inflight")?;
    plan.overflow = table_tag::<Overflow>(r, "overflow", &OVERFLOWS)?;
    plan.http = if version >= HTTP_VERSION_SINCE {
        table_tag::<HttpVersion>(r, "http version", &HTTP_VERSIONS)?
    } else {
        HttpVersion::Http1
    };
    plan.params = list(r, "param count", |r| {
        Ok((r.string("param name")?, r.string("param value")?))
    })?;
    if version >= HOSTS_SINCE {
        plan.hosts = list(r, "host count", |r| {
            Ok(Host {
                name: r.string("host name")?,
                url: r.string("host url")?,
            })
        })?;
        plan.tags = list(r, "tag count", |r| {
            Ok(Tag {
                key: r.string("tag key")?,
                value: r.string("tag value")?,
            })
        })?;
    }
    if version >= STOP_AT_SINCE {
        plan.stop_at_knee = table_tag::<bool>(r, "stop_at", &[false, true])?;
    }
    if version >= TARGET_ENV_SINCE {
        let hosts = plan.hosts.len();
        plan.target_envs = list(r, "target env count", |r| {
            let at = r.offset();
            let host = r.var_u32("target env host")?;
            if host as usize > hosts {
                return invalid(
                    at,
                    format!("target env host {host} out of range ({hosts} hosts)"),
                );
            }
            Ok(TargetEnv {
                host,
                name: r.string("target env name")?,
                default: option(r, "target env default", |r| r.string("target env default"))?,
            })
        })?;
    }
    Ok(())
}

fn dataset(r: &mut Reader, plan: &Plan) -> Result<Dataset> {
    let name = r.string("dataset name")?;
    let columns = list(r, "column count", |r| r.string("column name"))?;
    let rows = list(r, "row count", |r| {
        let at = r.offset();
        let row = list(r, "cell count", |r| konst(r, plan, "dataset cell const"))?;
        if row.len() != columns.len() {
            return invalid(
                at,
                format!(
                    "dataset `{name}` has a row of {} cell(s) but {} column(s)",
                    row.len(),
                    columns.len()
                ),
            );
        }
        Ok(row)
    })?;
    Ok(Dataset {
        name,
        columns,
        rows,
    })
}

fn vars(r: &mut Reader, plan: &Plan, version: u16) -> Result<Vec<Var>> {
    let n = r.len("var count")?;
    let mut vars = Vec::with_capacity(n.min(1024));
    for slot in 0..n {
        let name = r.string("var name")?;
        let parts = list(r, "var part count", |r| {
            let at = r.offset();
            match r.u8("var part")? {
                tag::PART_LIT => konst(r, plan, "var literal const").map(VarPart::Lit),
                // A variable may only build on earlier ones, which rules out cycles.
                tag::PART_VAR => r.index("earlier var", slot).map(VarPart::Var),
                tag::PART_GEN => generator(r, plan, version).map(VarPart::Gen),
                tag::PART_ENCODE if version >= ENCODE_SINCE => {
                    let encoding = table_tag::<Encoding>(r, "encoding", &ENCODINGS)?;
                    // Only text and earlier variables are encoded: no nesting, no draws.
                    let parts = list(r, "encoded part count", |r| {
                        let at = r.offset();
                        match r.u8("encoded part")? {
                            tag::PART_LIT => konst(r, plan, "encoded const").map(VarPart::Lit),
                            tag::PART_VAR => r.index("earlier var", slot).map(VarPart::Var),
                            t => bad_tag(at, "encoded part", t),
                        }
                    })?;
                    Ok(VarPart::Encode { encoding, parts })
                }
                t => bad_tag(at, "var part", t),
            }
        })?;
        vars.push(Var { name, parts });
    }
    Ok(vars)
}

fn generator(r: &mut Reader, plan: &Plan, version: u16) -> Result<Generator> {
    let at = r.offset();
    Ok(match r.u8("generator")? {
        tag::GEN_ENV if version >= ENV_SINCE => {
            let name = konst(r, plan, "env name const")?;
            let default = match r.var_u32("env default")? {
                0 => None,
                d => Some(ConstId(d - 1)),
            };
            if let Some(d) = default {
                if d.0 as usize >= plan.consts.len() {
                    return invalid(at, format!("env default const #{} does not exist", d.0));
                }
            }
            Generator::Env { name, default }
        }
        tag::GEN_INT => {
            let (min, max) = (r.var_i64("int min")?, r.var_i64("int max")?);
            if min > max {
                return invalid(at, format!("int({min}, {max}): min is above max"));
            }
            Generator::Int { min, max }
        }
        tag::GEN_FLOAT => {
            let (min, max) = (r.f64("float min")?, r.f64("float max")?);
            // The range is half-open, so equal bounds leave nothing to draw.
            if min >= max {
                return invalid(at, format!("float({min}, {max}): min must be below max"));
            }
            Generator::Float { min, max }
        }
        tag::GEN_ONE_OF => {
            let items = list(r, "one_of count", |r| konst(r, plan, "one_of const"))?;
            if items.is_empty() {
                return invalid(at, "one_of() has no values to choose from".into());
            }
            Generator::OneOf(items)
        }
        tag::GEN_WEIGHTED => {
            let items = list(r, "weighted count", |r| {
                Ok((konst(r, plan, "weighted const")?, Ppm(r.var_u32("share")?)))
            })?;
            let total: u64 = items.iter().map(|(_, p)| u64::from(p.0)).sum();
            if total != u64::from(Ppm::ONE.0) {
                return invalid(
                    at,
                    format!("weighted() shares sum to {total} ppm, not {}", Ppm::ONE.0),
                );
            }
            Generator::Weighted(items)
        }
        tag::GEN_UUID => Generator::Uuid,
        tag::GEN_SEQ => Generator::Seq,
        tag::GEN_CSV => {
            let dataset = r.index("csv dataset", plan.datasets.len())?;
            let d = &plan.datasets[dataset as usize];
            if d.rows.is_empty() {
                return invalid(at, format!("csv(\"{}\") has no rows to draw", d.name));
            }
            let draw = if version >= DRAW_SINCE {
                table_tag::<Draw>(r, "draw mode", &DRAWS)?
            } else {
                Draw::Sequential
            };
            Generator::Csv { dataset, draw }
        }
        tag::GEN_ZIPF => {
            let (min, max) = (r.var_i64("zipf min")?, r.var_i64("zipf max")?);
            let s = r.f64("zipf exponent")?;
            if min > max {
                return invalid(at, format!("zipf({min}, {max}): min is above max"));
            }
            if s < 0.0 {
                return invalid(at, format!("zipf exponent {s} is negative"));
            }
            Generator::Zipf { min, max, s }
        }
        tag::GEN_STR => Generator::Str {
            len: r.var_u32("str length")?,
        },
        tag::GEN_NOW => Generator::Now,
        t => return bad_tag(at, "generator", t),
    })
}

/// What a template may refer to where it appears.
struct TemplateScope<'p> {
    plan: &'p Plan,
    /// Capture registers of the enclosing scenario; plan-wide headers have none.
    registers: u32,
}

impl<'p> TemplateScope<'p> {
    fn plan_wide(plan: &'p Plan) -> Self {
        TemplateScope { plan, registers: 0 }
    }
}

fn template(r: &mut Reader, scope: &TemplateScope) -> Result<Template> {
    let plan = scope.plan;
    let ops = list(r, "template op count", |r| {
        let at = r.offset();
        Ok(match r.u8("template op")? {
            tag::OP_LIT => TemplateOp::Lit(konst(r, plan, "template const")?),
            tag::OP_VAR => TemplateOp::Var(r.index("template var", plan.vars.len())?),
            tag::OP_FIELD => {
                let var = r.index("template field var", plan.vars.len())?;
                let v = &plan.vars[var as usize];
                let Some(dataset) = v.csv_dataset() else {
                    return invalid(
                        at,
                        format!("`{}` is read by column but is not a csv() row", v.name),
                    );
                };
                // `csv_dataset` was index-checked when the var was decoded.
                let columns = plan.datasets[dataset as usize].columns.len();
                let column = r.index("template field column", columns)?;
                TemplateOp::Field { var, column }
            }
            tag::OP_CAPTURE => {
                TemplateOp::Capture(r.index("capture register", scope.registers as usize)?)
            }
            t => return bad_tag(at, "template op", t),
        })
    })?;
    Ok(Template { ops })
}

fn header_template(r: &mut Reader, scope: &TemplateScope) -> Result<HeaderTemplate> {
    Ok(HeaderTemplate {
        name: template(r, scope)?,
        value: template(r, scope)?,
    })
}

fn scenario(r: &mut Reader, plan: &Plan, version: u16) -> Result<Scenario> {
    let name = r.string("scenario name")?;
    let weight = r.var_u32("scenario weight")?;
    let single_request = r.bool("single_request flag")?;
    let cookies = r.bool("cookies flag")?;
    let registers = r.var_u32("register count")?;
    let scope = TemplateScope { plan, registers };
    let steps = list(r, "step count", |r| {
        let at = r.offset();
        match r.u8("step")? {
            tag::STEP_REQUEST => request(r, &scope, version).map(Step::Request),
            tag::STEP_THINK if version < THINK_SINCE => uniform(r).map(Step::Think),
            tag::STEP_THINK => think(r).map(Step::Think),
            t => bad_tag(at, "step", t),
        }
    })?;
    Ok(Scenario {
        name,
        weight,
        single_request,
        cookies,
        registers,
        steps,
    })
}

fn request(r: &mut Reader, scope: &TemplateScope, version: u16) -> Result<Request> {
    let plan = scope.plan;
    let mut request = Request {
        name: r.string("request name")?,
        method: table_tag::<Method>(r, "method", &METHODS)?,
        path: template(r, scope)?,
        headers: list(r, "header count", |r| header_template(r, scope))?,
        body: option(r, "body presence", |r| template(r, scope))?,
        expects: list(r, "expect count", |r| expect(r, plan, version))?,
        captures: list(r, "capture count", |r| capture(r, scope))?,
        host: None,
        timeout_us: None,
        tags: Vec::new(),
    };
    if version >= HOSTS_SINCE {
        // 0 is the plan's target; a host is its index + 1.
        let host = r.index("request host", plan.hosts.len() + 1)?;
        request.host = host.checked_sub(1);
        request.timeout_us = option(r, "timeout presence", |r| r.var_u64("request timeout"))?;
        let at = r.offset();
        request.tags = list(r, "request tag count", |r| {
            r.index("request tag", plan.tags.len())
        })?;
        for (i, t) in request.tags.iter().enumerate() {
            let key = &plan.tags[*t as usize].key;
            if request.tags[..i]
                .iter()
                .any(|u| plan.tags[*u as usize].key == *key)
            {
                return invalid(
                    at,
                    format!("request `{}` has tag `{key}` twice", request.name),
                );
            }
        }
    }
    Ok(request)
}

fn expect(r: &mut Reader, plan: &Plan, version: u16) -> Result<Expect> {
    let at = r.offset();
    let t = r.u8("expect")?;
    if t > tag::EXPECT_JSON_EQ && version < RICHER_EXPECTS_SINCE {
        return bad_tag(at, "expect", t);
    }
    Ok(match t {
        tag::EXPECT_STATUS => Expect::Status(list(r, "status range count", |r| {
            let at = r.offset();
            let (lo, hi) = (r.var_u16("status low")?, r.var_u16("status high")?);
            if lo > hi {
                return invalid(at, format!("status range {lo}..={hi} is inverted"));
            }
            Ok((lo, hi))
        })?),
        tag::EXPECT_LATENCY_BELOW => Expect::LatencyBelow {
            us: r.var_u64("latency bound")?,
        },
        tag::EXPECT_BODY_CONTAINS => Expect::BodyContains(konst(r, plan, "body_contains const")?),
        tag::EXPECT_JSON_EQ => Expect::JsonEq {
            path: konst(r, plan, "json path const")?,
            value: konst(r, plan, "json value const")?,
        },
        tag::EXPECT_BODY_MATCHES => Expect::BodyMatches(konst(r, plan, "body_matches const")?),
        tag::EXPECT_JSON_NE => Expect::JsonNe {
            path: konst(r, plan, "json path const")?,
            value: konst(r, plan, "json value const")?,
        },
        tag::EXPECT_JSON_EXISTS => Expect::JsonExists(konst(r, plan, "json path const")?),
        tag::EXPECT_HEADER_CONTAINS => Expect::HeaderContains {
            name: konst(r, plan, "header name const")?,
            needle: konst(r, plan, "header needle const")?,
        },
        t => return bad_tag(at, "expect", t),
    })
}

fn capture(r: &mut Reader, scope: &TemplateScope) -> Result<Capture> {
    let plan = scope.plan;
    let register = r.index("capture register", scope.registers as usize)?;
    let at = r.offset();
    let source = match r.u8("capture source")? {
        tag::SOURCE_JSON => CaptureSource::Json(konst(r, plan, "capture json path const")?),
        tag::SOURCE_HEADER => CaptureSource::Header(konst(r, plan, "capture header const")?),
        tag::SOURCE_REGEX => CaptureSource::Regex(konst(r, plan, "capture regex const")?),
        tag::SOURCE_STATUS => CaptureSource::Status,
        t => return bad_tag(at, "capture source", t),
    };
    let default = option(r, "capture default presence", |r| {
        konst(r, plan, "capture default const")
    })?;
    Ok(Capture {
        register,
        source,
        default,
    })
}

fn phase(r: &mut Reader, plan: &Plan, version: u16) -> Result<Phase> {
    Ok(Phase {
        name: r.string("phase name")?,
        load: load(r, version)?,
        arrivals: table_tag::<Arrivals>(r, "arrivals", &ARRIVALS)?,
        max_inflight: option(r, "max_inflight presence", |r| r.var_u32("max_inflight"))?,
        overflow: option(r, "overflow presence", |r| {
            table_tag::<Overflow>(r, "overflow", &OVERFLOWS)
        })?,
        injections: list(r, "injection count", |r| injection(r, plan))?,
        mix: option(r, "mix presence", |r| {
            list(r, "mix count", |r| {
                Ok((
                    r.index("mix scenario", plan.scenarios.len())?,
                    r.var_u32("mix weight")?,
                ))
            })
        })?,
    })
}

/// A rate in arrivals per second; negative ones have no meaning.
fn rate(r: &mut Reader, what: &'static str) -> Result<f64> {
    let at = r.offset();
    let v = r.f64(what)?;
    if v < 0.0 {
        return invalid(at, format!("{what} {v}/s is negative"));
    }
    Ok(v)
}

/// A think time: tagged from v3 on.
fn think(r: &mut Reader) -> Result<Think> {
    let at = r.offset();
    match r.u8("think")? {
        tag::THINK_UNIFORM => uniform(r),
        tag::THINK_EXPONENTIAL => Ok(Think::Exponential {
            mean_us: r.var_u64("think mean")?,
        }),
        t => bad_tag(at, "think", t),
    }
}

/// `min max` of a uniform think time, the only kind before v3.
fn uniform(r: &mut Reader) -> Result<Think> {
    let at = r.offset();
    let (min_us, max_us) = (r.var_u64("think min")?, r.var_u64("think max")?);
    if min_us > max_us {
        return invalid(at, format!("think {min_us}us..{max_us}us is inverted"));
    }
    Ok(Think::Uniform { min_us, max_us })
}

fn load(r: &mut Reader, version: u16) -> Result<Load> {
    let at = r.offset();
    Ok(match r.u8("load")? {
        tag::LOAD_RATE => Load::Rate {
            per_sec: rate(r, "rate")?,
            duration_us: r.var_u64("duration")?,
        },
        tag::LOAD_RAMP => Load::Ramp {
            from: rate(r, "ramp start")?,
            to: rate(r, "ramp end")?,
            duration_us: r.var_u64("duration")?,
        },
        tag::LOAD_STEPS => Load::Steps {
            from: rate(r, "steps start")?,
            to: rate(r, "steps end")?,
            by: r.f64("steps increment")?,
            every_us: r.var_u64("step length")?,
        },
        tag::LOAD_PAUSE => Load::Pause {
            duration_us: r.var_u64("duration")?,
        },
        tag::LOAD_USERS => Load::Users {
            users: r.var_u32("users")?,
            duration_us: r.var_u64("duration")?,
            think: if version < THINK_SINCE {
                Think::fixed(r.var_u64("think time")?)
            } else {
                think(r)?
            },
        },
        t => return bad_tag(at, "load", t),
    })
}

fn injection(r: &mut Reader, plan: &Plan) -> Result<Injection> {
    let at = r.offset();
    let fault = match r.u8("fault")? {
        tag::FAULT_ABORT => Fault::Abort,
        tag::FAULT_DELAY => Fault::Delay {
            us: r.var_u64("fault delay")?,
        },
        tag::FAULT_RESET => Fault::Reset,
        tag::FAULT_CORRUPT => Fault::Corrupt,
        tag::FAULT_HEADER => Fault::Header {
            name: konst(r, plan, "fault header name const")?,
            value: konst(r, plan, "fault header value const")?,
        },
        t => return bad_tag(at, "fault", t),
    };
    let share_at = r.offset();
    let share = Ppm(r.var_u32("injection share")?);
    if share > Ppm::ONE {
        return invalid(
            share_at,
            format!("injection share {} ppm is above 100 %", share.0),
        );
    }
    Ok(Injection { fault, share })
}

fn threshold(r: &mut Reader, plan: &Plan, version: u16) -> Result<Threshold> {
    let expr = r.string("threshold expression")?;
    let at = r.offset();
    let scope = match r.u8("threshold scope")? {
        tag::SCOPE_ALL => Scope::All,
        tag::SCOPE_PHASE => Scope::Phase(r.index("threshold phase", plan.phases.len())?),
        tag::SCOPE_SCENARIO => {
            Scope::Scenario(r.index("threshold scenario", plan.scenarios.len())?)
        }
        tag::SCOPE_STEP => {
            let scenario = r.index("threshold scenario", plan.scenarios.len())?;
            let steps = plan.scenarios[scenario as usize].steps.len();
            Scope::Step {
                scenario,
                step: r.index("threshold step", steps)?,
            }
        }
        tag::SCOPE_TAG if version >= HOSTS_SINCE => {
            Scope::Tag(r.index("threshold tag", plan.tags.len())?)
        }
        t => return bad_tag(at, "threshold scope", t),
    };
    let at = r.offset();
    let metric = match r.u8("threshold metric")? {
        tag::METRIC_PERCENTILE => Metric::Percentile(percentile(r)?),
        tag::METRIC_MAX => Metric::Max,
        tag::METRIC_MEAN => Metric::Mean,
        tag::METRIC_ERROR_RATE => Metric::ErrorRate,
        tag::METRIC_ACHIEVED_RATE => Metric::AchievedRate,
        tag::METRIC_DROPPED_RATE => Metric::DroppedRate,
        tag::METRIC_ITERATION_PERCENTILE => Metric::IterationPercentile(percentile(r)?),
        tag::METRIC_COMPLETION_RATE => Metric::CompletionRate,
        t => return bad_tag(at, "threshold metric", t),
    };
    Ok(Threshold {
        expr,
        scope,
        metric,
        cmp: table_tag::<Cmp>(r, "comparison", &CMPS)?,
        value: r.f64("threshold value")?,
        abort: r.bool("abort flag")?,
    })
}

fn percentile(r: &mut Reader) -> Result<f64> {
    let at = r.offset();
    let p = r.f64("percentile")?;
    if !(p > 0.0 && p <= 100.0) {
        return invalid(at, format!("percentile p{p} is outside (0, 100]"));
    }
    Ok(p)
}
