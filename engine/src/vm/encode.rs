//! The encodings of `base64(…)`, `url_encode(…)` and `basic_auth(…)`: applied to a variable's
//! text when an iteration draws its values, appending to the iteration's value buffer.

use base64::Engine;
use ptl_bytecode::plan::Encoding;

/// Appends `input`, encoded, to `out`.
pub(crate) fn encode_into(encoding: Encoding, input: &[u8], out: &mut Vec<u8>) {
    match encoding {
        Encoding::Base64 => {
            let start = out.len();
            out.resize(
                start + base64::encoded_len(input.len(), true).unwrap_or(0),
                0,
            );
            let written = base64::engine::general_purpose::STANDARD
                .encode_slice(input, &mut out[start..])
                .unwrap_or(0);
            out.truncate(start + written);
        }
        Encoding::UrlEncode => {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            for &b in input {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    out.push(b);
                } else {
                    out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(encoding: Encoding, input: &[u8]) -> String {
        let mut out = b"x".to_vec();
        encode_into(encoding, input, &mut out);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn base64_is_standard_with_padding() {
        assert_eq!(enc(Encoding::Base64, b"ann:s3cr3t"), "xYW5uOnMzY3IzdA==");
        assert_eq!(enc(Encoding::Base64, b""), "x");
        assert_eq!(enc(Encoding::Base64, &[0xff, 0xfe]), "x//4=");
    }

    #[test]
    fn url_encoding_keeps_only_unreserved_bytes() {
        assert_eq!(
            enc(Encoding::UrlEncode, b"a b&c=d/e~f.g_h-i"),
            "xa%20b%26c%3Dd%2Fe~f.g_h-i"
        );
        assert_eq!(enc(Encoding::UrlEncode, "é".as_bytes()), "x%C3%A9");
    }
}
