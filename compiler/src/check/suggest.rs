//! "Did you mean …?": the closest known name to a misspelt one.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let score = if candidate.to_ascii_lowercase() == lower {
            1.0
        } else {
            strsim::normalized_damerau_levenshtein(&lower, &candidate.to_ascii_lowercase())
                .max(strsim::jaro_winkler(&lower, &candidate.to_ascii_lowercase()) - 0.15)
        };
        if score >= 0.6 && !matches!(best, Some((b, _)) if b >= score) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `did you mean `x`?` for the closest candidate.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(name, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `did you mean `x`?`, or else the whole (short) list of what is known.
pub fn did_you_mean_or_list<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
    what: &str,
) -> Option<String> {
    if let Some(hint) = did_you_mean(name, candidates.clone()) {
        return Some(hint);
    }
    let all: Vec<String> = candidates.into_iter().map(|c| format!("`{c}`")).collect();
    if all.is_empty() {
        None
    } else {
        Some(format!("{what}: {}", all.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_typos_and_ignores_strangers() {
        let names = ["timeout", "target", "connections", "seed"];
        assert_eq!(closest("timout", names), Some("timeout"));
        assert_eq!(closest("conections", names), Some("connections"));
        assert_eq!(closest("Seed", names), Some("seed"));
        assert_eq!(closest("zebra", names), None);
        assert_eq!(closest("seed", names), None);
    }
}
