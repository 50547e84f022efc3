//! Building phases (load shapes, injections, mixes, settings) and thresholds.

use super::build::{block_inside, ident, stmt, Builder};
use super::comments::BlockComments;
use super::error::SyntaxError;
use super::grammar::Rule;
use super::request::cmp_op;
use super::tree::{span_of, Kids, Node};
use crate::ast::{
    Fault, Inject, Load, MixEntry, Phase, PhaseStmt, Span, TagScope, ThinkTime, Threshold,
};

impl<'s> Builder<'s> {
    /// The phase and the comments of its block that belong to the statement holding it.
    pub(crate) fn phase(&mut self, pair: Node<'_>) -> Result<(Phase, BlockComments), SyntaxError> {
        let mut k = Kids::of(pair);
        let kw = k.take(Rule::kw_phase)?;
        let name = ident(k.take(Rule::ident)?);
        let head_span = Span::new(kw.start(), name.span.end);
        let open = k.take(Rule::lbrace)?;
        let mut body = Vec::new();
        while let Some(s) = k.opt(Rule::phase_stmt) {
            let span = span_of(&s);
            let Some(inner) = Kids::of(s).next_node() else {
                return Err(SyntaxError::internal(span, "empty phase statement"));
            };
            body.push(stmt(self.phase_stmt(inner)?, span));
        }
        let close = k.take(Rule::rbrace)?;
        let (a, b) = block_inside(&open, &close);
        let closing = self.comments.attach(&mut body, a, b, true);
        Ok((
            Phase {
                name,
                body,
                head_span,
            },
            closing,
        ))
    }

    /// A `think_time` pair: a duration or range, or `exponential(mean)`.
    pub(crate) fn think_time(&mut self, pair: Node<'_>) -> Result<ThinkTime, SyntaxError> {
        let span = span_of(&pair);
        let Some(inner) = Kids::of(pair).next_node() else {
            return Err(SyntaxError::internal(span, "empty think time"));
        };
        Ok(match inner.as_rule() {
            Rule::think_exponential => {
                let span = span_of(&inner);
                let mean = self.value(Kids::of(inner).take(Rule::value)?)?;
                ThinkTime::Exponential { mean, span }
            }
            _ => ThinkTime::Value(self.value(inner)?),
        })
    }

    fn phase_stmt(&mut self, pair: Node<'_>) -> Result<PhaseStmt, SyntaxError> {
        let span = span_of(&pair);
        let rule = pair.as_rule();
        if rule == Rule::setting {
            return Ok(PhaseStmt::Setting(self.setting(pair)?));
        }
        let mut k = Kids::of(pair);
        let mut values = Vec::new();
        Ok(match rule {
            Rule::load_rate
            | Rule::load_ramp
            | Rule::load_steps
            | Rule::load_pause
            | Rule::load_users => {
                while let Some(v) = k.opt(Rule::value) {
                    values.push(self.value(v)?);
                }
                let mut v = values.into_iter();
                let mut next = || {
                    v.next()
                        .ok_or_else(|| SyntaxError::internal(span, "missing value in a load"))
                };
                PhaseStmt::Load(match rule {
                    Rule::load_rate => Load::Rate {
                        rate: next()?,
                        duration: next()?,
                    },
                    Rule::load_ramp => Load::Ramp {
                        from: next()?,
                        to: next()?,
                        duration: next()?,
                    },
                    Rule::load_steps => Load::Steps {
                        from: next()?,
                        to: next()?,
                        by: next()?,
                        every: next()?,
                    },
                    Rule::load_pause => Load::Pause { duration: next()? },
                    _ => Load::Users {
                        users: next()?,
                        duration: next()?,
                        think: match k.opt(Rule::think_time) {
                            Some(t) => Some(self.think_time(t)?),
                            None => None,
                        },
                    },
                })
            }
            Rule::think => PhaseStmt::Think(self.think_time(k.take(Rule::think_time)?)?),
            Rule::inject => {
                let Some(f) = k.next_node() else {
                    return Err(SyntaxError::internal(span, "inject without a fault"));
                };
                let fault_rule = f.as_rule();
                let mut fk = Kids::of(f);
                let fault = match fault_rule {
                    Rule::fault_abort => Fault::Abort,
                    Rule::fault_reset => Fault::Reset,
                    Rule::fault_corrupt => Fault::Corrupt,
                    Rule::fault_delay => Fault::Delay(self.value(fk.take(Rule::value)?)?),
                    Rule::fault_header => Fault::Header {
                        name: self.string(fk.take(Rule::string)?)?,
                        value: self.string(fk.take(Rule::string)?)?,
                    },
                    other => {
                        return Err(SyntaxError::internal(
                            span,
                            &format!("unexpected {other:?} as a fault"),
                        ))
                    }
                };
                let share = self.value(k.take(Rule::value)?)?;
                PhaseStmt::Inject(Inject { fault, share })
            }
            Rule::mix => {
                let mut entries = Vec::new();
                while let Some(e) = k.opt(Rule::mix_entry) {
                    let mut ek = Kids::of(e);
                    let name = ident(ek.take(Rule::ident)?);
                    let weight = self.value(ek.take(Rule::value)?)?;
                    entries.push(MixEntry { name, weight });
                }
                PhaseStmt::Mix(entries)
            }
            other => {
                return Err(SyntaxError::internal(
                    span,
                    &format!("unexpected {other:?} in a phase"),
                ))
            }
        })
    }

    pub(crate) fn threshold(&mut self, pair: Node<'_>) -> Result<Threshold, SyntaxError> {
        let mut k = Kids::of(pair);
        let tag = match k.opt(Rule::tag_scope) {
            Some(t) => {
                let span = span_of(&t);
                let mut tk = Kids::of(t);
                tk.take(Rule::kw_tag)?;
                tk.take(Rule::lparen)?;
                let key = ident(tk.take(Rule::ident)?);
                tk.take(Rule::eq)?;
                let value = self.string(tk.take(Rule::string)?)?;
                let close = tk.take(Rule::rparen)?;
                Some(TagScope {
                    key,
                    value,
                    span: Span::new(span.start, close.end()),
                })
            }
            None => None,
        };
        let path_pair = k.take(Rule::metric_path)?;
        let path = path_pair.children().map(ident).collect();
        let op = k.take(Rule::cmp_op)?;
        let cmp_span = span_of(&op);
        let cmp = cmp_op(op)?;
        let value = self.value(k.take(Rule::value)?)?;
        let abort = k.has_token(Rule::kw_abort);
        Ok(Threshold {
            tag,
            path,
            cmp,
            cmp_span,
            value,
            abort,
        })
    }
}
