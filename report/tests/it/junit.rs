//! The JUnit rendering of thresholds, read back with a real XML parser.

use proptest::prelude::*;
use ptl_engine::result::ThresholdResult;
use ptl_report::junit::render_junit;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::BTreeMap;

/// A parsed element: enough of a DOM to check the document.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn all(&self, name: &str) -> Vec<&Element> {
        let mut found = Vec::new();
        if self.name == name {
            found.push(self);
        }
        for child in &self.children {
            found.extend(child.all(name));
        }
        found
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn attr(&self, name: &str) -> &str {
        self.attrs.get(name).map(String::as_str).unwrap_or_default()
    }
}

fn element(start: &BytesStart<'_>) -> Result<Element, String> {
    let mut attrs = BTreeMap::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
        let value = attr.unescape_value().map_err(|e| e.to_string())?;
        attrs.insert(key, value.into_owned());
    }
    Ok(Element {
        name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
        attrs,
        ..Element::default()
    })
}

/// Parses the whole document (checking end tags match), returning the root element.
fn parse(xml: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack = vec![Element::default()];
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(start) => stack.push(element(&start)?),
            Event::Empty(start) => {
                let done = element(&start)?;
                stack.last_mut().ok_or("no parent")?.children.push(done);
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("unbalanced")?;
                stack.last_mut().ok_or("unbalanced")?.children.push(done);
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|e| e.to_string())?;
                if let Some(open) = stack.last_mut() {
                    open.text.push_str(&text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut document = stack.pop().ok_or("empty")?;
    if !stack.is_empty() {
        return Err("unclosed elements".into());
    }
    if document.children.len() != 1 {
        return Err(format!("{} root elements", document.children.len()));
    }
    Ok(document.children.remove(0))
}

#[test]
fn one_testcase_per_threshold_with_failures_carrying_the_actual_value() {
    let result = crate::report_fixture::run_result();
    let xml = render_junit(&result);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let root = parse(&xml).expect("well-formed XML");
    assert_eq!(root.name, "testsuites");
    let suites = root.all("testsuite");
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.attr("name"), "ptl thresholds");
    assert_eq!(suite.attr("tests"), "3");
    assert_eq!(suite.attr("failures"), "2");
    assert_eq!(suite.attr("time"), "30.000");

    let cases = suite.all("testcase");
    let names: Vec<&str> = cases.iter().map(|c| c.attr("name")).collect();
    assert_eq!(
        names,
        vec![
            "p95 < 500ms",
            "failure.error_rate < 1%",
            "buy.completion_rate > 99%"
        ]
    );
    assert!(cases.iter().all(|c| c.attr("classname") == "ptl.checkout"));

    // Passed: no failure, the measured value in system-out.
    assert!(cases[0].child("failure").is_none());
    let out = cases[0].child("system-out").expect("system-out");
    assert!(out.text.contains("13.5 ms"), "{}", out.text);

    // Failed: the value in the threshold's unit (a fraction shown as a percentage).
    let failure = cases[1].child("failure").expect("failure");
    assert_eq!(failure.attr("type"), "threshold");
    assert!(
        failure.attr("message").contains("12.10%"),
        "{}",
        failure.attr("message")
    );
    assert!(failure.text.contains("abort: yes"), "{}", failure.text);
    assert!(failure.text.contains("raw value 0.121"), "{}", failure.text);

    // Failed without data.
    let failure = cases[2].child("failure").expect("failure");
    assert!(failure.attr("message").contains("no data"));

    let properties: BTreeMap<&str, &str> = suite
        .all("property")
        .iter()
        .map(|p| (p.attr("name"), p.attr("value")))
        .collect();
    assert_eq!(properties["plan"], "checkout");
    assert_eq!(properties["seed"], "42");
    assert_eq!(properties["param.peak"], "100/s");
    assert_eq!(properties["target"], crate::report_fixture::TARGET);
}

#[test]
fn markup_and_control_characters_are_escaped() {
    let mut result = crate::report_fixture::run_result();
    let nasty = "p95 < 5 && x > \"1\" 'q'\nline two\u{1}\u{0}]]>";
    result.plan = "<plan & co>".to_string();
    result.thresholds = vec![ThresholdResult {
        expr: nasty.to_string(),
        passed: false,
        actual: Some(7.0),
        abort: false,
    }];
    let xml = render_junit(&result);
    let root = parse(&xml).expect("well-formed XML");
    let case = root.all("testcase")[0];
    // Characters XML cannot carry become U+FFFD; line breaks survive, even in attributes.
    let expected = "p95 < 5 && x > \"1\" 'q'\nline two\u{FFFD}\u{FFFD}]]>";
    assert_eq!(case.attr("name"), expected);
    assert_eq!(case.attr("classname"), "ptl.<plan & co>");
    let failure = case.child("failure").expect("failure");
    assert!(failure.text.contains(expected), "{}", failure.text);
}

#[test]
fn no_thresholds_is_an_empty_suite() {
    let mut result = crate::report_fixture::run_result();
    result.thresholds.clear();
    let root = parse(&render_junit(&result)).expect("well-formed XML");
    assert_eq!(root.attr("tests"), "0");
    assert_eq!(root.attr("failures"), "0");
    assert!(root.all("testcase").is_empty());
}

fn sanitised(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

proptest! {
    #[test]
    fn any_text_yields_well_formed_xml_that_reads_back(
        expr in any::<String>(),
        plan in any::<String>(),
        param in any::<String>(),
        passed: bool,
    ) {
        let mut result = crate::report_fixture::run_result();
        result.plan = plan.clone();
        result.params.insert("p".to_string(), param.clone());
        result.thresholds = vec![ThresholdResult { expr: expr.clone(), passed, actual: None, abort: false }];
        let xml = render_junit(&result);
        let root = parse(&xml).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        let case = root.all("testcase")[0];
        prop_assert_eq!(case.attr("name"), sanitised(&expr));
        prop_assert_eq!(case.attr("classname"), format!("ptl.{}", sanitised(&plan)));
        prop_assert_eq!(case.child("failure").is_some(), !passed);
        let properties = root.all("property");
        let value = properties.iter().find(|p| p.attr("name") == "param.p").map(|p| p.attr("value"));
        let expected = sanitised(&param);
        prop_assert_eq!(value, Some(expected.as_str()));
    }
}

#[test]
fn the_suite_output_has_a_line_per_phase_with_its_exhausted_iterations() {
    let mut result = crate::report_fixture::run_result();
    result.phases[1].exhausted = 7;
    let root = parse(&render_junit(&result)).expect("well-formed XML");
    let suite = root.all("testsuite")[0];
    let out = suite.child("system-out").expect("the suite's system-out");
    let lines: Vec<&str> = out.text.lines().collect();
    assert_eq!(lines.len(), result.phases.len(), "{}", out.text);
    let p = &result.phases[1];
    assert_eq!(
        lines[1],
        format!(
            "phase {}: {} planned, {} requests, {} errors, {} dropped; 7 iterations found no row left in a `unique` feeder (not sent)",
            p.name, p.planned, p.request_count, p.errors, p.dropped
        )
    );
    assert!(!lines[0].contains("unique"), "{}", lines[0]);
}
