//! Thresholds: the scope (`phase.`, `request.`, `scenario.`, `scenario.step.`), the metric
//! (percentiles like `p99`, `p999`, `p99.9`; rates), the unit of the bound, the comparison.

use ptl_bytecode::{Cmp, Metric, Scope, Threshold};

use crate::ast::{CmpOp, Ident, Item, TagScope, Threshold as AstThreshold};
use crate::check::names::ScenarioKind;
use crate::check::values::source_text;
use crate::check::{suggest, CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;

const METRICS: [&str; 13] = [
    "p50",
    "p75",
    "p90",
    "p95",
    "p99",
    "p999",
    "max",
    "mean",
    "error_rate",
    "achieved_rate",
    "dropped_rate",
    "iteration_p95",
    "completion_rate",
];

pub fn all(cx: &CheckContext<'_>, sink: &mut Sink) -> Vec<Option<Threshold>> {
    cx.items()
        .filter_map(|(file, stmt)| match &stmt.node {
            Item::Threshold(t) => Some(threshold(cx, sink, file, t)),
            _ => None,
        })
        .collect()
}

fn threshold(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    t: &AstThreshold,
) -> Option<Threshold> {
    let errors = sink.errors();
    let (metric_ident, scope_path) = t.path.split_last()?;
    let scope = match &t.tag {
        Some(tag) => tag_scope(cx, sink, file, tag, scope_path, &t.path),
        None => scope_of(cx, sink, file, scope_path, &t.path),
    };
    let metric = metric_of(sink, file, metric_ident);
    let cmp = match t.cmp {
        CmpOp::Lt => Some(Cmp::Lt),
        CmpOp::Le => Some(Cmp::Le),
        CmpOp::Gt => Some(Cmp::Gt),
        CmpOp::Ge => Some(Cmp::Ge),
        CmpOp::Eq => {
            sink.push(
                file,
                Diagnostic::ThresholdEquals {
                    span: t.cmp_span.into(),
                },
            );
            None
        }
    };
    if let (Some(scope), Some(metric)) = (scope, metric) {
        check_metric_scope(cx, sink, file, metric, scope, metric_ident);
    }
    let value = metric.and_then(|m| bound(cx, sink, file, m, t));
    if sink.errors() > errors {
        return None;
    }
    let shown = cx.params().resolve(&t.value);
    Some(Threshold {
        expr: format!(
            "{} {} {}",
            crate::fmt::threshold_path(t),
            t.cmp.as_str(),
            source_text(shown.kind)
        ),
        scope: scope?,
        metric: metric?,
        cmp: cmp?,
        value: value?,
        abort: t.abort,
    })
}

/// `tag(key = "value").METRIC`: every request carrying the tag, over the whole run.
fn tag_scope(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    tag: &TagScope,
    path: &[Ident],
    full: &[Ident],
) -> Option<Scope> {
    if !path.is_empty() {
        bad_path(
            sink,
            file,
            path,
            full,
            "a tag covers the whole run: write `tag(…).METRIC`".to_string(),
        );
        return None;
    }
    if let Some(i) = crate::check::tags::index(&cx.tags, &tag.key.name, &tag.value.value) {
        return Some(Scope::Tag(i));
    }
    let same_key: Vec<String> = cx
        .tags
        .iter()
        .filter(|t| t.key == tag.key.name)
        .map(|t| t.value.clone())
        .collect();
    let help = if same_key.is_empty() {
        let keys: Vec<&str> = cx.tags.iter().map(|t| t.key.as_str()).collect();
        suggest::did_you_mean(&tag.key.name, keys).or_else(|| {
            Some(format!(
                "tag requests with `tag {} = \"…\"`; the plan's tags: {}",
                tag.key.name,
                if cx.tags.is_empty() {
                    "none".to_string()
                } else {
                    cx.tags
                        .iter()
                        .map(|t| format!("{} = {:?}", t.key, t.value))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))
        })
    } else {
        suggest::did_you_mean(&tag.value.value, same_key.iter().map(String::as_str)).or_else(|| {
            Some(format!(
                "the values of `{}` are {}",
                tag.key.name,
                same_key
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    };
    sink.push(
        file,
        Diagnostic::UnknownTag {
            key: tag.key.name.clone(),
            value: tag.value.value.clone(),
            span: tag.span.into(),
            help,
        },
    );
    None
}

fn scope_of(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    path: &[Ident],
    full: &[Ident],
) -> Option<Scope> {
    let n = cx.names;
    let known = || {
        n.phases
            .iter()
            .map(|p| p.name.as_str())
            .chain(n.scenarios.iter().map(|s| s.name.as_str()))
    };
    let unknown = |sink: &mut Sink, id: &Ident| {
        sink.push(
            file,
            Diagnostic::UnknownScope {
                name: id.name.clone(),
                span: id.span.into(),
                help: suggest::did_you_mean(&id.name, known()),
            },
        );
    };
    match path {
        [] => Some(Scope::All),
        [first] => {
            if let Some(i) = n.phase(&first.name) {
                return Some(Scope::Phase(i as u32));
            }
            if let Some(i) = n.scenario(&first.name) {
                return Some(Scope::Scenario(i as u32));
            }
            unknown(sink, first);
            None
        }
        [first, step] => {
            let Some(si) = n.scenario(&first.name) else {
                if n.phase(&first.name).is_some() {
                    bad_path(
                        sink,
                        file,
                        path,
                        full,
                        format!("phase `{}` has no steps", first.name),
                    );
                } else {
                    unknown(sink, first);
                }
                return None;
            };
            let sc = &n.scenarios[si];
            if sc.is_single() {
                sink.push(
                    file,
                    Diagnostic::UnknownStep {
                        scenario: sc.name.clone(),
                        name: step.name.clone(),
                        span: step.span.into(),
                        help: Some(format!(
                            "`{}` is a request, not a scenario with steps; write `{}.METRIC`",
                            sc.name, sc.name
                        )),
                    },
                );
                return None;
            }
            match sc
                .steps
                .iter()
                .position(|s| s.name.as_deref() == Some(step.name.as_str()))
            {
                Some(i) => Some(Scope::Step {
                    scenario: si as u32,
                    step: i as u32,
                }),
                None => {
                    sink.push(
                        file,
                        Diagnostic::UnknownStep {
                            scenario: sc.name.clone(),
                            name: step.name.clone(),
                            span: step.span.into(),
                            help: suggest::did_you_mean_or_list(
                                &step.name,
                                sc.steps.iter().filter_map(|s| s.name.as_deref()),
                                "its steps are",
                            ),
                        },
                    );
                    None
                }
            }
        }
        [_, _, _, ..] => {
            bad_path(
                sink,
                file,
                path,
                full,
                "too many parts before the metric".to_string(),
            );
            None
        }
    }
}

/// Reports a path that has no valid shape; `scope` is the part before the metric.
fn bad_path(sink: &mut Sink, file: FileId, scope: &[Ident], full: &[Ident], reason: String) {
    let (Some(first), Some(last)) = (scope.first(), scope.last()) else {
        return;
    };
    let path: Vec<&str> = full.iter().map(|i| i.name.as_str()).collect();
    sink.push(
        file,
        Diagnostic::ThresholdPath {
            path: path.join("."),
            span: first.span.join(last.span).into(),
            reason,
        },
    );
}

fn metric_of(sink: &mut Sink, file: FileId, id: &Ident) -> Option<Metric> {
    let name = id.name.as_str();
    let fixed = match name {
        "max" => Some(Metric::Max),
        "mean" => Some(Metric::Mean),
        "error_rate" => Some(Metric::ErrorRate),
        "achieved_rate" => Some(Metric::AchievedRate),
        "dropped_rate" => Some(Metric::DroppedRate),
        "completion_rate" => Some(Metric::CompletionRate),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    let (digits, iteration) = match name.strip_prefix("iteration_p") {
        Some(d) => (Some(d), true),
        None => (name.strip_prefix('p'), false),
    };
    let p = digits.and_then(percentile);
    match p {
        Some(p) if p > 0.0 && p <= 100.0 => Some(if iteration {
            Metric::IterationPercentile(p)
        } else {
            Metric::Percentile(p)
        }),
        Some(p) => {
            sink.push(
                file,
                Diagnostic::PercentileOutOfRange {
                    value: crate::check::values::trim_float(p),
                    span: id.span.into(),
                },
            );
            None
        }
        None => {
            let percentile_like = digits.is_some_and(|d| {
                !d.is_empty() && d.chars().all(|c| c.is_ascii_digit() || c == '.')
            });
            let help = match digits {
                Some(d) if percentile_like => Some(percentile_name_help(d)),
                _ => suggest::did_you_mean_or_list(name, METRICS, "metrics include"),
            };
            sink.push(
                file,
                Diagnostic::UnknownMetric {
                    name: name.to_string(),
                    span: id.span.into(),
                    help,
                },
            );
            None
        }
    }
}

/// The percentile a metric name's digits stand for: `99` → 99, `999` → 99.9, `9999` → 99.99,
/// `100` → 100, `99.9` → 99.9. Digits past the first two are a decimal tail only when it begins
/// with 9 (`p999`, `p9995`): `p101` is no percentile (it is not 10.1), so a typo never becomes a
/// threshold on another percentile than the one meant.
pub fn percentile(digits: &str) -> Option<f64> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if digits.contains('.') {
        let (whole, tail) = digits.split_once('.')?;
        if whole.is_empty() || tail.is_empty() || tail.contains('.') {
            return None;
        }
        return digits.parse().ok();
    }
    if digits.len() <= 2 || digits.starts_with("100") {
        return digits.parse().ok();
    }
    let tail = &digits[2..];
    if !tail.starts_with('9') {
        return None;
    }
    format!("{}.{}", &digits[..2], tail).parse().ok()
}

/// The help for a `p`-and-digits name that is no percentile.
fn percentile_name_help(digits: &str) -> String {
    let dotted = if digits.len() > 2 && !digits.contains('.') {
        format!(
            " (for {}.{} write p{}.{})",
            &digits[..2],
            &digits[2..],
            &digits[..2],
            &digits[2..]
        )
    } else {
        String::new()
    };
    format!(
        "a percentile is p followed by its value: p50, p99, p100; decimals with a dot, p99.5{dotted}; \
         the short forms p999 (= 99.9) and p9999 (= 99.99) are the only ones without a dot"
    )
}

fn check_metric_scope(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    metric: Metric,
    scope: Scope,
    id: &Ident,
) {
    let n = cx.names;
    let scenario_only = matches!(
        metric,
        Metric::IterationPercentile(_) | Metric::CompletionRate
    );
    let arrival_metric = matches!(metric, Metric::AchievedRate | Metric::DroppedRate);
    let (ok, scope_text, help) = match scope {
        Scope::Scenario(i) => {
            let sc = &n.scenarios[i as usize];
            match sc.kind {
                ScenarioKind::Multi(_) => (true, String::new(), None),
                ScenarioKind::Single(_) => (
                    !scenario_only,
                    format!("request `{}`", sc.name),
                    Some(
                        "iteration metrics belong to scenarios: a request is a single step"
                            .to_string(),
                    ),
                ),
            }
        }
        Scope::Step { scenario, step } => {
            let sc = &n.scenarios[scenario as usize];
            let name = sc.steps[step as usize].name.clone().unwrap_or_default();
            (
                !scenario_only && !arrival_metric,
                format!("step `{}.{}`", sc.name, name),
                Some(if scenario_only {
                    format!("write `{}.{}` for the whole scenario", sc.name, id.name)
                } else {
                    format!(
                        "steps are not scheduled, their scenario is: write `{}.{}`",
                        sc.name, id.name
                    )
                }),
            )
        }
        Scope::Phase(i) => (
            !scenario_only,
            format!("phase `{}`", n.phases[i as usize].name),
            Some("iteration metrics belong to a scenario: write `SCENARIO.METRIC`".to_string()),
        ),
        Scope::Tag(g) => (
            !scenario_only && !arrival_metric,
            match cx.tags.get(g as usize) {
                Some(t) => format!("tag {} = {:?}", t.key, t.value),
                None => "a tag".to_string(),
            },
            Some(
                "a tag groups requests: its metrics are response times (pNN, max, mean) and error_rate"
                    .to_string(),
            ),
        ),
        Scope::All => (
            !scenario_only,
            "the whole plan".to_string(),
            Some("iteration metrics belong to a scenario: write `SCENARIO.METRIC`".to_string()),
        ),
    };
    if !ok {
        sink.push(
            file,
            Diagnostic::MetricScope {
                metric: id.name.clone(),
                scope: scope_text,
                span: id.span.into(),
                help,
            },
        );
    }
}

/// The bound in the metric's unit: µs for times, a fraction for rates.
fn bound(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    metric: Metric,
    t: &AstThreshold,
) -> Option<f64> {
    let p = cx.params();
    match metric {
        Metric::Percentile(_) | Metric::Max | Metric::Mean | Metric::IterationPercentile(_) => sink
            .take(
                file,
                p.duration_us(&t.value, "a response time is compared with a duration"),
            )
            .map(|us| us as f64),
        _ => {
            let percent = sink.take(
                file,
                p.percent(&t.value, "a rate is compared with a percentage"),
            )?;
            let max = if metric == Metric::AchievedRate {
                1000.0
            } else {
                100.0
            };
            if !(0.0..=max).contains(&percent) {
                let allowed = format!("from 0% to {max}%");
                sink.push(
                    file,
                    crate::check::values::out_of_range(
                        "rate",
                        format!("{percent}%"),
                        t.value.span,
                        &allowed,
                    ),
                );
                return None;
            }
            Some(percent / 100.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_names() {
        assert_eq!(percentile("50"), Some(50.0));
        assert_eq!(percentile("999"), Some(99.9));
        assert_eq!(percentile("9999"), Some(99.99));
        assert_eq!(percentile("100"), Some(100.0));
        assert_eq!(percentile("99.9"), Some(99.9));
        assert_eq!(percentile("100.5"), Some(100.5));
        assert_eq!(percentile("0"), Some(0.0));
        assert_eq!(percentile("9995"), Some(99.95));
        assert_eq!(percentile("1000"), Some(1000.0)); // out of range, said so by E0018
                                                      // Past the first two digits, only a tail beginning with 9 is a decimal tail.
        assert_eq!(percentile("101"), None);
        assert_eq!(percentile("501"), None);
        assert_eq!(percentile("990"), None);
        assert_eq!(percentile("99."), None);
        assert_eq!(percentile(".5"), None);
        assert_eq!(percentile("9.9.9"), None);
        assert_eq!(percentile("x"), None);
        assert_eq!(percentile(""), None);
    }
}
