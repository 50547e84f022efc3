//! The self-contained HTML report.

use ptl_report::html::{render_report, try_render_report, CHARTS_JS};

const DATA_OPEN: &str = r#"<script type="application/json" id="ptl-report-data">"#;

fn chart_data(html: &str) -> serde_json::Value {
    let start = html.find(DATA_OPEN).expect("data element") + DATA_OPEN.len();
    let end = start
        + html[start..]
            .find("</script>")
            .expect("data element closed");
    serde_json::from_str(&html[start..end]).expect("chart data is JSON")
}

const VOID: &[&str] = &[
    "meta", "link", "br", "hr", "img", "input", "col", "source", "wbr",
];

/// Checks that every element is closed in order (void elements excepted), skipping the raw
/// text of `<script>` and `<style>`. Returns the number of elements seen per name.
fn check_balanced(html: &str) -> Result<std::collections::BTreeMap<String, usize>, String> {
    let mut seen = std::collections::BTreeMap::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").ok_or("unclosed comment")?;
            rest = &rest[end + 3..];
            continue;
        }
        if rest.starts_with("<!") {
            let end = rest.find('>').ok_or("unclosed doctype")?;
            rest = &rest[end + 1..];
            continue;
        }
        let end = rest.find('>').ok_or("unclosed tag")?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            return Err(format!("bad tag <{tag}>"));
        }
        *seen.entry(name.clone()).or_insert(0) += 1;
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "script" || name == "style" {
            let close = format!("</{name}>");
            let end = rest.find(&close).ok_or(format!("unclosed <{name}>"))?;
            rest = &rest[end + close.len()..];
            continue;
        }
        stack.push(name);
    }
    if stack.is_empty() {
        Ok(seen)
    } else {
        Err(format!("unclosed: {stack:?}"))
    }
}

#[test]
fn the_template_renders() {
    let result = crate::report_fixture::run_result();
    let html = try_render_report(&result).expect("template renders");
    assert!(html.starts_with("<!doctype html>"), "{}", &html[..80]);
    assert_eq!(html, render_report(&result));
}

#[test]
fn the_page_embeds_the_series_and_phase_percentiles() {
    let result = crate::report_fixture::run_result();
    let html = render_report(&result);
    let data = chart_data(&html);
    let series = data["series"].as_array().expect("series");
    assert_eq!(series.len(), result.series.len());
    assert_eq!(series[3]["achieved_rps"], 93.25);
    assert_eq!(series[29]["p99_ms"], 49.75);
    assert_eq!(series[25]["phase"], "failure");
    assert_eq!(series[25]["errors"], 25);
    let phases = data["phases"].as_array().expect("phases");
    let names: Vec<&str> = phases.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["warmup", "baseline", "failure"]);
    assert_eq!(phases[1]["latency"]["p999"], 34.0);
    // The chart script and the elements it draws into.
    assert!(html.contains(CHARTS_JS));
    for id in ["rate", "latency", "percentiles", "errors"] {
        assert!(html.contains(&format!("id=\"ptl-chart-{id}\"")), "{id}");
    }
}

#[test]
fn the_page_loads_nothing_from_the_network() {
    let result = crate::report_fixture::run_result();
    let html = render_report(&result);
    let without_target = html.replace(crate::report_fixture::TARGET, "");
    assert!(!without_target.contains("http://"));
    assert!(!without_target.contains("https://"));
    assert!(!without_target.contains("//cdn"));
    for attribute in [" src=", " href=", "@import", "url("] {
        assert!(!html.contains(attribute), "{attribute}");
    }
}

#[test]
fn the_markup_is_balanced() {
    let html = render_report(&crate::report_fixture::run_result());
    let seen = check_balanced(&html).expect("balanced");
    assert_eq!(seen.get("html"), Some(&1));
    assert_eq!(seen.get("script"), Some(&3));
    assert!(seen.get("table").copied().unwrap_or(0) >= 5);
    // The chart script cannot end its element early.
    assert!(!CHARTS_JS.contains("</script"));
    assert!(!CHARTS_JS.contains("<!--"));
}

#[test]
fn tables_show_thresholds_phases_requests_scenarios_and_metadata() {
    let result = crate::report_fixture::run_result();
    let html = render_report(&result);
    assert!(html.contains(
        "<code>p95 &lt; 500ms</code></td><td><span class=\"pass\">PASS</span></td><td>13.5 ms</td>"
    ));
    assert!(html.contains("<code>failure.error_rate &lt; 1%</code></td><td><span class=\"fail\">FAIL</span></td><td>12.10%</td><td>abort the run</td>"));
    assert!(html.contains("failed: 2 of 3 thresholds"));
    // Phase rows, in order, with their target and achieved rates.
    let warmup = html.find("<td>warmup</td><td>55.0/s</td><td>54.5/s</td>");
    let baseline = html.find("<td>baseline</td><td>100/s</td><td>99.0/s</td>");
    assert!(
        warmup.is_some() && baseline.is_some() && warmup < baseline,
        "phase rows"
    );
    assert!(html.contains("<td>all phases</td>"));
    // Requests; scenario steps are listed under their scenario, not among the requests.
    assert!(html.contains("<td>browse</td><td>29.0/s</td><td>290</td>"));
    assert!(!html.contains("buy.login"));
    assert!(html.contains("<tr class=\"step\"><td>login</td>"));
    assert!(html.contains(
        "<td>buy</td><td>10</td><td>9</td><td class=\"bad\">1</td><td>0</td><td>90.00%</td>"
    ));
    // Status codes, error classes and injected faults go on a line under their row, so the
    // table fits a laptop's width.
    assert!(html.contains("<td colspan=\"15\" class=\"text\">status codes: 200: 580, 503: 120"));
    // Zero counts are left out.
    assert!(html.contains("<td colspan=\"15\" class=\"text\">status codes: 200: 290</td>"));
    assert!(!html.contains("<th class=\"text\">injected faults</th>"));
    // Metadata.
    for text in [
        result.plan_hash.as_str(),
        "<dt>param peak</dt><dd>100/s</dd>",
        "<dt>seed</dt><dd>42</dd>",
        "0.1.0-test",
        "2026-01-02T03:04:05Z",
    ] {
        assert!(html.contains(text), "{text}");
    }
}

#[test]
fn user_text_is_escaped_everywhere() {
    let mut result = crate::report_fixture::run_result();
    let evil = "<script>alert(1)</script>";
    result.plan = evil.to_string();
    result.phases[0].name = evil.to_string();
    result.series[0].phase = evil.to_string();
    result.params.insert("x".to_string(), evil.to_string());
    result.stopped_early = true;
    result.stop_reason = Some(evil.to_string());
    result.thresholds[0].expr = evil.to_string();
    let html = render_report(&result);
    assert!(!html.contains(evil));
    check_balanced(&html).expect("still balanced");
    let data = chart_data(&html);
    assert_eq!(
        data["series"][0]["phase"], evil,
        "the data reads back unchanged"
    );
    assert!(html.contains("Stopped early: &lt;script&gt;"));
}

#[test]
fn an_empty_run_still_renders() {
    let mut result = crate::report_fixture::run_result();
    result.phases.clear();
    result.series.clear();
    result.thresholds.clear();
    let html = try_render_report(&result).expect("renders");
    assert!(html.contains("This plan has no thresholds."));
    check_balanced(&html).expect("balanced");
    assert_eq!(chart_data(&html)["series"], serde_json::json!([]));
}

#[test]
fn pauses_are_shaded_on_the_charts_and_noted_under_the_phases() {
    let mut result = crate::report_fixture::run_result();
    result.phases[1].duration_s = 12.5;
    result.phases[1].paused_ms = 2500;
    result.pauses = vec![
        ptl_engine::result::PauseWindow {
            start_ms: 14_000,
            end_ms: Some(16_500),
        },
        ptl_engine::result::PauseWindow {
            start_ms: 29_000,
            end_ms: None,
        },
    ];
    let html = render_report(&result);
    let marks = chart_data(&html)["marks"].clone();
    let marks = marks.as_array().expect("marks");
    assert_eq!(marks.len(), 2);
    assert_eq!(marks[0]["kind"], "paused");
    assert_eq!(marks[0]["start_s"], 14.0);
    assert_eq!(marks[0]["end_s"], 16.5);
    assert!(marks[1]["end_s"].is_null(), "never resumed");
    assert!(
        html.contains("baseline: paused 2.5 s of 12.5 s; its rates are over the 10.0 s it ran.")
    );
    assert!(html.contains("The run was stopped while paused."));
    assert!(check_balanced(&html).is_ok());
    let plain = render_report(&crate::report_fixture::run_result());
    assert!(!plain.contains("pause-note"));
    assert!(chart_data(&plain)["marks"]
        .as_array()
        .is_some_and(|m| m.is_empty()));
}

/// A plan of scenarios only has no top-level requests: no empty "Requests" section.
#[test]
fn a_scenario_only_plan_has_no_requests_section() {
    let mut result = crate::report_fixture::run_result();
    for phase in &mut result.phases {
        // Keep only the scenario steps (`buy.login`), as a run of scenarios only has.
        phase.requests.retain(|r| r.name.starts_with("buy."));
    }
    assert!(result.phases.iter().any(|p| !p.requests.is_empty()));
    let html = render_report(&result);
    assert!(!html.contains("<section id=\"requests\">"));
    assert!(html.contains("<section id=\"scenarios\">"));
}

#[test]
fn a_phase_with_exhausted_iterations_says_so_under_its_row() {
    let mut result = crate::report_fixture::run_result();
    let html = render_report(&result);
    assert!(!html.contains("exhausted:"));
    result.phases[1].exhausted = 1;
    let html = render_report(&result);
    let at = html
        .find("exhausted: 1 iteration found no row left in a ")
        .expect("the phase's details line says it");
    let row = html
        .find(&format!("<td>{}</td>", result.phases[1].name))
        .expect("the phase row");
    let next = html
        .find(&format!("<td>{}</td>", result.phases[2].name))
        .unwrap_or(html.len());
    assert!(row < at && at < next, "under its own phase's row");
}
