//! Agents joining a run mid-way. When a run has lost an agent, an idle registered agent can
//! take its place: it gets the lost agent's slice of the value space (its `index`, so CSV rows
//! stay disjoint among the agents sending) and a share of the rate from an instant a little in
//! the future, at a new epoch (`assignment::admit`).
//!
//! The joiner draws `seq()` from a fresh range (`assignment::SEQ_RANGE`): a slice's values are
//! `index + k·count` from k = 0, so in the lost agent's range it would draw again what the lost
//! agent drew. Not for plans that draw a `unique` feeder (rows have no fresh range: the joiner
//! would send again rows the lost agent sent), and not under the `abort` policy (the run stops
//! when an agent is lost). Agents that join to add capacity are `assignment::grow`'s.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use ptl_bytecode::plan::{Draw, Generator, VarPart};
use ptl_bytecode::Plan;

use crate::agent::registry::RegisteredAgent;
use crate::ids::{AgentId, RunId};
use crate::run::assignment::{Assignment, Share};
use crate::run::{LossPolicy, RunSpec};

/// The agents taking part in the leader's runs (a run's agent is busy until it is done or
/// lost): only agents in none of them may join a run.
#[derive(Debug, Clone, Default)]
pub struct Busy(Arc<Mutex<HashMap<AgentId, RunId>>>);

impl Busy {
    pub fn take(&self, agent: &AgentId, run: &RunId) {
        self.lock().insert(agent.clone(), run.clone());
    }

    pub fn free(&self, agent: &AgentId) {
        self.lock().remove(agent);
    }

    /// Frees every agent of `run`.
    pub fn free_run(&self, run: &RunId) {
        self.lock().retain(|_, r| r != run);
    }

    pub fn contains(&self, agent: &AgentId) -> bool {
        self.lock().contains_key(agent)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AgentId, RunId>> {
        // A panic elsewhere while holding it leaves a map that is still a valid map.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Frees a run's agents however following it ends.
pub struct BusyRun<'a> {
    pub busy: &'a Busy,
    pub run: &'a RunId,
}

impl Drop for BusyRun<'_> {
    fn drop(&mut self) {
        self.busy.free_run(self.run);
    }
}

/// Whether agents may take a lost agent's place in a run of `plan` under `spec` (not under
/// `abort`: the run stops when an agent is lost). Joiners draw `seq()` from a fresh range, so
/// plans that draw it may take them too; a `unique` feeder's rows have none.
pub fn joinable(plan: &Plan, spec: &RunSpec) -> bool {
    spec.on_agent_loss != LossPolicy::Abort && rows_may_be_shared(plan)
}

/// Whether agents may join a run of `plan` at all (to add capacity too): not when it draws a
/// `unique` feeder, whose rows a joiner's slice would send a second time.
pub fn rows_may_be_shared(plan: &Plan) -> bool {
    !plan.vars.iter().any(|v| {
        v.parts.iter().any(|p| {
            matches!(
                p,
                VarPart::Gen(Generator::Csv {
                    draw: Draw::Unique,
                    ..
                })
            )
        })
    })
}

/// A lost agent's share whose value-space slice no agent still in the run holds.
pub fn vacancy(current: &Assignment, lost: &HashSet<AgentId>) -> Option<Share> {
    let held: HashSet<u32> = current
        .shares
        .iter()
        .filter(|s| !lost.contains(&s.agent))
        .map(|s| s.index)
        .collect();
    current
        .shares
        .iter()
        .chain(&current.departed)
        .find(|s| lost.contains(&s.agent) && !held.contains(&s.index))
        .cloned()
}

/// The first registered agent (in registration order) that may join: not in this run, not
/// busy in another, and not refused (`refused` says why an agent may not take part at all).
pub fn pick<'a>(
    registered: &'a [RegisteredAgent],
    members: &HashSet<AgentId>,
    busy: &Busy,
    refused: impl Fn(&RegisteredAgent) -> bool,
) -> Option<&'a RegisteredAgent> {
    registered
        .iter()
        .find(|a| !members.contains(&a.id) && !busy.contains(&a.id) && !refused(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::registry::AgentInfo;
    use crate::run::assignment::{assign, rebalance};
    use std::collections::BTreeMap;

    fn id(n: u32) -> AgentId {
        AgentId(format!("agent-{n:010}"))
    }

    fn registered(n: u32) -> RegisteredAgent {
        RegisteredAgent {
            id: id(n),
            info: AgentInfo {
                name: format!("a{n}"),
                host: "localhost".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                bytecode_version: ptl_bytecode::FORMAT_VERSION,
                capacity: None,
                labels: BTreeMap::new(),
                clock_offset_ms: Some(0),
                zk_id: None,
            },
            session: 0,
        }
    }

    fn spec(on_agent_loss: LossPolicy) -> RunSpec {
        RunSpec {
            plan_hash: crate::ids::PlanHash::of(b"plan"),
            plan_name: "p".into(),
            params: BTreeMap::new(),
            agents: 3,
            agent_wait_ms: 1000,
            on_agent_loss,
            start_delay_ms: 1000,
            stagger_ms: 0,
            clock_tolerance_ms: 250,
            bytecode_version: ptl_bytecode::FORMAT_VERSION,
            submitted_at_ms: 0,
            signature: None,
        }
    }

    #[test]
    fn plans_drawing_unique_rows_and_abort_runs_take_no_joiners() {
        let mut plan = ptl_test_support::plans::one_request(
            ptl_test_support::plans::NOWHERE,
            100.0,
            1_000_000,
        );
        assert!(joinable(&plan, &spec(LossPolicy::Rebalance)));
        assert!(joinable(&plan, &spec(LossPolicy::Continue)));
        assert!(!joinable(&plan, &spec(LossPolicy::Abort)));
        plan.vars.push(ptl_bytecode::Var {
            name: "n".into(),
            parts: vec![VarPart::Gen(Generator::Seq)],
        });
        // seq() joiners draw from a fresh range.
        assert!(joinable(&plan, &spec(LossPolicy::Rebalance)));
        plan.vars.pop();
        plan.datasets.push(ptl_bytecode::Dataset {
            name: "d.csv".into(),
            columns: vec!["id".into()],
            rows: vec![vec![]],
        });
        let feeder = |draw| ptl_bytecode::Var {
            name: "row".into(),
            parts: vec![VarPart::Gen(Generator::Csv { dataset: 0, draw })],
        };
        plan.vars.push(feeder(Draw::Random));
        assert!(joinable(&plan, &spec(LossPolicy::Rebalance)));
        plan.vars[0] = feeder(Draw::Unique);
        assert!(!joinable(&plan, &spec(LossPolicy::Rebalance)));
        // Nor do agents join it for capacity.
        assert!(!rows_may_be_shared(&plan));
    }

    #[test]
    fn a_lost_agents_slice_is_vacant_until_someone_holds_it() {
        let first = assign(&[(id(0), None), (id(1), None), (id(2), None)], 0, 0, None);
        assert_eq!(vacancy(&first, &HashSet::new()), None);
        let lost: HashSet<AgentId> = [id(1)].into();
        // Under `continue` the lost share is still in `shares`; after a rebalance, departed.
        assert_eq!(vacancy(&first, &lost).map(|s| s.index), Some(1));
        let rebalanced = rebalance(&first, &[id(0), id(2)], 10, None).expect("survivors");
        let vacated = vacancy(&rebalanced, &lost).expect("vacant");
        assert_eq!((vacated.agent, vacated.index), (id(1), 1));
        let joined = crate::run::assignment::admit(
            &rebalanced,
            &id(7),
            None,
            &rebalanced.departed[0],
            20,
            false,
            None,
        );
        assert_eq!(vacancy(&joined, &lost), None);
    }

    #[test]
    fn only_free_unrefused_outsiders_join() {
        let agents: Vec<RegisteredAgent> = (0..5).map(registered).collect();
        let members: HashSet<AgentId> = [id(0), id(1)].into();
        let busy = Busy::default();
        let other = RunId("run-0000000002".into());
        busy.take(&id(2), &other);
        let refused = |a: &RegisteredAgent| a.id == id(3);
        assert_eq!(
            pick(&agents, &members, &busy, refused).map(|a| &a.id),
            Some(&id(4))
        );
        busy.free_run(&other);
        assert_eq!(
            pick(&agents, &members, &busy, refused).map(|a| &a.id),
            Some(&id(2))
        );
        busy.take(&id(2), &other);
        busy.take(&id(4), &other);
        assert!(pick(&agents, &members, &busy, refused).is_none());
    }
}
