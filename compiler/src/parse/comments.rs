//! Comments: found by a scan of the source (the grammar skips them), then attached to the
//! statements around them so that the formatter can put every one of them back.
//!
//! Rules, applied per block (file, plan, request, scenario, phase, headers):
//! - a comment on the line where a statement ends, after it, is that statement's `trailing`;
//! - a comment inside a statement that has no block of its own to hold it (a statement split
//!   over lines, a `mix { … }`) joins that statement's `leading`;
//! - a comment on the line of the block's `{`, before any statement, belongs to the statement
//!   that owns the block (`request a {  // why`): it is returned as the block's head comment;
//! - any other comment is `leading` for the next statement of the block, or, after the last
//!   one, is returned as the block's closing comments.

use crate::ast::Stmt;

/// The comments of a block that belong to no statement inside it.
#[derive(Default)]
pub(crate) struct BlockComments {
    /// After the opening `{` on its line: the owning statement's trailing comment.
    pub(crate) head: Option<String>,
    /// After the last statement: kept before the closing `}`.
    pub(crate) closing: Vec<String>,
}

struct Comment {
    start: usize,
    line: usize,
    /// Only whitespace before it on its line.
    own_line: bool,
    text: String,
}

/// The comments of one file, each handed out once.
pub(crate) struct CommentPool {
    comments: Vec<Comment>,
    taken: Vec<bool>,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
}

impl CommentPool {
    /// Scans `src`, which has already parsed, so strings and comments are where the grammar
    /// says: a `//` or `#` outside a string or a regex starts a comment. `regexes` are the
    /// regex literals (`/…/`) the parser found, in order: they may hold `"`, `#` and `\//`,
    /// which text alone cannot tell from a string or a comment.
    pub(crate) fn scan(src: &str, regexes: &[(usize, usize)]) -> CommentPool {
        let bytes = src.as_bytes();
        let mut line_starts = vec![0];
        line_starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let mut comments = Vec::new();
        let mut regexes = regexes.iter().peekable();
        let mut i = 0;
        while i < bytes.len() {
            // Most bytes start nothing: look at the byte before comparing any longer text.
            if !matches!(bytes[i], b'"' | b'/' | b'#') {
                i += 1;
            } else if let Some(&(_, end)) = regexes.next_if(|&&(start, _)| start <= i) {
                i = end.max(i + 1);
            } else if bytes[i..].starts_with(b"\"\"\"") {
                i = src[i + 3..]
                    .find("\"\"\"")
                    .map_or(bytes.len(), |n| i + 3 + n + 3);
            } else if bytes[i] == b'"' {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            } else if bytes[i..].starts_with(b"//") || bytes[i] == b'#' {
                let end = src[i..].find('\n').map_or(bytes.len(), |n| i + n);
                let marker = if bytes[i] == b'#' { 1 } else { 2 };
                let line = line_starts.partition_point(|&s| s <= i) - 1;
                let own_line = src[line_starts[line]..i].trim().is_empty();
                comments.push(Comment {
                    start: i,
                    line,
                    own_line,
                    text: src[i + marker..end].trim().to_string(),
                });
                i = end;
            } else {
                i += 1;
            }
        }
        let taken = vec![false; comments.len()];
        CommentPool {
            comments,
            taken,
            line_starts,
        }
    }

    fn line_of(&self, pos: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= pos)
            .saturating_sub(1)
    }

    /// Indices of the comments that start in `start..end`.
    fn within(&self, start: usize, end: usize) -> std::ops::Range<usize> {
        let lo = self.comments.partition_point(|c| c.start < start);
        let hi = self.comments.partition_point(|c| c.start < end);
        lo..hi.max(lo)
    }

    /// Attaches the free comments in `start..end` (the inside of a block, `start` just after
    /// its `{` when `braced`) to `stmts`, which are in source order; returns the others.
    pub(crate) fn attach<T>(
        &mut self,
        stmts: &mut [Stmt<T>],
        start: usize,
        end: usize,
        braced: bool,
    ) -> BlockComments {
        let mut block = BlockComments::default();
        let open_line = braced.then(|| self.line_of(start.saturating_sub(1)));
        let mut next = 0;
        for ci in self.within(start, end) {
            if self.taken[ci] {
                continue;
            }
            self.taken[ci] = true;
            let c = &self.comments[ci];
            while next < stmts.len() && stmts[next].span.end <= c.start {
                next += 1;
            }
            let text = std::mem::take(&mut self.comments[ci].text);
            let c = &self.comments[ci];
            if next < stmts.len() && stmts[next].span.start <= c.start {
                stmts[next].comments.leading.push(text);
                continue;
            }
            if !c.own_line && next > 0 {
                let prev = &mut stmts[next - 1];
                let prev_line = self
                    .line_starts
                    .partition_point(|&s| s < prev.span.end)
                    .saturating_sub(1);
                if prev_line == c.line && prev.comments.trailing.is_none() {
                    prev.comments.trailing = Some(text);
                    continue;
                }
            }
            if next == 0 && !c.own_line && open_line == Some(c.line) && block.head.is_none() {
                block.head = Some(text);
                continue;
            }
            match stmts.get_mut(next) {
                Some(stmt) => stmt.comments.leading.push(text),
                None => block.closing.push(text),
            }
        }
        block
    }

    /// Takes every comment left in `start..end`, in order.
    pub(crate) fn take_rest(&mut self, start: usize, end: usize) -> Vec<String> {
        let mut out = Vec::new();
        for ci in self.within(start, end) {
            if !self.taken[ci] {
                self.taken[ci] = true;
                out.push(std::mem::take(&mut self.comments[ci].text));
            }
        }
        out
    }

    /// A library's header: the comments before its first item (at `first`) up to the last
    /// blank line above that item; comments right above the item stay its own.
    pub(crate) fn take_library_header(&mut self, src: &str, first: Option<usize>) -> Vec<String> {
        let limit = first.unwrap_or(src.len());
        let range = self.within(0, limit);
        let Some(first) = first else {
            return self.take_rest(0, limit);
        };
        // The last comment followed by a blank line before the next comment or the item.
        let mut split = None;
        for ci in range.clone() {
            let after = self.line_of(self.comments[ci].start) + 1;
            let next_start = if ci + 1 < range.end {
                self.comments[ci + 1].start
            } else {
                first
            };
            let next_line = self.line_of(next_start);
            let blank = (after..next_line).any(|l| {
                let s = self.line_starts[l];
                let e = self.line_starts.get(l + 1).copied().unwrap_or(src.len());
                src[s..e].trim().is_empty()
            });
            if blank {
                split = Some(ci);
            }
        }
        match split {
            Some(ci) => self.take_rest(0, self.comments[ci].start + 1),
            None => Vec::new(),
        }
    }
}
