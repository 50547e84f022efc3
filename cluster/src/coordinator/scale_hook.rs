//! `ptl coordinator --scale-hook CMD`: when a run's agents cannot carry its plan (their declared
//! capacities fall short, or they are measured saturated: [`super::strain`]), the coordinator runs `CMD N` with the number of agents the run wants,
//! so whatever starts agents (a cloud API, `kubectl scale`, a script) can add them; agents that
//! register are then given a share ([`super::supervise`]'s growth). Run again only when the
//! wanted count changes.

use std::process::{Command, Stdio};

use crate::coordinator::strain::Measured;
use crate::ids::RunId;
use crate::run::assignment::Assignment;

/// The agents `assignment` would need to carry `peak_rate` whole: for what no agent was given,
/// agents at the mean declared capacity of those it has; for what saturated agents fell short
/// of (`strained`), agents carrying what they carry. `None` when nothing is short (or the
/// shortfall cannot be sized: capacities unknown and nobody measured saturated).
pub fn wanted_agents(
    assignment: &Assignment,
    peak_rate: Option<f64>,
    strained: &Measured,
) -> Option<usize> {
    let declared = declared_more(assignment, peak_rate).unwrap_or(0);
    let more = declared + strained.more_agents();
    (more > 0).then(|| assignment.shares.len() + more)
}

/// Arrivals per second of the plan the run's agents do not carry: the part of the peak their
/// declared capacities leave to nobody, plus what saturated agents fell short of
/// (`ptl_cluster_capacity_shortfall`, on the coordinator and on every dashboard alike).
pub fn shortfall_rps(assignment: &Assignment, peak_rate: f64, strained: &Measured) -> f64 {
    assignment.shortfall() * peak_rate + strained.short_rps
}

fn declared_more(assignment: &Assignment, peak_rate: Option<f64>) -> Option<usize> {
    let short = assignment.shortfall();
    let peak = peak_rate?;
    if short <= 0.0 {
        return None;
    }
    let declared: Vec<f64> = assignment
        .shares
        .iter()
        .filter_map(|s| s.capacity)
        .collect();
    if declared.is_empty() {
        return None;
    }
    let mean = declared.iter().sum::<f64>() / declared.len() as f64;
    // Less a hair: fractions that sum to 1/3 leave 0.66…67, not 2/3.
    Some((short * peak / mean - 1e-9).ceil() as usize)
}

/// Remembers the last count asked for, so the hook runs once per change; runs are made one
/// after the other on a thread of their own, in the order asked, so a scaler never sees an
/// older count after a newer one and a slow hook never stalls the merge.
#[derive(Debug, Default)]
pub struct ScaleHook {
    runner: Option<std::sync::mpsc::Sender<(String, usize)>>,
    asked: Option<usize>,
}

impl ScaleHook {
    pub fn new(command: Option<String>) -> ScaleHook {
        let runner = command.map(|command| {
            let (tx, rx) = std::sync::mpsc::channel::<(String, usize)>();
            std::thread::spawn(move || {
                for (run, wanted) in rx {
                    run_hook(&command, &run, wanted);
                }
            });
            tx
        });
        ScaleHook {
            runner,
            asked: None,
        }
    }

    /// Asks for `wanted` agents when it differs from the count last asked for.
    pub fn ask(&mut self, run: &RunId, wanted: Option<usize>) {
        let (Some(runner), Some(wanted)) = (&self.runner, wanted) else {
            return;
        };
        if self.asked == Some(wanted) {
            return;
        }
        self.asked = Some(wanted);
        let _ = runner.send((run.0.clone(), wanted));
    }
}

/// `sh -c "CMD N"`, waited for.
fn run_hook(command: &str, run: &str, wanted: usize) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{command} {wanted}"))
        .env("PTL_RUN", run)
        .env("PTL_WANTED_AGENTS", wanted.to_string())
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => {
            eprintln!("coordinator: {run} is short of capacity: ran `{command} {wanted}`")
        }
        Ok(status) => {
            eprintln!("coordinator: the scale hook `{command} {wanted}` exited with {status}")
        }
        Err(e) => eprintln!("coordinator: cannot run the scale hook `{command}`: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AgentId;
    use crate::run::assignment::assign;

    fn agents(n: usize, capacity: f64) -> Vec<(AgentId, Option<f64>)> {
        (0..n)
            .map(|i| (AgentId(format!("agent-{i:010}")), Some(capacity)))
            .collect()
    }

    #[test]
    fn asks_for_enough_agents_to_carry_the_peak() {
        // Two of 100/s for 600/s: four more.
        let a = assign(&agents(2, 100.0), 0, 0, Some(600.0));
        assert_eq!(
            wanted_agents(&a, Some(600.0), &Measured::default()),
            Some(6)
        );
        // 250/s short at 100/s each: three more, not two.
        let a = assign(&agents(2, 100.0), 0, 0, Some(450.0));
        assert_eq!(
            wanted_agents(&a, Some(450.0), &Measured::default()),
            Some(5)
        );
        let enough = assign(&agents(2, 100.0), 0, 0, Some(150.0));
        assert_eq!(
            wanted_agents(&enough, Some(150.0), &Measured::default()),
            None
        );
        // Saturated agents short of 250/s while carrying 100/s each: three more, on top.
        let strained = Measured {
            agents: 2,
            short_rps: 250.0,
            carried_rps: 200.0,
        };
        assert_eq!(wanted_agents(&enough, Some(150.0), &strained), Some(5));
        assert_eq!(wanted_agents(&a, Some(450.0), &strained), Some(8));
        // Capacities unknown: only the measured part can be sized.
        let unknown = assign(
            &[(AgentId("agent-0000000000".into()), None)],
            0,
            0,
            Some(450.0),
        );
        assert_eq!(
            wanted_agents(&unknown, Some(450.0), &Measured::default()),
            None
        );
        assert_eq!(wanted_agents(&unknown, Some(450.0), &strained), Some(4));
    }

    #[test]
    fn the_hook_gets_the_count_once_per_change() {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("asked");
        let command = format!("echo >>{}", log.display());
        let mut hook = ScaleHook::new(Some(command));
        let run = RunId("run-0000000001".into());
        for wanted in [Some(6), Some(6), None, Some(8)] {
            hook.ask(&run, wanted);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.lines().count() >= 2 || std::time::Instant::now() > deadline {
                assert_eq!(text, "6\n8\n");
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
