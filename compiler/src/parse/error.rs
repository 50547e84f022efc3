//! Syntax errors: turning pest's failures into messages a person can act on
//! ("expected `for`, found `5/s`") with the span of the offending token.

use super::grammar::Rule;
use crate::ast::Span;

/// A file that does not follow the grammar (or holds a malformed literal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// One line, e.g. "expected a duration, found `5/s`".
    pub message: String,
    /// The offending token (empty at the end of the file).
    pub span: Span,
    /// Human names of what would have been valid at `span.start` (`` `{` ``, "a string").
    pub expected: Vec<String>,
}

impl SyntaxError {
    pub(crate) fn new(message: impl Into<String>, span: Span, expected: Vec<String>) -> Self {
        SyntaxError {
            message: message.into(),
            span,
            expected,
        }
    }

    /// The tree did not have the shape the grammar promises: a bug in the parser, reported
    /// as an error rather than a panic.
    pub(crate) fn internal(span: Span, what: &str) -> Self {
        SyntaxError::new(
            format!("internal parser error: {what} (please report this)"),
            span,
            Vec::new(),
        )
    }

    pub(crate) fn from_pest(err: pest::error::Error<Rule>, src: &str) -> Self {
        let pos = match err.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((s, _)) => s,
        }
        .min(src.len());
        let (positives, negatives) = match err.variant {
            pest::error::ErrorVariant::ParsingError {
                positives,
                negatives,
            } => (positives, negatives),
            pest::error::ErrorVariant::CustomError { message } => {
                return SyntaxError::new(message, Span::new(pos, pos), Vec::new());
            }
        };
        let mut expected: Vec<String> = Vec::new();
        // The alternatives of a value, reported one by one after `..`, read as "a value".
        let scalar = |r: &Rule| {
            matches!(
                r,
                Rule::number | Rule::string | Rule::boolean | Rule::value_ident
            )
        };
        let positives = if positives.iter().filter(|r| scalar(r)).count() == 4 {
            let mut rest: Vec<Rule> = positives.into_iter().filter(|r| !scalar(r)).collect();
            rest.insert(0, Rule::value);
            rest
        } else {
            positives
        };
        // What continues the construct first, what closes it last: "an item or `}`".
        let mut positives = positives;
        positives.sort_by_key(|r| matches!(r, Rule::rbrace | Rule::rparen | Rule::EOI));
        for rule in positives {
            let name = describe(rule).to_string();
            if !expected.contains(&name) {
                expected.push(name);
            }
        }
        let (found, span) = found_token(src, pos);
        if src[pos..].starts_with('"')
            && !src[pos..].starts_with("\"\"\"")
            && unterminated(src, pos)
        {
            let end = src[pos..].find('\n').map_or(src.len(), |n| pos + n);
            return SyntaxError::new(
                "unterminated string: a \"…\" string must close on its line (use \"\"\"…\"\"\" for text over several lines)",
                Span::new(pos, end),
                expected,
            );
        }
        let only_end = expected.len() == 1 && expected[0] == describe(Rule::EOI);
        let message = if only_end && src[pos..].starts_with('}') {
            "unexpected `}`: every block is already closed here (one `}` too many?)".to_string()
        } else if !expected.is_empty() {
            format!("expected {}, found {found}", join_or(&expected))
        } else if !negatives.is_empty() {
            let unexpected: Vec<String> = negatives
                .into_iter()
                .map(|r| describe(r).to_string())
                .collect();
            format!("unexpected {}", join_or(&unexpected))
        } else {
            format!("unexpected {found}")
        };
        let message = match misspelled_keyword(src, pos) {
            Some((word, keyword)) => {
                format!("{message} (is `{word}` a misspelling of `{keyword}`?)")
            }
            None => message,
        };
        SyntaxError::new(message, span, expected)
    }
}

/// Words that start a statement or an item: the likely intent behind a misspelled word.
const KEYWORDS: [&str; 22] = [
    "param",
    "headers",
    "let",
    "import",
    "request",
    "scenario",
    "phase",
    "threshold",
    "rate",
    "ramp",
    "steps",
    "pause",
    "users",
    "inject",
    "mix",
    "think",
    "header",
    "body",
    "expect",
    "capture",
    "weight",
    "plan",
];

/// A misspelled keyword (`requets a {`, `rat 5/s for 1m`) reads as a `key value` setting, so
/// the parser stumbles a little later. Looks back over the error's line, after the last brace,
/// for a word one or two edits away from a keyword.
fn misspelled_keyword(src: &str, pos: usize) -> Option<(String, &'static str)> {
    let line_start = src[..pos].rfind(['\n', '{', '}']).map_or(0, |n| n + 1);
    src[line_start..pos]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.len() >= 3 && !w.starts_with(|c: char| c.is_ascii_digit()))
        .filter(|w| !KEYWORDS.contains(w))
        .find_map(|w| {
            KEYWORDS
                .iter()
                .find(|k| strsim::damerau_levenshtein(w, k) <= if k.len() > 5 { 2 } else { 1 })
                .map(|k| (w.to_string(), *k))
        })
}

/// "a, b or c"
pub(crate) fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Whether the `"` at `pos` starts a plain string that never closes on its line.
fn unterminated(src: &str, pos: usize) -> bool {
    let mut chars = src[pos + 1..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return false,
            '\n' => return true,
            '\\' if chars.next().is_none() => return true,
            _ => {}
        }
    }
    true
}

/// The token at `pos`, quoted for a message, and its span.
fn found_token(src: &str, pos: usize) -> (String, Span) {
    let rest = &src[pos..];
    let Some(first) = rest.chars().next() else {
        return ("end of file".to_string(), Span::new(pos, pos));
    };
    let len = if first == '"' {
        // Up to the closing quote on this line, if any.
        let body = &rest[1..];
        let mut end = body.find(['"', '\n']).map_or(body.len(), |n| n + 1);
        if body[..end.min(body.len())].ends_with('\n') {
            end -= 1;
        }
        1 + end
    } else if first.is_ascii_alphanumeric()
        || first == '_'
        || first == '-' && rest[1..].starts_with(|c: char| c.is_ascii_digit())
    {
        let n = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '%')))
            .map_or(rest.len(), |n| n + 1);
        // `200ms..1s` is one token to a reader, but `x..` at a stop is not worth the trouble.
        n
    } else if ["->", "..", "<=", ">=", "=="]
        .iter()
        .any(|op| rest.starts_with(op))
    {
        2
    } else {
        first.len_utf8()
    };
    let text = &rest[..len];
    let shown: String = if text.chars().count() > 40 {
        let cut: String = text.chars().take(40).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    };
    let shown = match first {
        '\n' | '\r' => "end of line".to_string(),
        _ => format!("`{shown}`"),
    };
    (shown, Span::new(pos, pos + len))
}

/// What a rule stands for, in the words of an error message.
pub(crate) fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::ident => "a name",
        Rule::setting_key => "a setting name",
        Rule::number => "a number",
        Rule::boolean => "`true` or `false`",
        Rule::value_ident => "a name",
        Rule::string => "a string",
        Rule::value => "a value",
        Rule::plan => "`plan`",
        Rule::library | Rule::item => {
            "an item (setting, param, headers, let, import, request, scenario, phase or threshold)"
        }
        Rule::setting => "a setting",
        Rule::param => "`param`",
        Rule::headers => "`headers`",
        Rule::header_entry => "a header (`\"Name\" = \"value\"`)",
        Rule::let_item => "`let`",
        Rule::expr => "an expression",
        Rule::call => "a generator call",
        Rule::arg => "an argument",
        Rule::import => "`import`",
        Rule::weight => "`weight`",
        Rule::request => "`request`",
        Rule::request_stmt => {
            "a request statement (method and path, header, body, expect, capture, timeout or tag)"
        }
        Rule::method => "an HTTP method (GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS)",
        Rule::request_line => "a method and path",
        Rule::header_stmt => "`header`",
        Rule::body_stmt => "`body`",
        Rule::expect_stmt => "`expect`",
        Rule::expect_status => "`status`",
        Rule::expect_latency => "`latency`",
        Rule::expect_body => "`body`",
        Rule::expect_json => "`json`",
        Rule::expect_matches => "`body`",
        Rule::expect_header => "`header`",
        Rule::expect_exists => "`exists`",
        Rule::regex => "a regex (`/…/`)",
        Rule::capture_stmt => "`capture`",
        Rule::capture_source => "a capture source (json(…), header(…), regex(…) or status())",
        Rule::capture_json => "`json`",
        Rule::capture_header => "`header`",
        Rule::capture_regex => "`regex`",
        Rule::capture_status => "`status`",
        Rule::capture_default => "`or`",
        Rule::scenario => "`scenario`",
        Rule::scenario_stmt => "a scenario statement (request, think or a setting)",
        Rule::think => "`think`",
        Rule::think_time => "a think time (`1s`, `1s..3s` or `exponential(1s)`)",
        Rule::think_exponential => "`exponential`",
        Rule::phase => "`phase`",
        Rule::phase_stmt => {
            "a phase statement (rate, ramp, steps, pause, users, inject, mix or a setting)"
        }
        Rule::load_rate => "`rate`",
        Rule::load_ramp => "`ramp`",
        Rule::load_steps => "`steps`",
        Rule::load_pause => "`pause`",
        Rule::load_users => "`users`",
        Rule::inject => "`inject`",
        Rule::fault_abort => "`abort`",
        Rule::fault_delay => "`delay`",
        Rule::fault_reset => "`reset`",
        Rule::fault_corrupt => "`corrupt`",
        Rule::fault_header => "`header`",
        Rule::mix => "`mix`",
        Rule::mix_entry => "a mix entry (`name weight`)",
        Rule::threshold => "`threshold`",
        Rule::metric_path => "a metric (`p95`, `baseline.p99`, `checkout.error_rate`…)",
        Rule::metric_seg => "a metric name",
        Rule::cmp_op => "a comparison (<, <=, >, >=, ==)",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::comma => "`,`",
        Rule::eq => "`=`",
        Rule::eq_eq => "`==`",
        Rule::not_eq => "`!=`",
        Rule::plus => "`+`",
        Rule::arrow => "`->`",
        Rule::file => "a plan or library",
        Rule::kw_plan => "`plan`",
        Rule::kw_param => "`param`",
        Rule::kw_headers => "`headers`",
        Rule::kw_header => "`header`",
        Rule::kw_let => "`let`",
        Rule::kw_import => "`import`",
        Rule::kw_request => "`request`",
        Rule::kw_scenario => "`scenario`",
        Rule::kw_phase => "`phase`",
        Rule::kw_threshold => "`threshold`",
        Rule::kw_weight => "`weight`",
        Rule::kw_body => "`body`",
        Rule::kw_expect => "`expect`",
        Rule::kw_status => "`status`",
        Rule::kw_latency => "`latency`",
        Rule::kw_duration => "`duration`",
        Rule::kw_in => "`in`",
        Rule::kw_matches => "`matches`",
        Rule::kw_exists => "`exists`",
        Rule::kw_contains => "`contains`",
        Rule::kw_json => "`json`",
        Rule::kw_regex => "`regex`",
        Rule::kw_capture => "`capture`",
        Rule::kw_or => "`or`",
        Rule::kw_think => "`think`",
        Rule::kw_exponential => "`exponential`",
        Rule::kw_rate => "`rate`",
        Rule::kw_ramp => "`ramp`",
        Rule::kw_steps => "`steps`",
        Rule::kw_pause => "`pause`",
        Rule::kw_users => "`users`",
        Rule::kw_for => "`for`",
        Rule::kw_over => "`over`",
        Rule::kw_by => "`by`",
        Rule::kw_every => "`every`",
        Rule::kw_inject => "`inject`",
        Rule::kw_abort => "`abort`",
        Rule::kw_delay => "`delay`",
        Rule::kw_reset => "`reset`",
        Rule::kw_corrupt => "`corrupt`",
        Rule::kw_mix => "`mix`",
        Rule::kw_target => "`target`",
        Rule::kw_timeout => "`timeout`",
        Rule::kw_tag => "`tag`",
        Rule::named_target | Rule::env_target => "`target`",
        Rule::timeout_stmt => "`timeout`",
        Rule::tag_stmt => "`tag`",
        Rule::kw_file | Rule::file_ref => "`file(…)`",
        Rule::kw_multipart | Rule::multipart_stmt => "`multipart`",
        Rule::kw_field => "`field`",
        Rule::multipart_entry => "`field` or `file`",
        Rule::tag_scope => "`tag(…)`",
        Rule::dot => "`.`",
        // Silent rules, and rules used only inside atomic ones: pest never reports them.
        Rule::WHITESPACE
        | Rule::ident_char
        | Rule::word
        | Rule::stmt_keyword
        | Rule::triple_string
        | Rule::plain_string
        | Rule::scalar
        | Rule::expr_part
        | Rule::inline_space
        | Rule::dotdot => "a token",
    }
}
