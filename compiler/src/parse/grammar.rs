//! The pest parser generated from `grammar/ptl.pest`, the one grammar of the language.

use pest_derive::Parser;

#[derive(Parser)]
#[grammar = "../grammar/ptl.pest"]
pub struct PtlParser;
