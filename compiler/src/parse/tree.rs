//! Walking pest's pairs: a cursor over a rule's children that steps over keywords and
//! punctuation, and turns a surprising shape into an error instead of a panic.

use pest::iterators::{Pair, Pairs};

use super::error::SyntaxError;
use super::grammar::Rule;
use crate::ast::Span;

/// The span of a pair without the whitespace and comments that pest leaves at the end of a
/// rule ending in an optional part (`value`'s `(.. scalar)?` skips spaces before failing).
/// Every meaningful token is a pair, so the end of its last descendant along the chain of last
/// children is the real end: that is the last of its descendants in pest's (pre-)order, which
/// the flattened children give from the back without building each level's iterator.
pub(crate) fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    if is_leaf(pair.as_rule()) {
        return Span::new(s.start(), s.end());
    }
    let end = pair
        .clone()
        .into_inner()
        .flatten()
        .next_back()
        .map_or(s.end(), |last| last.as_span().end());
    Span::new(s.start(), end)
}

/// Rules that end where their last character is (atomic ones and tokens): no children, no
/// trailing space, the span as pest gives it.
fn is_leaf(rule: Rule) -> bool {
    is_token(rule)
        || matches!(
            rule,
            Rule::ident
                | Rule::setting_key
                | Rule::number
                | Rule::boolean
                | Rule::value_ident
                | Rule::string
                | Rule::method
                | Rule::cmp_op
                | Rule::metric_seg
        )
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
            | Rule::kw_contains
            | Rule::kw_json
            | Rule::kw_regex
            | Rule::kw_capture
            | Rule::kw_or
            | Rule::kw_think
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
    )
}

/// The children of one pair.
pub(crate) struct Kids<'i> {
    pairs: std::iter::Peekable<Pairs<'i, Rule>>,
    /// Kept for the span of errors only: computing it costs a walk.
    parent: Pair<'i, Rule>,
}

impl<'i> Kids<'i> {
    pub(crate) fn of(pair: Pair<'i, Rule>) -> Self {
        Kids {
            pairs: pair.clone().into_inner().peekable(),
            parent: pair,
        }
    }

    pub(crate) fn parent(&self) -> Span {
        span_of(&self.parent)
    }

    /// The next child of `rule`, stepping over tokens that were not asked for.
    pub(crate) fn take(&mut self, rule: Rule) -> Result<Pair<'i, Rule>, SyntaxError> {
        for p in self.pairs.by_ref() {
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
    pub(crate) fn opt(&mut self, rule: Rule) -> Option<Pair<'i, Rule>> {
        // Most calls find the child or a node right away: no need to look ahead on a copy.
        match self.pairs.peek() {
            Some(p) if p.as_rule() == rule => return self.pairs.next(),
            Some(p) if !is_token(p.as_rule()) => return None,
            None => return None,
            Some(_) => {}
        }
        let mut ahead = self.pairs.clone();
        while let Some(p) = ahead.next() {
            if p.as_rule() == rule {
                self.pairs = ahead;
                return Some(p);
            }
            if !is_token(p.as_rule()) {
                return None;
            }
        }
        None
    }

    /// The next child that is not a token.
    pub(crate) fn next_node(&mut self) -> Option<Pair<'i, Rule>> {
        self.pairs.by_ref().find(|p| !is_token(p.as_rule()))
    }

    /// Whether a token of `rule` is among the remaining children.
    pub(crate) fn has_token(&mut self, rule: Rule) -> bool {
        self.pairs.any(|p| p.as_rule() == rule)
    }
}
