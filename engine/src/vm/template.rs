//! Templates resolved against the program at load: literals become shared bytes, variable and
//! field references are checked, and all-literal templates collapse into one constant.

use super::generators::{constant, Table};
use super::iteration::Iteration;
use super::VmError;
use bytes::Bytes;
use ptl_bytecode::plan::{Plan, Template, TemplateOp};

#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Lit(Bytes),
    Var(u32),
    Field { var: u32, column: u32 },
    Capture(u32),
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledTemplate {
    pieces: Vec<Piece>,
    /// Set when the template has no inserts: rendering is then a reference-count increment.
    constant: Option<Bytes>,
}

/// How inserted values are written: as they are, or percent-encoded where a URI path would
/// reject them (literal text is always written as is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    None,
    Path,
}

/// What a template needs to know about the plan's variables to check its references.
pub(crate) struct VarInfo<'a> {
    /// The dataset behind each variable, if its value is a CSV row.
    pub datasets: &'a [Option<u32>],
    pub names: &'a [String],
    pub tables: &'a [Table],
}

impl CompiledTemplate {
    pub fn compile(
        plan: &Plan,
        t: &Template,
        vars: &VarInfo<'_>,
    ) -> Result<CompiledTemplate, VmError> {
        let mut pieces: Vec<Piece> = Vec::with_capacity(t.ops.len());
        for op in &t.ops {
            let piece = match *op {
                TemplateOp::Lit(id) => Piece::Lit(constant(plan, id)?),
                TemplateOp::Var(v) => {
                    if v as usize >= vars.names.len() {
                        return Err(VmError::VarOutOfRange(v));
                    }
                    Piece::Var(v)
                }
                TemplateOp::Field { var, column } => {
                    let name = vars
                        .names
                        .get(var as usize)
                        .ok_or(VmError::VarOutOfRange(var))?;
                    let dataset = vars.datasets[var as usize]
                        .ok_or_else(|| VmError::FieldWithoutCsv { var: name.clone() })?;
                    let columns = vars.tables.get(dataset as usize).map_or(0, |t| t.columns);
                    if column as usize >= columns {
                        return Err(VmError::ColumnOutOfRange {
                            var: name.clone(),
                            column,
                        });
                    }
                    Piece::Field { var, column }
                }
                TemplateOp::Capture(r) => Piece::Capture(r),
            };
            // Adjacent literals merge so that rendering copies fewer, larger slices.
            match (pieces.last_mut(), &piece) {
                (Some(Piece::Lit(prev)), Piece::Lit(next)) => {
                    let mut joined = Vec::with_capacity(prev.len() + next.len());
                    joined.extend_from_slice(prev);
                    joined.extend_from_slice(next);
                    *prev = Bytes::from(joined);
                }
                _ => pieces.push(piece),
            }
        }
        let constant = match pieces.as_slice() {
            [] => Some(Bytes::new()),
            [Piece::Lit(b)] => Some(b.clone()),
            _ => None,
        };
        Ok(CompiledTemplate { pieces, constant })
    }

    pub fn constant(&self) -> Option<&Bytes> {
        self.constant.as_ref()
    }

    /// Variable slots this template reads.
    pub fn vars(&self) -> impl Iterator<Item = u32> + '_ {
        self.pieces.iter().filter_map(|p| match *p {
            Piece::Var(v) | Piece::Field { var: v, .. } => Some(v),
            Piece::Lit(_) | Piece::Capture(_) => None,
        })
    }

    /// Capture registers this template reads.
    pub fn registers(&self) -> impl Iterator<Item = u32> + '_ {
        self.pieces.iter().filter_map(|p| match *p {
            Piece::Capture(r) => Some(r),
            _ => None,
        })
    }

    /// Appends the rendered template to `out`.
    #[inline]
    pub fn render_into(&self, it: &Iteration, tables: &[Table], escape: Escape, out: &mut Vec<u8>) {
        if let Some(c) = &self.constant {
            out.extend_from_slice(c);
            return;
        }
        match escape {
            Escape::None => {
                for p in &self.pieces {
                    match p {
                        Piece::Lit(b) => out.extend_from_slice(b),
                        _ => out.extend_from_slice(insert(p, it, tables)),
                    }
                }
            }
            Escape::Path => {
                for p in &self.pieces {
                    match p {
                        Piece::Lit(b) => out.extend_from_slice(b),
                        _ => write_path_escaped(insert(p, it, tables), out),
                    }
                }
            }
        }
    }

    /// The first byte the template renders to, if any.
    pub fn first_byte(&self, it: &Iteration, tables: &[Table]) -> Option<u8> {
        self.pieces.iter().find_map(|p| match p {
            Piece::Lit(b) => b.first().copied(),
            _ => insert(p, it, tables).first().copied(),
        })
    }
}

#[inline]
fn insert<'a>(p: &Piece, it: &'a Iteration, tables: &'a [Table]) -> &'a [u8] {
    match *p {
        Piece::Lit(_) => &[],
        Piece::Var(v) => it.var(v),
        Piece::Field { var, column } => match it.csv_row(var) {
            Some(r) => tables
                .get(r.dataset as usize)
                .map_or(&[][..], |t| t.cell(r.row, column)),
            None => &[],
        },
        Piece::Capture(r) => it.register(r).unwrap_or(&[]),
    }
}

/// Bytes a URI path cannot carry as they are. Reserved characters (`/ ? & = %` …) pass
/// through so that a variable can hold a path segment list or a query string on purpose.
fn needs_path_escape(b: u8) -> bool {
    matches!(b, 0..=0x20 | 0x7f..=0xff | b'"' | b'#' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}')
}

fn write_path_escaped(v: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = v;
    while let Some(i) = rest.iter().position(|&b| needs_path_escape(b)) {
        out.extend_from_slice(&rest[..i]);
        let b = rest[i];
        out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::test_plan::PlanBuilder;
    use ptl_bytecode::plan::{Draw, Generator, Template};

    fn compile(b: &PlanBuilder, t: &Template) -> Result<CompiledTemplate, VmError> {
        let names: Vec<String> = b.plan.vars.iter().map(|v| v.name.clone()).collect();
        let datasets: Vec<Option<u32>> = b.plan.vars.iter().map(|v| v.csv_dataset()).collect();
        let tables: Vec<Table> = b
            .plan
            .datasets
            .iter()
            .map(|d| Table::new(&b.plan, d).expect("valid dataset"))
            .collect();
        let info = VarInfo {
            datasets: &datasets,
            names: &names,
            tables: &tables,
        };
        CompiledTemplate::compile(&b.plan, t, &info)
    }

    #[test]
    fn literal_only_templates_fold_into_one_constant() {
        let mut b = PlanBuilder::new("http://h");
        let a = b.c("appli");
        let c = b.c("cation/json");
        let t = Template {
            ops: vec![TemplateOp::Lit(a), TemplateOp::Lit(c)],
        };
        let compiled = compile(&b, &t).expect("compiles");
        assert_eq!(
            compiled.constant().map(|c| &c[..]),
            Some(&b"application/json"[..])
        );
        let empty = compile(&b, &Template::default()).expect("compiles");
        assert_eq!(empty.constant().map(|c| c.len()), Some(0));
    }

    #[test]
    fn inserts_are_checked_and_listed() {
        let mut b = PlanBuilder::new("http://h");
        b.gen("n", Generator::Int { min: 1, max: 2 });
        let ds = b.dataset("p.csv", &["id", "email"], &[&["1", "a@x"]]);
        b.gen(
            "row",
            Generator::Csv {
                dataset: ds,
                draw: Draw::Sequential,
            },
        );
        let t = b.tmpl("/{{n}}/{{row.email}}/{{$2}}");
        let compiled = compile(&b, &t).expect("compiles");
        assert!(compiled.constant().is_none());
        assert_eq!(compiled.vars().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(compiled.registers().collect::<Vec<_>>(), [2]);

        let bad_var = Template {
            ops: vec![TemplateOp::Var(9)],
        };
        assert!(matches!(
            compile(&b, &bad_var),
            Err(VmError::VarOutOfRange(9))
        ));
        let bad_column = Template {
            ops: vec![TemplateOp::Field { var: 1, column: 2 }],
        };
        assert!(matches!(
            compile(&b, &bad_column),
            Err(VmError::ColumnOutOfRange { column: 2, .. })
        ));
        let not_csv = Template {
            ops: vec![TemplateOp::Field { var: 0, column: 0 }],
        };
        assert!(matches!(
            compile(&b, &not_csv),
            Err(VmError::FieldWithoutCsv { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_escaped_value_is_a_valid_path(value in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            let mut path = b"/x/".to_vec();
            write_path_escaped(&value, &mut path);
            let pq = http::uri::PathAndQuery::try_from(path.as_slice());
            proptest::prop_assert!(pq.is_ok(), "{:?} rejected", String::from_utf8_lossy(&path));
            // Decoding gives the value back ('%' itself passes through unescaped, so only
            // values without one decode unambiguously).
            if !value.contains(&b'%') {
                let mut decoded = Vec::new();
                let mut i = 3;
                while i < path.len() {
                    if path[i] == b'%' {
                        let hex = std::str::from_utf8(&path[i + 1..i + 3]).expect("ascii");
                        decoded.push(u8::from_str_radix(hex, 16).expect("hex"));
                        i += 3;
                    } else {
                        decoded.push(path[i]);
                        i += 1;
                    }
                }
                proptest::prop_assert_eq!(decoded, value);
            }
        }
    }

    #[test]
    fn path_escape_encodes_only_what_a_path_rejects() {
        let mut out = Vec::new();
        let v = "a b/c?d=é#\"x\"".as_bytes();
        write_path_escaped(v, &mut out);
        assert_eq!(out, b"a%20b/c?d=%C3%A9%23%22x%22");
    }
}
