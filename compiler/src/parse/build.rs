//! From pest's pairs to the AST: the file, top-level items, values and expressions.
//! Requests and scenarios are built in `request.rs`, phases and thresholds in `phase.rs`.

use super::comments::{BlockComments, CommentPool};
use super::error::SyntaxError;
use super::grammar::Rule;
use super::literal::decode_number;
use super::string::{decode_regex, decode_string};
use super::tree::{span_of, Kids, Node};
use crate::ast::{
    Arg, Call, Comments, Expr, ExprPart, File, Header, Ident, Item, Setting, Stmt, StrLit, Value,
    ValueKind,
};

pub(crate) struct Builder<'s> {
    pub(crate) src: &'s str,
    pub(crate) comments: CommentPool,
}

/// A statement with no comments yet; `CommentPool::attach` fills them in.
pub(crate) fn stmt<T>(node: T, span: crate::ast::Span) -> Stmt<T> {
    Stmt {
        node,
        span,
        comments: Comments::default(),
    }
}

/// A statement that owns a block takes the block's head and closing comments.
pub(crate) fn with_block_comments<T>(mut s: Stmt<T>, block: BlockComments) -> Stmt<T> {
    s.comments.trailing = block.head;
    s.comments.before_close = block.closing;
    s
}

/// The inside of a block: from after `{` to before `}`.
pub(crate) fn block_inside(open: &Node<'_>, close: &Node<'_>) -> (usize, usize) {
    (open.end(), close.start())
}

impl<'s> Builder<'s> {
    pub(crate) fn file(&mut self, pair: Node<'_>) -> Result<File, SyntaxError> {
        let mut kids = Kids::of(pair);
        let Some(top) = kids.next_node() else {
            return Err(SyntaxError::internal(kids.parent(), "empty file rule"));
        };
        match top.as_rule() {
            Rule::plan => {
                let plan_start = top.start();
                let plan_end = top.end();
                let mut kids = Kids::of(top);
                let name = self.string(kids.take(Rule::string)?)?;
                let open = kids.take(Rule::lbrace)?;
                let mut items = Vec::with_capacity(kids.count(Rule::item));
                while let Some(item) = kids.opt(Rule::item) {
                    items.push(self.item(item)?);
                }
                let close = kids.take(Rule::rbrace)?;
                let (a, b) = block_inside(&open, &close);
                let block = self.comments.attach(&mut items, a, b, true);
                let mut header_comments = self.comments.take_rest(0, plan_start);
                // `plan "x" {  // about the plan` reads as part of the header.
                header_comments.extend(block.head);
                let mut trailing_comments = block.closing;
                // Comments after the plan's `}` have nowhere else to go.
                trailing_comments.extend(self.comments.take_rest(plan_end, self.src.len() + 1));
                Ok(File {
                    plan_name: Some(name),
                    items,
                    header_comments,
                    trailing_comments,
                })
            }
            Rule::library => {
                let mut kids = Kids::of(top);
                let mut items = Vec::with_capacity(kids.count(Rule::item));
                while let Some(item) = kids.opt(Rule::item) {
                    items.push(self.item(item)?);
                }
                let first = items.first().map(|i| i.span.start);
                let header_comments = self.comments.take_library_header(self.src, first);
                let trailing_comments = self
                    .comments
                    .attach(&mut items, 0, self.src.len() + 1, false)
                    .closing;
                Ok(File {
                    plan_name: None,
                    items,
                    header_comments,
                    trailing_comments,
                })
            }
            other => Err(SyntaxError::internal(
                span_of(&top),
                &format!("unexpected {other:?} at top level"),
            )),
        }
    }

    fn item(&mut self, pair: Node<'_>) -> Result<Stmt<Item>, SyntaxError> {
        let span = span_of(&pair);
        let mut kids = Kids::of(pair);
        let Some(inner) = kids.next_node() else {
            return Err(SyntaxError::internal(span, "empty item"));
        };
        let mut block = BlockComments::default();
        let node = match inner.as_rule() {
            Rule::setting => Item::Setting(self.setting(inner)?),
            Rule::named_target => {
                let mut k = Kids::of(inner);
                k.take(Rule::kw_target)?;
                let name = ident(k.take(Rule::ident)?);
                let Some(value) = k.next_node() else {
                    return Err(SyntaxError::internal(span, "a target without its URL"));
                };
                Item::Target {
                    name,
                    value: self.scalar(value)?,
                }
            }
            Rule::env_target => {
                let mut k = Kids::of(inner);
                k.take(Rule::kw_target)?;
                let mut name = None;
                let mut call = None;
                while let Some(node) = k.next_node() {
                    match node.as_rule() {
                        Rule::ident => name = Some(ident(node)),
                        _ => call = Some(self.call(node)?),
                    }
                }
                let Some(call) = call else {
                    return Err(SyntaxError::internal(span, "a target without its call"));
                };
                Item::EnvTarget { name, call }
            }
            Rule::param => {
                let mut k = Kids::of(inner);
                let name = ident(k.take(Rule::ident)?);
                let value = self.value(k.take(Rule::value)?)?;
                Item::Param { name, value }
            }
            Rule::headers => {
                let mut k = Kids::of(inner);
                let open = k.take(Rule::lbrace)?;
                let mut entries = Vec::new();
                while let Some(entry) = k.opt(Rule::header_entry) {
                    let entry_span = span_of(&entry);
                    let mut e = Kids::of(entry);
                    let name = self.string(e.take(Rule::string)?)?;
                    let value = self.string(e.take(Rule::string)?)?;
                    entries.push(stmt(Header { name, value }, entry_span));
                }
                let close = k.take(Rule::rbrace)?;
                let (a, b) = block_inside(&open, &close);
                block = self.comments.attach(&mut entries, a, b, true);
                Item::Headers(entries)
            }
            Rule::let_item => {
                let mut k = Kids::of(inner);
                let name = ident(k.take(Rule::ident)?);
                let expr = self.expr(k.take(Rule::expr)?)?;
                Item::Let { name, expr }
            }
            Rule::import => {
                let mut k = Kids::of(inner);
                Item::Import(self.string(k.take(Rule::string)?)?)
            }
            Rule::request => {
                let (request, comments) = self.request(inner)?;
                block = comments;
                Item::Request(request)
            }
            Rule::scenario => {
                let (scenario, comments) = self.scenario(inner)?;
                block = comments;
                Item::Scenario(scenario)
            }
            Rule::phase => {
                let (phase, comments) = self.phase(inner)?;
                block = comments;
                Item::Phase(phase)
            }
            Rule::threshold => Item::Threshold(self.threshold(inner)?),
            other => {
                return Err(SyntaxError::internal(
                    span,
                    &format!("unexpected {other:?} as an item"),
                ))
            }
        };
        Ok(with_block_comments(stmt(node, span), block))
    }

    pub(crate) fn setting(&mut self, pair: Node<'_>) -> Result<Setting, SyntaxError> {
        let mut k = Kids::of(pair);
        let key = ident(k.take(Rule::setting_key)?);
        let value = self.value(k.take(Rule::value)?)?;
        Ok(Setting { key, value })
    }

    pub(crate) fn string(&mut self, pair: Node<'_>) -> Result<StrLit, SyntaxError> {
        decode_string(pair.as_str(), pair.start())
    }

    pub(crate) fn regex(&mut self, pair: Node<'_>) -> Result<StrLit, SyntaxError> {
        decode_regex(pair.as_str(), pair.start())
    }

    /// A `value` pair: one scalar, or two joined by `..`.
    pub(crate) fn value(&mut self, pair: Node<'_>) -> Result<Value, SyntaxError> {
        let span = span_of(&pair);
        let mut k = Kids::of(pair);
        let Some(first) = k.next_node() else {
            return Err(SyntaxError::internal(span, "empty value"));
        };
        let first = self.scalar(first)?;
        match k.next_node() {
            None => Ok(first),
            Some(second) => {
                let second = self.scalar(second)?;
                Ok(Value {
                    kind: ValueKind::Range(Box::new(first), Box::new(second)),
                    span,
                })
            }
        }
    }

    fn scalar(&mut self, pair: Node<'_>) -> Result<Value, SyntaxError> {
        let span = span_of(&pair);
        let kind = match pair.as_rule() {
            Rule::number => decode_number(pair.as_str(), span.start)?,
            Rule::string => ValueKind::Str(self.string(pair)?),
            Rule::boolean => ValueKind::Bool(pair.as_str() == "true"),
            Rule::value_ident => ValueKind::Ident(pair.as_str().to_string()),
            other => {
                return Err(SyntaxError::internal(
                    span,
                    &format!("unexpected {other:?} as a value"),
                ))
            }
        };
        Ok(Value { kind, span })
    }

    fn expr(&mut self, pair: Node<'_>) -> Result<Expr, SyntaxError> {
        let span = span_of(&pair);
        let mut k = Kids::of(pair);
        let mut parts = Vec::new();
        while let Some(part) = k.next_node() {
            parts.push(match part.as_rule() {
                Rule::call => ExprPart::Call(self.call(part)?),
                Rule::value => ExprPart::Value(self.value(part)?),
                other => {
                    return Err(SyntaxError::internal(
                        span_of(&part),
                        &format!("unexpected {other:?} in an expression"),
                    ))
                }
            });
        }
        Ok(Expr { parts, span })
    }

    fn call(&mut self, pair: Node<'_>) -> Result<Call, SyntaxError> {
        let span = span_of(&pair);
        let mut k = Kids::of(pair);
        let func = ident(k.take(Rule::ident)?);
        let mut args = Vec::new();
        while let Some(arg) = k.opt(Rule::arg) {
            let arg_span = span_of(&arg);
            let mut a = Kids::of(arg);
            let value = self.value(a.take(Rule::value)?)?;
            let weight = match a.opt(Rule::value) {
                Some(w) => Some(self.value(w)?),
                None => None,
            };
            args.push(Arg {
                value,
                weight,
                span: arg_span,
            });
        }
        Ok(Call { func, args, span })
    }
}

/// An `ident`, `setting_key` or `metric_seg` pair as a name.
pub(crate) fn ident(pair: Node<'_>) -> Ident {
    Ident {
        name: pair.as_str().to_string(),
        span: span_of(&pair),
    }
}
