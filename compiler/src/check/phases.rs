//! Phases: exactly one load shape with sensible rates and durations, the phase's settings,
//! fault injections whose shares fit in 100%, and the mix.

use std::collections::HashMap;

use ptl_bytecode::{Arrivals, Load, Overflow, Think};

use crate::ast::{Fault, Load as AstLoad, PhaseStmt, Span, Value};
use crate::check::model::{FaultModel, InjectionModel, Origin, PhaseModel};
use crate::check::names::{duplicate, PhaseEntry};
use crate::check::templates;
use crate::check::values::{out_of_range, per_sec_text, ppm_of_percent, trim_float};
use crate::check::{suggest, think, CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;

const PHASE_SETTINGS: [&str; 3] = ["arrivals", "max_inflight", "overflow"];

pub fn all(cx: &CheckContext<'_>, sink: &mut Sink) -> Vec<Option<PhaseModel>> {
    cx.names.phases.iter().map(|p| phase(cx, sink, p)).collect()
}

fn phase(cx: &CheckContext<'_>, sink: &mut Sink, entry: &PhaseEntry<'_>) -> Option<PhaseModel> {
    let file = entry.file;
    let p = cx.params();
    let errors = sink.errors();
    let mut load: Option<(Option<Load>, Span)> = None;
    let mut arrivals = Arrivals::Uniform;
    let mut max_inflight = None;
    let mut overflow = None;
    let mut settings_seen: HashMap<&str, Span> = HashMap::new();
    let mut injections = Vec::new();
    let mut total_share = 0.0;
    let mut mix: Option<(Vec<(u32, u32)>, Span)> = None;
    for stmt in &entry.phase.body {
        match &stmt.node {
            PhaseStmt::Load(l) => {
                if let Some((_, first)) = &load {
                    sink.push(
                        file,
                        Diagnostic::ExtraLoad {
                            phase: entry.name.clone(),
                            span: stmt.span.into(),
                            first: (*first).into(),
                        },
                    );
                    continue;
                }
                load = Some((load_of(cx, sink, file, l), stmt.span));
            }
            PhaseStmt::Setting(s) => {
                let key = s.key.name.as_str();
                if !PHASE_SETTINGS.contains(&key) {
                    sink.push(
                        file,
                        Diagnostic::UnknownSetting {
                            key: key.to_string(),
                            span: s.key.span.into(),
                            help: suggest::did_you_mean_or_list(
                                key,
                                PHASE_SETTINGS,
                                "a phase's settings are",
                            ),
                        },
                    );
                    continue;
                }
                if let Some(first) = settings_seen.get(key) {
                    sink.push(
                        file,
                        duplicate("setting", key, s.key.span, Some(*first), None),
                    );
                    continue;
                }
                settings_seen.insert(key, s.key.span);
                match key {
                    "arrivals" => {
                        if let Some(i) = sink.take(
                            file,
                            p.keyword(&s.value, "`arrivals`", &["uniform", "poisson"]),
                        ) {
                            arrivals = [Arrivals::Uniform, Arrivals::Poisson][i];
                        }
                    }
                    "max_inflight" => {
                        max_inflight = sink
                            .take(
                                file,
                                p.int_in(
                                    &s.value,
                                    "max_inflight",
                                    1,
                                    u32::MAX as i64,
                                    "`max_inflight` is a count",
                                ),
                            )
                            .map(|n| n as u32);
                    }
                    _ => {
                        if let Some(i) =
                            sink.take(file, p.keyword(&s.value, "`overflow`", &["drop", "queue"]))
                        {
                            overflow = Some([Overflow::Drop, Overflow::Queue][i]);
                        }
                    }
                }
            }
            PhaseStmt::Inject(inject) => {
                let share = sink.take(
                    file,
                    p.share(
                        &inject.share,
                        "injection share",
                        "an injection share is a percentage",
                    ),
                );
                let fault = fault(cx, sink, file, &inject.fault);
                if let Some(share) = share {
                    let before = total_share;
                    total_share += share;
                    if total_share > 100.0 + 1e-9 && before <= 100.0 + 1e-9 {
                        let total = total_after(cx, entry);
                        sink.push(
                            file,
                            Diagnostic::SharesOver100 {
                                phase: entry.name.clone(),
                                total: format!("{}%", trim_float(total)),
                                span: stmt.span.into(),
                            },
                        );
                    }
                    if let Some(fault) = fault {
                        injections.push(InjectionModel {
                            fault,
                            share: ppm_of_percent(share),
                        });
                    }
                }
            }
            PhaseStmt::Mix(entries) => {
                if let Some((_, first)) = &mix {
                    sink.push(
                        file,
                        duplicate("statement", "mix", stmt.span, Some(*first), None),
                    );
                    continue;
                }
                mix = Some((mix_of(cx, sink, file, entries, stmt.span), stmt.span));
            }
            PhaseStmt::Think(t) => {
                sink.push(
                    file,
                    Diagnostic::ThinkOutsideScenario {
                        span: t.span().into(),
                    },
                );
            }
        }
    }
    let Some((load, _)) = load else {
        sink.push(
            file,
            Diagnostic::MissingLoad {
                phase: entry.name.clone(),
                span: entry.phase.head_span.into(),
            },
        );
        return None;
    };
    if sink.errors() > errors {
        return None;
    }
    Some(PhaseModel {
        name: entry.name.clone(),
        origin: Origin {
            file,
            span: entry.phase.head_span,
        },
        load: load?,
        arrivals,
        max_inflight,
        overflow,
        injections,
        mix: mix.map(|(m, _)| m),
    })
}

/// The sum of all the phase's valid shares, for the message.
fn total_after(cx: &CheckContext<'_>, entry: &PhaseEntry<'_>) -> f64 {
    entry
        .phase
        .body
        .iter()
        .filter_map(|s| match &s.node {
            PhaseStmt::Inject(i) => cx.params().percent(&i.share, "").ok(),
            _ => None,
        })
        .sum()
}

fn load_of(cx: &CheckContext<'_>, sink: &mut Sink, file: FileId, load: &AstLoad) -> Option<Load> {
    let p = cx.params();
    let duration = |sink: &mut Sink, v: &Value, what: &str| {
        sink.take(
            file,
            p.positive_us(v, what, &format!("{what} is a duration")),
        )
    };
    let rate = |sink: &mut Sink, v: &Value, context: &str| sink.take(file, p.per_sec(v, context));
    match load {
        AstLoad::Rate {
            rate: r,
            duration: d,
        } => {
            let per_sec = rate(sink, r, "`rate` takes an arrival rate");
            let duration_us = duration(sink, d, "phase length");
            let per_sec = positive(sink, file, r, per_sec?, "the rate of a phase")?;
            Some(Load::Rate {
                per_sec,
                duration_us: duration_us?,
            })
        }
        AstLoad::Ramp {
            from,
            to,
            duration: d,
        } => {
            let a = rate(sink, from, "`ramp` goes from a rate");
            let b = rate(sink, to, "`ramp` goes to a rate");
            let duration_us = duration(sink, d, "ramp length");
            let (a, b) = (a?, b?);
            let a = not_negative(sink, file, from, a);
            let b = not_negative(sink, file, to, b);
            let (from_r, to_r) = (a?, b?);
            if from_r == 0.0 && to_r == 0.0 {
                sink.push(
                    file,
                    Diagnostic::RampAllZero {
                        span: from.span.join(to.span).into(),
                    },
                );
                return None;
            }
            Some(Load::Ramp {
                from: from_r,
                to: to_r,
                duration_us: duration_us?,
            })
        }
        AstLoad::Steps {
            from,
            to,
            by,
            every,
        } => {
            let a = rate(sink, from, "`steps` goes from a rate");
            let b = rate(sink, to, "`steps` goes to a rate");
            let s = rate(sink, by, "`steps` climbs `by` a rate");
            let every_us = duration(sink, every, "step length");
            let (a, b, s) = (a?, b?, s?);
            let a = not_negative(sink, file, from, a);
            let b = positive(sink, file, to, b, "the last step");
            let s = positive(sink, file, by, s, "the step size");
            let (from_r, to_r, by_r) = (a?, b?, s?);
            if to_r < from_r {
                sink.push(
                    file,
                    Diagnostic::StepsDown {
                        from: per_sec_text(from_r),
                        to: per_sec_text(to_r),
                        span: from.span.join(to.span).into(),
                    },
                );
                return None;
            }
            if (to_r - from_r) / by_r > 100_000.0 {
                sink.push(
                    file,
                    out_of_range(
                        "step count",
                        trim_float((to_r - from_r) / by_r),
                        by.span,
                        "at most 100000 steps",
                    ),
                );
                return None;
            }
            Some(Load::Steps {
                from: from_r,
                to: to_r,
                by: by_r,
                every_us: every_us?,
            })
        }
        AstLoad::Pause { duration: d } => Some(Load::Pause {
            duration_us: duration(sink, d, "pause length")?,
        }),
        AstLoad::Users {
            users,
            duration: d,
            think,
        } => {
            let n = sink.take(
                file,
                p.int_in(users, "user count", 1, 1_000_000, "`users` takes a count"),
            );
            let duration_us = duration(sink, d, "phase length");
            let think = match think {
                Some(t) => think::think_time(cx, sink, file, t),
                None => Some(Think::NONE),
            };
            Some(Load::Users {
                users: n? as u32,
                duration_us: duration_us?,
                think: think?,
            })
        }
    }
}

fn positive(
    sink: &mut Sink,
    file: FileId,
    v: &Value,
    per_sec: f64,
    what: &'static str,
) -> Option<f64> {
    if per_sec > 0.0 {
        return Some(per_sec);
    }
    sink.push(
        file,
        Diagnostic::RateNotPositive {
            what,
            span: v.span.into(),
            rate: per_sec_text(per_sec),
        },
    );
    None
}

fn not_negative(sink: &mut Sink, file: FileId, v: &Value, per_sec: f64) -> Option<f64> {
    if per_sec >= 0.0 {
        return Some(per_sec);
    }
    sink.push(
        file,
        out_of_range("rate", per_sec_text(per_sec), v.span, "0/s or more"),
    );
    None
}

fn fault(cx: &CheckContext<'_>, sink: &mut Sink, file: FileId, f: &Fault) -> Option<FaultModel> {
    match f {
        Fault::Abort => Some(FaultModel::Abort),
        Fault::Reset => Some(FaultModel::Reset),
        Fault::Corrupt => Some(FaultModel::Corrupt),
        Fault::Delay(v) => sink
            .take(
                file,
                cx.params()
                    .positive_us(v, "delay", "`inject delay` takes a duration"),
            )
            .map(|us| FaultModel::Delay { us }),
        Fault::Header { name, value } => {
            let n = templates::constant(cx, sink, file, name);
            let v = templates::constant(cx, sink, file, value);
            Some(FaultModel::Header {
                name: n?,
                value: v?,
            })
        }
    }
}

fn mix_of(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    entries: &[crate::ast::MixEntry],
    span: Span,
) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let names = cx.names;
    for e in entries {
        if let Some(first) = seen.get(e.name.name.as_str()) {
            sink.push(
                file,
                duplicate("mix entry", &e.name.name, e.name.span, Some(*first), None),
            );
            continue;
        }
        seen.insert(&e.name.name, e.name.span);
        let index = names.scenario(&e.name.name);
        if index.is_none() {
            sink.push(
                file,
                Diagnostic::UnknownMixEntry {
                    name: e.name.name.clone(),
                    span: e.name.span.into(),
                    help: suggest::did_you_mean(
                        &e.name.name,
                        names.scenarios.iter().map(|s| s.name.as_str()),
                    ),
                },
            );
        }
        let weight = sink.take(
            file,
            cx.params().int_in(
                &e.weight,
                "mix weight",
                0,
                u32::MAX as i64,
                "a mix weight is a whole number",
            ),
        );
        if let (Some(i), Some(w)) = (index, weight) {
            out.push((i as u32, w as u32));
        }
    }
    if entries.is_empty() || (!out.is_empty() && out.iter().all(|(_, w)| *w == 0)) {
        sink.push(
            file,
            Diagnostic::ZeroWeights {
                what: "this mix".to_string(),
                span: span.into(),
            },
        );
    }
    out
}
