//! `ptl submit`'s start options (`--agent-wait`, `--on-agent-loss`, `--start-delay`,
//! `--stagger`) as text: their defaults as the flags show them (written from
//! `ptl_cluster::client::submit::StartOptions`, where the values live), the list the dashboard offers
//! (read from the flags' own clap definitions: flag, default, help, choices), and the
//! dashboard's values read with the flags' own parsers, so `POST /api/runs` takes exactly what
//! `ptl submit` takes.

use crate::flags::{OnAgentLoss, SubmitArgs};
use clap::{Args, ValueEnum};
use ptl_cluster::client::submit::StartOptions;
use ptl_cluster::run::LossPolicy;
use ptl_compiler::parse_duration;
use ptl_dashboard::launch::{RunOptionInfo, RunOptionKind};
use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

/// The duration defaults as the flags show them.
pub struct DefaultTexts {
    pub agent_wait: String,
    pub start_delay: String,
    pub stagger: String,
}

/// Written once: clap keeps a flag's default as a `&'static str`.
pub static DEFAULTS: LazyLock<DefaultTexts> = LazyLock::new(|| {
    let start = StartOptions::default();
    DefaultTexts {
        agent_wait: duration_text(start.agent_wait),
        start_delay: duration_text(start.start_delay),
        stagger: duration_text(start.stagger),
    }
});

/// A duration as a flag's default shows it, in the plan's units (`1m`, `2s`, `0s`), which
/// [`parse_duration`] reads back to the same duration.
pub fn duration_text(d: Duration) -> String {
    ptl_bytecode::duration_text(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl From<OnAgentLoss> for LossPolicy {
    fn from(policy: OnAgentLoss) -> LossPolicy {
        match policy {
            OnAgentLoss::Rebalance => LossPolicy::Rebalance,
            OnAgentLoss::Continue => LossPolicy::Continue,
            OnAgentLoss::Abort => LossPolicy::Abort,
        }
    }
}

impl From<LossPolicy> for OnAgentLoss {
    fn from(policy: LossPolicy) -> OnAgentLoss {
        match policy {
            LossPolicy::Rebalance => OnAgentLoss::Rebalance,
            LossPolicy::Continue => OnAgentLoss::Continue,
            LossPolicy::Abort => OnAgentLoss::Abort,
        }
    }
}

/// The options the dashboard offers: `SubmitArgs`' field (the clap id, and the key in
/// `POST /api/runs`) and its kind. `read` takes exactly these.
const OFFERED: [(&str, RunOptionKind); 4] = [
    ("agent_wait", RunOptionKind::Duration),
    ("on_agent_loss", RunOptionKind::Choice),
    ("start_delay", RunOptionKind::Duration),
    ("stagger", RunOptionKind::Duration),
];

/// The offered options, each described by its `ptl submit` flag.
pub fn offered() -> Vec<RunOptionInfo> {
    let command = SubmitArgs::augment_args(clap::Command::new("submit"));
    OFFERED
        .iter()
        .filter_map(|(id, kind)| {
            let arg = command.get_arguments().find(|a| a.get_id() == id)?;
            Some(RunOptionInfo {
                name: id.to_string(),
                flag: format!("--{}", arg.get_long()?),
                kind: *kind,
                default: arg.get_default_values().first()?.to_str()?.to_string(),
                choices: arg
                    .get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_string())
                    .collect(),
                help: arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

/// The start options the operator gave, over submit's defaults; a blank value keeps the
/// default. The error names the option and says what it takes.
pub fn read(options: &BTreeMap<String, String>) -> Result<StartOptions, String> {
    let mut start = StartOptions::default();
    for (name, value) in options {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let duration = || parse_duration(value).map_err(|e| format!("option {name}: {e}"));
        match name.as_str() {
            "agent_wait" => start.agent_wait = duration()?,
            "start_delay" => start.start_delay = duration()?,
            "stagger" => start.stagger = duration()?,
            "on_agent_loss" => {
                start.on_agent_loss = OnAgentLoss::from_str(value, false)
                    .map_err(|_| {
                        format!(
                            "option on_agent_loss: `{value}` is not one of {}",
                            choices()
                        )
                    })?
                    .into()
            }
            _ => {
                let known: Vec<&str> = OFFERED.iter().map(|(id, _)| *id).collect();
                return Err(format!(
                    "no option `{name}`: the options are {}",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(start)
}

/// `rebalance, continue, abort`.
fn choices() -> String {
    OnAgentLoss::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|v| v.get_name().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_offered_option_is_described_by_its_flag_and_its_default_reads_back() {
        let offered = offered();
        let names: Vec<&str> = offered.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            ["agent_wait", "on_agent_loss", "start_delay", "stagger"]
        );
        for option in &offered {
            assert_eq!(option.flag, format!("--{}", option.name.replace('_', "-")));
            assert!(!option.help.is_empty(), "{}", option.name);
        }
        let loss = &offered[1];
        assert_eq!(loss.choices, ["rebalance", "continue", "abort"]);
        assert!(offered[0].choices.is_empty());
        // The defaults shown are submit's: read back, they are StartOptions::default().
        let defaults: BTreeMap<String, String> = offered
            .iter()
            .map(|o| (o.name.clone(), o.default.clone()))
            .collect();
        assert_eq!(read(&defaults), Ok(StartOptions::default()));
        assert_ne!(StartOptions::default().agent_wait, Duration::ZERO);
        assert_eq!(
            offered[0].default,
            duration_text(StartOptions::default().agent_wait)
        );
    }

    #[test]
    fn given_options_replace_the_defaults_and_blank_ones_keep_them() {
        let start = read(&given(&[
            ("agent_wait", "90s"),
            ("on_agent_loss", "abort"),
            ("start_delay", " 1500ms "),
            ("stagger", ""),
        ]))
        .expect("valid");
        assert_eq!(
            start,
            StartOptions {
                agent_wait: Duration::from_secs(90),
                on_agent_loss: LossPolicy::Abort,
                start_delay: Duration::from_millis(1500),
                stagger: StartOptions::default().stagger,
            }
        );
        assert_eq!(read(&BTreeMap::new()), Ok(StartOptions::default()));
    }

    #[test]
    fn bad_values_and_unknown_options_are_refused_by_name() {
        for (name, value, says) in [
            ("agent_wait", "soon", "option agent_wait"),
            ("start_delay", "-1s", "option start_delay"),
            ("stagger", "5", "no unit"),
            ("stagger", "5 parsecs", "unknown unit"),
            ("on_agent_loss", "panic", "rebalance, continue, abort"),
            ("on_agent_loss", "Abort", "not one of"),
            ("timeout", "5s", "the options are agent_wait"),
        ] {
            let e = read(&given(&[(name, value)])).expect_err(value);
            assert!(e.contains(says), "{name}={value}: {e}");
        }
    }
}
