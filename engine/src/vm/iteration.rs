//! Mutable VM state: [`VmWorker`] (one per worker task: its RNG) and [`Iteration`] (one per
//! scenario iteration, or per request for a single request: the variables drawn for it, the
//! values captured so far and its cookies).

use super::generators::CsvRow;
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// State owned by one worker task. Not shared: every worker has its own RNG, seeded from the
/// plan seed, the agent index and the worker id, so the same run draws the same values.
#[derive(Debug, Clone)]
pub struct VmWorker {
    pub(crate) id: u32,
    pub(crate) rng: SmallRng,
}

impl VmWorker {
    pub(crate) fn new(seed: u64, agent: u32, worker: u32) -> VmWorker {
        let s = splitmix64(splitmix64(splitmix64(seed) ^ agent as u64) ^ worker as u64);
        VmWorker {
            id: worker,
            rng: SmallRng::seed_from_u64(s),
        }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// The worker's deterministic RNG, for other per-worker draws (fault injection shares…).
    pub fn rng(&mut self) -> &mut SmallRng {
        &mut self.rng
    }
}

/// A strong 64-bit mix so that neighbouring agent and worker ids get unrelated streams.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The values of one iteration. Reuse one per worker with
/// [`Program::reset_iteration`](super::Program::reset_iteration) to keep its buffers.
#[derive(Debug, Clone, Default)]
pub struct Iteration {
    pub(crate) scenario: u32,
    /// All variable values of this iteration, back to back.
    pub(crate) values: Vec<u8>,
    /// Per variable slot: its range in `values` (empty for variables this scenario never reads).
    pub(crate) spans: Vec<(u32, u32)>,
    pub(crate) rows: Vec<Option<CsvRow>>,
    registers: Vec<Vec<u8>>,
    captured: Vec<bool>,
    pub(crate) cookies: Vec<(Vec<u8>, Vec<u8>)>,
    /// The text of an encoded part before encoding; kept to reuse its buffer.
    pub(crate) scratch: Vec<u8>,
}

impl Iteration {
    pub(crate) fn reset(&mut self, scenario: u32, vars: usize, registers: usize) {
        self.scenario = scenario;
        self.values.clear();
        self.spans.clear();
        self.spans.resize(vars, (0, 0));
        self.rows.clear();
        self.rows.resize(vars, None);
        if self.registers.len() < registers {
            self.registers.resize_with(registers, Vec::new);
        }
        self.captured.clear();
        self.captured.resize(registers, false);
        self.cookies.clear();
    }

    pub fn scenario(&self) -> u32 {
        self.scenario
    }

    /// The value of variable `slot` in this iteration (empty if the scenario never reads it).
    pub fn var(&self, slot: u32) -> &[u8] {
        match self.spans.get(slot as usize) {
            Some(&(a, b)) => self.values.get(a as usize..b as usize).unwrap_or(&[]),
            None => &[],
        }
    }

    pub(crate) fn csv_row(&self, slot: u32) -> Option<CsvRow> {
        self.rows.get(slot as usize).copied().flatten()
    }

    /// The value captured into `register`, if a response has set it in this iteration.
    pub fn register(&self, register: u32) -> Option<&[u8]> {
        let r = register as usize;
        if *self.captured.get(r)? {
            self.registers.get(r).map(Vec::as_slice)
        } else {
            None
        }
    }

    /// Stores a captured value (out-of-range registers are ignored: the program checked them).
    pub fn set_register(&mut self, register: u32, value: &[u8]) {
        let r = register as usize;
        if let (Some(slot), Some(flag)) = (self.registers.get_mut(r), self.captured.get_mut(r)) {
            slot.clear();
            slot.extend_from_slice(value);
            *flag = true;
        }
    }

    /// Cookies received in this iteration (when the scenario has `cookies on`).
    pub fn cookies(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.cookies
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn worker_streams_are_reproducible_and_distinct() {
        let draw = |seed, agent, worker| -> Vec<u64> {
            let mut w = VmWorker::new(seed, agent, worker);
            (0..4).map(|_| w.rng().random()).collect()
        };
        assert_eq!(draw(42, 0, 0), draw(42, 0, 0));
        assert_ne!(draw(42, 0, 0), draw(42, 0, 1));
        assert_ne!(draw(42, 0, 0), draw(42, 1, 0));
        assert_ne!(draw(42, 0, 0), draw(43, 0, 0));
    }

    #[test]
    fn registers_are_unset_until_captured_and_cleared_on_reset() {
        let mut it = Iteration::default();
        it.reset(0, 0, 2);
        assert_eq!(it.register(0), None);
        it.set_register(1, b"tok");
        assert_eq!(it.register(1), Some(&b"tok"[..]));
        it.set_register(5, b"ignored");
        assert_eq!(it.register(5), None);
        it.reset(0, 0, 2);
        assert_eq!(it.register(1), None);
    }
}
