//! Reading a response body off the bytes received so far, whatever way they were split into
//! reads: by length, chunked (sizes, extensions, trailers), or until the server closes. The
//! body goes into a sink when a step reads it and is skipped otherwise.

use super::error::{HttpError, ProtocolError};
use super::response::{Framing, MAX_HEAD};

/// Longest chunk-size line (size and extensions) accepted.
const MAX_CHUNK_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// Trailer lines after the last chunk, and bytes of them seen so far.
    Trailers(usize),
    UntilClose,
    Done,
}

#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
}

impl BodyDecoder {
    pub fn new(framing: Framing) -> BodyDecoder {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        BodyDecoder { state }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes what it can of `input`, appending body bytes to `sink` when there is one.
    /// Returns the bytes taken; once the body is complete it takes nothing more (what follows
    /// belongs to the connection, not to this answer).
    pub fn decode(
        &mut self,
        mut input: &[u8],
        mut sink: Option<&mut Vec<u8>>,
    ) -> Result<usize, HttpError> {
        let start = input.len();
        loop {
            match self.state {
                State::Done => break,
                State::Length(left) | State::ChunkData(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    if n == 0 {
                        break;
                    }
                    if let Some(s) = sink.as_deref_mut() {
                        s.extend_from_slice(&input[..n]);
                    }
                    input = &input[n..];
                    let left = left - n as u64;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::Done,
                        (State::Length(_), l) => State::Length(l),
                        (_, 0) => State::ChunkEnd,
                        (_, l) => State::ChunkData(l),
                    };
                }
                State::UntilClose => {
                    if let Some(s) = sink.as_deref_mut() {
                        s.extend_from_slice(input);
                    }
                    input = &[];
                    break;
                }
                State::ChunkSize => {
                    let Some(end) = memchr::memchr(b'\n', input) else {
                        if input.len() > MAX_CHUNK_LINE {
                            return Err(chunk_error());
                        }
                        break;
                    };
                    let size = chunk_size(&input[..=end])?;
                    input = &input[end + 1..];
                    self.state = match size {
                        0 => State::Trailers(0),
                        n => State::ChunkData(n),
                    };
                }
                State::ChunkEnd => {
                    if input.len() < 2 {
                        if input.first().is_some_and(|&b| b != b'\r') {
                            return Err(chunk_error());
                        }
                        break;
                    }
                    if &input[..2] != b"\r\n" {
                        return Err(chunk_error());
                    }
                    input = &input[2..];
                    self.state = State::ChunkSize;
                }
                State::Trailers(seen) => {
                    let Some(end) = memchr::memchr(b'\n', input) else {
                        if seen + input.len() > MAX_HEAD {
                            return Err(chunk_error());
                        }
                        break;
                    };
                    let line = &input[..=end];
                    input = &input[end + 1..];
                    self.state = if line == b"\r\n" {
                        State::Done
                    } else if seen + line.len() > MAX_HEAD {
                        return Err(chunk_error());
                    } else {
                        State::Trailers(seen + line.len())
                    };
                }
            }
        }
        Ok(start - input.len())
    }

    /// The server closed the connection: the end of a body read until close, a truncated
    /// answer otherwise.
    pub fn finish_at_eof(&mut self) -> Result<(), HttpError> {
        match self.state {
            State::UntilClose | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(HttpError::Closed),
        }
    }
}

fn chunk_error() -> HttpError {
    HttpError::Protocol(ProtocolError::Chunk)
}

/// The size on a chunk-size line (`1a;ext=v\r\n`): hex digits, optional whitespace, optional
/// extensions, CRLF.
fn chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let Some(line) = line.strip_suffix(b"\r\n") else {
        return Err(chunk_error());
    };
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return Err(chunk_error());
    }
    let rest = line[digits..].trim_ascii_start();
    if !rest.is_empty() && rest[0] != b';' {
        return Err(chunk_error());
    }
    let mut n = 0u64;
    for &d in &line[..digits] {
        let v = (d as char).to_digit(16).unwrap_or(0);
        n = n * 16 + u64::from(v);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `wire` split at `cuts`, as reads would deliver it, keeping unconsumed bytes
    /// for the next round like the connection does. Returns the body and the bytes left.
    fn feed(
        framing: Framing,
        wire: &[u8],
        cuts: &[usize],
        eof: bool,
    ) -> Result<(Vec<u8>, Vec<u8>, bool), HttpError> {
        let mut d = BodyDecoder::new(framing);
        let mut body = Vec::new();
        let mut pending = Vec::new();
        let mut from = 0;
        let mut points: Vec<usize> = cuts.iter().map(|&c| c.min(wire.len())).collect();
        points.sort_unstable();
        points.push(wire.len());
        for to in points {
            pending.extend_from_slice(&wire[from..to.max(from)]);
            from = to.max(from);
            let n = d.decode(&pending, Some(&mut body))?;
            pending.drain(..n);
        }
        if eof {
            d.finish_at_eof()?;
        }
        Ok((body, pending, d.is_done()))
    }

    #[test]
    fn length_stops_at_the_end() {
        let (body, rest, done) = feed(Framing::Length(5), b"helloHTTP", &[2], false).expect("ok");
        assert_eq!(body, b"hello");
        assert_eq!(rest, b"HTTP");
        assert!(done);
    }

    #[test]
    fn truncated_length_is_a_close() {
        assert!(matches!(
            feed(Framing::Length(5), b"hel", &[], true),
            Err(HttpError::Closed)
        ));
    }

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let wire = b"5;name=v\r\nhello\r\n1A \r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nx-t: 1\r\ny: 2\r\n\r\nNEXT";
        let (body, rest, done) = feed(Framing::Chunked, wire, &[], false).expect("ok");
        assert_eq!(body, b"helloabcdefghijklmnopqrstuvwxyz");
        assert_eq!(rest, b"NEXT");
        assert!(done);
    }

    #[test]
    fn chunked_without_sink_skips() {
        let mut d = BodyDecoder::new(Framing::Chunked);
        let wire = b"3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(d.decode(wire, None).expect("ok"), wire.len());
        assert!(d.is_done());
    }

    #[test]
    fn malformed_chunks() {
        for wire in [
            &b"\r\nabc"[..],
            b"g\r\n",
            b"3\r\nabcX\r\n",
            b"3 x\r\nabc\r\n",
            b"3\nabc\r\n",
            b"1234567890abcdef0\r\n",
        ] {
            assert!(
                matches!(
                    feed(Framing::Chunked, wire, &[], false),
                    Err(HttpError::Protocol(ProtocolError::Chunk))
                ),
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        let long = vec![b'1'; MAX_CHUNK_LINE + 1];
        assert!(feed(Framing::Chunked, &long, &[], false).is_err());
    }

    #[test]
    fn truncated_chunked_is_a_close() {
        assert!(matches!(
            feed(Framing::Chunked, b"5\r\nhel", &[], true),
            Err(HttpError::Closed)
        ));
        assert!(matches!(
            feed(Framing::Chunked, b"0\r\n", &[], true),
            Err(HttpError::Closed)
        ));
    }

    #[test]
    fn until_close_ends_at_eof() {
        let (body, _, done) = feed(Framing::UntilClose, b"all of it", &[3], true).expect("ok");
        assert_eq!(body, b"all of it");
        assert!(done);
    }

    fn chunked_wire(chunks: &[Vec<u8>], trailers: &[String]) -> Vec<u8> {
        let mut w = Vec::new();
        for c in chunks.iter().filter(|c| !c.is_empty()) {
            w.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            w.extend_from_slice(c);
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(b"0\r\n");
        for t in trailers {
            w.extend_from_slice(format!("x-{t}: v\r\n").as_bytes());
        }
        w.extend_from_slice(b"\r\n");
        w
    }

    proptest! {
        // However the wire is cut into reads, the body comes out whole and exactly what
        // follows it is left for the next answer.
        #[test]
        fn any_split_gives_the_same_body(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
            trailers in proptest::collection::vec("[a-z]{1,8}", 0..3),
            cuts in proptest::collection::vec(0usize..400, 0..8),
            next in proptest::collection::vec(any::<u8>(), 0..10),
        ) {
            let mut wire = chunked_wire(&chunks, &trailers);
            wire.extend_from_slice(&next);
            let (body, rest, done) = feed(Framing::Chunked, &wire, &cuts, false).expect("valid");
            prop_assert_eq!(body, chunks.concat());
            prop_assert_eq!(rest, next.clone());
            prop_assert!(done);

            let plain = chunks.concat();
            let mut wire = plain.clone();
            wire.extend_from_slice(&next);
            let (body, rest, done) = feed(Framing::Length(plain.len() as u64), &wire, &cuts, false).expect("valid");
            prop_assert_eq!(body, plain);
            prop_assert_eq!(rest, next);
            prop_assert!(done);
        }

        // Cut anywhere before its end, a body is incomplete, and the close that ends it there
        // is a truncated answer.
        #[test]
        fn any_truncation_is_a_close(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..40), 1..5),
            cut in any::<prop::sample::Index>(),
        ) {
            let wire = chunked_wire(&chunks, &[]);
            let at = cut.index(wire.len());
            prop_assert!(matches!(feed(Framing::Chunked, &wire[..at], &[], true), Err(HttpError::Closed)));
        }
    }
}
