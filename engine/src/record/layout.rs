//! The shape of everything recorded for a plan: a flat numbering of its requests (top-level
//! requests and scenario steps) so that recorders index arrays instead of hashing names.

use ptl_bytecode::plan::{Plan, Step, Tag};

/// One recorded request: a top-level `request`, or one request step of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSlot {
    /// `checkout` for a top-level request, `buy.login` for a scenario step.
    pub name: String,
    pub scenario: u32,
    /// Index into the scenario's `steps` (think steps included).
    pub step: u32,
    /// Index into [`Layout::hosts`]: 0 for the plan's target, `i + 1` for `Plan::hosts[i]`.
    pub host: usize,
    /// Indices into [`Layout::tags`].
    pub tags: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioSlot {
    pub name: String,
    pub single_request: bool,
    /// Request ids of the scenario's request steps, in order.
    pub requests: Vec<u32>,
    /// For every step (think steps included), its request id.
    pub step_request: Vec<Option<u32>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub phases: Vec<String>,
    pub requests: Vec<RequestSlot>,
    pub scenarios: Vec<ScenarioSlot>,
    /// Host names: `default` (the plan's target) first, then `Plan::hosts` in order.
    pub hosts: Vec<String>,
    /// The plan's tags, as `Plan::tags`.
    pub tags: Vec<Tag>,
}

impl Layout {
    pub fn of(plan: &Plan) -> Layout {
        let mut requests = Vec::new();
        let mut scenarios = Vec::with_capacity(plan.scenarios.len());
        for (si, scenario) in plan.scenarios.iter().enumerate() {
            let mut ids = Vec::new();
            let mut step_request = Vec::with_capacity(scenario.steps.len());
            for (step_index, step) in scenario.steps.iter().enumerate() {
                match step {
                    Step::Request(request) => {
                        let id = requests.len() as u32;
                        let name = if scenario.single_request {
                            request.name.clone()
                        } else {
                            format!("{}.{}", scenario.name, request.name)
                        };
                        requests.push(RequestSlot {
                            name,
                            scenario: si as u32,
                            step: step_index as u32,
                            host: request.host.map_or(0, |h| h as usize + 1),
                            tags: request.tags.clone(),
                        });
                        ids.push(id);
                        step_request.push(Some(id));
                    }
                    Step::Think { .. } => step_request.push(None),
                }
            }
            scenarios.push(ScenarioSlot {
                name: scenario.name.clone(),
                single_request: scenario.single_request,
                requests: ids,
                step_request,
            });
        }
        Layout {
            phases: plan.phases.iter().map(|p| p.name.clone()).collect(),
            requests,
            scenarios,
            hosts: std::iter::once(ptl_bytecode::DEFAULT_HOST.to_string())
                .chain(plan.hosts.iter().map(|h| h.name.clone()))
                .collect(),
            tags: plan.tags.clone(),
        }
    }

    /// The requests sent to host `host` (an index into [`Layout::hosts`]).
    pub fn requests_of_host(&self, host: usize) -> impl Iterator<Item = usize> + '_ {
        self.requests
            .iter()
            .enumerate()
            .filter(move |(_, r)| r.host == host)
            .map(|(i, _)| i)
    }

    /// The requests carrying tag `tag` (an index into [`Layout::tags`]).
    pub fn requests_of_tag(&self, tag: u32) -> impl Iterator<Item = usize> + '_ {
        self.requests
            .iter()
            .enumerate()
            .filter(move |(_, r)| r.tags.contains(&tag))
            .map(|(i, _)| i)
    }

    /// The request id of a scenario's step, if that step is a request.
    pub fn request_of(&self, scenario: u32, step: u32) -> Option<u32> {
        self.scenarios
            .get(scenario as usize)?
            .step_request
            .get(step as usize)
            .copied()
            .flatten()
    }

    /// The request id of a scenario's first request step.
    pub fn first_request(&self, scenario: u32) -> Option<u32> {
        self.scenarios
            .get(scenario as usize)?
            .requests
            .first()
            .copied()
    }
}
