//! How the CLI talks to the user: error lines on stderr and writing output files.

use crate::exit::Exit;
use std::fmt::Display;
use std::path::Path;

/// What a command returns: `Err` carries the exit status of a run that did not pass (a failed
/// threshold, Ctrl-C) or of an error already printed; `main` turns it into the process status.
pub type Done = Result<(), Exit>;

/// Print `error: MESSAGE` on stderr and return the exit status to use.
pub fn fail(exit: Exit, message: impl Display) -> Exit {
    eprintln!("error: {message}");
    exit
}

/// Write a file, creating nothing but the file itself; the error names the path.
pub fn write_file(path: &Path, contents: &[u8]) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
