//! Value generators (`int(…)`, `uuid()`, `csv(…)` …), validated and pre-converted at load so
//! that a draw is a few RNG calls and a write into the iteration's value buffer.

use super::share::AgentShare;
use super::VmError;
use bytes::Bytes;
use ptl_bytecode::plan::{Dataset, Draw, Generator, Plan};
use rand::distr::Alphanumeric;
use rand::rngs::SmallRng;
use rand::RngExt;
use rand_distr::{Distribution, Zipf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A dataset's cells back to back in one buffer (row-major), so that a large CSV costs two
/// allocations rather than one per cell.
#[derive(Debug)]
pub(crate) struct Table {
    pub columns: usize,
    pub rows: usize,
    text: Vec<u8>,
    /// `ends[i]` is where cell `i` ends in `text`; it starts where cell `i − 1` ends.
    ends: Vec<usize>,
    /// Draws taken from this dataset on this agent so far (shared by all workers).
    pub drawn: AtomicU64,
}

impl Table {
    pub fn new(plan: &Plan, dataset: &Dataset) -> Result<Table, VmError> {
        let columns = dataset.columns.len();
        let mut text = Vec::new();
        let mut ends = Vec::with_capacity(dataset.rows.len() * columns);
        for (row, ids) in dataset.rows.iter().enumerate() {
            if ids.len() != columns {
                return Err(VmError::RaggedDataset {
                    name: dataset.name.clone(),
                    row,
                    cells: ids.len(),
                    columns,
                });
            }
            for &id in ids {
                let cell = plan
                    .consts
                    .get(id.0 as usize)
                    .ok_or(VmError::ConstOutOfRange(id.0))?;
                text.extend_from_slice(cell);
                ends.push(text.len());
            }
        }
        Ok(Table {
            columns,
            rows: dataset.rows.len(),
            text,
            ends,
            drawn: AtomicU64::new(0),
        })
    }

    pub fn cell(&self, row: u32, column: u32) -> &[u8] {
        if column as usize >= self.columns {
            return &[];
        }
        let i = row as usize * self.columns + column as usize;
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).copied().unwrap_or(0),
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.text.get(start..end).unwrap_or(&[])
    }

    /// Appends a whole row, cells joined with commas: the value of `{{row}}` without a column.
    pub fn write_row(&self, row: u32, out: &mut Vec<u8>) {
        for c in 0..self.columns as u32 {
            if c > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.cell(row, c));
        }
    }
}

/// A constant from the plan's pool, copied once into a shared buffer.
pub(crate) fn constant(plan: &Plan, id: ptl_bytecode::plan::ConstId) -> Result<Bytes, VmError> {
    plan.consts
        .get(id.0 as usize)
        .map(|c| Bytes::copy_from_slice(c))
        .ok_or(VmError::ConstOutOfRange(id.0))
}

/// `str(n)` is drawn per iteration into memory: a sanity bound, far above any real field.
const MAX_STR_LEN: u32 = 1 << 20;

#[derive(Debug)]
pub(crate) enum Gen {
    Int {
        min: i64,
        max: i64,
    },
    Float {
        min: f64,
        max: f64,
    },
    OneOf(Vec<Bytes>),
    /// `cumulative[i]` is the sum of the weights of choices `0..=i`.
    Weighted {
        choices: Vec<Bytes>,
        cumulative: Vec<u64>,
    },
    Uuid,
    Seq,
    Csv {
        dataset: u32,
        draw: Draw,
    },
    Zipf {
        min: i64,
        dist: Zipf<f64>,
    },
    Str {
        len: u32,
    },
    Now,
    /// An environment variable's value, read when the program was built.
    Env(Vec<u8>),
}

/// What a draw needs besides the worker's RNG: the agent-wide counters and the datasets.
pub(crate) struct DrawContext<'a> {
    pub share: AgentShare,
    pub seq: &'a AtomicU64,
    pub tables: &'a [Table],
}

impl Gen {
    pub fn compile(plan: &Plan, var: &str, g: &Generator) -> Result<Gen, VmError> {
        let invalid = |reason: String| VmError::InvalidGenerator {
            var: var.to_string(),
            reason,
        };
        Ok(match *g {
            Generator::Int { min, max } => {
                if min > max {
                    return Err(invalid(format!("int({min}, {max}): min is above max")));
                }
                Gen::Int { min, max }
            }
            Generator::Float { min, max } => {
                // The width must be finite too: the uniform sampler scales by it.
                if !(max - min).is_finite() || min > max {
                    return Err(invalid(format!("float({min}, {max}) is not a range")));
                }
                Gen::Float { min, max }
            }
            Generator::OneOf(ref ids) => {
                if ids.is_empty() {
                    return Err(invalid("one_of() needs at least one value".into()));
                }
                let choices = ids
                    .iter()
                    .map(|&id| constant(plan, id))
                    .collect::<Result<_, _>>()?;
                Gen::OneOf(choices)
            }
            Generator::Weighted(ref pairs) => {
                let mut choices = Vec::with_capacity(pairs.len());
                let mut cumulative = Vec::with_capacity(pairs.len());
                let mut total = 0u64;
                for &(id, w) in pairs {
                    choices.push(constant(plan, id)?);
                    total += w.0 as u64;
                    cumulative.push(total);
                }
                if total == 0 {
                    return Err(invalid("weighted() needs a positive weight".into()));
                }
                Gen::Weighted {
                    choices,
                    cumulative,
                }
            }
            Generator::Uuid => Gen::Uuid,
            Generator::Seq => Gen::Seq,
            Generator::Csv { dataset, draw } => {
                let d = plan
                    .datasets
                    .get(dataset as usize)
                    .ok_or(VmError::DatasetOutOfRange(dataset))?;
                if d.rows.is_empty() {
                    return Err(VmError::EmptyDataset {
                        name: d.name.clone(),
                    });
                }
                Gen::Csv { dataset, draw }
            }
            Generator::Zipf { min, max, s } => {
                let n = max
                    .checked_sub(min)
                    .filter(|&d| d >= 0)
                    .and_then(|d| (d as u64).checked_add(1))
                    .ok_or_else(|| invalid(format!("zipf({min}, {max}, {s}) is not a range")))?;
                if !s.is_finite() || s < 0.0 {
                    return Err(invalid(format!("zipf exponent {s} must be ≥ 0")));
                }
                let dist = Zipf::new(n as f64, s).map_err(|e| invalid(format!("zipf: {e}")))?;
                Gen::Zipf { min, dist }
            }
            Generator::Str { len } => {
                if len > MAX_STR_LEN {
                    return Err(invalid(format!(
                        "str({len}) is longer than the limit of {MAX_STR_LEN} characters"
                    )));
                }
                Gen::Str { len }
            }
            Generator::Now => Gen::Now,
            Generator::Env { name, default } => {
                let name = String::from_utf8_lossy(&constant(plan, name)?).into_owned();
                match (std::env::var_os(&name), default) {
                    (Some(value), _) => Gen::Env(value.into_encoded_bytes()),
                    (None, Some(default)) => Gen::Env(constant(plan, default)?.to_vec()),
                    (None, None) => {
                        return Err(VmError::MissingEnv {
                            var: var.to_string(),
                            name,
                        })
                    }
                }
            }
        })
    }

    /// Appends one drawn value to `out`. Returns the row drawn, if this is a feeder, or
    /// [`Exhausted`] when a `unique` feeder has no row left for this agent.
    pub fn draw(
        &self,
        cx: &DrawContext<'_>,
        rng: &mut SmallRng,
        out: &mut Vec<u8>,
    ) -> Result<Option<CsvRow>, Exhausted> {
        match self {
            Gen::Int { min, max } => push_int(out, rng.random_range(*min..=*max)),
            Gen::Float { min, max } => {
                let v = if min < max {
                    rng.random_range(*min..*max)
                } else {
                    *min
                };
                out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
            }
            Gen::OneOf(choices) => {
                let i = rng.random_range(0..choices.len());
                out.extend_from_slice(&choices[i]);
            }
            Gen::Weighted {
                choices,
                cumulative,
            } => {
                let total = cumulative.last().copied().unwrap_or(1);
                let x = rng.random_range(0..total);
                let i = cumulative.partition_point(|&c| c <= x);
                if let Some(choice) = choices.get(i) {
                    out.extend_from_slice(choice);
                }
            }
            Gen::Uuid => {
                let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
                let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
                out.extend_from_slice(id.hyphenated().encode_lower(&mut buf).as_bytes());
            }
            Gen::Seq => {
                let k = cx.seq.fetch_add(1, Ordering::Relaxed);
                out.extend_from_slice(itoa::Buffer::new().format(cx.share.seq_value(k)).as_bytes());
            }
            Gen::Csv { dataset, draw } => {
                let Some(table) = cx.tables.get(*dataset as usize) else {
                    return Ok(None);
                };
                let row = match draw {
                    Draw::Sequential => {
                        let k = table.drawn.fetch_add(1, Ordering::Relaxed);
                        cx.share.csv_row(table.rows, k)
                    }
                    // Any k picks one of the agent's own rows; a random k, a random one.
                    Draw::Random => cx.share.csv_row(table.rows, rng.random()),
                    Draw::Unique => {
                        let k = table.drawn.fetch_add(1, Ordering::Relaxed);
                        cx.share
                            .unique_row(table.rows, k)
                            .ok_or(Exhausted { dataset: *dataset })?
                    }
                } as u32;
                table.write_row(row, out);
                return Ok(Some(CsvRow {
                    dataset: *dataset,
                    row,
                }));
            }
            Gen::Zipf { min, dist } => {
                // Zipf yields 1..=n as a float holding an integer.
                let k = dist.sample(rng) as i64;
                push_int(out, min.saturating_add(k - 1));
            }
            Gen::Str { len } => {
                out.reserve(*len as usize);
                out.extend(rng.sample_iter(Alphanumeric).take(*len as usize));
            }
            Gen::Env(value) => out.extend_from_slice(value),
            Gen::Now => {
                let ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                out.extend_from_slice(itoa::Buffer::new().format(ms).as_bytes());
            }
        }
        Ok(None)
    }
}

fn push_int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A `unique` feeder ran out of rows on this agent: the iteration cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted {
    pub dataset: u32,
}

/// The CSV row a variable holds in this iteration, for `{{var.column}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CsvRow {
    pub dataset: u32,
    pub row: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptl_bytecode::plan::{ConstId, Ppm};
    use rand::SeedableRng;
    use std::collections::{HashMap, HashSet};

    fn plan_with(consts: &[&str], datasets: Vec<Dataset>) -> Plan {
        Plan {
            name: "t".into(),
            target: "http://localhost".into(),
            timeout_us: 1,
            connections: 1,
            seed: 0,
            max_inflight: 1,
            overflow: ptl_bytecode::plan::Overflow::Drop,
            http: ptl_bytecode::HttpVersion::Http1,
            stop_at_knee: false,
            params: vec![],
            consts: consts.iter().map(|c| c.as_bytes().to_vec()).collect(),
            datasets,
            vars: vec![],
            headers: vec![],
            scenarios: vec![],
            phases: vec![],
            thresholds: vec![],
            hosts: vec![],
            target_envs: vec![],
            tags: vec![],
        }
    }

    struct Drawer {
        tables: Vec<Table>,
        seq: AtomicU64,
        share: AgentShare,
        rng: SmallRng,
    }

    impl Drawer {
        fn new(plan: &Plan, share: AgentShare) -> Drawer {
            Drawer {
                tables: plan
                    .datasets
                    .iter()
                    .map(|d| Table::new(plan, d).expect("valid dataset"))
                    .collect(),
                seq: AtomicU64::new(0),
                share,
                rng: SmallRng::seed_from_u64(7),
            }
        }
        fn draw(&mut self, g: &Gen) -> (String, Option<CsvRow>) {
            let (out, row) = self.try_draw(g);
            (out, row.expect("rows left"))
        }
        fn try_draw(&mut self, g: &Gen) -> (String, Result<Option<CsvRow>, Exhausted>) {
            let cx = DrawContext {
                share: self.share,
                seq: &self.seq,
                tables: &self.tables,
            };
            let mut out = Vec::new();
            let row = g.draw(&cx, &mut self.rng, &mut out);
            (String::from_utf8(out).expect("utf-8"), row)
        }
    }

    fn compile(plan: &Plan, g: Generator) -> Gen {
        Gen::compile(plan, "v", &g).expect("valid generator")
    }

    #[test]
    fn int_range_is_inclusive() {
        let plan = plan_with(&[], vec![]);
        let g = compile(&plan, Generator::Int { min: -2, max: 2 });
        let mut d = Drawer::new(&plan, AgentShare::solo());
        let seen: HashSet<i64> = (0..2000)
            .map(|_| d.draw(&g).0.parse().expect("an integer"))
            .collect();
        assert_eq!(seen, (-2..=2).collect());
        assert!(Gen::compile(&plan, "v", &Generator::Int { min: 3, max: 2 }).is_err());
    }

    #[test]
    fn float_stays_in_half_open_range() {
        let plan = plan_with(&[], vec![]);
        let g = compile(&plan, Generator::Float { min: 1.5, max: 2.5 });
        let mut d = Drawer::new(&plan, AgentShare::solo());
        for _ in 0..1000 {
            let v: f64 = d.draw(&g).0.parse().expect("a float");
            assert!((1.5..2.5).contains(&v), "{v}");
        }
        let fixed = compile(&plan, Generator::Float { min: 3.0, max: 3.0 });
        assert_eq!(d.draw(&fixed).0, "3.0");
        let nan = Generator::Float {
            min: f64::NAN,
            max: 1.0,
        };
        assert!(Gen::compile(&plan, "v", &nan).is_err());
        let too_wide = Generator::Float {
            min: -f64::MAX,
            max: f64::MAX,
        };
        assert!(Gen::compile(&plan, "v", &too_wide).is_err());
    }

    #[test]
    fn one_of_draws_every_choice() {
        let plan = plan_with(&["visa", "amex", "mc"], vec![]);
        let g = compile(
            &plan,
            Generator::OneOf(vec![ConstId(0), ConstId(1), ConstId(2)]),
        );
        let mut d = Drawer::new(&plan, AgentShare::solo());
        let seen: HashSet<String> = (0..300).map(|_| d.draw(&g).0).collect();
        assert_eq!(seen, ["visa", "amex", "mc"].map(String::from).into());
        assert!(Gen::compile(&plan, "v", &Generator::OneOf(vec![])).is_err());
        assert!(Gen::compile(&plan, "v", &Generator::OneOf(vec![ConstId(9)])).is_err());
    }

    #[test]
    fn weighted_shares_are_within_bounds() {
        let plan = plan_with(&["eu", "us", "ap"], vec![]);
        let g = compile(
            &plan,
            Generator::Weighted(vec![
                (ConstId(0), Ppm(700_000)),
                (ConstId(1), Ppm(250_000)),
                (ConstId(2), Ppm(50_000)),
            ]),
        );
        let mut d = Drawer::new(&plan, AgentShare::solo());
        let n = 100_000;
        let mut counts: HashMap<String, u32> = HashMap::new();
        for _ in 0..n {
            *counts.entry(d.draw(&g).0).or_default() += 1;
        }
        for (name, p) in [("eu", 0.70), ("us", 0.25), ("ap", 0.05)] {
            let got = counts.get(name).copied().unwrap_or(0) as f64 / n as f64;
            // Five standard deviations of a binomial share over n draws.
            let bound = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
            assert!((got - p).abs() < bound, "{name}: {got} vs {p}");
        }
    }

    #[test]
    fn uuid_is_v4_formatted() {
        let plan = plan_with(&[], vec![]);
        let mut d = Drawer::new(&plan, AgentShare::solo());
        let mut seen = HashSet::new();
        for _ in 0..100 {
            let s = d.draw(&Gen::Uuid).0;
            let parsed = uuid::Uuid::parse_str(&s).expect("a uuid");
            assert_eq!(parsed.get_version_num(), 4);
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
            assert_eq!(s, s.to_lowercase());
            assert_eq!(s.len(), 36);
            assert!(seen.insert(s));
        }
    }

    #[test]
    fn zipf_is_skewed_towards_min() {
        let plan = plan_with(&[], vec![]);
        let g = compile(
            &plan,
            Generator::Zipf {
                min: 10,
                max: 19,
                s: 1.0,
            },
        );
        let mut d = Drawer::new(&plan, AgentShare::solo());
        let mut counts = [0u32; 10];
        for _ in 0..50_000 {
            let v: i64 = d.draw(&g).0.parse().expect("an integer");
            assert!((10..=19).contains(&v));
            counts[(v - 10) as usize] += 1;
        }
        // With s = 1 the first value is twice as likely as the second, ten times the tenth.
        let ratio2 = counts[0] as f64 / counts[1] as f64;
        let ratio10 = counts[0] as f64 / counts[9] as f64;
        assert!((1.8..2.2).contains(&ratio2), "{ratio2}");
        assert!((8.0..12.5).contains(&ratio10), "{ratio10}");
        let bad = Generator::Zipf {
            min: 5,
            max: 1,
            s: 1.0,
        };
        assert!(Gen::compile(&plan, "v", &bad).is_err());
    }

    #[test]
    fn str_has_length_and_charset() {
        let plan = plan_with(&[], vec![]);
        let g = compile(&plan, Generator::Str { len: 24 });
        let mut d = Drawer::new(&plan, AgentShare::solo());
        let mut chars = HashSet::new();
        for _ in 0..200 {
            let s = d.draw(&g).0;
            assert_eq!(s.len(), 24);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
            chars.extend(s.bytes());
        }
        assert!(chars.len() > 50, "only {} distinct characters", chars.len());
        assert_eq!(d.draw(&compile(&plan, Generator::Str { len: 0 })).0, "");
        assert!(Gen::compile(&plan, "v", &Generator::Str { len: u32::MAX }).is_err());
    }

    #[test]
    fn now_is_epoch_milliseconds() {
        let plan = plan_with(&[], vec![]);
        let mut d = Drawer::new(&plan, AgentShare::solo());
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        let v: u64 = d.draw(&Gen::Now).0.parse().expect("an integer");
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        assert!(before <= v && v <= after);
    }

    fn people() -> Dataset {
        Dataset {
            name: "people.csv".into(),
            columns: vec!["id".into(), "email".into()],
            rows: (0..5)
                .map(|r| vec![ConstId(2 * r), ConstId(2 * r + 1)])
                .collect(),
        }
    }

    /// The people plan and a feeder drawing its dataset with `draw`.
    fn people_feeder(draw: Draw) -> (Plan, Gen) {
        let consts = people_consts();
        let refs: Vec<&str> = consts.iter().map(String::as_str).collect();
        let plan = plan_with(&refs, vec![people()]);
        let g = compile(&plan, Generator::Csv { dataset: 0, draw });
        (plan, g)
    }

    fn people_consts() -> Vec<String> {
        (0..5)
            .flat_map(|r| [r.to_string(), format!("p{r}@example.com")])
            .collect()
    }

    #[test]
    fn csv_walks_rows_in_order_and_exposes_fields() {
        let (plan, g) = people_feeder(Draw::Sequential);
        let mut d = Drawer::new(&plan, AgentShare::solo());
        let mut rows = Vec::new();
        for _ in 0..7 {
            let (whole, row) = d.draw(&g);
            let row = row.expect("a csv row");
            assert_eq!(
                whole,
                format!("{},p{}@example.com", row.row, row.row),
                "the whole value is the row joined by commas"
            );
            assert_eq!(
                d.tables[0].cell(row.row, 1),
                whole.split(',').nth(1).unwrap_or("").as_bytes()
            );
            rows.push(row.row);
        }
        assert_eq!(rows, vec![0, 1, 2, 3, 4, 0, 1]);
    }

    #[test]
    fn csv_rows_are_disjoint_across_agents() {
        let (plan, g) = people_feeder(Draw::Sequential);
        let mut by_agent = Vec::new();
        for index in 0..2 {
            let mut d = Drawer::new(&plan, AgentShare::equal(index, 2).expect("valid"));
            let rows: HashSet<u32> = (0..10)
                .map(|_| d.draw(&g).1.expect("a csv row").row)
                .collect();
            by_agent.push(rows);
        }
        assert_eq!(by_agent[0], HashSet::from([0, 2, 4]));
        assert_eq!(by_agent[1], HashSet::from([1, 3]));
    }

    #[test]
    fn random_draws_stay_on_the_agents_rows_and_reach_them_all() {
        let (plan, g) = people_feeder(Draw::Random);
        let mut d = Drawer::new(&plan, AgentShare::equal(0, 2).expect("valid"));
        let rows: Vec<u32> = (0..200)
            .map(|_| d.draw(&g).1.expect("a csv row").row)
            .collect();
        assert_eq!(
            rows.iter().copied().collect::<HashSet<_>>(),
            HashSet::from([0, 2, 4])
        );
        // Not the sequential walk.
        assert_ne!(rows[..6], [0, 2, 4, 0, 2, 4]);
    }

    #[test]
    fn unique_draws_each_row_once_then_reports_exhaustion() {
        let (plan, g) = people_feeder(Draw::Unique);
        let mut d = Drawer::new(&plan, AgentShare::equal(1, 2).expect("valid"));
        let rows: Vec<u32> = (0..2)
            .map(|_| d.draw(&g).1.expect("a csv row").row)
            .collect();
        assert_eq!(rows, [1, 3]);
        for _ in 0..3 {
            let (out, row) = d.try_draw(&g);
            assert_eq!(row, Err(Exhausted { dataset: 0 }));
            assert_eq!(out, "", "nothing written for an exhausted draw");
        }
    }

    #[test]
    fn csv_rejects_empty_and_ragged_datasets() {
        let mut empty = people();
        empty.rows.clear();
        let consts = people_consts();
        let refs: Vec<&str> = consts.iter().map(String::as_str).collect();
        let plan = plan_with(&refs, vec![empty]);
        assert!(matches!(
            Gen::compile(
                &plan,
                "v",
                &Generator::Csv {
                    dataset: 0,
                    draw: Draw::Sequential,
                }
            ),
            Err(VmError::EmptyDataset { .. })
        ));
        assert!(Gen::compile(
            &plan,
            "v",
            &Generator::Csv {
                dataset: 1,
                draw: Draw::Sequential,
            }
        )
        .is_err());
        let mut ragged = people();
        ragged.rows[2].pop();
        assert!(matches!(
            Table::new(&plan, &ragged),
            Err(VmError::RaggedDataset { row: 2, .. })
        ));
    }

    #[test]
    fn seq_is_unique_across_simulated_agents() {
        let plan = plan_with(&[], vec![]);
        let mut seen = HashSet::new();
        for index in 0..3 {
            let mut d = Drawer::new(&plan, AgentShare::equal(index, 3).expect("valid"));
            for _ in 0..100 {
                let v: u64 = d.draw(&Gen::Seq).0.parse().expect("an integer");
                assert!(seen.insert(v), "{v} drawn twice");
            }
        }
        assert_eq!(seen, (0..300).collect());
    }
}
