//! Checking a loaded plan: every rule of the language, with every problem reported (not just
//! the first), producing the [`model::Model`] that lowering turns into bytecode.
//!
//! Each submodule owns one concern; they share the name tables ([`names::Names`]) and report
//! into one [`Sink`]. A check that fails returns `None` for its part of the model after
//! reporting, so the others still run.

mod bodies;
pub mod capacity;
mod captures;
mod csv;
mod feeds;
mod generators;
mod json_feed;
pub mod model;
pub mod names;
mod params;
mod paths;
mod phases;
mod requests;
mod scenarios;
mod settings;
mod suggest;
mod tags;
mod targets;
mod template_syntax;
mod templates;
mod think;
mod thresholds;
mod unique_rows;
pub mod values;
pub mod warnings;

pub use settings::WARNING_CODES;

use crate::ast::{Item, Stmt};
use crate::diagnostic::Diagnostic;
use crate::report::Located;
use crate::source::{FileId, Loaded};
use model::{DatasetData, Model};
use names::{Names, Params};

pub use suggest::{closest, did_you_mean};

/// Collects diagnostics and counts the errors among them.
#[derive(Debug, Default)]
pub struct Sink {
    pub list: Vec<Located>,
    errors: usize,
}

impl Sink {
    pub fn push(&mut self, file: FileId, diagnostic: Diagnostic) {
        if diagnostic.is_error() {
            self.errors += 1;
        }
        self.list.push(Located::new(file, diagnostic));
    }

    /// Reports the error, if any, and keeps the value otherwise.
    pub fn take<T>(&mut self, file: FileId, result: Result<T, Diagnostic>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(d) => {
                self.push(file, d);
                None
            }
        }
    }

    pub fn errors(&self) -> usize {
        self.errors
    }
}

/// What every check can read: the files, the name tables, the loaded CSV data, and what
/// handlebars said about the templates read so far.
pub struct CheckContext<'a> {
    pub loaded: &'a Loaded,
    pub names: &'a Names<'a>,
    pub datasets: &'a [DatasetData],
    pub templates: template_syntax::Reader,
    /// The hosts besides the plan's target (named targets, absolute URL bases).
    pub targets: targets::Targets,
    /// The distinct tags of the plan's requests.
    pub tags: Vec<ptl_bytecode::Tag>,
}

impl<'a> CheckContext<'a> {
    pub fn params(&self) -> &'a Params<'a> {
        &self.names.params
    }

    /// The plan's items in effect order, with their files.
    pub fn items(&self) -> impl Iterator<Item = (FileId, &'a Stmt<Item>)> + 'a {
        let loaded = self.loaded;
        loaded
            .items
            .iter()
            .filter_map(move |r| loaded.item(*r).map(|s| (r.file, s)))
    }
}

/// Checks a loaded plan; the model is `Some` only when there is no error.
pub fn check(loaded: &Loaded, overrides: &[(String, String)]) -> (Vec<Located>, Option<Model>) {
    let mut sink = Sink::default();
    let root = FileId(0);
    let Some(plan_name) = loaded.root().map(|f| f.plan_name.clone()) else {
        return (sink.list, None);
    };
    let Some(plan_name) = plan_name else {
        sink.push(root, Diagnostic::NotAPlan);
        return (sink.list, None);
    };
    let mut names = Names::collect(loaded, &mut sink);
    params::apply_overrides(&mut names.params, overrides, &mut sink);
    let datasets = feeds::load_datasets(loaded, &names, &mut sink);
    let mut cx = CheckContext {
        loaded,
        names: &names,
        datasets: &datasets,
        templates: template_syntax::Reader::default(),
        targets: targets::Targets::default(),
        tags: Vec::new(),
    };
    cx.targets = targets::collect(&cx, &mut sink);
    cx.tags = tags::collect(&cx);
    let settings = settings::plan_settings(&cx, &mut sink);
    let vars = generators::lets(&cx, &mut sink);
    let headers = requests::plan_headers(&cx, &mut sink);
    let scenarios = scenarios::all(&cx, &mut sink, settings.cookies);
    let phases = phases::all(&cx, &mut sink);
    let thresholds = thresholds::all(&cx, &mut sink);
    if let Some((file, span)) = settings.stop_at_knee {
        if !thresholds
            .iter()
            .flatten()
            .any(ptl_bytecode::Threshold::judges_a_step)
        {
            sink.push(file, Diagnostic::StopAtKneeWithoutSlo { span: span.into() });
        }
    }

    let plan_span = plan_name.span;
    if names.phases.is_empty() {
        sink.push(
            root,
            Diagnostic::NoPhase {
                plan: plan_name.value.clone(),
                span: plan_span.into(),
            },
        );
    }
    if names.scenarios.is_empty() {
        sink.push(
            root,
            Diagnostic::NoRequest {
                plan: plan_name.value.clone(),
                span: plan_span.into(),
            },
        );
    }
    let default_mix_used = phases.iter().flatten().any(|p| p.mix.is_none());
    let weights: Vec<u32> = scenarios.iter().flatten().map(|s| s.weight).collect();
    if default_mix_used && !weights.is_empty() && weights.iter().all(|w| *w == 0) {
        sink.push(
            root,
            Diagnostic::ZeroWeights {
                what: "the default mix (the weights of the requests and scenarios)".to_string(),
                span: plan_span.into(),
            },
        );
    }
    let max_inflight = settings
        .max_inflight
        .unwrap_or_else(|| settings.default_max_inflight());
    let target = match settings.target {
        Some(target) => target,
        None => {
            if !settings.target_failed {
                sink.push(
                    root,
                    Diagnostic::MissingTarget {
                        plan: plan_name.value.clone(),
                        span: plan_span.into(),
                    },
                );
            }
            String::new()
        }
    };
    if sink.errors() > 0 {
        return (sink.list, None);
    }
    warnings::unused(&names, &mut sink);
    let scenarios: Vec<model::ScenarioModel> = scenarios.into_iter().flatten().collect();
    targets::unused(&cx.targets, &scenarios, &mut sink);
    let hosts = std::mem::take(&mut cx.targets.hosts);
    let target_envs: Vec<_> = settings
        .target_env
        .clone()
        .into_iter()
        .chain(std::mem::take(&mut cx.targets.envs))
        .collect();
    let tags = std::mem::take(&mut cx.tags);
    sink.list
        .retain(|l| !warnings::allowed(&settings.allowed, &l.diagnostic));
    let model = Model {
        name: plan_name.value.clone(),
        target,
        timeout_us: settings.timeout_us,
        timeout_origin: settings.timeout_origin,
        connections: settings.connections,
        seed: settings.seed,
        max_inflight,
        defaults: model::SizedByDefault {
            connections: !settings.connections_set,
            max_inflight: settings.max_inflight.is_none(),
        },
        allowed: settings.allowed,
        overflow: settings.overflow,
        http: settings.http,
        stop_at_knee: settings.stop_at_knee.is_some(),
        params: names
            .params
            .list
            .iter()
            .map(|p| (p.name.clone(), values::source_text(&p.value)))
            .collect(),
        datasets,
        vars: vars.into_iter().flatten().collect(),
        headers,
        scenarios,
        hosts,
        target_envs,
        tags,
        phases: phases.into_iter().flatten().collect(),
        thresholds: thresholds.into_iter().flatten().collect(),
    };
    (sink.list, Some(model))
}
