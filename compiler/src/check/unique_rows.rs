//! W0011: a `unique` feeder with fewer rows than the arrivals that will draw from it. Each
//! row is sent once across the whole run, so the arrivals after the last row are not sent
//! (`exhausted` in the result). Known statically only for open phases (a closed phase's
//! arrivals depend on the target); an arrival draws from the feeder when its scenario uses the
//! variable (in a template, or through another `let`), as the runtime decides.

use ptl_bytecode::{Draw, Generator, Plan, Scenario, Step, Template, TemplateOp, VarPart};

use crate::check::capacity::{mix, planned_arrivals};
use crate::check::model::Model;
use crate::diagnostic::Diagnostic;
use crate::report::Located;

/// One warning per `unique` feeder the open phases plan more arrivals for than it has rows.
pub fn short_feeders(model: &Model, plan: &Plan) -> Vec<Located> {
    let uses: Vec<Vec<bool>> = plan.scenarios.iter().map(|s| vars_drawn(plan, s)).collect();
    let mut out = Vec::new();
    for (slot, var) in plan.vars.iter().enumerate() {
        let Some(dataset) = var.parts.iter().find_map(|p| match p {
            VarPart::Gen(Generator::Csv {
                dataset,
                draw: Draw::Unique,
            }) => Some(*dataset as usize),
            _ => None,
        }) else {
            continue;
        };
        let (Some(data), Some(origin)) = (
            plan.datasets.get(dataset),
            model.vars.get(slot).map(|v| v.origin),
        ) else {
            continue;
        };
        let mut arrivals = 0.0;
        let mut whole = true;
        for phase in &plan.phases {
            let Some(planned) = planned_arrivals(&phase.load) else {
                continue;
            };
            for (s, share) in mix(plan, phase) {
                if uses[s].get(slot).copied().unwrap_or(false) {
                    arrivals += planned * share;
                    whole &= share >= 1.0;
                }
            }
        }
        let arrivals = arrivals.floor() as u64;
        let rows = data.rows.len();
        if (rows as u64) < arrivals {
            out.push(Located::new(
                origin.file,
                Diagnostic::UniqueFeederShort {
                    file: data.name.clone(),
                    rows,
                    arrivals: if whole {
                        arrivals.to_string()
                    } else {
                        format!("about {arrivals}")
                    },
                    span: origin.span.into(),
                },
            ));
        }
    }
    out
}

/// Which variables an iteration of `scenario` draws: those its requests (and the plan's
/// headers) refer to, and the earlier ones those are built from.
fn vars_drawn(plan: &Plan, scenario: &Scenario) -> Vec<bool> {
    let mut used = vec![false; plan.vars.len()];
    let mut mark = |t: &Template| {
        for op in &t.ops {
            if let TemplateOp::Var(v) | TemplateOp::Field { var: v, .. } = op {
                if let Some(u) = used.get_mut(*v as usize) {
                    *u = true;
                }
            }
        }
    };
    for step in &scenario.steps {
        if let Step::Request(r) = step {
            mark(&r.path);
            r.headers.iter().chain(&plan.headers).for_each(|h| {
                mark(&h.name);
                mark(&h.value);
            });
            if let Some(body) = &r.body {
                mark(body);
            }
        }
    }
    // A variable reads only earlier ones: one downward sweep closes the set.
    for slot in (0..plan.vars.len()).rev() {
        if used[slot] {
            for read in plan.vars[slot].parts.iter().flat_map(reads) {
                if let Some(u) = used.get_mut(read as usize) {
                    *u = true;
                }
            }
        }
    }
    used
}

/// The variables one part of a `let` reads.
fn reads(part: &VarPart) -> Vec<u32> {
    match part {
        VarPart::Var(v) => vec![*v],
        VarPart::Encode { parts, .. } => parts.iter().flat_map(reads).collect(),
        VarPart::Lit(_) | VarPart::Gen(_) => Vec::new(),
    }
}
