//! The SSE event id: where a browser that saw an event stands, so that on reconnection
//! (`Last-Event-ID`) the server sends only what it missed.
//!
//! Two parts: the stream position in the hub that published the event (`{instance}.{seq}`,
//! exact while the same server still buffers the events after it), and for each run still going
//! the newest one-second window the browser holds (`{run}:{window}`). The windows mean the same
//! on every coordinator (they are the agents' windows, read from ZooKeeper), so a browser that
//! lands on a restarted coordinator, or on the one that took over, resumes from them.
//!
//! Wire form: the parts separated by spaces, `3f2a9c.1042 run-0000000003:57 run-0000000004:3`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Runs read back from an id (a header is small; a longer list is not ours).
const MAX_RUNS: usize = 64;
/// Longest id read back; anything longer is ignored as foreign.
pub const MAX_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    /// The publishing hub's instance and the event's sequence number there.
    pub stream: Option<(u64, u64)>,
    /// Run id → the newest series window (second) sent for it.
    pub windows: BTreeMap<String, u64>,
}

impl Cursor {
    /// The id's text (never contains a line break: run ids with one are left out).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Some((instance, seq)) = self.stream {
            let _ = write!(out, "{instance:x}.{seq}");
        }
        for (run, window) in &self.windows {
            if run.is_empty() || run.contains([' ', '\n', '\r', '\0']) {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "{run}:{window}");
        }
        out
    }

    /// Reads an id back; `None` when it is not one of ours (empty, too long, malformed).
    pub fn parse(text: &str) -> Option<Cursor> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_LEN {
            return None;
        }
        let mut cursor = Cursor::default();
        for (i, part) in text.split(' ').filter(|p| !p.is_empty()).enumerate() {
            if i == 0 {
                if let Some(stream) = parse_stream(part) {
                    cursor.stream = Some(stream);
                    continue;
                }
            }
            let (run, window) = part.rsplit_once(':')?;
            if run.is_empty() || cursor.windows.len() >= MAX_RUNS {
                return None;
            }
            cursor.windows.insert(run.to_string(), window.parse().ok()?);
        }
        Some(cursor)
    }
}

fn parse_stream(part: &str) -> Option<(u64, u64)> {
    let (instance, seq) = part.split_once('.')?;
    Some((u64::from_str_radix(instance, 16).ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn an_encoded_cursor_reads_back_the_same(
            stream in proptest::option::of((any::<u64>(), any::<u64>())),
            windows in proptest::collection::btree_map("[a-z][a-z0-9:-]{0,20}", any::<u64>(), 0..8),
        ) {
            let cursor = Cursor { stream, windows };
            let text = cursor.encode();
            prop_assert!(!text.contains('\n'));
            if text.is_empty() {
                prop_assert!(cursor.stream.is_none() && cursor.windows.is_empty());
            } else {
                prop_assert_eq!(Cursor::parse(&text), Some(cursor));
            }
        }

        #[test]
        fn any_text_is_read_without_panicking(text in "\\PC{0,200}") {
            let _ = Cursor::parse(&text);
        }
    }

    #[test]
    fn foreign_ids_are_not_cursors() {
        assert_eq!(Cursor::parse(""), None);
        assert_eq!(Cursor::parse("run-1"), None);
        assert_eq!(Cursor::parse("run-1:x"), None);
        assert_eq!(Cursor::parse(":4"), None);
        assert_eq!(Cursor::parse(&"a:1 ".repeat(2000)), None);
        // A bare number (an older server's id) is a run-less, stream-less nothing.
        assert_eq!(Cursor::parse("42"), None);
    }

    #[test]
    fn the_stream_part_is_optional_and_first() {
        let c = Cursor::parse("run-0000000003:57").expect("a cursor");
        assert_eq!(c.stream, None);
        assert_eq!(c.windows.get("run-0000000003"), Some(&57));
        let c = Cursor::parse("ff.9 local-17:3").expect("a cursor");
        assert_eq!(c.stream, Some((255, 9)));
        assert_eq!(c.windows.get("local-17"), Some(&3));
    }
}
