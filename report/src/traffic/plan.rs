//! `ptl plan-from-log`: a plan whose traffic is the log's — one request per endpoint pattern
//! weighted by its count, each ID segment drawn by a generator of the language (`int(min,
//! max)` over the numbers seen, `uuid()` for UUIDs and hex IDs), the rate curve as phases (one
//! per time bucket, at most 60, each at the log's rate in it × the scale), and the arrivals'
//! shape (`poisson` or `uniform`) from the log's gaps. What the language cannot express is
//! said in the plan's comments: per-client think times (open phases have none), queries and
//! bodies (left out), the rare endpoints beyond the first 50.

use super::formats::{Seen, Traffic};
use super::patterns::{endpoint, id_kind, path_only, IdKind};
use crate::ReportError;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Endpoints beyond this many (the rarest) are left out, and their share is said.
pub const MAX_ENDPOINTS: usize = 50;
/// The rate curve has at most this many phases.
pub const MAX_PHASES: usize = 60;
/// Gaps between one client's requests longer than this start a new visit (not think time).
const VISIT_GAP_US: i64 = 30 * 60 * 1_000_000;

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// How `ptl plan-from-log` was asked to write the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// The plan's name.
    pub name: String,
    /// Multiplies every phase's rate.
    pub rate_scale: f64,
    /// The `target` param's default.
    pub target: String,
    /// Said in the header comment: the command line that wrote it.
    pub source: String,
}

/// `2x`, `2`, `0.5x` or `150%` → the factor.
pub fn parse_scale(s: &str) -> Result<f64, ReportError> {
    let t = s.trim();
    let v = if let Some(p) = t.strip_suffix('%') {
        p.trim().parse::<f64>().map(|p| p / 100.0)
    } else {
        t.strip_suffix(['x', 'X'])
            .unwrap_or(t)
            .trim()
            .parse::<f64>()
    };
    match v {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(ReportError::Traffic(format!(
            "invalid rate scale `{s}`: expected a factor above 0 such as 2x, 0.5x or 150%"
        ))),
    }
}

/// One ID position of an endpoint.
#[derive(Debug, Clone, Default)]
struct Slot {
    numbers: Option<(u64, u64)>,
    uuids: u64,
    hex: u64,
    numeric: u64,
}

impl Slot {
    fn see(&mut self, k: IdKind) {
        match k {
            IdKind::Number(n) => {
                self.numeric += 1;
                let (lo, hi) = self.numbers.unwrap_or((n, n));
                self.numbers = Some((lo.min(n), hi.max(n)));
            }
            IdKind::Uuid => self.uuids += 1,
            IdKind::Hex(_) => self.hex += 1,
        }
    }

    fn generator(&self) -> String {
        match self.numbers {
            Some((lo, hi)) if self.numeric >= self.uuids + self.hex => format!("int({lo}, {hi})"),
            _ => "uuid()".into(),
        }
    }
}

#[derive(Debug, Default)]
struct Endpoint {
    method: String,
    /// The path's segments; `None` where an ID goes.
    segments: Vec<Option<String>>,
    slots: BTreeMap<usize, Slot>,
    count: u64,
}

fn endpoints(t: &Traffic) -> (Vec<Endpoint>, u64) {
    let mut by: HashMap<String, Endpoint> = HashMap::new();
    let mut unsupported = 0u64;
    for r in &t.requests {
        if !METHODS.contains(&r.method.as_str()) || !r.path.starts_with('/') {
            unsupported += 1;
            continue;
        }
        let e = by.entry(endpoint(&r.method, &r.path)).or_default();
        e.count += 1;
        if e.count == 1 {
            e.method = r.method.clone();
            e.segments = path_only(&r.path)
                .split('/')
                .map(|s| id_kind(s).is_none().then(|| s.to_string()))
                .collect();
        }
        for (i, s) in path_only(&r.path).split('/').enumerate() {
            if let Some(k) = id_kind(s) {
                e.slots.entry(i).or_default().see(k);
            }
        }
    }
    let mut v: Vec<Endpoint> = by.into_values().collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.segments.cmp(&b.segments)));
    (v, unsupported)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A name of the language for an endpoint: `get_products_id`.
fn ident(e: &Endpoint, taken: &mut Vec<String>) -> String {
    let mut name = e.method.to_ascii_lowercase();
    for s in &e.segments {
        let word = match s {
            Some(s) => s
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect::<String>(),
            None => "id".into(),
        };
        let word = word.trim_matches('_');
        if !word.is_empty() {
            name.push('_');
            name.push_str(word);
        }
    }
    name.truncate(48);
    let base = name.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// A path segment inside a plan string: quotes, backslashes and braces escaped.
fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' | '{' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `36000/h` → the shortest exact unit.
fn rate(per_hour: u64) -> String {
    if per_hour.is_multiple_of(3600) {
        format!("{}/s", per_hour / 3600)
    } else if per_hour.is_multiple_of(60) {
        format!("{}/m", per_hour / 60)
    } else {
        format!("{per_hour}/h")
    }
}

fn duration(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// The bucket of the rate curve: the smallest of a few round widths that keeps the phases
/// at most [`MAX_PHASES`], never below the log's time resolution.
fn bucket_ms(span_ms: i64, resolution_us: i64) -> i64 {
    const WIDTHS_S: [i64; 14] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
    ];
    let floor = (resolution_us / 1000).max(1000);
    WIDTHS_S
        .iter()
        .map(|s| s * 1000)
        .find(|&w| w >= floor && (span_ms + w - 1) / w <= MAX_PHASES as i64)
        .unwrap_or_else(|| (span_ms + MAX_PHASES as i64 - 1) / MAX_PHASES as i64)
}

fn mean_cv(v: &[f64]) -> Option<(f64, f64)> {
    if v.len() < 2 {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean > 0.0).then(|| (mean, var.sqrt() / mean))
}

/// The arrivals setting and why: the gaps' coefficient of variation (1 for a Poisson
/// process, 0 for evenly spaced arrivals), or at a 1 s resolution the per-second counts'
/// variance over their mean (1 for Poisson, 0 for even).
fn arrivals(t: &Traffic) -> (&'static str, String) {
    if t.resolution_us < 1_000_000 {
        let gaps: Vec<f64> = t
            .requests
            .windows(2)
            .map(|w| (w[1].at_us - w[0].at_us) as f64)
            .collect();
        if let Some((_, cv)) = mean_cv(&gaps) {
            let pick = if cv >= 0.5 { "poisson" } else { "uniform" };
            return (
                pick,
                format!("the log's gaps have a coefficient of variation of {cv:.2}"),
            );
        }
    } else {
        let mut per: BTreeMap<i64, f64> = BTreeMap::new();
        for r in &t.requests {
            *per.entry(r.at_us.div_euclid(1_000_000)).or_default() += 1.0;
        }
        let counts: Vec<f64> = per.values().copied().collect();
        if let Some((mean, cv)) = mean_cv(&counts) {
            let dispersion = cv * cv * mean;
            let pick = if dispersion >= 0.5 {
                "poisson"
            } else {
                "uniform"
            };
            return (
                pick,
                format!("the log's per-second counts have a variance {dispersion:.2}× their mean"),
            );
        }
    }
    (
        "poisson",
        "too few requests to tell; Poisson is the usual model".into(),
    )
}

/// Think time: gaps between one client's consecutive requests within a visit.
fn think(t: &Traffic) -> String {
    let mut last: HashMap<&str, i64> = HashMap::new();
    let mut gaps = Vec::new();
    for r in &t.requests {
        let Some(c) = r.client.as_deref() else {
            continue;
        };
        if let Some(prev) = last.insert(c, r.at_us) {
            let g = r.at_us - prev;
            if g > 0 && g < VISIT_GAP_US {
                gaps.push(g as f64 / 1e6);
            }
        }
    }
    match mean_cv(&gaps) {
        None => {
            "Think time: the log names no clients (or each sent one request), so none was measured"
                .into()
        }
        Some((mean, cv)) => {
            let ms = (mean * 1000.0).round() as i64;
            let shape = if cv >= 0.7 {
                format!("exponential-like: `think exponential({})`", duration(ms))
            } else {
                let spread = (mean * cv * 3f64.sqrt() * 1000.0).round() as i64;
                format!(
                    "about uniform: `think {}..{}`",
                    duration((ms - spread).max(0)),
                    duration(ms + spread)
                )
            };
            format!(
                "Think time between one client's requests: mean {mean:.2} s, coefficient of variation {cv:.2} over {} gaps, {shape}; an open phase has no think time, so it applies only if you turn the plan into scenarios",
                gaps.len()
            )
        }
    }
}

/// Writes the plan.
pub fn plan_from_log(t: &Traffic, o: &PlanOptions) -> Result<String, ReportError> {
    let (all, unsupported) = endpoints(t);
    if all.is_empty() {
        return Err(ReportError::Traffic(
            "the log has no request with a method and path a plan can send".into(),
        ));
    }
    let total: u64 = all.iter().map(|e| e.count).sum::<u64>() + unsupported;
    let kept = &all[..all.len().min(MAX_ENDPOINTS)];
    let left_out: u64 = all[kept.len()..].iter().map(|e| e.count).sum::<u64>() + unsupported;
    let divisor = kept.iter().fold(0, |g, e| gcd(g, e.count)).max(1);

    let first = t.requests.first().map_or(0, |r: &Seen| r.at_us);
    let span_ms = ((t.duration_s() * 1000.0).round() as i64).max(1);
    let bucket = bucket_ms(span_ms, t.resolution_us);
    let phases = ((span_ms + bucket - 1) / bucket) as usize;
    let mut counts = vec![0u64; phases];
    for r in &t.requests {
        let i = (((r.at_us - first) / 1000) / bucket) as usize;
        counts[i.min(phases - 1)] += 1;
    }
    let (arrivals, why) = arrivals(t);

    let mut p = String::new();
    let _ = writeln!(p, "// Written by `{}`", o.source);
    let _ = writeln!(
        p,
        "// from a {} log of {} requests over {:.1} s.",
        t.format.as_str(),
        t.requests.len(),
        t.duration_s()
    );
    let _ = writeln!(
        p,
        "// Rate curve: {phases} phase(s) of {}, each at the log's rate in that window × {}.",
        duration(bucket),
        o.rate_scale
    );
    let _ = writeln!(p, "// Arrivals: {arrivals} ({why}).");
    let _ = writeln!(p, "// {}.", think(t));
    let _ = writeln!(
        p,
        "// Paths are sent without their query strings and bodies; IDs are drawn by generators."
    );
    if left_out > 0 {
        let _ = writeln!(
            p,
            "// Left out: {left_out} requests ({:.2}%) of rarer endpoints or methods a plan cannot send.",
            left_out as f64 * 100.0 / total as f64
        );
    }
    let _ = writeln!(p, "plan \"{}\" {{", escaped(&o.name));
    let _ = writeln!(p, "  param target = \"{}\"", escaped(&o.target));
    let _ = writeln!(p, "  target target");
    let _ = writeln!(p, "  seed 1");
    // The phases are slices of one rate curve: a request still in flight when its slice ends
    // belongs to the curve all the same.
    let _ = writeln!(p, "  allow W0001");
    let mut taken = Vec::new();
    let names: Vec<String> = kept.iter().map(|e| ident(e, &mut taken)).collect();
    let mut lets = String::new();
    let mut requests = String::new();
    for (e, name) in kept.iter().zip(&names) {
        let mut path = String::new();
        for (i, s) in e.segments.iter().enumerate() {
            if i > 0 {
                path.push('/');
            }
            match s {
                Some(s) => path.push_str(&escaped(s)),
                None => {
                    let var = format!("{name}_{i}");
                    let generator = e.slots.get(&i).map_or("uuid()".into(), Slot::generator);
                    let _ = writeln!(lets, "  let {var} = {generator}");
                    let _ = write!(path, "{{{{{var}}}}}");
                }
            }
        }
        let _ = writeln!(
            requests,
            "\n  request {name} weight {} {{\n    {} \"{path}\"\n  }}",
            e.count / divisor,
            e.method
        );
    }
    if !lets.is_empty() {
        let _ = writeln!(p);
        p.push_str(&lets);
    }
    p.push_str(&requests);
    let _ = writeln!(p);
    for (i, &c) in counts.iter().enumerate() {
        let start = i as i64 * bucket;
        let len = (span_ms - start).min(bucket);
        let per_hour = (c as f64 * o.rate_scale * 3_600_000.0 / len as f64).round() as u64;
        let name = format!("at_{}", duration(start).replace("ms", "_ms"));
        if per_hour == 0 {
            let _ = writeln!(p, "  phase {name} {{ pause {} }}", duration(len));
        } else {
            let _ = writeln!(
                p,
                "  phase {name} {{ rate {} for {}  arrivals {arrivals} }}",
                rate(per_hour),
                duration(len)
            );
        }
    }
    let _ = writeln!(p, "}}");
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(client: &str, second: u32, request: &str) -> String {
        format!("{client} - - [01/Mar/2024:10:00:{second:02} +0000] \"{request} HTTP/1.1\" 200 5 \"-\" \"t\"\n")
    }

    #[test]
    fn a_plan_takes_the_logs_mix_ids_rate_curve_and_think_time() {
        let uuid = "123e4567-e89b-12d3-a456-426614174000";
        let mut log = String::new();
        for (s, id) in [(0, 12), (2, 40), (4, 7), (6, 33)] {
            log += &line("10.0.0.1", s, &format!("GET /users/{id}"));
        }
        log += &line("10.0.0.2", 1, &format!("GET /o/{uuid}"));
        log += &line("10.0.0.2", 3, &format!("GET /o/{uuid}"));
        log += &line("10.0.0.3", 5, "POST /search?q=1");
        let t = crate::traffic::formats::read(&log, None, "log").unwrap();
        let options = PlanOptions {
            name: "p".into(),
            rate_scale: 2.0,
            target: "http://127.0.0.1:9".into(),
            source: "test".into(),
        };
        let plan = plan_from_log(&t, &options).unwrap();
        for want in [
            "let get_users_id_2 = int(7, 40)",
            "let get_o_id_2 = uuid()",
            "request get_users_id weight 4 {\n    GET \"/users/{{get_users_id_2}}\"",
            "request get_o_id weight 2 {",
            "request post_search weight 1 {\n    POST \"/search\"",
            // 7 one-second buckets of one request each, × 2.
            "phase at_0s { rate 2/s for 1s",
            "phase at_6s { rate 2/s for 1s",
            "mean 2.00 s, coefficient of variation 0.00 over 4 gaps",
        ] {
            assert!(plan.contains(want), "{want:?} not in\n{plan}");
        }
        assert!(!plan.contains("at_7s"), "{plan}");
    }

    #[test]
    fn scales_parse() {
        assert_eq!(parse_scale("2x").unwrap(), 2.0);
        assert_eq!(parse_scale("0.5").unwrap(), 0.5);
        assert_eq!(parse_scale("150%").unwrap(), 1.5);
        for bad in ["0x", "-1", "x", "inf"] {
            assert!(parse_scale(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_take_the_shortest_exact_unit() {
        assert_eq!(rate(7200), "2/s");
        assert_eq!(rate(120), "2/m");
        assert_eq!(rate(7), "7/h");
    }

    #[test]
    fn buckets_keep_at_most_60_phases() {
        assert_eq!(bucket_ms(5_000, 1), 1000);
        assert_eq!(bucket_ms(600_000, 1), 10_000);
        assert_eq!(bucket_ms(86_400_000, 1_000_000), 1_800_000);
        assert!(86_400_000 / bucket_ms(86_400_000, 1) <= 60);
    }
}
