//! The end-of-run text summary, read back row by row.

use ptl_report::table::render_summary;

/// The cells of the first table row whose first cell is `first`, within the section that
/// starts with the line `section`.
fn row(text: &str, section: &str, first: &str) -> Vec<String> {
    let start = text
        .lines()
        .position(|line| line == section)
        .unwrap_or_else(|| panic!("no section {section:?} in\n{text}"));
    text.lines()
        .skip(start)
        .map(|line| {
            line.trim_matches('│')
                .split('┆')
                .map(|cell| cell.trim().to_string())
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row {first:?} under {section:?} in\n{text}"))
}

#[test]
fn phase_rows_show_target_achieved_counts_and_latency() {
    let text = render_summary(&crate::report_fixture::run_result(), false);
    assert_eq!(
        row(&text, "Phases", "baseline"),
        [
            "baseline",
            "100/s",
            "99.0/s",
            "990",
            "0",
            "3 (0.30%)",
            "4.25 ms",
            "12.8 ms",
            "21.2 ms",
            "55.2 ms"
        ]
    );
    let failure = row(&text, "Phases", "failure");
    assert_eq!(failure[3], "1010");
    assert_eq!(failure[4], "121 (11.98%)");
    let all = row(&text, "Phases", "all");
    assert_eq!(all[1], "-");
    assert_eq!(all[3], "2540");
    assert_eq!(all[6], "4.50 ms");
}

#[test]
fn request_and_scenario_rows_are_listed_per_phase() {
    let text = render_summary(&crate::report_fixture::run_result(), false);
    assert_eq!(
        row(&text, "Requests", "warmup"),
        [
            "warmup", "checkout", "54.0/s", "540", "0", "0", "4.00 ms", "12.0 ms", "20.0 ms",
            "52.0 ms"
        ]
    );
    let steps: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("┆ buy."))
        .collect();
    assert_eq!(steps.len(), 2, "{text}");
    let scenario = row(&text, "Scenarios (iteration time)", "failure");
    assert_eq!(
        scenario,
        [
            "failure", "buy", "10", "9", "1", "0", "90.00%", "0", "40.0 ms", "120 ms", "200 ms",
            "520 ms"
        ]
    );
}

#[test]
fn thresholds_are_marked_pass_or_fail_with_their_actual_value() {
    let text = render_summary(&crate::report_fixture::run_result(), false);
    assert!(text.contains("Thresholds: 1 passed, 2 failed"), "{text}");
    let line = |expr: &str| {
        text.lines()
            .find(|l| l.contains(expr))
            .unwrap_or_else(|| panic!("{expr} missing"))
            .to_string()
    };
    let p95 = line("p95 < 500ms");
    assert!(p95.trim_start().starts_with("PASS"), "{p95}");
    assert!(p95.ends_with("actual 13.5 ms"), "{p95}");
    let errors = line("failure.error_rate < 1%");
    assert!(errors.trim_start().starts_with("FAIL"), "{errors}");
    assert!(
        errors.contains("actual 12.10%") && errors.ends_with("(abort)"),
        "{errors}"
    );
    assert!(line("buy.completion_rate").contains("no data"));
    assert!(!text.contains('\u{1b}'), "no ANSI codes without color");
}

#[test]
fn color_marks_pass_green_and_fail_red() {
    let text = render_summary(&crate::report_fixture::run_result(), true);
    assert!(text.contains("\u{1b}[32mPASS\u{1b}[0m"), "{text:?}");
    assert!(text.contains("\u{1b}[31mFAIL\u{1b}[0m"), "{text:?}");
}

#[test]
fn early_stops_pauses_and_missing_sections_are_shown_plainly() {
    let mut result = crate::report_fixture::run_result();
    result.stopped_early = true;
    result.stop_reason = Some("threshold recovery.error_rate < 1% crossed".to_string());
    result.thresholds.clear();
    for phase in &mut result.phases {
        phase.scenarios.clear();
    }
    result.phases[0].target_rps = 0.0;
    let text = render_summary(&result, false);
    assert!(
        text.contains("stopped early: threshold recovery.error_rate < 1% crossed"),
        "{text}"
    );
    assert!(text.contains("Thresholds: none"));
    assert!(!text.contains("Scenarios"));
    assert_eq!(row(&text, "Phases", "warmup")[1], "-");
}

#[test]
fn errors_by_class_and_injected_faults_are_listed_per_phase() {
    let text = render_summary(&crate::report_fixture::run_result(), false);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|line| *line != "Errors and injected faults")
        .take_while(|line| !line.is_empty())
        .collect();
    let failure = section
        .iter()
        .find(|line| line.trim_start().starts_with("failure:"))
        .unwrap_or_else(|| panic!("no failure line in\n{text}"));
    assert!(failure.contains("errors: status 121"), "{failure}");
    assert!(
        failure.contains("injected (not counted as errors): abort 120"),
        "{failure}"
    );
    // A phase with neither has no line.
    assert!(!section
        .iter()
        .any(|l| l.trim_start().starts_with("warmup:")));
}

#[test]
fn a_paused_phase_gets_a_note_with_its_paused_time() {
    let mut result = crate::report_fixture::run_result();
    result.phases[1].duration_s = 12.5;
    result.phases[1].paused_ms = 2500;
    result.pauses = vec![ptl_engine::result::PauseWindow {
        start_ms: 14_000,
        end_ms: Some(16_500),
    }];
    let text = render_summary(&result, false);
    assert!(
        text.contains("  baseline: paused 2.5 s of 12.5 s (rates over the 10.0 s it ran)"),
        "{text}"
    );
    assert!(!text.contains("warmup: paused"), "{text}");
    assert!(!text.contains("stopped while paused"), "{text}");
    result.pauses[0].end_ms = None;
    assert!(render_summary(&result, false).contains("stopped while paused"));
    let unpaused = render_summary(&crate::report_fixture::run_result(), false);
    assert!(!unpaused.contains("paused"), "{unpaused}");
}

/// Completion is over finished iterations, as the `completion_rate` threshold judges it: the
/// iterations cut short (by an injected fault or the run's end) are counted apart, never as
/// failures.
#[test]
fn completion_leaves_out_the_iterations_cut_short() {
    let mut result = crate::report_fixture::run_result();
    let failure = result
        .phases
        .iter_mut()
        .find(|p| p.name == "failure")
        .expect("a failure phase");
    let buy = &mut failure.scenarios[0];
    (buy.iterations, buy.completed, buy.failed) = (20, 9, 1);
    let text = render_summary(&result, false);
    let scenario = row(&text, "Scenarios (iteration time)", "failure");
    assert_eq!(scenario[2..8], ["20", "9", "1", "10", "90.00%", "0"]);
    assert!(
        text.contains("completion = completed / (completed + failed)"),
        "{text}"
    );
}

/// A latency with no sample (`null` in the JSON) shows as `-`, never as `0.00 ms`.
#[test]
fn a_phase_without_a_sample_shows_dashes_not_zeros() {
    let mut result = crate::report_fixture::run_result();
    let failure = result
        .phases
        .iter_mut()
        .find(|p| p.name == "failure")
        .expect("a failure phase");
    failure.response_time_ms = None;
    let text = render_summary(&result, false);
    let phase = row(&text, "Phases", "failure");
    assert_eq!(phase[phase.len() - 4..], ["-", "-", "-", "-"], "{text}");
}
