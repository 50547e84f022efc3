//! How long the compiler takes on a large plan (the goal: `ptl check` and `ptl compile` of a
//! 5,000-request plan well under 100 ms), stage by stage, and whether it scales linearly
//! (the same stages on 50,000 requests).
//!
//! `cargo bench -p ptl-compiler --bench compile` prints, per plan size, the median and min wall
//! time of N runs in ms for each stage and their median CPU time (the thread's), the source
//! and bytecode sizes, then each stage's time per request on the larger sizes relative to the
//! first (1.00 = linear). Besides the compiler's own stages it times handlebars' parser run
//! on each of the plan's template strings whole (what `check` did before it read only the
//! distinct expressions: the reference for that change) and a naive `{{…}}` split of the same
//! strings as a floor. Plain `Instant` timing, no harness: the figures are meant to be read and
//! pasted into docs/performance.md, not tracked statistically.
//!
//! Environment:
//! - `PTL_BENCH_SIZES=5000,50000` the plan sizes, in requests;
//! - `PTL_BENCH_RUNS=15` runs per stage for the first size (larger sizes get proportionally
//!   fewer, at least 5);
//! - `PTL_BENCH_EMIT=DIR` write `DIR/plan-SIZE.ptl` for each size and exit without timing
//!   (`benches/compile.sh` times the `ptl` binary on those files).

#[path = "compile/cpu_time.rs"]
mod cpu_time;
#[path = "compile/generate.rs"]
mod generate;
#[path = "compile/templates.rs"]
mod templates;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ptl_compiler::{check, fmt, lower, parse, source, CheckOptions};

const DEFAULT_SIZES: [usize; 2] = [5_000, 50_000];
const DEFAULT_RUNS: usize = 15;

/// Median and min wall time of one stage's runs, and the median of their CPU time.
struct Timing {
    stage: &'static str,
    median: Duration,
    min: Duration,
    cpu_median: Option<Duration>,
}

impl Timing {
    /// The figure to compare sizes by: CPU time when known (steadier on a shared machine).
    fn steady(&self) -> Duration {
        self.cpu_median.unwrap_or(self.median)
    }
}

/// Everything measured on one plan size.
struct SizeReport {
    requests: usize,
    source_bytes: usize,
    bytecode_bytes: usize,
    /// Strings parsed as templates by the checker.
    templates: usize,
    runs: usize,
    timings: Vec<Timing>,
}

fn main() -> ExitCode {
    let sizes = env_list("PTL_BENCH_SIZES").unwrap_or_else(|| DEFAULT_SIZES.to_vec());
    if let Some(dir) = std::env::var_os("PTL_BENCH_EMIT") {
        return emit(Path::new(&dir), &sizes);
    }
    let runs = env_list("PTL_BENCH_RUNS")
        .and_then(|v| v.first().copied())
        .unwrap_or(DEFAULT_RUNS)
        .max(1);
    let base = sizes.first().copied().unwrap_or(1);
    let mut reports = Vec::new();
    for &requests in &sizes {
        // Keep the wall time of large sizes in check: runs shrink as the plan grows.
        let scaled = (runs * base / requests.max(1)).max(5.min(runs));
        match measure(requests, scaled) {
            Ok(report) => {
                print_report(&report);
                reports.push(report);
            }
            Err(message) => {
                eprintln!("bench failed on {requests} requests: {message}");
                return ExitCode::FAILURE;
            }
        }
    }
    print_scaling(&reports);
    ExitCode::SUCCESS
}

/// Writes the generated plans for `benches/compile.sh`.
fn emit(dir: &Path, sizes: &[usize]) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for &requests in sizes {
        let path = dir.join(format!("plan-{requests}.ptl"));
        if let Err(e) = std::fs::write(&path, generate::plan(requests)) {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}

fn measure(requests: usize, runs: usize) -> Result<SizeReport, String> {
    let src = generate::plan(requests);
    let path = PathBuf::from(format!("bench-{requests}.ptl"));
    let opts = CheckOptions::default();

    // One untimed pass proves the plan is clean and provides each stage's input.
    let checked = ptl_compiler::check_source(&path, &src, &opts);
    if checked.has_errors() {
        return Err(format!(
            "the generated plan has errors:\n{}",
            checked.render_text()
        ));
    }
    // A clean plan is what the goal is about; warnings would also time their rendering in
    // `ptl check`.
    if checked.warnings().count() > 0 {
        return Err(format!(
            "the generated plan has warnings:\n{}",
            checked.render_text()
        ));
    }
    let plan = checked.plan.ok_or("no plan despite no errors")?;
    let bytes = ptl_bytecode::encode(&plan);
    let loaded = source::load(&path, &src, None);
    let (_, model) = check::check(&loaded, &opts.params);
    let model = model.ok_or("the checker built no model")?;
    let decoded = ptl_bytecode::decode(&bytes).map_err(|e| format!("decode: {e}"))?;
    if decoded != plan {
        return Err("decode(encode(plan)) differs from plan".into());
    }
    fmt::format_source(&src).map_err(|e| format!("fmt: {e}"))?;
    let tree = parse::parse_file(&src).map_err(|e| format!("parse: {e}"))?;
    let template_strings = templates::collect(&tree);

    let timings = vec![
        time("parse", runs, || parse::parse_file(black_box(&src)).is_ok()),
        time("load (parse + imports)", runs, || {
            source::load(&path, black_box(&src), None).incomplete
        }),
        time("check rules (no parse)", runs, || {
            check::check(black_box(&loaded), &opts.params).1.is_some()
        }),
        time("handlebars on every template whole", runs, || {
            template_strings
                .iter()
                .filter(|lit| handlebars::template::Template::compile(&lit.value).is_ok())
                .count()
        }),
        time("naive {{…}} split of them (floor)", runs, || {
            template_strings
                .iter()
                .map(|lit| templates::naive_split(black_box(&lit.value)))
                .sum::<usize>()
        }),
        time("lower", runs, || {
            lower::lower(black_box(&model)).scenarios.len()
        }),
        time("encode", runs, || {
            ptl_bytecode::encode(black_box(&plan)).len()
        }),
        time("check_source (= ptl check)", runs, || {
            ptl_compiler::check_source(&path, black_box(&src), &opts).has_errors()
        }),
        time("check_source + encode (= ptl compile)", runs, || {
            let checked = ptl_compiler::check_source(&path, black_box(&src), &opts);
            checked.plan.map(|p| ptl_bytecode::encode(&p).len())
        }),
        time("decode", runs, || {
            ptl_bytecode::decode(black_box(&bytes))
                .map(|p| p.scenarios.len())
                .ok()
        }),
        time("fmt (parse + format)", runs, || {
            fmt::format_source(black_box(&src)).map(|s| s.len()).ok()
        }),
    ];
    Ok(SizeReport {
        requests,
        templates: template_strings.len(),
        source_bytes: src.len(),
        bytecode_bytes: bytes.len(),
        runs,
        timings,
    })
}

/// Runs `f` once to warm up, then `runs` times; the result goes through `black_box` so the
/// work cannot be optimised away.
fn time<T>(stage: &'static str, runs: usize, mut f: impl FnMut() -> T) -> Timing {
    black_box(f());
    let mut wall = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let cpu_start = cpu_time::thread();
        let start = Instant::now();
        black_box(f());
        wall.push(start.elapsed());
        if let (Some(a), Some(b)) = (cpu_start, cpu_time::thread()) {
            cpu.push(b.saturating_sub(a));
        }
    }
    Timing {
        stage,
        median: median(&mut wall).unwrap_or_default(),
        min: wall.first().copied().unwrap_or_default(),
        cpu_median: median(&mut cpu),
    }
}

/// Sorts `samples` and returns the middle one.
fn median(samples: &mut [Duration]) -> Option<Duration> {
    samples.sort();
    samples.get(samples.len() / 2).copied()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_report(r: &SizeReport) {
    println!(
        "\n{} requests ({} template strings): source {} bytes ({:.1} MiB), bytecode {} bytes ({:.1} MiB); {} runs",
        r.requests,
        r.templates,
        r.source_bytes,
        r.source_bytes as f64 / 1048576.0,
        r.bytecode_bytes,
        r.bytecode_bytes as f64 / 1048576.0,
        r.runs,
    );
    println!(
        "  {:<40} {:>10} {:>10} {:>10}",
        "stage", "median ms", "min ms", "cpu ms"
    );
    for t in &r.timings {
        let cpu = t
            .cpu_median
            .map_or("-".to_string(), |d| format!("{:.2}", ms(d)));
        println!(
            "  {:<40} {:>10.2} {:>10.2} {:>10}",
            t.stage,
            ms(t.median),
            ms(t.min),
            cpu
        );
    }
}

/// Each stage's time per request on every larger size against the first size, by min wall
/// time and by median CPU time (the two figures least disturbed by other load): 1.00 is
/// linear, a quadratic stage would show the size ratio (10 for 5k → 50k).
fn print_scaling(reports: &[SizeReport]) {
    let [base, rest @ ..] = reports else { return };
    if rest.is_empty() {
        return;
    }
    println!(
        "\nscaling: time per request relative to {} requests, by min wall / median cpu (1.00 = linear)",
        base.requests
    );
    for (i, t) in base.timings.iter().enumerate() {
        let ratio = |d: Duration, base_d: Duration, n: usize| {
            (ms(d) / n as f64) / (ms(base_d) / base.requests as f64)
        };
        let ratios: Vec<String> = rest
            .iter()
            .filter_map(|r| r.timings.get(i).map(|o| (r.requests, o)))
            .map(|(n, o)| {
                format!(
                    "{n}: {:.2} / {:.2}",
                    ratio(o.min, t.min, n),
                    ratio(o.steady(), t.steady(), n)
                )
            })
            .collect();
        println!("  {:<40} {}", t.stage, ratios.join("  "));
    }
}

/// A comma-separated list of numbers from the environment; `None` when unset or malformed.
fn env_list(key: &str) -> Option<Vec<usize>> {
    let raw = std::env::var(key).ok()?;
    let list: Option<Vec<usize>> = raw.split(',').map(|s| s.trim().parse().ok()).collect();
    list.filter(|l| !l.is_empty())
}
