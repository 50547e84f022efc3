//! Test-only plan builder: writes plans the way the compiler would lower them, with a tiny
//! template syntax (`{{var}}`, `{{var.column}}`, `{{$register}}`) so tests stay readable.

use ptl_bytecode::plan::{
    ConstId, Dataset, Generator, HeaderTemplate, Method, Overflow, Plan, Request, Scenario, Step,
    Template, TemplateOp, Var, VarPart,
};

pub(crate) struct PlanBuilder {
    pub plan: Plan,
}

impl PlanBuilder {
    pub fn new(target: &str) -> PlanBuilder {
        PlanBuilder {
            plan: Plan {
                name: "test".into(),
                target: target.into(),
                timeout_us: 1_000_000,
                connections: 1,
                seed: 42,
                max_inflight: 10,
                overflow: Overflow::Drop,
                http: ptl_bytecode::HttpVersion::Http1,
                stop_at_knee: false,
                params: vec![],
                consts: vec![],
                datasets: vec![],
                vars: vec![],
                headers: vec![],
                scenarios: vec![],
                phases: vec![],
                thresholds: vec![],
                hosts: vec![],
                target_envs: vec![],
                tags: vec![],
            },
        }
    }

    pub fn c(&mut self, s: &str) -> ConstId {
        let bytes = s.as_bytes().to_vec();
        if let Some(i) = self.plan.consts.iter().position(|c| *c == bytes) {
            return ConstId(i as u32);
        }
        self.plan.consts.push(bytes);
        ConstId(self.plan.consts.len() as u32 - 1)
    }

    pub fn var(&mut self, name: &str, parts: Vec<VarPart>) -> u32 {
        self.plan.vars.push(Var {
            name: name.into(),
            parts,
        });
        self.plan.vars.len() as u32 - 1
    }

    pub fn gen(&mut self, name: &str, g: Generator) -> u32 {
        self.var(name, vec![VarPart::Gen(g)])
    }

    pub fn dataset(&mut self, name: &str, columns: &[&str], rows: &[&[&str]]) -> u32 {
        let rows = rows
            .iter()
            .map(|r| r.iter().map(|cell| self.c(cell)).collect())
            .collect();
        self.plan.datasets.push(Dataset {
            name: name.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        });
        self.plan.datasets.len() as u32 - 1
    }

    fn slot(&self, name: &str) -> u32 {
        self.plan
            .vars
            .iter()
            .position(|v| v.name == name)
            .unwrap_or_else(|| panic!("test plan has no variable {name}")) as u32
    }

    /// `{{x}}` is a variable, `{{x.col}}` a CSV field, `{{$3}}` capture register 3.
    pub fn tmpl(&mut self, text: &str) -> Template {
        let mut ops = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                ops.push(TemplateOp::Lit(self.c(&rest[..open])));
            }
            let close = rest[open..].find("}}").expect("closed insert") + open;
            let inner = &rest[open + 2..close];
            ops.push(if let Some(r) = inner.strip_prefix('$') {
                TemplateOp::Capture(r.parse().expect("register number"))
            } else if let Some((var, col)) = inner.split_once('.') {
                let slot = self.slot(var);
                let dataset = match self.plan.vars[slot as usize].parts.as_slice() {
                    [VarPart::Gen(Generator::Csv { dataset, .. })] => *dataset,
                    _ => u32::MAX,
                };
                let column = self
                    .plan
                    .datasets
                    .get(dataset as usize)
                    .and_then(|d| d.columns.iter().position(|c| c == col))
                    .map_or(u32::MAX - 1, |c| c as u32);
                TemplateOp::Field { var: slot, column }
            } else {
                TemplateOp::Var(self.slot(inner))
            });
            rest = &rest[close + 2..];
        }
        if !rest.is_empty() {
            ops.push(TemplateOp::Lit(self.c(rest)));
        }
        Template { ops }
    }

    pub fn header(&mut self, name: &str, value: &str) -> HeaderTemplate {
        HeaderTemplate {
            name: self.tmpl(name),
            value: self.tmpl(value),
        }
    }

    pub fn default_header(&mut self, name: &str, value: &str) {
        let h = self.header(name, value);
        self.plan.headers.push(h);
    }

    pub fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Request {
        Request {
            name: format!("{} {path}", method.as_str()),
            method,
            path: self.tmpl(path),
            headers: headers.iter().map(|(n, v)| self.header(n, v)).collect(),
            body: body.map(|b| self.tmpl(b)),
            expects: vec![],
            captures: vec![],
            host: None,
            timeout_us: None,
            tags: vec![],
        }
    }

    /// Adds a scenario; returns its index.
    pub fn scenario(&mut self, name: &str, weight: u32, registers: u32, steps: Vec<Step>) -> u32 {
        self.plan.scenarios.push(Scenario {
            name: name.into(),
            weight,
            single_request: steps.len() == 1,
            cookies: false,
            registers,
            steps,
        });
        self.plan.scenarios.len() as u32 - 1
    }

    /// Adds a one-request scenario; returns its index.
    pub fn single(&mut self, request: Request) -> u32 {
        let name = request.name.clone();
        self.scenario(&name, 1, 0, vec![Step::Request(request)])
    }
}
