//! The reader against handlebars itself: whatever shortcut it takes, its parts are the ones
//! handlebars gives for the whole string.

use proptest::prelude::*;

use super::*;

fn text(s: &str) -> Part {
    Part::Text(s.to_string())
}

fn name(names: &[&str], at: Range<usize>) -> Part {
    Part::Name {
        names: names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .into(),
        at,
    }
}

#[test]
fn offsets_follow_lines_and_characters() {
    let text = "ab\nçd{{x}}";
    assert_eq!(offset_of(text, 1, 1), 0);
    assert_eq!(offset_of(text, 2, 1), 3);
    assert_eq!(offset_of(text, 2, 3), 6);
    assert_eq!(offset_of(text, 9, 1), text.len());
}

#[test]
fn expression_ranges() {
    assert_eq!(expression_range("a{{x}}b", 1), 1..6);
    assert_eq!(expression_range("{{{x}}}", 0), 0..7);
    assert_eq!(expression_range("{\"p\": {{n}}}", 6), 6..11);
    assert_eq!(expression_range("{{x", 0), 0..3);
}

#[test]
fn plain_expressions_are_split_and_read_once() {
    let reader = Reader::default();
    let body = r#"{"u": "{{user}}", "q": {{ row.qty }}, "again": "{{user}}"}"#;
    let parts = reader.split(body).expect("only plain expressions");
    assert_eq!(
        parts,
        vec![
            text(r#"{"u": ""#),
            name(&["user"], 9..13),
            text(r#"", "q": "#),
            name(&["row", "qty"], 26..33),
            text(r#", "again": ""#),
            name(&["user"], 50..54),
            text(r#""}"#),
        ]
    );
    assert_eq!(Ok(parts), read_whole(body));
    assert_eq!(reader.expressions.borrow().len(), 2);
    assert!(reader.whole.borrow().is_empty());
}

#[test]
fn escapes_blocks_and_triple_braces_are_read_whole() {
    for s in [
        r"\{{a}}",
        r"x\\{{a}}",
        "{{{a}}}",
        "{{#if a}}b{{/if}}",
        "{{!note}}{{a}}",
        "{{~a}} b",
        "{{a \"b\"}}",
    ] {
        let reader = Reader::default();
        assert_eq!(reader.split(s), None, "{s}");
        assert_eq!(reader.read(s), read_whole(s), "{s}");
        assert_eq!(reader.whole.borrow().len(), 1, "{s}");
    }
}

#[test]
fn a_plain_helper_call_is_split_but_unsupported() {
    let reader = Reader::default();
    let parts = reader.split("x{{a b}}");
    assert_eq!(parts, Some(vec![text("x"), Part::Unsupported(1..8)]));
    assert_eq!(parts.ok_or(()), read_whole("x{{a b}}").map_err(|_| ()));
}

#[test]
fn text_without_expressions_is_one_part() {
    let reader = Reader::default();
    assert_eq!(reader.read(""), Ok(vec![]));
    assert_eq!(reader.read("a { b } }}"), Ok(vec![text("a { b } }}")]));
    assert_eq!(reader.read("a { b } }}"), read_whole("a { b } }}"));
}

#[test]
fn an_expression_handlebars_rejects_is_a_syntax_error_at_its_place() {
    let reader = Reader::default();
    // `else` alone is an inverse tag outside any block.
    let parsed = reader.read("ab{{else}}");
    assert_eq!(parsed, read_whole("ab{{else}}"));
    assert!(parsed.is_err());
}

/// Pieces that exercise every rule the shortcut relies on: escapes, triple braces, tildes,
/// blocks, comments, keywords, strings and paths inside expressions, and plain names.
const PIECES: &[&str] = &[
    "{{",
    "}}",
    "{",
    "}",
    "\\",
    "a",
    "b.c",
    " ",
    "~",
    "#",
    "/",
    "!",
    "else",
    "\n",
    "(",
    ")",
    "\"",
    "'",
    "[",
    "]",
    "{{{",
    "}}}",
    "-",
    "@",
    "é",
    "&",
    ">",
    "*",
    "^",
    "=",
    "user_id",
    "{{a}}",
    "{{ b.c }}",
    "{{else}}",
    "{{this}}",
    "{{true}}",
    "{{1}}",
    "{{@index}}",
    "{{a-b}}",
    "{{x:y}}",
    "{{$z}}",
    "{{../a}}",
    "{{#if a}}",
    "{{/if}}",
    "{{!c}}",
    "{{!-- c --}}",
    "{{~a~}}",
    "\\{{a}}",
    "{{{a}}}",
    "{{&a}}",
    "{{> p}}",
    "{{a b}}",
    "{{a.[b]}}",
    "{{ a }}",
    "{{else a}}",
    "{{a \"}}\"}}",
    "{{elsewhere}}",
    "{{as}}",
    "{{null}}",
    "{{a.1}}",
];

fn template_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn reading_equals_handlebars_on_the_whole_string(s in template_text()) {
        let reader = Reader::default();
        let whole = read_whole(&s);
        if let Some(parts) = reader.split(&s) {
            prop_assert_eq!(Ok(parts), whole.clone());
        }
        prop_assert_eq!(reader.read(&s), whole.clone());
        // Again, from the caches.
        prop_assert_eq!(reader.read(&s), whole);
    }

    #[test]
    fn the_shortcut_is_taken_for_plain_names_in_any_text(
        chunks in prop::collection::vec(("[^{}\\\\]{0,6}", "[a-z_][a-z0-9_]{0,4}(\\.[a-z]{1,3})?"), 1..6),
        tail in "[^{}\\\\]{0,6}",
    ) {
        let mut s = String::new();
        for (lead, var) in &chunks {
            s.push_str(lead);
            s.push_str("{{");
            s.push_str(var);
            s.push_str("}}");
        }
        s.push_str(&tail);
        let reader = Reader::default();
        let parts = reader.split(&s);
        prop_assert!(parts.is_some(), "{}", s);
        prop_assert_eq!(Ok(parts.unwrap_or_default()), read_whole(&s));
    }
}
