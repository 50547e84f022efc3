//! Scenarios and top-level requests (one-step scenarios): weights, steps, think times and the
//! scenario's own settings (`cookies`).

use crate::ast::{Request, Scenario, ScenarioStmt, Span, Value};
use crate::check::model::{ScenarioModel, StepModel};
use crate::check::names::{duplicate, ScenarioEntry, ScenarioKind};
use crate::check::requests::request;
use crate::check::{suggest, think, CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;

const SCENARIO_SETTINGS: [&str; 1] = ["cookies"];

/// Checks every scenario (top-level requests included), in plan order.
pub fn all(cx: &CheckContext<'_>, sink: &mut Sink, cookies: bool) -> Vec<Option<ScenarioModel>> {
    cx.names
        .scenarios
        .iter()
        .enumerate()
        .map(|(i, entry)| match entry.kind {
            ScenarioKind::Single(req) => single(cx, sink, i, entry, req, cookies),
            ScenarioKind::Multi(sc) => multi(cx, sink, i, entry, sc, cookies),
        })
        .collect()
}

fn weight(cx: &CheckContext<'_>, sink: &mut Sink, file: FileId, w: Option<&Value>) -> Option<u32> {
    match w {
        None => Some(1),
        Some(v) => sink
            .take(
                file,
                cx.params().int_in(
                    v,
                    "weight",
                    0,
                    u32::MAX as i64,
                    "a weight is a whole number",
                ),
            )
            .map(|n| n as u32),
    }
}

fn single(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    index: usize,
    entry: &ScenarioEntry<'_>,
    req: &Request,
    cookies: bool,
) -> Option<ScenarioModel> {
    let weight = weight(cx, sink, entry.file, req.weight.as_ref());
    let step = request(cx, sink, entry.file, req, index, 0);
    Some(ScenarioModel {
        name: entry.name.clone(),
        weight: weight?,
        single_request: true,
        cookies,
        registers: entry.captures.len() as u32,
        steps: vec![StepModel::Request(step?)],
    })
}

fn multi(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    index: usize,
    entry: &ScenarioEntry<'_>,
    sc: &Scenario,
    cookies: bool,
) -> Option<ScenarioModel> {
    let file = entry.file;
    let errors = sink.errors();
    let weight = weight(cx, sink, file, sc.weight.as_ref());
    let mut cookies = cookies;
    let mut cookies_at: Option<Span> = None;
    let mut steps = Vec::new();
    let mut step = 0;
    for stmt in &sc.body {
        match &stmt.node {
            ScenarioStmt::Request(req) => {
                if let Some(w) = &req.weight {
                    sink.push(
                        file,
                        Diagnostic::StepWeight {
                            span: w.span.into(),
                        },
                    );
                }
                if let Some(m) = request(cx, sink, file, req, index, step) {
                    steps.push(StepModel::Request(m));
                }
                step += 1;
            }
            ScenarioStmt::Think(t) => {
                if let Some(t) = think::think_time(cx, sink, file, t) {
                    steps.push(StepModel::Think(t));
                }
                step += 1;
            }
            ScenarioStmt::Setting(s) => {
                let key = s.key.name.as_str();
                if !SCENARIO_SETTINGS.contains(&key) {
                    sink.push(
                        file,
                        Diagnostic::UnknownSetting {
                            key: key.to_string(),
                            span: s.key.span.into(),
                            help: suggest::did_you_mean_or_list(
                                key,
                                SCENARIO_SETTINGS,
                                "a scenario's only setting is",
                            ),
                        },
                    );
                    continue;
                }
                if let Some(first) = cookies_at {
                    sink.push(
                        file,
                        duplicate("setting", key, s.key.span, Some(first), None),
                    );
                    continue;
                }
                cookies_at = Some(s.key.span);
                if let Some(on) = sink.take(file, cx.params().switch(&s.value, "`cookies`")) {
                    cookies = on;
                }
            }
        }
    }
    if !entry.steps.iter().any(|s| s.request.is_some()) {
        sink.push(
            file,
            Diagnostic::EmptyScenario {
                name: entry.name.clone(),
                span: sc.head_span.into(),
            },
        );
    }
    if sink.errors() > errors {
        return None;
    }
    Some(ScenarioModel {
        name: entry.name.clone(),
        weight: weight?,
        single_request: false,
        cookies,
        registers: entry.captures.len() as u32,
        steps,
    })
}
