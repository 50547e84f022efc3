//! The hosts a plan sends to besides its unnamed `target`: named targets (`target api "…"`),
//! checked as the unnamed one is, and the bases of absolute URLs in request lines. Collected
//! before the requests are checked, so that a request resolves `GET api "/x"` or
//! `GET "http://other/x"` to its host's index; [`unused`] warns about a named target no
//! request names.

use std::collections::HashMap;

use ptl_bytecode::{Host, TargetEnv, DEFAULT_HOST};

use crate::ast::{Ident, Item, Request, RequestStmt, ScenarioStmt, Span};
use crate::check::model::{ScenarioModel, StepModel};
use crate::check::names::duplicate;
use crate::check::settings::check_url;
use crate::check::{generators, paths, suggest, CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;

/// Every host besides the plan's target, in the order of `Plan::hosts`: named targets in
/// declaration order, then absolute URL bases in order of first use.
#[derive(Debug, Default)]
pub struct Targets {
    pub hosts: Vec<Host>,
    /// Named targets: name → (index in `hosts`, where it was declared).
    named: HashMap<String, (u32, FileId, Span)>,
    /// Named targets read from the environment, as `Plan::target_envs` (host `i + 1`).
    pub envs: Vec<TargetEnv>,
    /// A named target whose URL was wrong (already reported): requests naming it are not
    /// reported again.
    failed: Vec<String>,
}

impl Targets {
    /// The host index of a named target; reports an unknown name.
    pub fn named(&self, sink: &mut Sink, file: FileId, name: &Ident) -> Option<u32> {
        if let Some(&(i, _, _)) = self.named.get(&name.name) {
            return Some(i);
        }
        if !self.failed.contains(&name.name) {
            let known: Vec<&str> = self.named.keys().map(String::as_str).collect();
            sink.push(
                file,
                Diagnostic::UnknownTarget {
                    name: name.name.clone(),
                    span: name.span.into(),
                    help: suggest::did_you_mean_or_list(
                        &name.name,
                        known.iter().copied(),
                        "the plan's targets are",
                    )
                    .or_else(|| {
                        Some(format!(
                            "declare it at the top of the plan: `target {} \"https://…\"`",
                            name.name
                        ))
                    }),
                },
            );
        }
        None
    }

    /// The host index of an absolute URL's base (collected up front, so always there).
    pub fn absolute(&self, base: &str) -> Option<u32> {
        self.hosts
            .iter()
            .position(|h| h.url == base && h.name == base)
            .map(|i| i as u32)
    }
}

/// Every request of the plan with its file: top-level ones and scenario steps.
pub fn all_requests<'a>(cx: &CheckContext<'a>) -> Vec<(FileId, &'a Request)> {
    let mut out = Vec::new();
    for (file, stmt) in cx.items() {
        match &stmt.node {
            Item::Request(r) => out.push((file, r)),
            Item::Scenario(s) => {
                for step in &s.body {
                    if let ScenarioStmt::Request(r) = &step.node {
                        out.push((file, r));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Collects and checks the named targets, then the bases of absolute request URLs.
pub fn collect(cx: &CheckContext<'_>, sink: &mut Sink) -> Targets {
    let mut t = Targets::default();
    let p = cx.params();
    for (file, stmt) in cx.items() {
        let name = match &stmt.node {
            Item::Target { name, .. } => name,
            Item::EnvTarget {
                name: Some(name), ..
            } => name,
            _ => continue,
        };
        if name.name == DEFAULT_HOST {
            sink.push(
                file,
                Diagnostic::ReservedTargetName {
                    span: name.span.into(),
                },
            );
            continue;
        }
        if let Some(&(_, first_file, first)) = t.named.get(&name.name) {
            let first = (first_file == file).then_some(first);
            sink.push(
                file,
                duplicate("target", &name.name, name.span, first, None),
            );
            continue;
        }
        let value = match &stmt.node {
            Item::Target { value, .. } => value,
            Item::EnvTarget { call, .. } => {
                match generators::target_env(sink, file, call, p) {
                    Some(env) => {
                        let index = t.hosts.len() as u32;
                        t.hosts.push(Host {
                            name: name.name.clone(),
                            url: TargetEnv::stand_in(&env.name),
                        });
                        t.envs.push(TargetEnv {
                            host: index + 1,
                            ..env
                        });
                        t.named.insert(name.name.clone(), (index, file, name.span));
                    }
                    None => t.failed.push(name.name.clone()),
                }
                continue;
            }
            _ => continue,
        };
        let url = match p.string(value, "a target is a URL in quotes") {
            Ok(url) => match check_url(&url) {
                Ok(()) => url,
                Err(reason) => {
                    sink.push(
                        file,
                        Diagnostic::InvalidUrl {
                            url,
                            reason,
                            span: value.span.into(),
                        },
                    );
                    t.failed.push(name.name.clone());
                    continue;
                }
            },
            Err(d) => {
                sink.push(file, d);
                t.failed.push(name.name.clone());
                continue;
            }
        };
        let index = t.hosts.len() as u32;
        t.hosts.push(Host {
            name: name.name.clone(),
            url,
        });
        t.named.insert(name.name.clone(), (index, file, name.span));
    }
    for (file, request) in all_requests(cx) {
        for stmt in &request.body {
            let RequestStmt::Line {
                target: None, path, ..
            } = &stmt.node
            else {
                continue;
            };
            if let Some(base) = paths::absolute_base_of(cx, file, path) {
                if t.absolute(&base).is_none() {
                    t.hosts.push(Host {
                        name: base.clone(),
                        url: base,
                    });
                }
            }
        }
    }
    t
}

/// Warns (W0010) about each named target no request goes to.
pub fn unused(targets: &Targets, scenarios: &[ScenarioModel], sink: &mut Sink) {
    let mut used = vec![false; targets.hosts.len()];
    for s in scenarios {
        for step in &s.steps {
            if let StepModel::Request(r) = step {
                if let Some(u) = r.host.and_then(|h| used.get_mut(h as usize)) {
                    *u = true;
                }
            }
        }
    }
    let mut named: Vec<_> = targets.named.iter().collect();
    named.sort_by_key(|(_, (i, _, _))| *i);
    for (name, &(i, file, span)) in named {
        if !used[i as usize] {
            sink.push(
                file,
                Diagnostic::UnusedTarget {
                    name: name.clone(),
                    span: span.into(),
                },
            );
        }
    }
}
