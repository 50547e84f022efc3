//! The standard plans (`std:NAME`), embedded in the binary so they work from any directory.

/// Every standard plan: its name (as in `std:NAME`) and source.
pub const PLANS: &[(&str, &str)] = &[
    ("smoke", include_str!("../../stdlib-plans/smoke.ptl")),
    ("load", include_str!("../../stdlib-plans/load.ptl")),
    ("stress", include_str!("../../stdlib-plans/stress.ptl")),
    ("spike", include_str!("../../stdlib-plans/spike.ptl")),
    ("soak", include_str!("../../stdlib-plans/soak.ptl")),
    (
        "breakpoint",
        include_str!("../../stdlib-plans/breakpoint.ptl"),
    ),
    (
        "circuit-breaker",
        include_str!("../../stdlib-plans/circuit-breaker.ptl"),
    ),
];

/// The source of `std:NAME`, if there is such a plan.
pub fn lookup(name: &str) -> Option<&'static str> {
    PLANS.iter().find(|(n, _)| *n == name).map(|(_, src)| *src)
}

/// The names, for "did you mean" and `--help`.
pub fn names() -> impl Iterator<Item = &'static str> {
    PLANS.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_file_in_stdlib_plans_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../stdlib-plans");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                (p.extension()? == "ptl").then(|| p.file_stem()?.to_str().map(str::to_string))?
            })
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = super::names().map(str::to_string).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }
}
