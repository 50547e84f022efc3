//! How the CLI talks to the user: error lines on stderr and writing output files.

use crate::exit::Exit;
use std::path::Path;

/// Print `error: MESSAGE` on stderr and return the exit status to use.
pub fn fail(exit: Exit, message: impl std::fmt::Display) -> Exit {
    eprintln!("error: {message}");
    exit
}

/// Write a file, creating nothing but the file itself; the error names the path.
pub fn write_file(path: &Path, contents: &[u8]) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
