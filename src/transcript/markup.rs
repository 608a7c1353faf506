//! Small text clean-ups shared by the subtitle readers: dropping formatting
//! tags, decoding character references and collapsing whitespace, so the
//! text branch sees plain words.

/// Joins the whitespace-separated words of `s` with single spaces.
pub fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes SRT formatting: HTML-like tags (`<i>`, `</font>`, `<font color="red">`)
/// and ASS override blocks (`{\an8}`). A `<` or `{` that opens no tag (no
/// closing `>` / `}` on the rest of the text) is kept as text.
pub fn strip_srt_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['<', '{']) {
        out.push_str(&rest[..i]);
        let open = rest.as_bytes()[i];
        let tail = &rest[i..];
        let close = if open == b'<' { '>' } else { '}' };
        let is_tag = if open == b'<' {
            tail[1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '/')
        } else {
            tail[1..].starts_with('\\')
        };
        match tail.find(close) {
            Some(j) if is_tag => rest = &tail[j + 1..],
            _ => {
                out.push(open as char);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the character references WebVTT defines (and SubRip files
/// converted from it carry); others stay as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let known = [
            ("&amp;", "&"),
            ("&lt;", "<"),
            ("&gt;", ">"),
            ("&nbsp;", "\u{a0}"),
            ("&lrm;", "\u{200e}"),
            ("&rlm;", "\u{200f}"),
            ("&quot;", "\""),
            ("&apos;", "'"),
        ];
        match known.iter().find(|(e, _)| tail.starts_with(e)) {
            Some((e, c)) => {
                out.push_str(c);
                rest = &tail[e.len()..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_override_blocks_go_text_stays() {
        assert_eq!(
            strip_srt_markup(r#"{\an8}<i>Hello</i> <font color="red">world</font>"#),
            "Hello world"
        );
        assert_eq!(strip_srt_markup("a < b and {c}"), "a < b and {c}");
        assert_eq!(strip_srt_markup("x <3"), "x <3");
    }

    #[test]
    fn whitespace_collapses() {
        assert_eq!(collapse_whitespace("  a \n b\t c "), "a b c");
    }
}
