//! [`Program`]: a plan loaded for execution on one agent. Built once, then shared read-only
//! (behind an `Arc`) by every worker task; the only shared mutation is the agent-wide `seq()`
//! and CSV counters, which are atomics.

use super::encode::encode_into;
use super::generators::{constant, DrawContext, Exhausted, Gen, Table};
use super::iteration::{Iteration, VmWorker};
use super::mix::Mix;
use super::request::{BuiltRequest, CompiledRequest, RequestContext};
use super::share::AgentShare;
use super::target::Target;
use super::template::VarInfo;
use super::think::draw_think;
use super::wire::WireEdit;
use super::{cookies, VmError};
use crate::response_check::StepChecks;
use bytes::Bytes;
use http::uri::{Authority, Scheme};
use ptl_bytecode::plan::{Encoding, Plan, Step, Think, VarPart};
use std::sync::atomic::AtomicU64;

#[derive(Debug)]
enum Part {
    Lit(Bytes),
    Var(u32),
    Gen(Gen),
    /// Text and earlier variables, joined, then encoded (`base64(…)`, `url_encode(…)`).
    Encode {
        encoding: Encoding,
        parts: Vec<Part>,
    },
}

impl Part {
    /// The variables this part reads.
    fn reads(&self) -> impl Iterator<Item = u32> + '_ {
        let inner: &[Part] = match self {
            Part::Encode { parts, .. } => parts,
            other => std::slice::from_ref(other),
        };
        inner.iter().filter_map(|p| match p {
            Part::Var(j) => Some(*j),
            _ => None,
        })
    }
}

#[derive(Debug)]
struct Var {
    parts: Vec<Part>,
}

#[derive(Debug)]
enum CompiledStep {
    Request(Box<CompiledRequest>),
    Think(Think),
}

#[derive(Debug)]
struct CompiledScenario {
    registers: u32,
    cookies: bool,
    /// Variables the scenario reads, directly or through other variables, in slot order:
    /// only these are drawn, so unused generators cost nothing and consume no rows.
    vars: Vec<u32>,
    steps: Vec<CompiledStep>,
}

/// What a step is, for the engine's iteration loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Request,
    /// Pause; see [`Program::think_time_us`].
    Think(Think),
}

/// A plan ready to run on one agent.
#[derive(Debug)]
pub struct Program {
    /// The plan's `target`, then `Plan::hosts` in order: a request's host index is its place.
    targets: Vec<Target>,
    share: AgentShare,
    seed: u64,
    seq: AtomicU64,
    tables: Vec<Table>,
    vars: Vec<Var>,
    scenarios: Vec<CompiledScenario>,
    default_mix: Mix,
    phase_mixes: Vec<Mix>,
}

impl Program {
    /// Loads `plan` for the agent owning `share`. Everything that can be checked without
    /// sending a request is checked here.
    pub fn new(plan: &Plan, share: AgentShare) -> Result<Program, VmError> {
        share.validate()?;
        let targets: Vec<Target> = plan.urls().map(Target::parse).collect::<Result<_, _>>()?;
        let tables: Vec<Table> = plan
            .datasets
            .iter()
            .map(|d| Table::new(plan, d))
            .collect::<Result<_, _>>()?;

        let mut vars = Vec::with_capacity(plan.vars.len());
        let mut var_datasets: Vec<Option<u32>> = Vec::with_capacity(plan.vars.len());
        for (slot, v) in plan.vars.iter().enumerate() {
            let mut parts = Vec::with_capacity(v.parts.len());
            let mut dataset = None;
            for p in &v.parts {
                parts.push(match p {
                    VarPart::Lit(id) => Part::Lit(constant(plan, *id)?),
                    VarPart::Var(j) => {
                        if *j as usize >= slot {
                            return Err(VmError::VarOutOfRange(*j));
                        }
                        dataset = var_datasets[*j as usize].or(dataset);
                        Part::Var(*j)
                    }
                    VarPart::Encode { encoding, parts } => {
                        let mut inner = Vec::with_capacity(parts.len());
                        for p in parts {
                            inner.push(match p {
                                VarPart::Lit(id) => Part::Lit(constant(plan, *id)?),
                                VarPart::Var(j) if (*j as usize) < slot => Part::Var(*j),
                                VarPart::Var(j) => return Err(VmError::VarOutOfRange(*j)),
                                _ => {
                                    return Err(VmError::InvalidGenerator {
                                        var: v.name.clone(),
                                        reason: "only text and variables can be encoded".into(),
                                    })
                                }
                            });
                        }
                        Part::Encode {
                            encoding: *encoding,
                            parts: inner,
                        }
                    }
                    VarPart::Gen(g) => {
                        let g = Gen::compile(plan, &v.name, g)?;
                        if let Gen::Csv { dataset: d, .. } = g {
                            dataset = Some(d);
                        }
                        Part::Gen(g)
                    }
                });
            }
            vars.push(Var { parts });
            var_datasets.push(dataset);
        }
        let names: Vec<String> = plan.vars.iter().map(|v| v.name.clone()).collect();
        let info = VarInfo {
            datasets: &var_datasets,
            names: &names,
            tables: &tables,
        };

        let mut scenarios = Vec::with_capacity(plan.scenarios.len());
        for s in &plan.scenarios {
            let cx = RequestContext {
                plan,
                targets: &targets,
                vars: &info,
                scenario: &s.name,
                registers: s.registers,
            };
            let steps =
                s.steps
                    .iter()
                    .map(|step| match step {
                        Step::Request(r) => CompiledRequest::compile(&cx, r)
                            .map(|r| CompiledStep::Request(Box::new(r))),
                        Step::Think(t) => Ok(CompiledStep::Think(*t)),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
            let mut used = vec![false; vars.len()];
            for step in &steps {
                if let CompiledStep::Request(r) = step {
                    for v in r.vars() {
                        if let Some(u) = used.get_mut(v as usize) {
                            *u = true;
                        }
                    }
                }
            }
            // Dependencies point to lower slots, so one downward sweep closes the set.
            for slot in (0..vars.len()).rev() {
                if used[slot] {
                    for j in vars[slot].parts.iter().flat_map(Part::reads) {
                        used[j as usize] = true;
                    }
                }
            }
            scenarios.push(CompiledScenario {
                registers: s.registers,
                cookies: s.cookies,
                vars: (0..vars.len() as u32)
                    .filter(|&v| used[v as usize])
                    .collect(),
                steps,
            });
        }

        if plan.scenarios.is_empty() {
            return Err(VmError::NoScenarios);
        }
        let default_mix = Mix::default_for(plan)?;
        let phase_mixes = (0..plan.phases.len())
            .map(|p| Mix::for_phase(plan, p, &default_mix))
            .collect::<Result<_, _>>()?;

        Ok(Program {
            targets,
            share,
            seed: plan.seed,
            seq: AtomicU64::new(0),
            tables,
            vars,
            scenarios,
            default_mix,
            phase_mixes,
        })
    }

    pub fn share(&self) -> AgentShare {
        self.share
    }

    /// The scheme and authority of every target, by host index (0: the plan's `target`,
    /// `i + 1`: `Plan::hosts[i]`).
    pub fn targets(&self) -> impl Iterator<Item = (&Scheme, &Authority)> {
        self.targets.iter().map(|t| (&t.scheme, &t.authority))
    }

    /// The request's own `timeout`, when it has one (else the plan's applies).
    pub fn request_timeout(&self, scenario: u32, step: u32) -> Option<std::time::Duration> {
        self.find_request(scenario, step)?.timeout
    }

    /// The state for worker `id` of this agent (ids should be distinct per worker).
    pub fn worker(&self, id: u32) -> VmWorker {
        VmWorker::new(self.seed, self.share.index, id)
    }

    pub fn scenario_count(&self) -> u32 {
        self.scenarios.len() as u32
    }

    pub fn step_count(&self, scenario: u32) -> u32 {
        self.scenarios
            .get(scenario as usize)
            .map_or(0, |s| s.steps.len() as u32)
    }

    pub fn step_kind(&self, scenario: u32, step: u32) -> Option<StepKind> {
        Some(match self.find_step(scenario, step)? {
            CompiledStep::Request(_) => StepKind::Request,
            CompiledStep::Think(t) => StepKind::Think(*t),
        })
    }

    /// A think time drawn for a think step (`None` if the step is not one).
    pub fn think_time_us(&self, worker: &mut VmWorker, scenario: u32, step: u32) -> Option<u64> {
        match self.find_step(scenario, step)? {
            CompiledStep::Think(t) => Some(draw_think(*t, &mut worker.rng)),
            CompiledStep::Request(_) => None,
        }
    }

    /// Picks the scenario of the next arrival in `phase`: its `mix` if it has one, else the
    /// scenarios' default weights (an unknown phase uses the defaults).
    pub fn pick_scenario(&self, worker: &mut VmWorker, phase: u32) -> u32 {
        self.phase_mixes
            .get(phase as usize)
            .unwrap_or(&self.default_mix)
            .pick(&mut worker.rng)
    }

    /// Starts an iteration of `scenario`: draws every variable it reads, once. [`Exhausted`]
    /// when a `unique` feeder it reads has no row left for this agent.
    pub fn begin_iteration(
        &self,
        worker: &mut VmWorker,
        scenario: u32,
    ) -> Result<Iteration, Exhausted> {
        let mut it = Iteration::default();
        self.reset_iteration(worker, scenario, &mut it)?;
        Ok(it)
    }

    /// [`Program::begin_iteration`] reusing `it`'s buffers.
    pub fn reset_iteration(
        &self,
        worker: &mut VmWorker,
        scenario: u32,
        it: &mut Iteration,
    ) -> Result<(), Exhausted> {
        let Some(sc) = self.scenarios.get(scenario as usize) else {
            it.reset(scenario, self.vars.len(), 0);
            return Ok(());
        };
        it.reset(scenario, self.vars.len(), sc.registers as usize);
        let cx = DrawContext {
            share: self.share,
            seq: &self.seq,
            tables: &self.tables,
        };
        for &slot in &sc.vars {
            let start = it.values.len();
            let mut row = None;
            for p in &self.vars[slot as usize].parts {
                match p {
                    Part::Lit(b) => it.values.extend_from_slice(b),
                    Part::Var(j) => {
                        let (a, b) = it.spans[*j as usize];
                        it.values.extend_from_within(a as usize..b as usize);
                        row = it.rows[*j as usize].or(row);
                    }
                    Part::Gen(g) => {
                        if let Some(r) = g.draw(&cx, &mut worker.rng, &mut it.values)? {
                            row = Some(r);
                        }
                    }
                    Part::Encode { encoding, parts } => {
                        it.scratch.clear();
                        for p in parts {
                            match p {
                                Part::Lit(b) => it.scratch.extend_from_slice(b),
                                Part::Var(j) => {
                                    let (a, b) = it.spans[*j as usize];
                                    it.scratch
                                        .extend_from_slice(&it.values[a as usize..b as usize]);
                                }
                                _ => {}
                            }
                        }
                        encode_into(*encoding, &it.scratch, &mut it.values);
                    }
                }
            }
            it.spans[slot as usize] = (start as u32, it.values.len() as u32);
            it.rows[slot as usize] = row;
        }
        Ok(())
    }

    /// Builds the request of `step` for this iteration.
    pub fn build(&self, it: &Iteration, scenario: u32, step: u32) -> Result<BuiltRequest, VmError> {
        let cookies = self
            .scenarios
            .get(scenario as usize)
            .is_some_and(|s| s.cookies);
        let r = self.request(scenario, step)?;
        r.build(&self.targets[r.host], &self.tables, it, cookies)
    }

    /// Appends the request of `step` in HTTP/1.1 wire form to `out`, with a fault's edits
    /// (`WireEdit::default()` for none): the same request as [`Program::build`] makes. Returns
    /// whether it is a HEAD request (its answer has no body). On error `out` is unchanged.
    pub fn write_request(
        &self,
        it: &Iteration,
        scenario: u32,
        step: u32,
        edit: &WireEdit<'_>,
        out: &mut Vec<u8>,
    ) -> Result<bool, VmError> {
        let Some(r) = self.find_request(scenario, step) else {
            return self.request(scenario, step).map(|_| false);
        };
        r.write_wire(
            &self.targets[r.host],
            &self.tables,
            it,
            self.keeps_cookies(scenario),
            edit,
            out,
        )
    }

    /// Whether anything reads the response body of this step (expects or captures); when
    /// not, the engine may discard the body unread.
    pub fn needs_body(&self, scenario: u32, step: u32) -> bool {
        self.find_request(scenario, step)
            .is_some_and(|r| r.checks.needs_body())
    }

    /// Whether anything reads the response headers of this step (header captures, or the
    /// scenario's cookie jar); when not, the engine need not build a header map.
    pub fn needs_headers(&self, scenario: u32, step: u32) -> bool {
        self.keeps_cookies(scenario)
            || self
                .find_request(scenario, step)
                .is_some_and(|r| r.checks.needs_headers())
    }

    pub(crate) fn checks(&self, scenario: u32, step: u32) -> Result<&StepChecks, VmError> {
        self.request(scenario, step).map(|r| &r.checks)
    }

    pub(crate) fn keeps_cookies(&self, scenario: u32) -> bool {
        self.scenarios
            .get(scenario as usize)
            .is_some_and(|s| s.cookies)
    }

    pub(crate) fn store_cookies(&self, it: &mut Iteration, headers: &http::HeaderMap) {
        cookies::store(it, headers);
    }

    fn step(&self, scenario: u32, step: u32) -> Result<&CompiledStep, VmError> {
        self.scenarios
            .get(scenario as usize)
            .ok_or(VmError::ScenarioOutOfRange(scenario))?
            .steps
            .get(step as usize)
            .ok_or(VmError::StepOutOfRange { scenario, step })
    }

    fn request(&self, scenario: u32, step: u32) -> Result<&CompiledRequest, VmError> {
        match self.step(scenario, step)? {
            CompiledStep::Request(r) => Ok(r),
            CompiledStep::Think { .. } => Err(VmError::NotARequest { scenario, step }),
        }
    }

    // The per-request paths look steps up without building (and dropping) an error.
    fn find_step(&self, scenario: u32, step: u32) -> Option<&CompiledStep> {
        self.scenarios
            .get(scenario as usize)?
            .steps
            .get(step as usize)
    }

    pub(crate) fn find_request(&self, scenario: u32, step: u32) -> Option<&CompiledRequest> {
        match self.find_step(scenario, step)? {
            CompiledStep::Request(r) => Some(r),
            CompiledStep::Think { .. } => None,
        }
    }
}
