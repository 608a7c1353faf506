//! Bytes of a transcript file to text, shared by every reader.
//!
//! A byte-order mark decides first, in every width: UTF-8, UTF-16 LE/BE and
//! UTF-32 LE/BE (the UTF-32 LE mark begins with the UTF-16 LE one, so it is
//! tested first). Without one, text that is valid UTF-8 is UTF-8. Anything
//! else was written in a legacy encoding (Windows-1252 from old subtitle
//! editors, GB2312 or Shift_JIS from CJK ones, Mac Roman from old Praat):
//! `chardetng` (the detector Firefox uses) guesses which from the bytes and
//! `encoding_rs` decodes it, with a warning naming the guess and the first
//! byte that was not UTF-8 — an error under strict reading, so nothing is
//! guessed for people who ask for validation. UTF-16 without a mark is
//! recognised by its zero bytes. Praat's binary format (`ooBinaryFile`) is
//! not text and is refused with a message saying what it is.
//! Line endings are normalised to `\n` (CRLF and lone CR), which keeps line
//! numbers intact.

use std::path::Path;

use super::error::{Location, ReadError, Warnings};

/// Decodes `bytes` read from `path` (named in errors) and normalises line
/// endings, accepting a detected legacy encoding without a word. Readers use
/// the warning-aware form behind [`read_file`](super::read_file).
pub fn decode_text(bytes: &[u8], path: &Path) -> Result<String, ReadError> {
    decode(bytes, path, &mut Warnings::new(path, false))
}

/// Decodes `bytes`, warning in `warnings` when the encoding was guessed.
pub(crate) fn decode(
    bytes: &[u8],
    path: &Path,
    warnings: &mut Warnings,
) -> Result<String, ReadError> {
    let text = if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE, 0, 0]) {
        utf32(rest, path, u32::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(&[0, 0, 0xFE, 0xFF]) {
        utf32(rest, path, u32::from_be_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        utf8(rest, path, 3)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16(rest, path, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        utf16(rest, path, u16::from_be_bytes)?
    } else if bytes.starts_with(b"ooBinaryFile") {
        return Err(ReadError::syntax(
            path,
            Location::Byte(0),
            "a text file (this is Praat's binary format: a binary TextGrid is read when its \
             name ends in .TextGrid; anything else, open it in Praat and use Save as text file)",
            "`ooBinaryFile`",
        ));
    } else if let Some(text) = bomless(bytes, path, warnings)? {
        text
    } else {
        match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(e) => legacy(bytes, e.valid_up_to(), path, warnings)?,
        }
    };
    Ok(normalise_newlines(text))
}

/// UTF-16 without a byte-order mark, recognised by its zero bytes (which
/// are valid UTF-8, so this is tested first), with a warning.
fn bomless(
    bytes: &[u8],
    path: &Path,
    warnings: &mut Warnings,
) -> Result<Option<String>, ReadError> {
    let Some(little) = bomless_utf16(bytes) else {
        return Ok(None);
    };
    let (text, name) = if little {
        (utf16(bytes, path, u16::from_le_bytes)?, "UTF-16LE")
    } else {
        (utf16(bytes, path, u16::from_be_bytes)?, "UTF-16BE")
    };
    warnings.warn(
        Location::Byte(0),
        format!("no byte-order mark; read as {name}, recognised by its zero bytes (save the file with a byte-order mark, or as UTF-8, to be sure)"),
    )?;
    Ok(Some(text))
}

/// Text that is neither UTF-8 nor UTF-16 and has no byte-order mark: the
/// encoding `chardetng` detects, with a warning.
fn legacy(
    bytes: &[u8],
    first_bad: usize,
    path: &Path,
    warnings: &mut Warnings,
) -> Result<String, ReadError> {
    let byte = format!("byte 0x{:02X}", bytes[first_bad]);
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    let encoding = detector.guess(None, true);
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(ReadError::syntax(
            path,
            Location::Byte(first_bad),
            format!(
                "UTF-8 text, or text in one legacy encoding (the closest, {}, does not fit either)",
                encoding.name()
            ),
            &byte,
        ));
    }
    if text.contains('\0') {
        return Err(ReadError::syntax(
            path,
            Location::Byte(first_bad),
            "text (this file holds NUL bytes: it is binary, not a transcript)",
            &byte,
        ));
    }
    warnings.warn(
        Location::Byte(first_bad),
        format!(
            "not UTF-8 ({byte}) and no byte-order mark; read as {}, detected from the bytes (save the file as UTF-8 to be sure)",
            encoding.name()
        ),
    )?;
    Ok(text.into_owned())
}

/// Whether `bytes` look like UTF-16 written without a byte-order mark, and
/// if so whether little-endian: most characters of a transcript are ASCII,
/// whose high byte is zero.
fn bomless_utf16(bytes: &[u8]) -> Option<bool> {
    if bytes.len() < 4 || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let pairs = bytes.chunks_exact(2).take(512);
    let n = pairs.len();
    let (even, odd) = pairs.fold((0, 0), |(e, o), p| {
        (e + usize::from(p[0] == 0), o + usize::from(p[1] == 0))
    });
    // Zero high bytes in most pairs on one side and (almost) none on the other.
    if odd * 10 >= n * 7 && even * 10 < n {
        Some(true)
    } else if even * 10 >= n * 7 && odd * 10 < n {
        Some(false)
    } else {
        None
    }
}

fn utf8(bytes: &[u8], path: &Path, skipped: usize) -> Result<String, ReadError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => Err(ReadError::syntax(
            path,
            Location::Byte(skipped + e.valid_up_to()),
            "UTF-8 text after the UTF-8 byte-order mark",
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

/// UTF-32 after its 4-byte mark (`encoding_rs` follows the WHATWG Encoding
/// Standard, which has no UTF-32).
fn utf32(bytes: &[u8], path: &Path, unit: fn([u8; 4]) -> u32) -> Result<String, ReadError> {
    if !bytes.len().is_multiple_of(4) {
        return Err(ReadError::syntax(
            path,
            Location::Byte(4 + bytes.len() / 4 * 4),
            "a multiple of 4 bytes in a UTF-32 file",
            "trailing bytes",
        ));
    }
    let mut out = String::with_capacity(bytes.len() / 4);
    for (i, c) in bytes.chunks_exact(4).enumerate() {
        let u = unit([c[0], c[1], c[2], c[3]]);
        match char::from_u32(u) {
            Some(c) => out.push(c),
            None => {
                return Err(ReadError::syntax(
                    path,
                    Location::Byte(4 + 4 * i),
                    "a Unicode scalar value in a UTF-32 file",
                    &format!("0x{u:08X}"),
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

    fn lenient(bytes: &[u8]) -> (String, Vec<String>) {
        let p = Path::new("t.srt");
        let mut w = Warnings::new(p, false);
        let text = decode(bytes, p, &mut w).unwrap();
        (text, w.into_vec().iter().map(|w| w.to_string()).collect())
    }

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
    fn utf32_both_byte_orders_are_not_read_as_utf16() {
        // FF FE 00 00 starts both the UTF-32 LE mark and (FF FE) the UTF-16 LE one.
        let text = "1\nhé 😀";
        let le: Vec<u8> = [0xFF, 0xFE, 0, 0]
            .into_iter()
            .chain(text.chars().flat_map(|c| (c as u32).to_le_bytes()))
            .collect();
        let be: Vec<u8> = [0, 0, 0xFE, 0xFF]
            .into_iter()
            .chain(text.chars().flat_map(|c| (c as u32).to_be_bytes()))
            .collect();
        assert_eq!(lenient(&le), (text.to_owned(), vec![]));
        assert_eq!(lenient(&be), (text.to_owned(), vec![]));
    }

    #[test]
    fn utf16_without_bom_is_recognised() {
        let le: Vec<u8> = "1\n00:00:01,000"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        let (text, warnings) = lenient(&le);
        assert_eq!(text, "1\n00:00:01,000");
        assert!(warnings[0].contains("UTF-16LE"), "{warnings:?}");
    }

    #[test]
    fn legacy_encodings_are_detected_with_a_warning() {
        // "Café déjà vu, naïve" in Windows-1252: é = 0xE9 (first at byte 3), à = 0xE0, ï = 0xEF.
        let (text, warnings) = lenient(b"Caf\xE9 d\xE9j\xE0 vu, na\xEFve, tr\xE8s \xE9t\xE9");
        assert_eq!(text, "Café déjà vu, naïve, très été");
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("t.srt: byte 3: not UTF-8 (byte 0xE9)")
                && warnings[0].contains("windows-1252"),
            "{warnings:?}"
        );
        // GB2312 (decoded as its superset GBK): 你好 = C4 E3 BA C3, 世界 = CA C0 BD E7.
        let (text, warnings) =
            lenient(b"\xC4\xE3\xBA\xC3\xA3\xAC\xCA\xC0\xBD\xE7\xA1\xA3\xC4\xE3\xBA\xC3");
        assert_eq!(text, "你好，世界。你好");
        assert!(warnings[0].contains("GBK"), "{warnings:?}");
    }

    #[test]
    fn strict_refuses_a_guessed_encoding_and_names_the_byte() {
        // "ab" then a Latin-1 `é` (0xE9), which is not UTF-8: offset 2.
        let p = Path::new("x.srt");
        let err = decode(b"ab\xE9c", p, &mut Warnings::new(p, true)).unwrap_err();
        match err {
            ReadError::Strict { warning } => {
                assert_eq!(warning.location, Location::Byte(2));
                assert!(warning.message.contains("0xE9"), "{}", warning.message);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn praat_binary_files_say_what_they_are() {
        let e =
            decode_text(b"ooBinaryFile\x08TextGrid\x00\x00", Path::new("a.TextGrid")).unwrap_err();
        assert!(e.to_string().contains("Praat's binary format"), "{e}");
    }
}
