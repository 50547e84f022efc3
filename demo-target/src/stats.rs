//! Counters of what the target answered, kept in atomics so the hot path takes no lock; only
//! `/seq/{n}` requests take one, to remember which numbers were seen.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The counted routes; every path falls in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Root,
    Products,
    Checkout,
    Login,
    Cart,
    Pay,
    Other,
}

impl Route {
    const ALL: [Route; 7] = [
        Route::Root,
        Route::Products,
        Route::Checkout,
        Route::Login,
        Route::Cart,
        Route::Pay,
        Route::Other,
    ];

    /// The key in `StatsSnapshot::by_path`.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Route::Root => "/",
            Route::Products => "/products",
            Route::Checkout => "/checkout",
            Route::Login => "/login",
            Route::Cart => "/cart",
            Route::Pay => "/pay",
            Route::Other => "other",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Statuses are counted in a flat table indexed by code; codes outside it go to `other`.
const STATUS_SLOTS: usize = 600;

pub(crate) struct Stats {
    requests: AtomicU64,
    by_route: [AtomicU64; Route::ALL.len()],
    by_status: Box<[AtomicU64]>,
    valid_tokens: AtomicU64,
    invalid_tokens: AtomicU64,
    logins: AtomicU64,
    orders: AtomicU64,
    etag_mismatches: AtomicU64,
    fault_aborts: AtomicU64,
    fault_delays: AtomicU64,
    injected_errors: AtomicU64,
    /// Every number a `/seq/{n}` request carried, and how many such requests came.
    seq_seen: Mutex<HashSet<u64>>,
    seq_requests: AtomicU64,
}

/// What `GET /stats` answers (JSON). Control endpoints (`/health`, `/stats`) are not counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatsSnapshot {
    /// Requests answered (any status), control endpoints excluded.
    pub requests: u64,
    /// By route: `/`, `/products`, `/checkout`, `/login`, `/cart`, `/pay`, `other`.
    pub by_path: BTreeMap<String, u64>,
    /// By status code (as a string, JSON keys being strings); only codes seen.
    pub by_status: BTreeMap<String, u64>,
    /// `/cart` and `/pay` requests whose bearer token was issued by `/login`.
    pub valid_tokens: u64,
    /// `/cart` and `/pay` requests with a missing, malformed or unknown token (answered 401).
    pub invalid_tokens: u64,
    pub logins: u64,
    /// Successful `/pay` requests.
    pub orders: u64,
    /// `/pay` requests with a valid token but not the ETag last issued for it (answered 412).
    pub etag_mismatches: u64,
    /// Requests answered through `x-envoy-fault-abort-request`.
    pub fault_aborts: u64,
    /// Requests delayed through `x-envoy-fault-delay-request`.
    pub fault_delays: u64,
    /// Requests failed with 500 by the configured error rate.
    pub injected_errors: u64,
    /// `/seq/{n}` requests (`n` a whole number), and how many distinct `n` they carried: a
    /// plan sending `seq()` values there can check that none repeated.
    #[serde(default)]
    pub seq_requests: u64,
    #[serde(default)]
    pub seq_distinct: u64,
}

/// The counters `Stats::count` can bump besides route and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    ValidToken,
    InvalidToken,
    Login,
    Order,
    EtagMismatch,
    FaultAbort,
    FaultDelay,
    InjectedError,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Stats {
            requests: AtomicU64::new(0),
            by_route: Default::default(),
            by_status: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            valid_tokens: AtomicU64::new(0),
            invalid_tokens: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            orders: AtomicU64::new(0),
            etag_mismatches: AtomicU64::new(0),
            fault_aborts: AtomicU64::new(0),
            fault_delays: AtomicU64::new(0),
            injected_errors: AtomicU64::new(0),
            seq_seen: Mutex::new(HashSet::new()),
            seq_requests: AtomicU64::new(0),
        }
    }

    /// Remembers the number a `/seq/{n}` request carried.
    pub(crate) fn seq(&self, n: u64) {
        self.seq_requests.fetch_add(1, Ordering::Relaxed);
        // A poisoned lock only means another handler panicked mid-insert; the set is still a set.
        let mut seen = self.seq_seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.insert(n);
    }

    /// Counts one answered request.
    pub(crate) fn answered(&self, route: Route, status: u16) {
        // Relaxed: these are independent counters read only for reporting.
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.by_route[route.index()].fetch_add(1, Ordering::Relaxed);
        let slot = usize::from(status).min(STATUS_SLOTS - 1);
        self.by_status[slot].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count(&self, event: Event) {
        let counter = match event {
            Event::ValidToken => &self.valid_tokens,
            Event::InvalidToken => &self.invalid_tokens,
            Event::Login => &self.logins,
            Event::Order => &self.orders,
            Event::EtagMismatch => &self.etag_mismatches,
            Event::FaultAbort => &self.fault_aborts,
            Event::FaultDelay => &self.fault_delays,
            Event::InjectedError => &self.injected_errors,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn seq_distinct(&self) -> u64 {
        let seen = self.seq_seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.len() as u64
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let by_path = Route::ALL
            .iter()
            .map(|r| (r.prefix().to_string(), load(&self.by_route[r.index()])))
            .collect();
        let by_status = self
            .by_status
            .iter()
            .enumerate()
            .filter_map(|(code, c)| {
                let n = load(c);
                (n > 0).then(|| (code.to_string(), n))
            })
            .collect();
        StatsSnapshot {
            requests: load(&self.requests),
            by_path,
            by_status,
            valid_tokens: load(&self.valid_tokens),
            invalid_tokens: load(&self.invalid_tokens),
            logins: load(&self.logins),
            orders: load(&self.orders),
            etag_mismatches: load(&self.etag_mismatches),
            fault_aborts: load(&self.fault_aborts),
            fault_delays: load(&self.fault_delays),
            injected_errors: load(&self.injected_errors),
            seq_requests: load(&self.seq_requests),
            seq_distinct: self.seq_distinct(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_reports_what_was_counted() {
        let stats = Stats::new();
        stats.answered(Route::Products, 200);
        stats.answered(Route::Products, 200);
        stats.answered(Route::Cart, 401);
        stats.count(Event::InvalidToken);
        let snap = stats.snapshot();
        assert_eq!(snap.requests, 3);
        assert_eq!(snap.by_path.get("/products"), Some(&2));
        assert_eq!(snap.by_path.get("/cart"), Some(&1));
        assert_eq!(snap.by_path.get("/"), Some(&0));
        assert_eq!(snap.by_status.get("200"), Some(&2));
        assert_eq!(snap.by_status.get("401"), Some(&1));
        assert_eq!(snap.by_status.get("500"), None);
        assert_eq!(snap.invalid_tokens, 1);
        assert_eq!(snap.valid_tokens, 0);
        assert_eq!((snap.seq_requests, snap.seq_distinct), (0, 0));
    }

    #[test]
    fn seq_numbers_are_counted_with_their_repeats() {
        let stats = Stats::new();
        for n in [3, 7, 3, 12, 7, 7] {
            stats.seq(n);
        }
        let snap = stats.snapshot();
        assert_eq!(snap.seq_requests, 6);
        assert_eq!(snap.seq_distinct, 3);
    }
}
