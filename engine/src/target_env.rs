//! Targets read from the environment (`target env("API_URL")`, `target api env("API_URL")`):
//! resolved where the plan runs, when the run starts, before anything looks at the plan's URLs
//! (the target policy, the connection pools, the result), so `--allow-target` judges the URL
//! actually used. A target is not a secret: the resolved URL appears in the results like any
//! other target (secrets go in headers, through `let … = env(…)`).

use crate::error::RuntimeError;
use crate::vm::parse_target;
use ptl_bytecode::plan::{Plan, TargetEnv};
use std::borrow::Cow;

/// `plan` with every target read from this process's environment.
pub fn resolve(plan: &Plan) -> Result<Cow<'_, Plan>, RuntimeError> {
    resolve_with(plan, |name| {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    })
}

/// [`resolve`] with `lookup` for the environment. A variable unset without a default, or
/// whose value is not an `http(s)://` URL, is a usage error naming it.
pub fn resolve_with(
    plan: &Plan,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Cow<'_, Plan>, RuntimeError> {
    if plan.target_envs.is_empty() {
        return Ok(Cow::Borrowed(plan));
    }
    let mut resolved = plan.clone();
    for t in &plan.target_envs {
        let shown = shown(plan, t);
        let url = lookup(&t.name)
            .or_else(|| t.default.clone())
            .ok_or_else(|| {
                RuntimeError::Usage(format!(
                    "{shown}: the environment variable {} is not set (set it where the plan runs, or give a default)",
                    t.name
                ))
            })?;
        parse_target(&url).map_err(|e| {
            RuntimeError::Usage(format!(
                "{shown}: {}={url:?} is not a target URL: {e}",
                t.name
            ))
        })?;
        let slot = match t.host {
            0 => &mut resolved.target,
            i => match resolved.hosts.get_mut(i as usize - 1) {
                Some(h) => &mut h.url,
                None => {
                    return Err(RuntimeError::InvalidPlan(format!(
                        "target env host {i} out of range"
                    )))
                }
            },
        };
        *slot = url;
    }
    resolved.target_envs.clear();
    Ok(Cow::Owned(resolved))
}

/// How the plan wrote the target: `target env("API_URL")`, `target api env("API_URL")`.
fn shown(plan: &Plan, t: &TargetEnv) -> String {
    let name = match t.host {
        0 => String::new(),
        i => plan
            .hosts
            .get(i as usize - 1)
            .map_or(String::new(), |h| format!("{} ", h.name)),
    };
    format!("`target {name}{}`", TargetEnv::stand_in(&t.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptl_bytecode::plan::Host;

    fn plan() -> Plan {
        let mut plan = Plan::get_root("p", "env(\"BASE\")", "home", vec![]);
        plan.hosts.push(Host {
            name: "api".into(),
            url: "env(\"API\")".into(),
        });
        plan.target_envs = vec![
            TargetEnv {
                host: 0,
                name: "BASE".into(),
                default: None,
            },
            TargetEnv {
                host: 1,
                name: "API".into(),
                default: Some("http://127.0.0.1:9/api".into()),
            },
        ];
        plan
    }

    #[test]
    fn set_variables_and_defaults_become_the_urls() {
        let p = plan();
        let r = resolve_with(&p, |n| (n == "BASE").then(|| "https://shop.test".into()))
            .expect("resolves");
        assert_eq!(r.target, "https://shop.test");
        assert_eq!(r.hosts[0].url, "http://127.0.0.1:9/api");
        assert!(r.target_envs.is_empty());
        let plain = Plan::get_root("p", "http://x", "home", vec![]);
        assert!(matches!(
            resolve_with(&plain, |_| None),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn an_unset_variable_or_a_value_that_is_no_url_is_a_usage_error_naming_it() {
        let p = plan();
        let e = resolve_with(&p, |_| None)
            .expect_err("BASE unset")
            .to_string();
        assert!(
            e.contains("`target env(\"BASE\")`") && e.contains("BASE is not set"),
            "{e}"
        );
        let e = resolve_with(&p, |n| Some(format!("ftp://{n}")))
            .expect_err("not http")
            .to_string();
        assert!(e.contains("BASE=\"ftp://BASE\" is not a target URL"), "{e}");
        let e = resolve_with(&p, |n| {
            (n == "BASE")
                .then(|| "http://ok".into())
                .or(Some("nope".into()))
        })
        .expect_err("API not a URL")
        .to_string();
        assert!(e.contains("`target api env(\"API\")`"), "{e}");
    }
}
