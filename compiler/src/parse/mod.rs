//! The front end: `.ptl` source text to the AST (`crate::ast`), following `grammar/ptl.pest`.
//!
//! pest checks the grammar; the modules here decode literals and strings, attach comments to
//! statements, and phrase syntax errors. Value positions are generic on purpose (`rate 5s for
//! 1m` parses): the checker, which knows what each position wants, reports the kind mismatch.

mod build;
mod comments;
mod error;
mod grammar;
mod literal;
mod phase;
mod request;
pub(crate) mod string;
mod tree;

use pest::Parser;

pub use error::SyntaxError;
pub use grammar::Rule;
pub use literal::parse_duration;

use crate::ast;

/// Parses a whole `.ptl` file (a plan or a library).
pub fn parse_file(source: &str) -> Result<ast::File, SyntaxError> {
    // The tree keeps offsets in 32 bits (and pest would take minutes on such a file anyway).
    if u32::try_from(source.len()).is_err() {
        return Err(SyntaxError::new(
            "the file is too large to be a plan (over 4 GiB)",
            ast::Span::new(0, 0),
            Vec::new(),
        ));
    }
    let pairs = grammar::PtlParser::parse(Rule::file, source)
        .map_err(|e| SyntaxError::from_pest(e, source))?;
    let tree = tree::Tree::of(pairs, source);
    let Some(file) = tree.roots().next() else {
        return Err(SyntaxError::internal(ast::Span::new(0, 0), "no file rule"));
    };
    let mut builder = build::Builder {
        src: source,
        comments: comments::CommentPool::scan(source, &tree.spans_of(Rule::regex)),
    };
    builder.file(file)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_checks;
