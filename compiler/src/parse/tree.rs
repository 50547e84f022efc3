//! Walking what pest matched: its pairs, copied once into a flat tree (an array in pre-order,
//! each node knowing where its subtree ends), and a cursor over a node's children that steps
//! over keywords and punctuation and turns a surprising shape into an error instead of a panic.
//!
//! The copy is one pass over pest's tokens; walking pest's own `Pair`s instead costs a count of
//! the children and two reference-count updates for every child iterator and every pair, and
//! a walk down the last children for every span, which on a large plan took longer than the
//! rest of building the AST.

use pest::iterators::Pairs;
use pest::Token;

use super::error::SyntaxError;
use super::grammar::Rule;
use crate::ast::Span;

/// One matched rule. Offsets and indices are `u32` (`parse_file` refuses larger files): a
/// plan of thousands of requests has hundreds of thousands of nodes, and half the size is
/// half the memory to touch.
#[derive(Debug, Clone, Copy)]
struct Rec {
    rule: Rule,
    start: u32,
    end: u32,
    /// The end without the whitespace and comments that pest leaves at the end of a rule
    /// ending in an optional part (`value`'s `(.. scalar)?` skips spaces before failing).
    /// Every meaningful token is a node, so it is the end of the last descendant along the
    /// chain of last children.
    real_end: u32,
    /// Index just past this node's subtree: its next sibling, if any.
    next: u32,
}

/// `n` as a `u32`; `parse_file` keeps offsets and node counts below the limit.
fn small(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Everything pest matched in one file.
pub(crate) struct Tree<'s> {
    src: &'s str,
    nodes: Vec<Rec>,
}

impl<'s> Tree<'s> {
    pub(crate) fn of(pairs: Pairs<'s, Rule>, src: &'s str) -> Tree<'s> {
        let tokens = pairs.tokens();
        // A start and an end token per node: sized once, not grown by copying.
        let mut nodes: Vec<Rec> = Vec::with_capacity(tokens.len() / 2);
        // Open nodes, with the last child closed so far.
        let mut open: Vec<(usize, Option<usize>)> = Vec::new();
        for token in tokens {
            match token {
                Token::Start { rule, pos } => {
                    let at = small(pos.pos());
                    open.push((nodes.len(), None));
                    nodes.push(Rec {
                        rule,
                        start: at,
                        end: at,
                        real_end: at,
                        next: small(nodes.len() + 1),
                    });
                }
                Token::End { pos, .. } => {
                    let Some((i, last)) = open.pop() else {
                        continue;
                    };
                    let end = small(pos.pos());
                    let real_end = last.and_then(|c| nodes.get(c)).map_or(end, |c| c.real_end);
                    let next = small(nodes.len());
                    if let Some(n) = nodes.get_mut(i) {
                        n.end = end;
                        n.real_end = real_end;
                        n.next = next;
                    }
                    if let Some(parent) = open.last_mut() {
                        parent.1 = Some(i);
                    }
                }
            }
        }
        Tree { src, nodes }
    }

    /// Where every node of `rule` starts and ends, in source order.
    pub(crate) fn spans_of(&self, rule: Rule) -> Vec<(usize, usize)> {
        self.nodes
            .iter()
            .filter(|n| n.rule == rule)
            .map(|n| (n.start as usize, n.end as usize))
            .collect()
    }

    /// The top-level nodes.
    pub(crate) fn roots(&self) -> Children<'_> {
        Children {
            tree: self,
            at: 0,
            end: self.nodes.len(),
        }
    }
}

/// A matched rule in a [`Tree`].
#[derive(Clone, Copy)]
pub(crate) struct Node<'t> {
    tree: &'t Tree<'t>,
    rec: Rec,
    at: usize,
}

impl<'t> Node<'t> {
    pub(crate) fn as_rule(&self) -> Rule {
        self.rec.rule
    }

    /// The matched text (with any trailing space, like pest's).
    pub(crate) fn as_str(&self) -> &'t str {
        self.tree.src.get(self.start()..self.end()).unwrap_or("")
    }

    pub(crate) fn start(&self) -> usize {
        self.rec.start as usize
    }

    pub(crate) fn end(&self) -> usize {
        self.rec.end as usize
    }

    pub(crate) fn children(&self) -> Children<'t> {
        Children {
            tree: self.tree,
            at: self.at + 1,
            end: self.rec.next as usize,
        }
    }
}

/// The children of a node, in order.
#[derive(Clone)]
pub(crate) struct Children<'t> {
    tree: &'t Tree<'t>,
    at: usize,
    end: usize,
}

impl<'t> Iterator for Children<'t> {
    type Item = Node<'t>;

    fn next(&mut self) -> Option<Node<'t>> {
        if self.at >= self.end {
            return None;
        }
        let rec = *self.tree.nodes.get(self.at)?;
        let node = Node {
            tree: self.tree,
            rec,
            at: self.at,
        };
        // `max` keeps a malformed tree from looping.
        self.at = (rec.next as usize).max(self.at + 1);
        Some(node)
    }
}

/// The span of a node without the whitespace and comments pest may leave at its end.
pub(crate) fn span_of(node: &Node<'_>) -> Span {
    Span::new(node.rec.start as usize, node.rec.real_end as usize)
}

/// Keywords and punctuation: they carry no data once the rule around them matched.
fn is_token(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::lbrace
            | Rule::rbrace
            | Rule::lparen
            | Rule::rparen
            | Rule::comma
            | Rule::eq
            | Rule::eq_eq
            | Rule::not_eq
            | Rule::plus
            | Rule::arrow
            | Rule::EOI
            | Rule::kw_plan
            | Rule::kw_param
            | Rule::kw_headers
            | Rule::kw_header
            | Rule::kw_let
            | Rule::kw_import
            | Rule::kw_request
            | Rule::kw_scenario
            | Rule::kw_phase
            | Rule::kw_threshold
            | Rule::kw_weight
            | Rule::kw_body
            | Rule::kw_expect
            | Rule::kw_status
            | Rule::kw_latency
            | Rule::kw_duration
            | Rule::kw_in
            | Rule::kw_contains
            | Rule::kw_matches
            | Rule::kw_exists
            | Rule::kw_json
            | Rule::kw_regex
            | Rule::kw_capture
            | Rule::kw_or
            | Rule::kw_think
            | Rule::kw_exponential
            | Rule::kw_rate
            | Rule::kw_ramp
            | Rule::kw_steps
            | Rule::kw_pause
            | Rule::kw_users
            | Rule::kw_for
            | Rule::kw_over
            | Rule::kw_by
            | Rule::kw_every
            | Rule::kw_inject
            | Rule::kw_abort
            | Rule::kw_delay
            | Rule::kw_reset
            | Rule::kw_corrupt
            | Rule::kw_mix
            | Rule::kw_target
            | Rule::kw_timeout
            | Rule::kw_tag
            | Rule::kw_file
            | Rule::kw_multipart
            | Rule::kw_field
            | Rule::dot
    )
}

/// The children of one node.
pub(crate) struct Kids<'t> {
    nodes: std::iter::Peekable<Children<'t>>,
    parent: Node<'t>,
}

impl<'t> Kids<'t> {
    pub(crate) fn of(node: Node<'t>) -> Self {
        Kids {
            nodes: node.children().peekable(),
            parent: node,
        }
    }

    pub(crate) fn parent(&self) -> Span {
        span_of(&self.parent)
    }

    /// The next child of `rule`, stepping over tokens that were not asked for.
    pub(crate) fn take(&mut self, rule: Rule) -> Result<Node<'t>, SyntaxError> {
        for p in self.nodes.by_ref() {
            if p.as_rule() == rule {
                return Ok(p);
            }
            if !is_token(p.as_rule()) {
                return Err(SyntaxError::internal(
                    span_of(&p),
                    &format!("found {:?} where {rule:?} was expected", p.as_rule()),
                ));
            }
        }
        Err(SyntaxError::internal(
            self.parent(),
            &format!("missing {rule:?}"),
        ))
    }

    /// The next child if it is of `rule` (tokens before it are stepped over); otherwise
    /// nothing is consumed, so a later `take` still sees the tokens.
    pub(crate) fn opt(&mut self, rule: Rule) -> Option<Node<'t>> {
        let mut ahead = self.nodes.clone();
        while let Some(p) = ahead.next() {
            if p.as_rule() == rule {
                self.nodes = ahead;
                return Some(p);
            }
            if !is_token(p.as_rule()) {
                return None;
            }
        }
        None
    }

    /// The next child that is not a token.
    pub(crate) fn next_node(&mut self) -> Option<Node<'t>> {
        self.nodes.by_ref().find(|p| !is_token(p.as_rule()))
    }

    /// How many of the remaining children are of `rule`: to size a vector once.
    pub(crate) fn count(&self, rule: Rule) -> usize {
        self.nodes.clone().filter(|p| p.as_rule() == rule).count()
    }

    /// Whether a token of `rule` is among the remaining children.
    pub(crate) fn has_token(&mut self, rule: Rule) -> bool {
        self.nodes.any(|p| p.as_rule() == rule)
    }
}
