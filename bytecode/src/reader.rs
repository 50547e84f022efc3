//! A cursor over untrusted bytes. Every read is bounds-checked and fails with a [`DecodeError`]
//! carrying the absolute byte offset; nothing here can panic or allocate more than the input
//! could back, whatever the bytes say.

use crate::error::DecodeError;

pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Absolute offset of `data[0]` in the whole input, so errors from a sub-reader (one section)
    /// still point into the file.
    base: usize,
}

type Result<T> = std::result::Result<T, DecodeError>;

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8], base: usize) -> Self {
        Reader { data, pos: 0, base }
    }

    /// Absolute offset of the next byte to read.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let available = self.remaining();
        let slice = self
            .pos
            .checked_add(n)
            .and_then(|end| self.data.get(self.pos..end))
            .ok_or(DecodeError::Truncated {
                offset: self.offset(),
                what,
                needed: n as u64,
                available,
            })?;
        self.pos += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u16_le(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u32_le(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64_le(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Unsigned LEB128. Only the shortest encoding is accepted, so every value has exactly one
    /// byte form and equal plans always hash equal.
    pub fn var_u64(&mut self, what: &'static str) -> Result<u64> {
        let start = self.offset();
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.u8(what)?;
            let low = u64::from(byte & 0x7f);
            // The tenth byte holds only bit 63.
            if shift == 63 && low > 1 {
                return Err(DecodeError::IntegerTooLarge {
                    offset: start,
                    what,
                    bits: 64,
                });
            }
            value |= low << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(DecodeError::NonCanonicalVarint {
                        offset: start,
                        what,
                    });
                }
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                return Err(DecodeError::IntegerTooLarge {
                    offset: start,
                    what,
                    bits: 64,
                });
            }
        }
    }

    pub fn var_u32(&mut self, what: &'static str) -> Result<u32> {
        let start = self.offset();
        let v = self.var_u64(what)?;
        u32::try_from(v).map_err(|_| DecodeError::IntegerTooLarge {
            offset: start,
            what,
            bits: 32,
        })
    }

    pub fn var_u16(&mut self, what: &'static str) -> Result<u16> {
        let start = self.offset();
        let v = self.var_u64(what)?;
        u16::try_from(v).map_err(|_| DecodeError::IntegerTooLarge {
            offset: start,
            what,
            bits: 16,
        })
    }

    /// Signed LEB128 via zigzag, so small negative numbers stay short.
    pub fn var_i64(&mut self, what: &'static str) -> Result<i64> {
        let n = self.var_u64(what)?;
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    /// Little-endian IEEE-754 bits. NaN and infinities are rejected: no plan value needs them,
    /// and the runtime should not have to guard against them.
    pub fn f64(&mut self, what: &'static str) -> Result<f64> {
        let offset = self.offset();
        let bits = self.u64_le(what)?;
        let v = f64::from_bits(bits);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(DecodeError::NotFinite { offset, what, bits })
        }
    }

    pub fn bool(&mut self, what: &'static str) -> Result<bool> {
        let offset = self.offset();
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::BadTag { offset, what, tag }),
        }
    }

    /// A length or element count. Every element of every list takes at least one byte, so a
    /// count larger than what is left is a lie; rejecting it here keeps allocations bounded by
    /// the input size.
    pub fn len(&mut self, what: &'static str) -> Result<usize> {
        let offset = self.offset();
        let len = self.var_u64(what)?;
        let remaining = self.remaining();
        match usize::try_from(len) {
            Ok(n) if n <= remaining => Ok(n),
            _ => Err(DecodeError::LengthTooLarge {
                offset,
                what,
                len,
                remaining,
            }),
        }
    }

    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let n = self.len(what)?;
        self.take(n, what)
    }

    pub fn string(&mut self, what: &'static str) -> Result<String> {
        let n = self.len(what)?;
        let offset = self.offset();
        let raw = self.take(n, what)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| DecodeError::BadUtf8 { offset, what })
    }

    /// An index into a table of `count` entries defined earlier in the plan.
    pub fn index(&mut self, what: &'static str, count: usize) -> Result<u32> {
        let offset = self.offset();
        let index = self.var_u32(what)?;
        if (index as usize) < count {
            Ok(index)
        } else {
            Err(DecodeError::BadIndex {
                offset,
                what,
                index: u64::from(index),
                count: count as u64,
            })
        }
    }

    /// A reader over the next `n` bytes, which this reader skips.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>> {
        let base = self.offset();
        let data = self.take(n, what)?;
        Ok(Reader::new(data, base))
    }

    /// Fails unless every byte has been read.
    pub fn finish(&self, what: &'static str) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes {
                offset: self.offset(),
                what,
                count,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_u64(bytes: &[u8]) -> Result<u64> {
        let mut r = Reader::new(bytes, 100);
        let v = r.var_u64("value")?;
        r.finish("value")?;
        Ok(v)
    }

    #[test]
    fn varints_decode_known_encodings() {
        assert_eq!(read_u64(&[0x00]), Ok(0));
        assert_eq!(read_u64(&[0x7f]), Ok(127));
        assert_eq!(read_u64(&[0x80, 0x01]), Ok(128));
        assert_eq!(read_u64(&[0xe5, 0x8e, 0x26]), Ok(624_485));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(read_u64(&max), Ok(u64::MAX));
    }

    #[test]
    fn varints_reject_overlong_and_overflowing_forms() {
        assert!(matches!(
            read_u64(&[0x80, 0x00]),
            Err(DecodeError::NonCanonicalVarint { offset: 100, .. })
        ));
        let too_big = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(matches!(
            read_u64(&too_big),
            Err(DecodeError::IntegerTooLarge { bits: 64, .. })
        ));
        let eleven = [0x80; 11];
        assert!(matches!(
            read_u64(&eleven),
            Err(DecodeError::IntegerTooLarge { bits: 64, .. })
        ));
        assert!(matches!(
            read_u64(&[0x80]),
            Err(DecodeError::Truncated { offset: 101, .. })
        ));
        let mut r = Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x10], 0);
        assert!(matches!(
            r.var_u32("x"),
            Err(DecodeError::IntegerTooLarge { bits: 32, .. })
        ));
    }

    #[test]
    fn lengths_beyond_the_input_are_rejected_before_allocating() {
        // Claims u64::MAX bytes follow.
        let bytes = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, b'a',
        ];
        let mut r = Reader::new(&bytes, 0);
        assert!(matches!(
            r.bytes("blob"),
            Err(DecodeError::LengthTooLarge {
                offset: 0,
                remaining: 1,
                ..
            })
        ));
    }

    #[test]
    fn non_finite_floats_and_bad_bools_are_rejected() {
        let nan = f64::NAN.to_bits().to_le_bytes();
        assert!(matches!(
            Reader::new(&nan, 7).f64("rate"),
            Err(DecodeError::NotFinite { offset: 7, .. })
        ));
        assert!(matches!(
            Reader::new(&[2], 0).bool("flag"),
            Err(DecodeError::BadTag { tag: 2, .. })
        ));
    }

    #[test]
    fn strings_must_be_utf8() {
        let mut r = Reader::new(&[2, 0xc3, 0x28], 10);
        assert!(matches!(
            r.string("name"),
            Err(DecodeError::BadUtf8 { offset: 11, .. })
        ));
    }

    #[test]
    fn indexes_are_checked_against_their_table() {
        let mut r = Reader::new(&[3, 2], 0);
        assert!(matches!(
            r.index("const", 3),
            Err(DecodeError::BadIndex {
                index: 3,
                count: 3,
                ..
            })
        ));
        assert_eq!(r.index("const", 3), Ok(2));
    }

    proptest::proptest! {
        #[test]
        fn zigzag_and_leb128_round_trip(v: i64, u: u64) {
            let mut w = crate::encode::Writer::default();
            w.var_i64(v);
            w.var_u64(u);
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes, 0);
            proptest::prop_assert_eq!(r.var_i64("i"), Ok(v));
            proptest::prop_assert_eq!(r.var_u64("u"), Ok(u));
            proptest::prop_assert_eq!(r.finish("end"), Ok(()));
        }
    }
}
