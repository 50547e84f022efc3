//! A µs count as a plan writes a duration (`2h`, `5m`, `1.5s`, `250ms`, `0.25ms`): the one
//! way durations are written back, by the disassembler, the compiler's messages and the CLI's
//! flag defaults, all in units the compiler reads (`ptl_compiler::parse_duration`).

const MS: u64 = 1_000;
const S: u64 = 1_000_000;
const M: u64 = 60 * S;
const H: u64 = 60 * M;

/// Exactly: whole hours or minutes when they are, else seconds from one second on, else
/// milliseconds, with as many decimals as it takes. Read back, it is the same count (for
/// anything under some 70 years: the compiler reads the amount as a float).
pub fn duration_text(us: u64) -> String {
    written(us, u32::MAX)
}

/// As [`duration_text`], with at most three decimals: for a computed duration (`2.364s` rather
/// than `2.363636s`), which need not read back exactly.
pub fn rounded_duration_text(us: u64) -> String {
    written(us, 3)
}

fn written(us: u64, max_decimals: u32) -> String {
    let (size, suffix, digits) = match us {
        0 => return "0s".to_string(),
        _ if us.is_multiple_of(H) => (H, "h", 0),
        _ if us.is_multiple_of(M) => (M, "m", 0),
        _ if us >= S => (S, "s", 6),
        _ => (MS, "ms", 3),
    };
    let decimals = digits.min(max_decimals);
    // Integer arithmetic, so that no count is written with float noise.
    let step = 10u64.pow(digits - decimals);
    let rounded = (u128::from(us) + u128::from(step / 2)) / u128::from(step);
    let unit = u128::from(size / step);
    let (whole, fraction) = (rounded / unit, rounded % unit);
    if fraction == 0 {
        return format!("{whole}{suffix}");
    }
    let fraction = format!("{fraction:0width$}", width = decimals as usize);
    format!("{whole}.{}{suffix}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_unit_that_shows_the_count_exactly() {
        assert_eq!(duration_text(0), "0s");
        assert_eq!(duration_text(250), "0.25ms");
        assert_eq!(duration_text(1), "0.001ms");
        assert_eq!(duration_text(1_500), "1.5ms");
        assert_eq!(duration_text(250_000), "250ms");
        assert_eq!(duration_text(1_500_000), "1.5s");
        assert_eq!(duration_text(2_363_636), "2.363636s");
        assert_eq!(duration_text(90_000_000), "90s");
        assert_eq!(duration_text(60_000_000), "1m");
        assert_eq!(duration_text(300_000_000), "5m");
        assert_eq!(duration_text(5_400_000_000), "90m");
        assert_eq!(duration_text(7_200_000_000), "2h");
        assert_eq!(duration_text(u64::MAX), "18446744073709.551615s");
    }

    #[test]
    fn rounded_to_three_decimals_in_the_same_unit() {
        assert_eq!(rounded_duration_text(2_363_636), "2.364s");
        assert_eq!(rounded_duration_text(2_550_000), "2.55s");
        assert_eq!(rounded_duration_text(1_999_999), "2s");
        assert_eq!(rounded_duration_text(999_999), "999.999ms");
        assert_eq!(rounded_duration_text(1_234), "1.234ms");
        assert_eq!(rounded_duration_text(250), "0.25ms");
        assert_eq!(rounded_duration_text(90_000_000), "90s");
        assert_eq!(rounded_duration_text(3_600_000_000), "1h");
    }
}
