//! Plan → bytes. The output is a pure function of the plan: fields are written in declaration
//! order, lists in their order, integers in their shortest LEB128 form, so the same plan always
//! yields the same bytes (and the same [`crate::PlanHash`]). Layout: `docs/bytecode.md`.

use crate::format::{
    arrivals_tag, cmp_tag, draw_tag, encoding_tag, http_version_tag, method_tag, overflow_tag, tag,
    Section, DRAW_SINCE, ENCODE_SINCE, FORMAT_VERSION, HEADER_LEN, HOSTS_SINCE, MAGIC,
    SOURCES_SECTION_ID, SOURCES_SINCE, STOP_AT_SINCE, TARGET_ENV_SINCE,
};
use crate::plan::{
    Capture, CaptureSource, ConstId, Dataset, Expect, Fault, Generator, HeaderTemplate, Injection,
    Load, Metric, Phase, Plan, Request, Scenario, Scope, Step, Template, TemplateOp, Think,
    Threshold, Var, VarPart,
};

/// Encodes a plan. Never fails: any `Plan` value has an encoding, though [`crate::decode`]
/// rejects one whose references or ranges are invalid.
pub fn encode(plan: &Plan) -> Vec<u8> {
    encode_as(plan, FORMAT_VERSION)
}

/// Encodes a plan in the layout of an older format `version` (at least 4), leaving out what
/// that version cannot hold (hosts, per-request timeouts and tags before v5): for the tests
/// that prove older plans still decode. Only the layout is old; a field that version did not
/// have is simply not written, so the plan should not use one.
#[doc(hidden)]
pub fn encode_as(plan: &Plan, version: u16) -> Vec<u8> {
    encode_full(plan, version, &[])
}

/// [`encode`], followed by the optional sources section: the files (path as the compiler read
/// it, bytes) the plan was compiled from, for a later `--set` on the compiled plan. `decode`
/// skips them; [`crate::sources`] reads them. Without files it is [`encode`].
pub fn encode_with_sources(plan: &Plan, sources: &[(String, Vec<u8>)]) -> Vec<u8> {
    encode_full(plan, FORMAT_VERSION, sources)
}

fn encode_full(plan: &Plan, version: u16, sources: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut payload = Writer {
        buf: Vec::new(),
        version,
    };
    payload.section(Section::Meta, |w| meta(w, plan));
    payload.section(Section::Consts, |w| w.list(&plan.consts, |w, c| w.bytes(c)));
    payload.section(Section::Datasets, |w| w.list(&plan.datasets, dataset));
    payload.section(Section::Vars, |w| w.list(&plan.vars, var));
    payload.section(Section::Headers, |w| w.list(&plan.headers, header));
    payload.section(Section::Scenarios, |w| w.list(&plan.scenarios, scenario));
    payload.section(Section::Phases, |w| w.list(&plan.phases, phase));
    payload.section(Section::Thresholds, |w| w.list(&plan.thresholds, threshold));
    if !sources.is_empty() && version >= SOURCES_SINCE {
        let mut inner = Writer {
            buf: Vec::new(),
            version,
        };
        inner.list(sources, |w, (path, bytes)| {
            w.str(path);
            w.bytes(bytes);
        });
        payload.u8(SOURCES_SECTION_ID);
        payload.bytes(&inner.buf);
    }
    let payload = payload.into_bytes();

    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Appends primitives in the format's encodings; the mirror of [`crate::reader::Reader`].
pub(crate) struct Writer {
    buf: Vec<u8>,
    /// The format version whose layout is written.
    version: u16,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            buf: Vec::new(),
            version: FORMAT_VERSION,
        }
    }
}

impl Writer {
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn var_u64(&mut self, mut v: u64) {
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(low);
                return;
            }
            self.buf.push(low | 0x80);
        }
    }

    pub fn var_u32(&mut self, v: u32) {
        self.var_u64(u64::from(v));
    }

    pub fn var_i64(&mut self, v: i64) {
        self.var_u64(((v << 1) ^ (v >> 63)) as u64);
    }

    pub fn len(&mut self, n: usize) {
        self.var_u64(n as u64);
    }

    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.buf.extend_from_slice(b);
    }

    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    fn konst(&mut self, id: ConstId) {
        self.var_u32(id.0);
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Writer, &T)) {
        self.len(items.len());
        for item in items {
            each(self, item);
        }
    }

    fn option<T>(&mut self, v: Option<&T>, each: impl FnOnce(&mut Writer, &T)) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                each(self, v);
            }
        }
    }

    fn section(&mut self, section: Section, body: impl FnOnce(&mut Writer)) {
        let mut inner = Writer {
            buf: Vec::new(),
            version: self.version,
        };
        body(&mut inner);
        self.u8(section.id());
        self.bytes(&inner.buf);
    }
}

fn meta(w: &mut Writer, plan: &Plan) {
    w.str(&plan.name);
    w.str(&plan.target);
    w.var_u64(plan.timeout_us);
    w.var_u32(plan.connections);
    w.var_u64(plan.seed);
    w.var_u32(plan.max_inflight);
    w.u8(overflow_tag(plan.overflow));
    w.u8(http_version_tag(plan.http));
    w.list(&plan.params, |w, (k, v)| {
        w.str(k);
        w.str(v);
    });
    if w.version < HOSTS_SINCE {
        return;
    }
    w.list(&plan.hosts, |w, h| {
        w.str(&h.name);
        w.str(&h.url);
    });
    w.list(&plan.tags, |w, t| {
        w.str(&t.key);
        w.str(&t.value);
    });
    if w.version >= STOP_AT_SINCE {
        w.u8(u8::from(plan.stop_at_knee));
    }
    if w.version < TARGET_ENV_SINCE {
        return;
    }
    w.list(&plan.target_envs, |w, t| {
        w.var_u32(t.host);
        w.str(&t.name);
        w.option(t.default.as_ref(), |w, d| w.str(d));
    });
}

fn dataset(w: &mut Writer, d: &Dataset) {
    w.str(&d.name);
    w.list(&d.columns, |w, c| w.str(c));
    w.list(&d.rows, |w, row| w.list(row, |w, c| w.konst(*c)));
}

fn var(w: &mut Writer, v: &Var) {
    w.str(&v.name);
    if w.version < ENCODE_SINCE {
        // An older layout has no encoded parts: they are left out (see `encode_as`).
        let older: Vec<VarPart> = v
            .parts
            .iter()
            .filter(|p| !matches!(p, VarPart::Encode { .. }))
            .cloned()
            .collect();
        return var_parts(w, &older);
    }
    var_parts(w, &v.parts);
}

fn var_parts(w: &mut Writer, parts: &[VarPart]) {
    w.list(parts, |w, part| match part {
        VarPart::Lit(c) => {
            w.u8(tag::PART_LIT);
            w.konst(*c);
        }
        VarPart::Var(i) => {
            w.u8(tag::PART_VAR);
            w.var_u32(*i);
        }
        VarPart::Gen(g) => {
            w.u8(tag::PART_GEN);
            generator(w, g);
        }
        VarPart::Encode { encoding, parts } => {
            w.u8(tag::PART_ENCODE);
            w.u8(encoding_tag(*encoding));
            var_parts(w, parts);
        }
    });
}

fn generator(w: &mut Writer, g: &Generator) {
    match g {
        Generator::Int { min, max } => {
            w.u8(tag::GEN_INT);
            w.var_i64(*min);
            w.var_i64(*max);
        }
        Generator::Float { min, max } => {
            w.u8(tag::GEN_FLOAT);
            w.f64(*min);
            w.f64(*max);
        }
        Generator::OneOf(items) => {
            w.u8(tag::GEN_ONE_OF);
            w.list(items, |w, c| w.konst(*c));
        }
        Generator::Weighted(items) => {
            w.u8(tag::GEN_WEIGHTED);
            w.list(items, |w, (c, share)| {
                w.konst(*c);
                w.var_u32(share.0);
            });
        }
        Generator::Uuid => w.u8(tag::GEN_UUID),
        Generator::Seq => w.u8(tag::GEN_SEQ),
        Generator::Csv { dataset, draw } => {
            w.u8(tag::GEN_CSV);
            w.var_u32(*dataset);
            if w.version >= DRAW_SINCE {
                w.u8(draw_tag(*draw));
            }
        }
        Generator::Zipf { min, max, s } => {
            w.u8(tag::GEN_ZIPF);
            w.var_i64(*min);
            w.var_i64(*max);
            w.f64(*s);
        }
        Generator::Str { len } => {
            w.u8(tag::GEN_STR);
            w.var_u32(*len);
        }
        Generator::Now => w.u8(tag::GEN_NOW),
        Generator::Env { name, default } => {
            w.u8(tag::GEN_ENV);
            w.var_u32(name.0);
            // 0: no default; otherwise the default's const id + 1.
            w.var_u32(default.map_or(0, |d| d.0 + 1));
        }
    }
}

fn template(w: &mut Writer, t: &Template) {
    w.list(&t.ops, |w, op| match *op {
        TemplateOp::Lit(c) => {
            w.u8(tag::OP_LIT);
            w.konst(c);
        }
        TemplateOp::Var(v) => {
            w.u8(tag::OP_VAR);
            w.var_u32(v);
        }
        TemplateOp::Field { var, column } => {
            w.u8(tag::OP_FIELD);
            w.var_u32(var);
            w.var_u32(column);
        }
        TemplateOp::Capture(r) => {
            w.u8(tag::OP_CAPTURE);
            w.var_u32(r);
        }
    });
}

fn header(w: &mut Writer, h: &HeaderTemplate) {
    template(w, &h.name);
    template(w, &h.value);
}

fn scenario(w: &mut Writer, s: &Scenario) {
    w.str(&s.name);
    w.var_u32(s.weight);
    w.bool(s.single_request);
    w.bool(s.cookies);
    w.var_u32(s.registers);
    w.list(&s.steps, |w, step| match step {
        Step::Request(r) => {
            w.u8(tag::STEP_REQUEST);
            request(w, r);
        }
        Step::Think(t) => {
            w.u8(tag::STEP_THINK);
            think(w, *t);
        }
    });
}

fn request(w: &mut Writer, r: &Request) {
    w.str(&r.name);
    w.u8(method_tag(r.method));
    template(w, &r.path);
    w.list(&r.headers, header);
    w.option(r.body.as_ref(), template);
    w.list(&r.expects, expect);
    w.list(&r.captures, capture);
    if w.version < HOSTS_SINCE {
        return;
    }
    // 0: the plan's target; otherwise the host's index + 1.
    w.var_u32(r.host.map_or(0, |h| h + 1));
    w.option(r.timeout_us.as_ref(), |w, us| w.var_u64(*us));
    w.list(&r.tags, |w, t| w.var_u32(*t));
}

fn expect(w: &mut Writer, e: &Expect) {
    match e {
        Expect::Status(ranges) => {
            w.u8(tag::EXPECT_STATUS);
            w.list(ranges, |w, (lo, hi)| {
                w.var_u64(u64::from(*lo));
                w.var_u64(u64::from(*hi));
            });
        }
        Expect::LatencyBelow { us } => {
            w.u8(tag::EXPECT_LATENCY_BELOW);
            w.var_u64(*us);
        }
        Expect::BodyContains(c) => {
            w.u8(tag::EXPECT_BODY_CONTAINS);
            w.konst(*c);
        }
        Expect::JsonEq { path, value } => {
            w.u8(tag::EXPECT_JSON_EQ);
            w.konst(*path);
            w.konst(*value);
        }
        Expect::BodyMatches(c) => {
            w.u8(tag::EXPECT_BODY_MATCHES);
            w.konst(*c);
        }
        Expect::JsonNe { path, value } => {
            w.u8(tag::EXPECT_JSON_NE);
            w.konst(*path);
            w.konst(*value);
        }
        Expect::JsonExists(path) => {
            w.u8(tag::EXPECT_JSON_EXISTS);
            w.konst(*path);
        }
        Expect::HeaderContains { name, needle } => {
            w.u8(tag::EXPECT_HEADER_CONTAINS);
            w.konst(*name);
            w.konst(*needle);
        }
    }
}

fn capture(w: &mut Writer, c: &Capture) {
    w.var_u32(c.register);
    match c.source {
        CaptureSource::Json(p) => {
            w.u8(tag::SOURCE_JSON);
            w.konst(p);
        }
        CaptureSource::Header(h) => {
            w.u8(tag::SOURCE_HEADER);
            w.konst(h);
        }
        CaptureSource::Regex(r) => {
            w.u8(tag::SOURCE_REGEX);
            w.konst(r);
        }
        CaptureSource::Status => w.u8(tag::SOURCE_STATUS),
    }
    w.option(c.default.as_ref(), |w, d| w.konst(*d));
}

fn phase(w: &mut Writer, p: &Phase) {
    w.str(&p.name);
    load(w, &p.load);
    w.u8(arrivals_tag(p.arrivals));
    w.option(p.max_inflight.as_ref(), |w, m| w.var_u32(*m));
    w.option(p.overflow.as_ref(), |w, o| w.u8(overflow_tag(*o)));
    w.list(&p.injections, injection);
    w.option(p.mix.as_ref(), |w, mix| {
        w.list(mix, |w, (scenario, weight)| {
            w.var_u32(*scenario);
            w.var_u32(*weight);
        })
    });
}

fn load(w: &mut Writer, l: &Load) {
    match *l {
        Load::Rate {
            per_sec,
            duration_us,
        } => {
            w.u8(tag::LOAD_RATE);
            w.f64(per_sec);
            w.var_u64(duration_us);
        }
        Load::Ramp {
            from,
            to,
            duration_us,
        } => {
            w.u8(tag::LOAD_RAMP);
            w.f64(from);
            w.f64(to);
            w.var_u64(duration_us);
        }
        Load::Steps {
            from,
            to,
            by,
            every_us,
        } => {
            w.u8(tag::LOAD_STEPS);
            w.f64(from);
            w.f64(to);
            w.f64(by);
            w.var_u64(every_us);
        }
        Load::Pause { duration_us } => {
            w.u8(tag::LOAD_PAUSE);
            w.var_u64(duration_us);
        }
        Load::Users {
            users,
            duration_us,
            think: t,
        } => {
            w.u8(tag::LOAD_USERS);
            w.var_u32(users);
            w.var_u64(duration_us);
            think(w, t);
        }
    }
}

fn think(w: &mut Writer, t: Think) {
    match t {
        Think::Uniform { min_us, max_us } => {
            w.u8(tag::THINK_UNIFORM);
            w.var_u64(min_us);
            w.var_u64(max_us);
        }
        Think::Exponential { mean_us } => {
            w.u8(tag::THINK_EXPONENTIAL);
            w.var_u64(mean_us);
        }
    }
}

fn injection(w: &mut Writer, i: &Injection) {
    match i.fault {
        Fault::Abort => w.u8(tag::FAULT_ABORT),
        Fault::Delay { us } => {
            w.u8(tag::FAULT_DELAY);
            w.var_u64(us);
        }
        Fault::Reset => w.u8(tag::FAULT_RESET),
        Fault::Corrupt => w.u8(tag::FAULT_CORRUPT),
        Fault::Header { name, value } => {
            w.u8(tag::FAULT_HEADER);
            w.konst(name);
            w.konst(value);
        }
    }
    w.var_u32(i.share.0);
}

fn threshold(w: &mut Writer, t: &Threshold) {
    w.str(&t.expr);
    match t.scope {
        Scope::All => w.u8(tag::SCOPE_ALL),
        Scope::Phase(p) => {
            w.u8(tag::SCOPE_PHASE);
            w.var_u32(p);
        }
        Scope::Scenario(s) => {
            w.u8(tag::SCOPE_SCENARIO);
            w.var_u32(s);
        }
        Scope::Step { scenario, step } => {
            w.u8(tag::SCOPE_STEP);
            w.var_u32(scenario);
            w.var_u32(step);
        }
        Scope::Tag(i) => {
            w.u8(tag::SCOPE_TAG);
            w.var_u32(i);
        }
    }
    match t.metric {
        Metric::Percentile(p) => {
            w.u8(tag::METRIC_PERCENTILE);
            w.f64(p);
        }
        Metric::Max => w.u8(tag::METRIC_MAX),
        Metric::Mean => w.u8(tag::METRIC_MEAN),
        Metric::ErrorRate => w.u8(tag::METRIC_ERROR_RATE),
        Metric::AchievedRate => w.u8(tag::METRIC_ACHIEVED_RATE),
        Metric::DroppedRate => w.u8(tag::METRIC_DROPPED_RATE),
        Metric::IterationPercentile(p) => {
            w.u8(tag::METRIC_ITERATION_PERCENTILE);
            w.f64(p);
        }
        Metric::CompletionRate => w.u8(tag::METRIC_COMPLETION_RATE),
    }
    w.u8(cmp_tag(t.cmp));
    w.f64(t.value);
    w.bool(t.abort);
}
