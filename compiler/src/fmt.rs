//! `ptl fmt`: the canonical layout of a `.ptl` file, printed from the AST.
//!
//! The layout (docs/language.md, "Formatting"):
//! - two-space indentation, one statement per line, comments kept where they were;
//! - top-level items are grouped by kind (settings, params, headers, lets, imports, phases,
//!   thresholds), one blank line between groups and around every request and scenario;
//! - a phase stays on one line, its statements two spaces apart, when it has no comments
//!   and fits in 100 columns (`phase warmup { ramp 0/s -> peak over 1m }`); so does a
//!   `headers` block (`headers { "A" = "1", "B" = "2" }`); requests and scenarios never do;
//! - in a run of consecutive `let`s, `param`s or one-line phases, the `=` (or `{`) line up;
//!   trailing comments of consecutive one-line statements line up two spaces after the
//!   longest of them;
//! - literals are printed as written (`1m` stays `1m`), strings re-escaped, multi-line
//!   triple-quoted strings re-indented two spaces deeper than their statement.
//!
//! The layout depends only on the tree, so formatting is idempotent.

mod literal;

use crate::ast::{
    CaptureSource, Expect, Expr, ExprPart, Fault, File, Header, Inject, Item, Load, MethodName,
    MultipartEntry, Phase, PhaseStmt, Request, RequestStmt, Scenario, ScenarioStmt, Setting, Stmt,
    ThinkTime, Threshold,
};
use crate::parse::{parse_file, SyntaxError};
use literal::{regex, string, value};

/// One-line blocks must fit in this many columns, indentation included.
const WIDTH: usize = 100;

/// Parses and formats `src`.
pub fn format_source(src: &str) -> Result<String, SyntaxError> {
    Ok(format_file(&parse_file(src)?))
}

/// The canonical text of a parsed file, ending in a newline.
pub fn format_file(file: &File) -> String {
    let mut lines: Vec<String> = file.header_comments.iter().map(|c| comment(c)).collect();
    let depth = usize::from(file.plan_name.is_some());
    let pieces = items(&file.items, depth);
    let body = layout(pieces, &file.trailing_comments);
    match &file.plan_name {
        Some(name) => {
            if body.is_empty() {
                lines.push(format!("plan {} {{}}", string(name)));
            } else {
                lines.push(format!("plan {} {{", string(name)));
                lines.extend(indent(body));
                lines.push("}".to_string());
            }
        }
        None => {
            if !lines.is_empty() && !body.is_empty() {
                lines.push(String::new());
            }
            lines.extend(body);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// A statement ready to be laid out in its block.
struct Piece {
    leading: Vec<String>,
    /// The statement's lines; the ones after the first are indented relative to the first.
    lines: Vec<String>,
    /// For a one-line statement whose `=` or `{` lines up with its neighbours of the same kind.
    align: Option<Align>,
    trailing: Option<String>,
    /// A block's trailing comment goes after its `{`, where the parser found it.
    trailing_on_first: bool,
    blank_before: bool,
}

struct Align {
    kind: &'static str,
    head: String,
    rest: String,
}

impl Piece {
    fn new<T>(stmt: &Stmt<T>, code: String) -> Piece {
        Piece {
            leading: stmt.comments.leading.clone(),
            lines: code.split('\n').map(str::to_string).collect(),
            align: None,
            trailing: stmt.comments.trailing.clone(),
            trailing_on_first: false,
            blank_before: false,
        }
    }

    /// A statement with a block, from `block()`.
    fn block<T>(stmt: &Stmt<T>, code: String) -> Piece {
        let mut piece = Piece::new(stmt, code);
        piece.trailing_on_first = piece.lines.len() > 1;
        piece
    }

    fn aligned<T>(stmt: &Stmt<T>, kind: &'static str, head: String, rest: String) -> Piece {
        let mut piece = Piece::new(stmt, format!("{head} {rest}"));
        if piece.lines.len() == 1 {
            piece.align = Some(Align { kind, head, rest });
        }
        piece
    }
}

fn comment(text: &str) -> String {
    if text.is_empty() {
        "//".to_string()
    } else {
        format!("// {text}")
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn indent(lines: Vec<String>) -> impl Iterator<Item = String> {
    lines
        .into_iter()
        .map(|l| if l.is_empty() { l } else { format!("  {l}") })
}

/// The lines of a block's inside (unindented): its statements, then its closing comments.
fn layout(mut pieces: Vec<Piece>, closing: &[String]) -> Vec<String> {
    align_heads(&mut pieces);
    let columns = comment_columns(&pieces);
    let mut out = Vec::new();
    for (piece, column) in pieces.into_iter().zip(columns) {
        if piece.blank_before && !out.is_empty() {
            out.push(String::new());
        }
        out.extend(piece.leading.iter().map(|c| comment(c)));
        let at = if piece.trailing_on_first {
            0
        } else {
            piece.lines.len() - 1
        };
        for (n, line) in piece.lines.into_iter().enumerate() {
            match (&piece.trailing, n == at) {
                (Some(text), true) => {
                    let pad = column.unwrap_or(width(&line) + 2);
                    out.push(format!("{line:<pad$}{}", comment(text)));
                }
                _ => out.push(line),
            }
        }
    }
    out.extend(closing.iter().map(|c| comment(c)));
    out
}

/// Lines up the `=` / `{` in runs of consecutive one-line statements of the same kind.
fn align_heads(pieces: &mut [Piece]) {
    let mut i = 0;
    while i < pieces.len() {
        let Some(kind) = pieces[i].align.as_ref().map(|a| a.kind) else {
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < pieces.len()
            && !pieces[j].blank_before
            && pieces[j].align.as_ref().is_some_and(|a| a.kind == kind)
        {
            j += 1;
        }
        let head_width = pieces[i..j]
            .iter()
            .filter_map(|p| p.align.as_ref().map(|a| width(&a.head)))
            .max()
            .unwrap_or(0);
        for piece in &mut pieces[i..j] {
            if let Some(a) = &piece.align {
                piece.lines = vec![format!("{:<head_width$} {}", a.head, a.rest)];
            }
        }
        i = j;
    }
}

/// The column of the trailing comment of each piece: in a run of one-line statements (broken
/// by a blank line or a multi-line statement) the comments line up.
fn comment_columns(pieces: &[Piece]) -> Vec<Option<usize>> {
    let mut columns = vec![None; pieces.len()];
    let mut i = 0;
    while i < pieces.len() {
        if pieces[i].lines.len() != 1 {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < pieces.len() && !pieces[j].blank_before && pieces[j].lines.len() == 1 {
            j += 1;
        }
        let column = pieces[i..j]
            .iter()
            .filter(|p| p.trailing.is_some())
            .map(|p| width(&p.lines[0]) + 2)
            .max();
        for c in &mut columns[i..j] {
            *c = column;
        }
        i = j;
    }
    columns
}

/// `head {`, the block's lines indented, `}`; or `head {}` when there is nothing inside.
fn block(head: String, inside: Vec<String>) -> String {
    if inside.is_empty() {
        return format!("{head} {{}}");
    }
    let mut lines = vec![format!("{head} {{")];
    lines.extend(indent(inside));
    lines.push("}".to_string());
    lines.join("\n")
}

/// Blank lines between groups of items of one kind, and around requests and scenarios.
fn group(item: &Item) -> &'static str {
    match item {
        Item::Setting(_) | Item::Target { .. } | Item::EnvTarget { .. } => "setting",
        Item::Param { .. } => "param",
        Item::Headers(_) => "headers",
        Item::Let { .. } => "let",
        Item::Import(_) => "import",
        Item::Request(_) => "request",
        Item::Scenario(_) => "scenario",
        Item::Phase(_) => "phase",
        Item::Threshold(_) => "threshold",
    }
}

fn items(items: &[Stmt<Item>], depth: usize) -> Vec<Piece> {
    let mut pieces = Vec::with_capacity(items.len());
    let mut prev: Option<&'static str> = None;
    for stmt in items {
        let g = group(&stmt.node);
        let mut piece = item(stmt, depth);
        piece.blank_before = prev.is_some_and(|p| p != g || matches!(g, "request" | "scenario"));
        prev = Some(g);
        pieces.push(piece);
    }
    pieces
}

fn item(stmt: &Stmt<Item>, depth: usize) -> Piece {
    let closing = &stmt.comments.before_close;
    match &stmt.node {
        Item::Setting(s) => Piece::new(stmt, setting(s)),
        Item::Target { name, value: v } => {
            Piece::new(stmt, format!("target {} {}", name.name, value(v)))
        }
        Item::EnvTarget { name, call: c } => {
            let name = name
                .as_ref()
                .map_or(String::new(), |n| format!("{} ", n.name));
            Piece::new(stmt, format!("target {name}{}", call(c)))
        }
        Item::Param { name, value: v } => Piece::aligned(
            stmt,
            "param",
            format!("param {}", name.name),
            format!("= {}", value(v)),
        ),
        Item::Headers(entries) => Piece::block(stmt, headers(entries, closing, depth)),
        Item::Let { name, expr: e } => Piece::aligned(
            stmt,
            "let",
            format!("let {}", name.name),
            format!("= {}", expr(e)),
        ),
        Item::Import(path) => Piece::new(stmt, format!("import {}", string(path))),
        Item::Request(r) => Piece::block(stmt, request(r, closing)),
        Item::Scenario(s) => Piece::block(stmt, scenario(s, closing)),
        Item::Phase(p) => phase(stmt, p, closing, depth),
        Item::Threshold(t) => Piece::new(stmt, threshold(t)),
    }
}

fn setting(s: &Setting) -> String {
    format!("{} {}", s.key.name, value(&s.value))
}

fn headers(entries: &[Stmt<Header>], closing: &[String], depth: usize) -> String {
    let texts: Vec<String> = entries.iter().map(|e| header_entry(&e.node)).collect();
    let quiet = closing.is_empty()
        && entries
            .iter()
            .all(|e| e.comments.leading.is_empty() && e.comments.trailing.is_none());
    if quiet && texts.iter().all(|t| !t.contains('\n')) {
        let line = if texts.is_empty() {
            "headers {}".to_string()
        } else {
            format!("headers {{ {} }}", texts.join(", "))
        };
        if depth * 2 + width(&line) <= WIDTH {
            return line;
        }
    }
    let pieces = entries
        .iter()
        .zip(texts)
        .map(|(e, t)| Piece::new(e, t))
        .collect();
    block("headers".to_string(), layout(pieces, closing))
}

fn header_entry(h: &Header) -> String {
    format!("{} = {}", string(&h.name), string(&h.value))
}

fn expr(e: &Expr) -> String {
    let parts: Vec<String> = e
        .parts
        .iter()
        .map(|p| match p {
            ExprPart::Value(v) => value(v),
            ExprPart::Call(c) => call(c),
        })
        .collect();
    parts.join(" + ")
}

fn call(c: &crate::ast::Call) -> String {
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| match &a.weight {
            Some(w) => format!("{} {}", value(&a.value), value(w)),
            None => value(&a.value),
        })
        .collect();
    format!("{}({})", c.func.name, args.join(", "))
}

fn weighted_head(keyword: &str, name: &str, weight: Option<&crate::ast::Value>) -> String {
    match weight {
        Some(w) => format!("{keyword} {name} weight {}", value(w)),
        None => format!("{keyword} {name}"),
    }
}

fn request(r: &Request, closing: &[String]) -> String {
    let pieces = r
        .body
        .iter()
        .map(|s| Piece::new(s, request_stmt(&s.node)))
        .collect();
    block(
        weighted_head("request", &r.name.name, r.weight.as_ref()),
        layout(pieces, closing),
    )
}

fn method(m: MethodName) -> &'static str {
    match m {
        MethodName::Get => "GET",
        MethodName::Post => "POST",
        MethodName::Put => "PUT",
        MethodName::Delete => "DELETE",
        MethodName::Patch => "PATCH",
        MethodName::Head => "HEAD",
        MethodName::Options => "OPTIONS",
    }
}

fn request_stmt(s: &RequestStmt) -> String {
    match s {
        RequestStmt::Line {
            method: m,
            target: Some(t),
            path,
            ..
        } => format!("{} {} {}", method(*m), t.name, string(path)),
        RequestStmt::Line {
            method: m, path, ..
        } => format!("{} {}", method(*m), string(path)),
        RequestStmt::Timeout(v) => format!("timeout {}", value(v)),
        RequestStmt::Tag { key, value: v } => format!("tag {} = {}", key.name, string(v)),
        RequestStmt::Header(h) => format!("header {}", header_entry(h)),
        RequestStmt::Body(b) => format!("body {}", string(b)),
        RequestStmt::BodyFile(path) => format!("body file({})", string(path)),
        RequestStmt::Multipart(entries) => {
            let lines: Vec<String> = entries
                .iter()
                .map(|e| match e {
                    MultipartEntry::Field { name, value: v } => {
                        format!("field {} = {}", string(name), string(v))
                    }
                    MultipartEntry::File { name, path } => {
                        format!("file {} = file({})", string(name), string(path))
                    }
                })
                // A multi-line (triple-quoted) value is indented line by line with the rest.
                .flat_map(|e| e.lines().map(str::to_string).collect::<Vec<_>>())
                .collect();
            block("multipart".to_string(), lines)
        }
        RequestStmt::Expect(e) => match e {
            Expect::Status { codes, with_in } => {
                let codes: Vec<String> = codes.iter().map(value).collect();
                let word = if *with_in { "status in" } else { "status" };
                format!("expect {word} {}", codes.join(", "))
            }
            Expect::Latency {
                cmp,
                value: v,
                duration,
            } => {
                let word = if *duration { "duration" } else { "latency" };
                format!("expect {word} {} {}", cmp.as_str(), value(v))
            }
            Expect::BodyContains(s) => format!("expect body contains {}", string(s)),
            Expect::BodyMatches(re) => format!("expect body matches {}", regex(&re.value)),
            Expect::Json {
                path,
                equal,
                value: v,
            } => {
                let op = if *equal { "==" } else { "!=" };
                format!("expect json({}) {op} {}", string(path), value(v))
            }
            Expect::JsonExists(path) => format!("expect exists json({})", string(path)),
            Expect::HeaderContains { name, needle } => {
                format!(
                    "expect header({}) contains {}",
                    string(name),
                    string(needle)
                )
            }
        },
        RequestStmt::Capture(c) => {
            let source = match &c.source {
                CaptureSource::Json(s) => format!("json({})", string(s)),
                CaptureSource::Header(s) => format!("header({})", string(s)),
                CaptureSource::Regex(s) => format!("regex({})", string(s)),
                CaptureSource::Status => "status()".to_string(),
            };
            match &c.default {
                Some(d) => format!("capture {} = {source} or {}", c.name.name, string(d)),
                None => format!("capture {} = {source}", c.name.name),
            }
        }
    }
}

fn think_time(t: &ThinkTime) -> String {
    match t {
        ThinkTime::Value(v) => value(v),
        ThinkTime::Exponential { mean, .. } => format!("exponential({})", value(mean)),
    }
}

fn scenario(s: &Scenario, closing: &[String]) -> String {
    let pieces = s
        .body
        .iter()
        .map(|stmt| match &stmt.node {
            ScenarioStmt::Request(r) => Piece::block(stmt, request(r, &stmt.comments.before_close)),
            ScenarioStmt::Think(t) => Piece::new(stmt, format!("think {}", think_time(t))),
            ScenarioStmt::Setting(x) => Piece::new(stmt, setting(x)),
        })
        .collect();
    block(
        weighted_head("scenario", &s.name.name, s.weight.as_ref()),
        layout(pieces, closing),
    )
}

fn phase(stmt: &Stmt<Item>, p: &Phase, closing: &[String], depth: usize) -> Piece {
    let head = format!("phase {}", p.name.name);
    let texts: Vec<String> = p.body.iter().map(|s| phase_stmt(&s.node)).collect();
    let quiet = closing.is_empty()
        && p.body
            .iter()
            .all(|s| s.comments.leading.is_empty() && s.comments.trailing.is_none());
    if quiet && texts.iter().all(|t| !t.contains('\n')) {
        let rest = if texts.is_empty() {
            "{}".to_string()
        } else {
            format!("{{ {} }}", texts.join("  "))
        };
        if depth * 2 + width(&head) + 1 + width(&rest) <= WIDTH {
            return Piece::aligned(stmt, "phase", head, rest);
        }
    }
    let pieces = p
        .body
        .iter()
        .zip(texts)
        .map(|(s, t)| Piece::new(s, t))
        .collect();
    Piece::block(stmt, block(head, layout(pieces, closing)))
}

fn phase_stmt(s: &PhaseStmt) -> String {
    match s {
        PhaseStmt::Load(load) => match load {
            Load::Rate { rate, duration } => {
                format!("rate {} for {}", value(rate), value(duration))
            }
            Load::Ramp { from, to, duration } => {
                format!(
                    "ramp {} -> {} over {}",
                    value(from),
                    value(to),
                    value(duration)
                )
            }
            Load::Steps {
                from,
                to,
                by,
                every,
            } => format!(
                "steps {} -> {} by {} every {}",
                value(from),
                value(to),
                value(by),
                value(every)
            ),
            Load::Pause { duration } => format!("pause {}", value(duration)),
            Load::Users {
                users,
                duration,
                think,
            } => match think {
                Some(t) => format!(
                    "users {} for {} think {}",
                    value(users),
                    value(duration),
                    think_time(t)
                ),
                None => format!("users {} for {}", value(users), value(duration)),
            },
        },
        PhaseStmt::Setting(x) => setting(x),
        PhaseStmt::Inject(Inject { fault, share }) => {
            let fault = match fault {
                Fault::Abort => "abort".to_string(),
                Fault::Delay(d) => format!("delay {}", value(d)),
                Fault::Reset => "reset".to_string(),
                Fault::Corrupt => "corrupt".to_string(),
                Fault::Header { name, value: v } => {
                    format!("header {} = {}", string(name), string(v))
                }
            };
            format!("inject {fault} {}", value(share))
        }
        PhaseStmt::Mix(entries) => {
            if entries.is_empty() {
                "mix {}".to_string()
            } else {
                let entries: Vec<String> = entries
                    .iter()
                    .map(|e| format!("{} {}", e.name.name, value(&e.weight)))
                    .collect();
                format!("mix {{ {} }}", entries.join(", "))
            }
        }
        PhaseStmt::Think(t) => format!("think {}", think_time(t)),
    }
}

fn threshold(t: &Threshold) -> String {
    let abort = if t.abort { " abort" } else { "" };
    format!(
        "threshold {} {} {}{abort}",
        threshold_path(t),
        t.cmp.as_str(),
        value(&t.value)
    )
}

/// What a threshold measures, as written canonically: `tag(group = "checkout").p99`,
/// `baseline.p99`. The checker names the threshold by it too.
pub(crate) fn threshold_path(t: &Threshold) -> String {
    let path: Vec<&str> = t.path.iter().map(|i| i.name.as_str()).collect();
    match &t.tag {
        Some(tag) => format!(
            "tag({} = {}).{}",
            tag.key.name,
            string(&tag.value),
            path.join(".")
        ),
        None => path.join("."),
    }
}
