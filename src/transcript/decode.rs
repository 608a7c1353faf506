//! Bytes of a transcript file to text, shared by every reader.
//!
//! Transcripts arrive as UTF-8 (with or without a byte-order mark) or, from
//! Praat and some Windows tools, as UTF-16 with a byte-order mark. Anything
//! else is refused with the offset of the first byte that is not UTF-8, rather
//! than guessed at, so no character is silently replaced. Line endings are
//! normalised to `\n` (CRLF and lone CR), which keeps line numbers intact.

use std::path::Path;

use super::error::{Location, ReadError};

/// Decodes `bytes` read from `path` (named in errors) and normalises line endings.
pub fn decode_text(bytes: &[u8], path: &Path) -> Result<String, ReadError> {
    let text = if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        utf8(rest, path, 3)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16(rest, path, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        utf16(rest, path, u16::from_be_bytes)?
    } else {
        utf8(bytes, path, 0)?
    };
    Ok(normalise_newlines(text))
}

fn utf8(bytes: &[u8], path: &Path, skipped: usize) -> Result<String, ReadError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => Err(ReadError::syntax(
            path,
            Location::Byte(skipped + e.valid_up_to()),
            "UTF-8 text (or UTF-16 with a byte-order mark)",
            &format!("byte 0x{:02X}", bytes[e.valid_up_to()]),
        )),
    }
}

fn utf16(bytes: &[u8], path: &Path, unit: fn([u8; 2]) -> u16) -> Result<String, ReadError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(ReadError::syntax(
            path,
            Location::Byte(bytes.len() + 1),
            "an even number of bytes in a UTF-16 file",
            "a trailing odd byte",
        ));
    }
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    let mut out = String::with_capacity(bytes.len() / 2);
    for (i, c) in char::decode_utf16(units).enumerate() {
        match c {
            Ok(c) => out.push(c),
            Err(e) => {
                return Err(ReadError::syntax(
                    path,
                    Location::Byte(2 + 2 * i),
                    "valid UTF-16",
                    &format!("unpaired surrogate 0x{:04X}", e.unpaired_surrogate()),
                ))
            }
        }
    }
    Ok(out)
}

fn normalise_newlines(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom() {
        let p = Path::new("t.srt");
        assert_eq!(decode_text(b"abc", p).unwrap(), "abc");
        assert_eq!(
            decode_text(b"\xEF\xBB\xBFabc\r\nd\re", p).unwrap(),
            "abc\nd\ne"
        );
    }

    #[test]
    fn utf16_both_byte_orders() {
        let p = Path::new("t.TextGrid");
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("hé".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("hé".encode_utf16().flat_map(|u| u.to_be_bytes()))
            .collect();
        assert_eq!(decode_text(&le, p).unwrap(), "hé");
        assert_eq!(decode_text(&be, p).unwrap(), "hé");
    }

    #[test]
    fn invalid_utf8_names_the_byte() {
        // "ab" then a Latin-1 `é` (0xE9), which is not UTF-8: offset 2.
        let err = decode_text(b"ab\xE9c", Path::new("x.srt")).unwrap_err();
        match err {
            ReadError::Syntax {
                location, found, ..
            } => {
                assert_eq!(location, Location::Byte(2));
                assert!(found.contains("0xE9"), "{found}");
            }
            other => panic!("{other:?}"),
        }
    }
}
