//! Human-readable listing of a compiled plan for `ptl inspect`: every section, with indices as
//! they appear in the bytes (`#3` for constants, `$1` for vars, `s0` for scenarios…) and
//! templates shown the way they were written, e.g. `"/products/" {{product_id}}`.
//!
//! It works on any `Plan` value, valid or not: a dangling index prints as `#9?` instead of
//! panicking, so it can show a half-built plan from a test too.

use std::fmt::Write;

use crate::decode::decode_with_layout;
use crate::durations::duration_text;
use crate::error::DecodeError;
use crate::hash::hash;
use crate::plan::{
    CaptureSource, ConstId, Draw, Encoding, Expect, Fault, Generator, HeaderTemplate, Load, Metric,
    Phase, Plan, Ppm, Request, Scenario, Scope, Step, Template, TemplateOp, Think, Threshold,
    VarPart,
};

/// Literals longer than this are cut in templates and listings (the full text is in the bytes).
const MAX_LITERAL_CHARS: usize = 80;
/// Dataset rows shown per dataset; the rest are counted.
const SHOWN_ROWS: usize = 5;

/// Decodes `bytes` and lists them: a header line (format version, size, SHA-256), the section
/// layout, then [`disassemble`].
pub fn inspect(bytes: &[u8]) -> Result<String, DecodeError> {
    let (plan, layout) = decode_with_layout(bytes)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "ptl plan format v{}, {} bytes, sha256 {}",
        layout.version,
        bytes.len(),
        hash(bytes)
    );
    let _ = writeln!(
        out,
        "payload {} bytes, crc32 {:#010x}",
        layout.payload_len, layout.checksum
    );
    let sections: Vec<String> = layout
        .sections
        .iter()
        .map(|(s, offset, len)| format!("{} {len}B@{offset}", s.name()))
        .collect();
    let _ = writeln!(out, "sections: {}", sections.join(", "));
    if !layout.sources.is_empty() {
        let files: Vec<String> = layout
            .sources
            .iter()
            .map(|(path, bytes)| format!("{path} ({}B)", bytes.len()))
            .collect();
        let _ = writeln!(out, "sources: {}", files.join(", "));
    }
    out.push('\n');
    out.push_str(&disassemble(&plan));
    Ok(out)
}

/// Lists every section of a plan.
pub fn disassemble(plan: &Plan) -> String {
    let mut d = Disasm {
        plan,
        out: String::new(),
    };
    d.meta();
    d.consts();
    d.datasets();
    d.vars();
    d.headers();
    d.scenarios();
    d.phases();
    d.thresholds();
    d.out
}

struct Disasm<'p> {
    plan: &'p Plan,
    out: String,
}

impl Disasm<'_> {
    fn line(&mut self, indent: usize, text: impl AsRef<str>) {
        for _ in 0..indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text.as_ref());
        self.out.push('\n');
    }

    fn heading(&mut self, name: &str, count: usize) {
        self.line(0, format!("{name} ({count})"));
    }

    fn meta(&mut self) {
        let p = self.plan;
        self.line(0, format!("plan {}", quote_str(&p.name)));
        self.line(1, format!("target        {}", p.target));
        self.line(1, format!("timeout       {}", duration_text(p.timeout_us)));
        self.line(1, format!("connections   {}", p.connections));
        self.line(1, format!("seed          {}", p.seed));
        self.line(
            1,
            format!(
                "max_inflight  {} (overflow {})",
                p.max_inflight,
                overflow(p.overflow)
            ),
        );
        self.line(1, format!("http          {}", p.http.number()));
        if p.stop_at_knee {
            self.line(1, "stop_at       knee");
        }
        self.heading("params", p.params.len());
        for (name, value) in &p.params {
            self.line(1, format!("{name} = {value}"));
        }
        // Listed only when present, so a one-host plan lists as before format v5.
        if !p.hosts.is_empty() {
            self.heading("hosts", p.hosts.len());
            for (i, h) in p.hosts.iter().enumerate() {
                self.line(1, format!("h{i:<4} {} {}", h.name, h.url));
            }
        }
        if !p.target_envs.is_empty() {
            self.heading("target envs", p.target_envs.len());
            for t in &p.target_envs {
                let host = match t.host {
                    0 => "target".to_string(),
                    i => format!("h{}", i - 1),
                };
                let default = t
                    .default
                    .as_deref()
                    .map_or(String::new(), |d| format!(" (default {})", quote_str(d)));
                self.line(1, format!("{host} = env {}{default}", quote_str(&t.name)));
            }
        }
        if !p.tags.is_empty() {
            self.heading("tags", p.tags.len());
            for (i, t) in p.tags.iter().enumerate() {
                self.line(1, format!("g{i:<4} {} = {}", t.key, quote_str(&t.value)));
            }
        }
    }

    fn consts(&mut self) {
        self.heading("consts", self.plan.consts.len());
        for (i, c) in self.plan.consts.iter().enumerate() {
            self.line(1, format!("#{i:<4} {}", quote_bytes(c)));
        }
    }

    fn datasets(&mut self) {
        let plan = self.plan;
        self.heading("datasets", plan.datasets.len());
        for (i, d) in plan.datasets.iter().enumerate() {
            self.line(
                1,
                format!(
                    "d{i}  {}  columns ({}), {} rows",
                    quote_str(&d.name),
                    d.columns.join(", "),
                    d.rows.len()
                ),
            );
            for (r, row) in d.rows.iter().take(SHOWN_ROWS).enumerate() {
                let cells: Vec<String> = row.iter().map(|c| self.konst(*c)).collect();
                self.line(3, format!("row {r}: {}", cells.join(" ")));
            }
            if d.rows.len() > SHOWN_ROWS {
                self.line(3, format!("… {} more rows", d.rows.len() - SHOWN_ROWS));
            }
        }
    }

    fn vars(&mut self) {
        let plan = self.plan;
        self.heading("vars", plan.vars.len());
        for (i, v) in plan.vars.iter().enumerate() {
            let parts: Vec<String> = v
                .parts
                .iter()
                .map(|part| match part {
                    VarPart::Lit(c) => self.konst(*c),
                    VarPart::Var(j) => format!("{{{{{}}}}}", self.var_name(*j)),
                    VarPart::Gen(g) => self.generator(g),
                    VarPart::Encode { encoding, parts } => {
                        let inner: Vec<String> = parts
                            .iter()
                            .map(|p| match p {
                                VarPart::Lit(c) => self.konst(*c),
                                VarPart::Var(j) => format!("{{{{{}}}}}", self.var_name(*j)),
                                _ => "?".to_string(),
                            })
                            .collect();
                        let f = match encoding {
                            Encoding::Base64 => "base64",
                            Encoding::UrlEncode => "url_encode",
                        };
                        format!("{f}({})", inner.join(" "))
                    }
                })
                .collect();
            self.line(1, format!("${i:<3} {} = {}", v.name, parts.join(" ")));
        }
    }

    fn headers(&mut self) {
        self.heading("headers", self.plan.headers.len());
        for h in &self.plan.headers {
            let text = self.header(h);
            self.line(1, text);
        }
    }

    fn scenarios(&mut self) {
        let plan = self.plan;
        self.heading("scenarios", plan.scenarios.len());
        for (i, s) in plan.scenarios.iter().enumerate() {
            self.scenario(i, s);
        }
    }

    fn scenario(&mut self, index: usize, s: &Scenario) {
        let mut head = format!("s{index}  {}  weight {}", quote_str(&s.name), s.weight);
        if s.single_request {
            head.push_str("  single-request");
        }
        if s.cookies {
            head.push_str("  cookies");
        }
        let _ = write!(head, "  registers {}", s.registers);
        self.line(1, head);
        for (n, step) in s.steps.iter().enumerate() {
            match step {
                Step::Request(r) => self.request(n, r),
                Step::Think(t) => self.line(2, format!("{n}  think {}", think_text(*t))),
            }
        }
    }

    fn request(&mut self, n: usize, r: &Request) {
        let path = self.template(&r.path);
        self.line(
            2,
            format!(
                "{n}  request {}: {} {path}",
                quote_str(&r.name),
                r.method.as_str()
            ),
        );
        if let Some(h) = r.host {
            let text = format!("host h{h} ({})", self.plan.host_name(Some(h)));
            self.line(4, text);
        }
        if let Some(us) = r.timeout_us {
            self.line(4, format!("timeout {}", duration_text(us)));
        }
        for t in &r.tags {
            let text = match self.plan.tags.get(*t as usize) {
                Some(tag) => format!("tag g{t} ({} = {})", tag.key, quote_str(&tag.value)),
                None => format!("tag g{t}?"),
            };
            self.line(4, text);
        }
        for h in &r.headers {
            let text = format!("header {}", self.header(h));
            self.line(4, text);
        }
        if let Some(body) = &r.body {
            let text = format!("body {}", self.template(body));
            self.line(4, text);
        }
        for e in &r.expects {
            let text = format!("expect {}", self.expect(e));
            self.line(4, text);
        }
        for c in &r.captures {
            let source = match c.source {
                CaptureSource::Json(p) => format!("json {}", self.konst(p)),
                CaptureSource::Header(h) => format!("header {}", self.konst(h)),
                CaptureSource::Regex(re) => format!("regex {}", self.konst(re)),
                CaptureSource::Status => "status".to_string(),
            };
            let mut text = format!("capture r{} <- {source}", c.register);
            if let Some(d) = c.default {
                let _ = write!(text, " (default {})", self.konst(d));
            }
            self.line(4, text);
        }
    }

    fn expect(&self, e: &Expect) -> String {
        match e {
            Expect::Status(ranges) => {
                let ranges: Vec<String> = ranges
                    .iter()
                    .map(|(lo, hi)| {
                        if lo == hi {
                            lo.to_string()
                        } else {
                            format!("{lo}..={hi}")
                        }
                    })
                    .collect();
                format!("status {}", ranges.join(", "))
            }
            Expect::LatencyBelow { us } => format!("latency < {}", duration_text(*us)),
            Expect::BodyContains(c) => format!("body contains {}", self.konst(*c)),
            Expect::JsonEq { path, value } => {
                format!("json {} == {}", self.konst(*path), self.konst(*value))
            }
            Expect::BodyMatches(c) => format!("body matches {}", self.konst(*c)),
            Expect::JsonNe { path, value } => {
                format!("json {} != {}", self.konst(*path), self.konst(*value))
            }
            Expect::JsonExists(path) => format!("exists json {}", self.konst(*path)),
            Expect::HeaderContains { name, needle } => {
                format!(
                    "header {} contains {}",
                    self.konst(*name),
                    self.konst(*needle)
                )
            }
        }
    }

    fn phases(&mut self) {
        let plan = self.plan;
        self.heading("phases", plan.phases.len());
        for (i, p) in plan.phases.iter().enumerate() {
            self.phase(i, p);
        }
    }

    fn phase(&mut self, index: usize, p: &Phase) {
        let arrivals = match p.arrivals {
            crate::plan::Arrivals::Uniform => "uniform",
            crate::plan::Arrivals::Poisson => "poisson",
        };
        self.line(
            1,
            format!(
                "p{index}  {}  {}  ({arrivals} arrivals)",
                quote_str(&p.name),
                load(&p.load)
            ),
        );
        if let Some(m) = p.max_inflight {
            self.line(3, format!("max_inflight {m}"));
        }
        if let Some(o) = p.overflow {
            self.line(3, format!("overflow {}", overflow(o)));
        }
        for inj in &p.injections {
            let fault = match inj.fault {
                Fault::Abort => "abort".to_string(),
                Fault::Delay { us } => format!("delay {}", duration_text(us)),
                Fault::Reset => "reset".to_string(),
                Fault::Corrupt => "corrupt".to_string(),
                Fault::Header { name, value } => {
                    format!("header {}: {}", self.konst(name), self.konst(value))
                }
            };
            self.line(3, format!("inject {fault} {}", percent(inj.share)));
        }
        if let Some(mix) = &p.mix {
            let entries: Vec<String> = mix
                .iter()
                .map(|(s, w)| format!("{}={w}", self.scenario_name(*s)))
                .collect();
            self.line(3, format!("mix {}", entries.join(", ")));
        }
    }

    fn thresholds(&mut self) {
        let plan = self.plan;
        self.heading("thresholds", plan.thresholds.len());
        for (i, t) in plan.thresholds.iter().enumerate() {
            let text = format!("t{i}  {}  [{}]", t.expr, self.threshold(t));
            self.line(1, text);
        }
    }

    fn threshold(&self, t: &Threshold) -> String {
        let scope = match t.scope {
            Scope::All => "all".to_string(),
            Scope::Phase(p) => format!(
                "phase {}",
                self.plan
                    .phases
                    .get(p as usize)
                    .map_or_else(|| format!("p{p}?"), |ph| quote_str(&ph.name))
            ),
            Scope::Scenario(s) => format!("scenario {}", self.scenario_name(s)),
            Scope::Step { scenario, step } => {
                format!("scenario {} step {step}", self.scenario_name(scenario))
            }
            Scope::Tag(g) => match self.plan.tags.get(g as usize) {
                Some(tag) => format!("tag g{g} ({} = {})", tag.key, quote_str(&tag.value)),
                None => format!("tag g{g}?"),
            },
        };
        let (metric, is_time) = match t.metric {
            Metric::Percentile(p) => (format!("p{p}"), true),
            Metric::Max => ("max".to_string(), true),
            Metric::Mean => ("mean".to_string(), true),
            Metric::ErrorRate => ("error_rate".to_string(), false),
            Metric::AchievedRate => ("achieved_rate".to_string(), false),
            Metric::DroppedRate => ("dropped_rate".to_string(), false),
            Metric::IterationPercentile(p) => (format!("iteration p{p}"), true),
            Metric::CompletionRate => ("completion_rate".to_string(), false),
        };
        let value = if is_time {
            duration_f64(t.value)
        } else {
            fraction(t.value)
        };
        let abort = if t.abort { ", abort" } else { "" };
        format!("{scope}: {metric} {} {value}{abort}", t.cmp.as_str())
    }

    fn header(&self, h: &HeaderTemplate) -> String {
        format!("{}: {}", self.template(&h.name), self.template(&h.value))
    }

    fn template(&self, t: &Template) -> String {
        if t.ops.is_empty() {
            return "\"\"".to_string();
        }
        let ops: Vec<String> = t
            .ops
            .iter()
            .map(|op| match *op {
                TemplateOp::Lit(c) => self.konst(c),
                TemplateOp::Var(v) => format!("{{{{{}}}}}", self.var_name(v)),
                TemplateOp::Field { var, column } => {
                    format!(
                        "{{{{{}.{}}}}}",
                        self.var_name(var),
                        self.column(var, column)
                    )
                }
                TemplateOp::Capture(r) => format!("{{{{r{r}}}}}"),
            })
            .collect();
        ops.join(" ")
    }

    fn generator(&self, g: &Generator) -> String {
        match g {
            Generator::Int { min, max } => format!("int({min}, {max})"),
            Generator::Float { min, max } => format!("float({min}, {max})"),
            Generator::OneOf(items) => {
                let items: Vec<String> = items.iter().map(|c| self.konst(*c)).collect();
                format!("one_of({})", items.join(", "))
            }
            Generator::Weighted(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|(c, share)| format!("{} {}", self.konst(*c), percent(*share)))
                    .collect();
                format!("weighted({})", items.join(", "))
            }
            Generator::Uuid => "uuid()".to_string(),
            Generator::Seq => "seq()".to_string(),
            Generator::Csv { dataset, draw } => {
                let draw = match draw {
                    Draw::Sequential => "",
                    Draw::Random => " random",
                    Draw::Unique => " unique",
                };
                match self.plan.datasets.get(*dataset as usize) {
                    Some(d) => format!("csv(d{dataset} {}{draw})", quote_str(&d.name)),
                    None => format!("csv(d{dataset}?{draw})"),
                }
            }
            Generator::Zipf { min, max, s } => format!("zipf({min}, {max}, s={s})"),
            Generator::Str { len } => format!("str({len})"),
            Generator::Now => "now()".to_string(),
            Generator::Env { name, default } => match default {
                Some(d) => format!("env({}, {})", self.konst(*name), self.konst(*d)),
                None => format!("env({})", self.konst(*name)),
            },
        }
    }

    fn konst(&self, id: ConstId) -> String {
        match self.plan.consts.get(id.0 as usize) {
            Some(bytes) => quote_bytes(bytes),
            None => format!("#{}?", id.0),
        }
    }

    fn var_name(&self, v: u32) -> String {
        match self.plan.vars.get(v as usize) {
            Some(var) => var.name.clone(),
            None => format!("${v}?"),
        }
    }

    fn column(&self, var: u32, column: u32) -> String {
        self.plan
            .vars
            .get(var as usize)
            .and_then(|v| v.csv_dataset())
            .and_then(|d| self.plan.datasets.get(d as usize))
            .and_then(|d| d.columns.get(column as usize))
            .cloned()
            .unwrap_or_else(|| format!("{column}?"))
    }

    fn scenario_name(&self, s: u32) -> String {
        match self.plan.scenarios.get(s as usize) {
            Some(sc) => quote_str(&sc.name),
            None => format!("s{s}?"),
        }
    }
}

fn overflow(o: crate::plan::Overflow) -> &'static str {
    match o {
        crate::plan::Overflow::Drop => "drop",
        crate::plan::Overflow::Queue => "queue",
    }
}

fn load(l: &Load) -> String {
    match *l {
        Load::Rate {
            per_sec,
            duration_us,
        } => format!("rate {per_sec}/s for {}", duration_text(duration_us)),
        Load::Ramp {
            from,
            to,
            duration_us,
        } => format!(
            "ramp {from}/s -> {to}/s over {}",
            duration_text(duration_us)
        ),
        Load::Steps {
            from,
            to,
            by,
            every_us,
        } => format!(
            "steps {from}/s -> {to}/s by {by}/s every {} (total {})",
            duration_text(every_us),
            duration_text(l.duration_us())
        ),
        Load::Pause { duration_us } => format!("pause {}", duration_text(duration_us)),
        Load::Users {
            users,
            duration_us,
            think,
        } => format!(
            "users {users} for {}, think {}",
            duration_text(duration_us),
            think_text(think)
        ),
    }
}

fn think_text(t: Think) -> String {
    match t {
        Think::Uniform { min_us, max_us } if min_us == max_us => duration_text(min_us),
        Think::Uniform { min_us, max_us } => {
            format!("{}..{}", duration_text(min_us), duration_text(max_us))
        }
        Think::Exponential { mean_us } => format!("exponential({})", duration_text(mean_us)),
    }
}

fn duration_f64(us: f64) -> String {
    if us >= 0.0 && us.fract() == 0.0 && us < u64::MAX as f64 {
        duration_text(us as u64)
    } else {
        format!("{us}us")
    }
}

fn percent(share: Ppm) -> String {
    format!("{}%", f64::from(share.0) / 10_000.0)
}

/// A fraction (0..=1) as a percentage, rounded to hide binary noise like `7.000000000000001`.
fn fraction(v: f64) -> String {
    format!("{}%", (v * 100.0 * 1e6).round() / 1e6)
}

fn quote_str(s: &str) -> String {
    quote_bytes(s.as_bytes())
}

/// Quoted and escaped like a Rust string literal; bytes that are not UTF-8 show as `\xNN`.
fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut shown = 0;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if shown == MAX_LITERAL_CHARS {
                let _ = write!(out, "\"… ({} bytes)", bytes.len());
                return out;
            }
            out.extend(c.escape_debug());
            shown += 1;
        }
        for b in chunk.invalid() {
            if shown == MAX_LITERAL_CHARS {
                let _ = write!(out, "\"… ({} bytes)", bytes.len());
                return out;
            }
            let _ = write!(out, "\\x{b:02x}");
            shown += 1;
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractional_microseconds_keep_their_unit() {
        assert_eq!(duration_f64(1_000_000.0), "1s");
        assert_eq!(duration_f64(2.5), "2.5us");
    }

    #[test]
    fn shares_print_as_percentages() {
        assert_eq!(percent(Ppm(15_000)), "1.5%");
        assert_eq!(percent(Ppm::ONE), "100%");
        assert_eq!(fraction(0.07), "7%");
    }

    #[test]
    fn literals_are_escaped_and_cut() {
        assert_eq!(quote_bytes(b"a\"b\n"), r#""a\"b\n""#);
        assert_eq!(quote_bytes(&[b'x', 0xff]), r#""x\xff""#);
        assert_eq!(quote_bytes("héllo".as_bytes()), "\"héllo\"");
        let long = "y".repeat(200);
        let q = quote_bytes(long.as_bytes());
        assert!(q.ends_with("\"… (200 bytes)"), "{q}");
        let shown = q.split('…').next().unwrap_or_default();
        assert_eq!(shown.matches('y').count(), MAX_LITERAL_CHARS);
    }
}
