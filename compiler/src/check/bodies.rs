//! Request bodies built from files: `body file("payload.bin")` and `multipart { … }`. Files
//! are read at compile time and embedded in the plan as constants, so agents need no files and
//! sending one costs what a literal body costs. A multipart body is laid out here, once: the
//! engine sees a template of literal bytes and the fields' template pieces.

use std::hash::{Hash, Hasher};

use crate::ast::{MultipartEntry, StrLit};
use crate::check::model::{HeaderModel, Piece};
use crate::check::templates::{self, Scope};
use crate::check::{CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::{io_reason, FileId};

/// A body file's size limit: it is held in the plan, in memory on every agent, and in
/// ZooKeeper for a cluster run.
const MAX_FILE_BYTES: usize = 16 << 20;

/// The bytes of `file("path")`, relative to the plan file that names it.
pub fn file_bytes(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    lit: &StrLit,
) -> Option<Vec<u8>> {
    let unreadable = |sink: &mut Sink, reason: String| {
        sink.push(
            file,
            Diagnostic::BodyFileUnreadable {
                path: lit.value.clone(),
                reason,
                span: lit.span.into(),
            },
        );
        None
    };
    let Some(dir) = cx.loaded.files[file.0].dir() else {
        return unreadable(sink, "a standard library cannot read files".to_string());
    };
    match cx.loaded.fs.read(&dir.join(&lit.value)) {
        Ok(bytes) if bytes.len() > MAX_FILE_BYTES => unreadable(
            sink,
            format!(
                "{} bytes, above the limit of {} MiB for a file embedded in a plan",
                bytes.len(),
                MAX_FILE_BYTES >> 20
            ),
        ),
        Ok(bytes) => Some(bytes),
        Err(e) => unreadable(sink, io_reason(&e)),
    }
}

/// A `multipart { … }` body and the `Content-Type` header that names its boundary.
pub fn multipart(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    entries: &[MultipartEntry],
    scope: Scope,
) -> Option<(Vec<Piece>, HeaderModel)> {
    let errors = sink.errors();
    // Each part: its header lines (fixed), then its content.
    let mut parts: Vec<(Vec<u8>, Vec<Piece>)> = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            MultipartEntry::Field { name, value } => {
                let head = format!(
                    "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    quoted(&name.value)
                );
                if let Some(pieces) = templates::template(cx, sink, file, value, scope) {
                    parts.push((head.into_bytes(), pieces));
                }
            }
            MultipartEntry::File { name, path } => {
                let file_name = path.value.rsplit('/').next().unwrap_or(&path.value);
                let head = format!(
                    "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                    quoted(&name.value),
                    quoted(file_name),
                    content_type(file_name)
                );
                if let Some(bytes) = file_bytes(cx, sink, file, path) {
                    parts.push((head.into_bytes(), vec![Piece::Bytes(bytes)]));
                }
            }
        }
    }
    if sink.errors() > errors {
        return None;
    }
    let boundary = boundary(&parts);
    let mut body = Vec::new();
    for (head, content) in parts {
        let mut open = format!("--{boundary}\r\n").into_bytes();
        open.extend_from_slice(&head);
        push_bytes(&mut body, open);
        for piece in content {
            match piece {
                Piece::Lit(s) => push_bytes(&mut body, s.into_bytes()),
                Piece::Bytes(b) => push_bytes(&mut body, b),
                other => body.push(other),
            }
        }
        push_bytes(&mut body, b"\r\n".to_vec());
    }
    push_bytes(&mut body, format!("--{boundary}--\r\n").into_bytes());
    let header = HeaderModel {
        name: vec![Piece::Lit("Content-Type".to_string())],
        value: vec![Piece::Lit(format!(
            "multipart/form-data; boundary={boundary}"
        ))],
    };
    Some((body, header))
}

/// Appends bytes, joined with a preceding literal so that the body holds few constants.
fn push_bytes(body: &mut Vec<Piece>, bytes: Vec<u8>) {
    match body.last_mut() {
        Some(Piece::Bytes(prev)) => prev.extend_from_slice(&bytes),
        _ => body.push(Piece::Bytes(bytes)),
    }
}

/// A boundary derived from the parts (the same plan compiles to the same bytes) that occurs in
/// none of their fixed bytes. Values drawn at run time could hold it only by chance: 64 bits.
fn boundary(parts: &[(Vec<u8>, Vec<Piece>)]) -> String {
    let fixed: Vec<&[u8]> = parts
        .iter()
        .flat_map(|(head, content)| {
            std::iter::once(head.as_slice()).chain(content.iter().filter_map(|p| match p {
                Piece::Lit(s) => Some(s.as_bytes()),
                Piece::Bytes(b) => Some(b.as_slice()),
                _ => None,
            }))
        })
        .collect();
    let mut salt = 0u64;
    loop {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        fixed.hash(&mut h);
        let candidate = format!("ptl-{:016x}", h.finish());
        let needle = candidate.as_bytes();
        if !fixed
            .iter()
            .any(|b| b.windows(needle.len()).any(|w| w == needle))
        {
            return candidate;
        }
        salt += 1;
    }
}

/// A name inside a quoted `Content-Disposition` parameter: quotes and line breaks escaped as
/// browsers do (RFC 7578 §4.2 leaves it to percent-encoding).
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The content type of a file part, by its extension.
fn content_type(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "json" => "application/json",
        "xml" => "application/xml",
        "csv" => "text/csv",
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_avoids_the_contents_and_is_stable() {
        let parts = vec![(b"head".to_vec(), vec![Piece::Lit("x".into())])];
        let b = boundary(&parts);
        assert_eq!(b, boundary(&parts));
        assert!(b.starts_with("ptl-") && b.len() == 20, "{b}");
    }

    #[test]
    fn names_are_escaped_and_types_guessed() {
        assert_eq!(quoted("a\"b\r\n"), "a%22b%0D%0A");
        assert_eq!(content_type("x.PNG"), "image/png");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
