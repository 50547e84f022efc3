//! The plan's name tables: params, lets, top-level requests and scenarios (with their steps
//! and captures), phases. Built in one pass over the items, reporting duplicates; every later
//! check resolves names through these tables.

use std::cell::Cell;
use std::collections::HashMap;

use rustc_hash::FxHashMap;

use crate::ast::{
    Expr, Ident, Item, Phase, Request, RequestStmt, Scenario, ScenarioStmt, Span, StrLit, Value,
    ValueKind,
};
use crate::check::Sink;
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Loaded};

/// A `param` with its effective value (after `--set`).
#[derive(Debug)]
pub struct ParamEntry<'a> {
    pub name: String,
    pub file: FileId,
    pub span: Span,
    pub declared: &'a Value,
    pub value: ValueKind,
    pub used: Cell<bool>,
}

#[derive(Debug, Default)]
pub struct Params<'a> {
    pub list: Vec<ParamEntry<'a>>,
    index: HashMap<String, usize>,
}

impl<'a> Params<'a> {
    pub fn get(&self, name: &str) -> Option<&ParamEntry<'a>> {
        self.index.get(name).map(|&i| &self.list[i])
    }
    pub fn get_mut(&mut self, name: &str) -> Option<&mut ParamEntry<'a>> {
        self.index.get(name).map(|&i| &mut self.list[i])
    }
    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.list.iter().map(|p| p.name.as_str())
    }
}

/// A `let`: its slot is its index.
#[derive(Debug)]
pub struct LetEntry<'a> {
    pub name: String,
    pub file: FileId,
    pub span: Span,
    pub expr: &'a Expr,
    /// Set once its CSV file is loaded: the dataset it draws rows from.
    pub dataset: Cell<Option<u32>>,
    pub used: Cell<bool>,
}

impl LetEntry<'_> {
    /// `csv("file")` or `json("file")` (with an optional draw mode) as the whole expression:
    /// the feeder's kind and its file name's literal.
    pub fn feed(&self) -> Option<(FeedKind, &StrLit)> {
        let [crate::ast::ExprPart::Call(call)] = self.expr.parts.as_slice() else {
            return None;
        };
        let kind = match call.func.name.as_str() {
            "csv" => FeedKind::Csv,
            "json" => FeedKind::Json,
            _ => return None,
        };
        match call.args.as_slice() {
            [arg, ..] => match &arg.value.kind {
                ValueKind::Str(s) => Some((kind, s)),
                _ => None,
            },
            _ => None,
        }
    }

    /// The file name of a `csv(…)`/`json(…)` let, whatever its kind.
    pub fn feed_file(&self) -> Option<&StrLit> {
        self.feed().map(|(_, lit)| lit)
    }
}

/// The format of a feeder's file: both become a table of named columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Csv,
    Json,
}

impl FeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedKind::Csv => "CSV",
            FeedKind::Json => "JSON",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum ScenarioKind<'a> {
    /// A top-level `request`: a one-step scenario.
    Single(&'a Request),
    Multi(&'a Scenario),
}

#[derive(Debug)]
pub struct StepEntry<'a> {
    pub name: Option<String>,
    pub request: Option<&'a Request>,
}

/// A capture and the step whose response it is taken from.
#[derive(Debug)]
pub struct CaptureEntry {
    pub name: String,
    pub span: Span,
    pub step: usize,
    pub register: u32,
}

#[derive(Debug)]
pub struct ScenarioEntry<'a> {
    pub name: String,
    pub file: FileId,
    pub span: Span,
    pub kind: ScenarioKind<'a>,
    pub steps: Vec<StepEntry<'a>>,
    pub captures: Vec<CaptureEntry>,
}

impl ScenarioEntry<'_> {
    pub fn capture(&self, name: &str) -> Option<&CaptureEntry> {
        self.captures.iter().find(|c| c.name == name)
    }
    pub fn is_single(&self) -> bool {
        matches!(self.kind, ScenarioKind::Single(_))
    }
}

#[derive(Debug)]
pub struct PhaseEntry<'a> {
    pub name: String,
    pub file: FileId,
    pub span: Span,
    pub phase: &'a Phase,
}

/// Everything a name can refer to.
#[derive(Debug, Default)]
pub struct Names<'a> {
    pub params: Params<'a>,
    pub lets: Vec<LetEntry<'a>>,
    pub scenarios: Vec<ScenarioEntry<'a>>,
    pub phases: Vec<PhaseEntry<'a>>,
}

impl<'a> Names<'a> {
    pub fn let_slot(&self, name: &str) -> Option<usize> {
        self.lets.iter().position(|l| l.name == name)
    }
    pub fn scenario(&self, name: &str) -> Option<usize> {
        self.scenarios.iter().position(|s| s.name == name)
    }
    pub fn phase(&self, name: &str) -> Option<usize> {
        self.phases.iter().position(|p| p.name == name)
    }
    /// Names a template can use anywhere: lets and params.
    pub fn variables(&self) -> impl Iterator<Item = &str> + Clone {
        self.lets
            .iter()
            .map(|l| l.name.as_str())
            .chain(self.params.names())
    }

    /// Collects the names of all items, reporting duplicates.
    pub fn collect(loaded: &'a Loaded, sink: &mut Sink) -> Names<'a> {
        let mut names = Names::default();
        // One namespace for lets and params (both are `{{name}}`), one for requests, scenarios
        // and phases (all are `name.metric` in thresholds).
        let mut variables: FxHashMap<&str, (FileId, Span, &'static str)> = FxHashMap::default();
        let mut scopes: FxHashMap<&str, (FileId, Span, &'static str)> =
            FxHashMap::with_capacity_and_hasher(loaded.items.len(), Default::default());
        for r in &loaded.items {
            let Some(stmt) = loaded.item(*r) else {
                continue;
            };
            let file = r.file;
            let (kind, ident) = match &stmt.node {
                Item::Param { name, .. } => ("param", name),
                Item::Let { name, .. } => ("let", name),
                Item::Request(req) => ("request", &req.name),
                Item::Scenario(sc) => ("scenario", &sc.name),
                Item::Phase(ph) => ("phase", &ph.name),
                _ => continue,
            };
            let seen = if matches!(kind, "param" | "let") {
                &mut variables
            } else {
                &mut scopes
            };
            if !claim(sink, loaded, seen, kind, ident, file) {
                continue;
            }
            match &stmt.node {
                Item::Param { name, value } => {
                    names
                        .params
                        .index
                        .insert(name.name.clone(), names.params.list.len());
                    names.params.list.push(ParamEntry {
                        name: name.name.clone(),
                        file,
                        span: name.span,
                        declared: value,
                        value: value.kind.clone(),
                        used: Cell::new(false),
                    });
                }
                Item::Let { name, expr } => names.lets.push(LetEntry {
                    name: name.name.clone(),
                    file,
                    span: name.span,
                    expr,
                    dataset: Cell::new(None),
                    used: Cell::new(false),
                }),
                Item::Request(req) => names.scenarios.push(ScenarioEntry {
                    name: req.name.name.clone(),
                    file,
                    span: req.name.span,
                    kind: ScenarioKind::Single(req),
                    steps: vec![StepEntry {
                        name: Some(req.name.name.clone()),
                        request: Some(req),
                    }],
                    captures: Vec::new(),
                }),
                Item::Scenario(sc) => {
                    let steps = sc
                        .body
                        .iter()
                        .filter_map(|s| match &s.node {
                            ScenarioStmt::Request(req) => Some(StepEntry {
                                name: Some(req.name.name.clone()),
                                request: Some(req),
                            }),
                            ScenarioStmt::Think(_) => Some(StepEntry {
                                name: None,
                                request: None,
                            }),
                            ScenarioStmt::Setting(_) => None,
                        })
                        .collect();
                    names.scenarios.push(ScenarioEntry {
                        name: sc.name.name.clone(),
                        file,
                        span: sc.name.span,
                        kind: ScenarioKind::Multi(sc),
                        steps,
                        captures: Vec::new(),
                    });
                }
                Item::Phase(ph) => names.phases.push(PhaseEntry {
                    name: ph.name.name.clone(),
                    file,
                    span: ph.name.span,
                    phase: ph,
                }),
                _ => {}
            }
        }
        for i in 0..names.scenarios.len() {
            names.collect_steps(i, sink);
        }
        names
    }

    /// Step names and captures of one scenario: duplicates, shadowing, registers.
    fn collect_steps(&mut self, index: usize, sink: &mut Sink) {
        let sc = &self.scenarios[index];
        let file = sc.file;
        let mut step_names: HashMap<&str, Span> = HashMap::new();
        let mut captures: Vec<CaptureEntry> = Vec::new();
        for (step, entry) in sc.steps.iter().enumerate() {
            let Some(req) = entry.request else { continue };
            if sc.is_single() {
                // The request's name is the scenario's, already checked.
            } else if let Some(first) = step_names.get(req.name.name.as_str()) {
                sink.push(
                    file,
                    duplicate("step", &req.name.name, req.name.span, Some(*first), None),
                );
            } else {
                step_names.insert(&req.name.name, req.name.span);
            }
            for stmt in &req.body {
                let RequestStmt::Capture(cap) = &stmt.node else {
                    continue;
                };
                let name = &cap.name;
                if let Some(first) = captures.iter().find(|c| c.name == name.name) {
                    sink.push(
                        file,
                        duplicate("capture", &name.name, name.span, Some(first.span), None),
                    );
                    continue;
                }
                let shadowed = if self.params.get(&name.name).is_some() {
                    Some("param")
                } else if self.let_slot(&name.name).is_some() {
                    Some("let")
                } else {
                    None
                };
                if let Some(kind) = shadowed {
                    sink.push(
                        file,
                        Diagnostic::CaptureShadows {
                            name: name.name.clone(),
                            kind,
                            span: name.span.into(),
                        },
                    );
                }
                captures.push(CaptureEntry {
                    name: name.name.clone(),
                    span: name.span,
                    step,
                    register: captures.len() as u32,
                });
            }
        }
        self.scenarios[index].captures = captures;
    }
}

/// Records `name` in `seen`; reports and returns false if it was already there.
fn claim<'a>(
    sink: &mut Sink,
    loaded: &Loaded,
    seen: &mut FxHashMap<&'a str, (FileId, Span, &'static str)>,
    kind: &'static str,
    name: &'a Ident,
    file: FileId,
) -> bool {
    let Some(&(first_file, first_span, first_kind)) = seen.get(name.name.as_str()) else {
        seen.insert(&name.name, (file, name.span, kind));
        return true;
    };
    let shown_kind = if first_kind == kind { kind } else { "name" };
    let mut help = (first_kind != kind).then(|| {
        format!(
            "a {first_kind} already has this name; {}",
            namespace_reason(kind)
        )
    });
    let first = if first_file == file {
        Some(first_span)
    } else {
        let (line, col) = loaded.files[first_file.0].line_col(first_span.start);
        let place = format!(
            "first defined in {}:{line}:{col}",
            loaded.files[first_file.0].name
        );
        help = Some(match help {
            Some(h) => format!("{place}; {h}"),
            None => place,
        });
        None
    };
    sink.push(
        file,
        duplicate(shown_kind, &name.name, name.span, first, help),
    );
    false
}

fn namespace_reason(kind: &str) -> &'static str {
    match kind {
        "param" | "let" => "lets and params share one namespace, since templates use both as `{{name}}`",
        _ => "phases, requests and scenarios share one namespace, since thresholds name them as `name.metric`",
    }
}

pub fn duplicate(
    kind: &'static str,
    name: &str,
    span: Span,
    first: Option<Span>,
    help: Option<String>,
) -> Diagnostic {
    Diagnostic::Duplicate {
        kind,
        name: name.to_string(),
        span: span.into(),
        first: first.map(Into::into),
        help,
    }
}
