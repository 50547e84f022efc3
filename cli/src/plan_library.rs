//! The plans `ptl coordinator --http` offers to start from its dashboard: the `.ptl` files under
//! each `--plans DIR` (the plans people keep in git) and the standard `std:` plans. Each is
//! described with its declared params (read from the syntax tree, imports included) and whether
//! it checks clean; starting one compiles it with the operator's params and submits it as
//! `ptl submit` does, with the start options `ptl submit` takes (`submit_options`). Files are
//! read again on every request, so a `git pull` shows at once.

use crate::plan_source;
use crate::stdlib;
use crate::submit_options;
use ptl_cluster::client::submit::{self, SubmitConfig, Submitted};
use ptl_cluster::zk::ZkConfig;
use ptl_compiler::ast::{Item, ValueKind};
use ptl_compiler::check::values::text_of;
use ptl_compiler::source;
use ptl_dashboard::launch::{
    LaunchError, LaunchFuture, LaunchRequest, ParamInfo, ParamKind, PlanEntry, PlanLauncher,
    RunOptionInfo,
};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// How deep under a library directory plans are looked for.
const MAX_DEPTH: usize = 4;
/// Files looked at per directory, so a mistaken `--plans /` stays cheap.
const MAX_FILES: usize = 1000;

/// Where one plan of the library comes from.
#[derive(Debug, Clone, PartialEq)]
enum Origin {
    Std(&'static str),
    File(PathBuf),
}

/// A library plan before it is read: its name in the API and its origin.
#[derive(Debug, Clone, PartialEq)]
struct Found {
    name: String,
    origin: Origin,
}

/// The plan directories and the cluster the started runs go to.
pub struct PlanLibrary {
    dirs: Vec<PathBuf>,
    zk: ZkConfig,
}

impl PlanLibrary {
    pub fn new(dirs: Vec<PathBuf>, zk: ZkConfig) -> PlanLibrary {
        PlanLibrary { dirs, zk }
    }

    /// Every plan, files first (by directory, then path), then the standard ones. A name
    /// found in two directories is the first directory's.
    fn find(&self) -> Vec<Found> {
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for dir in &self.dirs {
            let mut files = Vec::new();
            walk(dir, 0, &mut files);
            files.sort();
            for path in files {
                let Some(name) = library_name(dir, &path) else {
                    continue;
                };
                if seen.insert(name.clone()) {
                    found.push(Found {
                        name,
                        origin: Origin::File(path),
                    });
                }
            }
        }
        found.extend(stdlib::names().map(|n| Found {
            name: format!("std:{n}"),
            origin: Origin::Std(n),
        }));
        found
    }
}

/// The `.ptl` files under `dir`, skipping hidden directories (`.git`).
fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten().take(MAX_FILES) {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && !hidden && depth < MAX_DEPTH {
            walk(&path, depth + 1, out);
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "ptl") {
            out.push(path);
        }
    }
}

/// `team/search` for `DIR/team/search.ptl`; `None` for a name the API could not carry.
fn library_name(dir: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(dir).ok()?.with_extension("");
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    let name = parts?.join("/");
    (!name.is_empty() && !name.starts_with("std:")).then_some(name)
}

/// The text of a plan and the path its imports are found from.
fn read(found: &Found) -> Result<(PathBuf, String), String> {
    match &found.origin {
        Origin::Std(name) => stdlib::lookup(name)
            .map(|text| (PathBuf::from(&found.name), text.to_string()))
            .ok_or_else(|| format!("no standard plan {name}")),
        Origin::File(path) => std::fs::read_to_string(path)
            .map(|text| (path.clone(), text))
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
    }
}

fn kind_of(value: &ValueKind) -> ParamKind {
    match value {
        ValueKind::Int(_) => ParamKind::Int,
        ValueKind::Float(_) => ParamKind::Number,
        ValueKind::Duration(_) => ParamKind::Duration,
        ValueKind::Rate(_) => ParamKind::Rate,
        ValueKind::Percent(_) => ParamKind::Percent,
        ValueKind::Str(_) => ParamKind::String,
        ValueKind::Bool(_) => ParamKind::Bool,
        ValueKind::Ident(_) => ParamKind::Name,
        ValueKind::Range(..) => ParamKind::Range,
    }
}

/// The plan's entry: `None` for a library file (no `plan` block: it is for `import`).
fn describe(found: &Found) -> Option<PlanEntry> {
    let source = match &found.origin {
        Origin::Std(_) => found.name.clone(),
        Origin::File(path) => path.display().to_string(),
    };
    let (path, text) = match read(found) {
        Ok(read) => read,
        Err(message) => {
            return Some(PlanEntry {
                name: found.name.clone(),
                source,
                plan: None,
                params: Vec::new(),
                checks: false,
                diagnostics: Some(message),
            })
        }
    };
    let options = plan_source::options(&[], &[]);
    let loaded = source::load(&path, &text, options.resolver.as_ref());
    let plan = match loaded.root() {
        Some(root) => Some(root.plan_name.as_ref()?.value.clone()),
        None => None,
    };
    let mut names = HashSet::new();
    let params = loaded
        .items
        .iter()
        .filter_map(|r| match &loaded.item(*r)?.node {
            Item::Param { name, value } if names.insert(name.name.clone()) => Some(ParamInfo {
                name: name.name.clone(),
                kind: kind_of(&value.kind),
                default: text_of(&value.kind),
            }),
            _ => None,
        })
        .collect();
    drop(loaded);
    let checked = ptl_compiler::check_source(&path, &text, &options);
    let checks = !checked.has_errors();
    Some(PlanEntry {
        name: found.name.clone(),
        source,
        plan,
        params,
        checks,
        diagnostics: (!checks).then(|| checked.render_text()),
    })
}

/// Compiles the plan with the params: its bytecode, or the plain diagnostics.
fn compile(found: &Found, params: &BTreeMap<String, String>) -> Result<Vec<u8>, LaunchError> {
    let (path, text) = read(found).map_err(LaunchError::BadRequest)?;
    let params: Vec<(String, String)> =
        params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let checked = ptl_compiler::check_source(&path, &text, &plan_source::options(&params, &[]));
    match checked.plan {
        Some(plan) => Ok(ptl_bytecode::encode(&plan)),
        None => Err(LaunchError::Compile {
            diagnostics: checked.render_text(),
        }),
    }
}

impl PlanLauncher for PlanLibrary {
    fn plans(&self) -> Vec<PlanEntry> {
        self.find().iter().filter_map(describe).collect()
    }

    fn options(&self) -> Vec<RunOptionInfo> {
        submit_options::offered()
    }

    fn start(&self, request: LaunchRequest) -> LaunchFuture {
        let LaunchRequest {
            plan,
            params,
            agents,
            options,
        } = request;
        // Only names the library lists are read: a name is never joined onto a path.
        let found = self.find().into_iter().find(|f| f.name == plan);
        let zk = self.zk.clone();
        Box::pin(async move {
            let found = found.ok_or(LaunchError::UnknownPlan(plan))?;
            let start = submit_options::read(&options).map_err(LaunchError::BadRequest)?;
            let compiling = params.clone();
            let bytecode = tokio::task::spawn_blocking(move || compile(&found, &compiling))
                .await
                .map_err(|_| LaunchError::BadRequest("the compiler stopped".to_string()))??;
            let mut config = SubmitConfig::new(zk, bytecode, agents.unwrap_or(1));
            config.params = params;
            config.set_start(start);
            match submit::submit(config).await {
                Ok(Submitted::Created(id) | Submitted::Finished(id, _)) => Ok(id.0),
                Err(e) => Err(LaunchError::Cluster(e.to_string())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(dir: &Path) -> PlanLibrary {
        PlanLibrary::new(vec![dir.to_path_buf()], ZkConfig::new("127.0.0.1:1"))
    }

    fn request(plan: &str, params: &[(&str, &str)], options: &[(&str, &str)]) -> LaunchRequest {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        LaunchRequest {
            plan: plan.to_string(),
            params: map(params),
            agents: None,
            options: map(options),
        }
    }

    #[test]
    fn files_and_standard_plans_are_listed_with_their_params() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("team")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/x.ptl"), "plan \"hidden\" {}").unwrap();
        std::fs::write(
            dir.path().join("lib.ptl"),
            "param base = \"/api\"\nrequest ping { GET \"{{base}}/ping\" }\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("team/search.ptl"),
            r#"plan "search" {
  import "../lib.ptl"
  param target = "http://127.0.0.1:9"
  param peak = 50/s
  param hold = 2s
  target target
  phase p { rate peak for hold }
}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("broken.ptl"), "plan \"b\" { phase }").unwrap();
        let plans = library(dir.path()).plans();
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(&names[..2], &["broken", "team/search"], "{names:?}");
        assert!(names.contains(&"std:load"));
        assert!(!names.contains(&"lib"), "a library file is not a plan");

        let search = &plans[1];
        assert_eq!(search.plan.as_deref(), Some("search"));
        assert!(search.checks, "{:?}", search.diagnostics);
        let params: Vec<(&str, ParamKind, &str)> = search
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.kind, p.default.as_str()))
            .collect();
        assert_eq!(
            params,
            vec![
                ("base", ParamKind::String, "/api"),
                ("target", ParamKind::String, "http://127.0.0.1:9"),
                ("peak", ParamKind::Rate, "50/s"),
                ("hold", ParamKind::Duration, "2s"),
            ]
        );
        let broken = &plans[0];
        assert!(!broken.checks);
        assert!(broken.diagnostics.as_deref().is_some_and(|d| !d.is_empty()));
        let load = plans.iter().find(|p| p.name == "std:load").unwrap();
        assert!(load.checks);
        assert!(load
            .params
            .iter()
            .any(|p| p.name == "rps" && p.kind == ParamKind::Rate));
    }

    #[test]
    fn every_default_is_taken_back_as_an_override() {
        let dir = tempfile::tempdir().unwrap();
        for found in library(dir.path()).find() {
            let entry = describe(&found).expect("a standard plan is a plan");
            let defaults = entry
                .params
                .iter()
                .map(|p| (p.name.clone(), p.default.clone()))
                .collect();
            assert!(compile(&found, &defaults).is_ok(), "{}", found.name);
        }
    }

    #[tokio::test]
    async fn bad_params_and_unknown_plans_are_refused_before_the_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let lib = library(dir.path());
        match lib
            .start(request("std:load", &[("rps", "fast")], &[]))
            .await
        {
            Err(LaunchError::Compile { diagnostics }) => {
                assert!(diagnostics.contains("rps"), "{diagnostics}")
            }
            other => panic!("not a compile error: {other:?}"),
        }
        assert!(matches!(
            lib.start(request("std:load", &[("nope", "1")], &[])).await,
            Err(LaunchError::Compile { .. })
        ));
        assert_eq!(
            lib.start(request("../../etc/passwd", &[], &[])).await,
            Err(LaunchError::UnknownPlan("../../etc/passwd".to_string()))
        );
        // A bad start option is the request's fault (400), found before the compiler runs.
        match lib
            .start(request(
                "std:load",
                &[("rps", "fast")],
                &[("stagger", "soon")],
            ))
            .await
        {
            Err(e @ LaunchError::BadRequest(_)) => {
                assert!(e.to_string().contains("stagger"), "{e}");
                assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
            }
            other => panic!("not a bad request: {other:?}"),
        }
    }
}
