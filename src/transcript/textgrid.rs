//! Praat TextGrids (`.TextGrid`), in Praat's long ("text file") and short
//! ("short text file") forms, UTF-8 or UTF-16.
//!
//! Both forms are the same sequence of values: the long form only adds
//! labels (`xmin = `, `intervals [3]:`), which Praat's own reader skips, and
//! so does this one. A small lexer yields the values (numbers, quoted strings
//! with `""` escapes, `<exists>` / `<absent>` flags), skipping labels, index
//! brackets and `!` comments; the parser then reads the TextGrid structure
//! and reports the line of the first value that does not fit.
//!
//! The crates.io `textgrid` crate is not used: it is licensed CC-BY-NC.
//!
//! To a [`Transcript`]: the segments are the non-empty intervals of the tier
//! the caller names, else of the first interval tier not named
//! `word(s)`/`phone(s)` (or of the first interval tier);
//! words come from an interval tier named `word` or `words` when there is one.
//! A TextGrid with only point tiers gives zero-length segments at its points.

use std::path::Path;

use super::error::{Location, ReadError};
use super::markup::collapse_whitespace;
use super::{finish, Segment, Transcript, Word};

/// A parsed TextGrid.
#[derive(Debug, Clone, PartialEq)]
pub struct TextGrid {
    /// Start of the annotated time domain, seconds.
    pub xmin: f64,
    /// End of the annotated time domain, seconds.
    pub xmax: f64,
    /// The tiers in file order.
    pub tiers: Vec<Tier>,
}

/// One tier.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    /// The tier's name.
    pub name: String,
    /// Start of the tier's domain, seconds.
    pub xmin: f64,
    /// End of the tier's domain, seconds.
    pub xmax: f64,
    /// Its intervals or points.
    pub items: TierItems,
}

/// The contents of a tier.
#[derive(Debug, Clone, PartialEq)]
pub enum TierItems {
    /// An `IntervalTier`: labelled intervals (`xmin`, `xmax`, `text`).
    Intervals(Vec<(f64, f64, String)>),
    /// A `TextTier` (point tier): labelled points (`number`, `mark`).
    Points(Vec<(f64, String)>),
}

/// Parses a TextGrid read from `path` into a transcript, taking the segments
/// from the tier named `tier` when given (see the module docs).
pub fn parse(text: &str, path: &Path, tier: Option<&str>) -> Result<Transcript, ReadError> {
    let grid = parse_grid(text, path)?;
    if let Some(name) = tier {
        if !grid.tiers.iter().any(|t| t.name == name) {
            let names: Vec<&str> = grid.tiers.iter().map(|t| t.name.as_str()).collect();
            return Err(ReadError::syntax(
                path,
                Location::File,
                format!("a tier named \"{name}\""),
                &format!("tiers {names:?}"),
            ));
        }
    }
    finish(path, to_segments(&grid, tier))
}

/// Parses a TextGrid read from `path` (named in errors) into its tiers.
pub fn parse_grid(text: &str, path: &Path) -> Result<TextGrid, ReadError> {
    let mut p = Parser {
        lexer: Lexer {
            text,
            pos: 0,
            label_since_value: None,
            last_label: None,
        },
        path,
    };
    let file_type = p.string("`File type = \"ooTextFile\"`")?;
    if file_type.1 != "ooTextFile" {
        return Err(p.error_at(
            file_type.0,
            "`File type = \"ooTextFile\"` (a Praat text file)",
            &file_type.1,
        ));
    }
    let class = p.string("`Object class = \"TextGrid\"`")?;
    if class.1 != "TextGrid" {
        return Err(p.error_at(class.0, "`Object class = \"TextGrid\"`", &class.1));
    }
    let xmin = p.number("the TextGrid's xmin")?;
    let xmax = p.number("the TextGrid's xmax")?;
    let mut tiers = Vec::new();
    if p.flag("`tiers? <exists>` or `<absent>`")? {
        let size = p.count("the number of tiers (`size = n`)")?;
        for _ in 0..size {
            tiers.push(p.tier()?);
        }
    }
    if let Some((at, tok)) = p.lexer.next(path)? {
        return Err(p.error_at(
            at,
            "the end of the file after the last tier",
            &tok.describe(),
        ));
    }
    Ok(TextGrid { xmin, xmax, tiers })
}

/// The transcript segments a grid stands for (see the module docs).
fn to_segments(grid: &TextGrid, tier: Option<&str>) -> Vec<Segment> {
    fn intervals(t: &Tier) -> Option<&Vec<(f64, f64, String)>> {
        match &t.items {
            TierItems::Intervals(v) => Some(v),
            TierItems::Points(_) => None,
        }
    }
    let lower = |t: &Tier| t.name.trim().to_ascii_lowercase();
    let is_sub = |t: &Tier| matches!(lower(t).as_str(), "word" | "words" | "phone" | "phones");
    let named = tier.and_then(|n| grid.tiers.iter().find(|t| t.name == n));
    if let Some(Tier {
        items: TierItems::Points(points),
        ..
    }) = named
    {
        return point_segments(points);
    }
    let seg_tier = named
        .or_else(|| {
            grid.tiers
                .iter()
                .find(|t| intervals(t).is_some() && !is_sub(t))
        })
        .or_else(|| grid.tiers.iter().find(|t| intervals(t).is_some()));
    let Some(seg_tier) = seg_tier else {
        // Point tiers only: zero-length segments at the first tier's points.
        return match grid.tiers.first().map(|t| &t.items) {
            Some(TierItems::Points(points)) => point_segments(points),
            _ => Vec::new(),
        };
    };
    let word_tier = grid
        .tiers
        .iter()
        .filter(|t| !std::ptr::eq(*t, seg_tier))
        .find(|t| matches!(lower(t).as_str(), "word" | "words"))
        .and_then(intervals);
    let mut segments: Vec<Segment> = intervals(seg_tier)
        .expect("chosen for having intervals")
        .iter()
        .filter(|(_, _, text)| !text.trim().is_empty())
        .map(|(a, b, text)| Segment {
            start: *a,
            end: *b,
            text: collapse_whitespace(text),
            words: Vec::new(),
        })
        .collect();
    if let Some(words) = word_tier {
        for (a, b, text) in words.iter().filter(|w| !w.2.trim().is_empty()) {
            let mid = 0.5 * (a + b);
            if let Some(s) = segments.iter_mut().find(|s| s.start <= mid && mid <= s.end) {
                s.words.push(Word {
                    start: *a,
                    end: *b,
                    text: collapse_whitespace(text),
                });
            }
        }
    }
    segments
}

/// Zero-length segments at the labelled points of a point tier.
fn point_segments(points: &[(f64, String)]) -> Vec<Segment> {
    points
        .iter()
        .filter(|(_, m)| !m.trim().is_empty())
        .map(|(t, m)| Segment {
            start: *t,
            end: *t,
            text: collapse_whitespace(m),
            words: Vec::new(),
        })
        .collect()
}

/// A value in a Praat text file.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Str(String),
    Flag(bool),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Number(v) => v.to_string(),
            Token::Str(s) => format!("\"{}\"", s.replace('"', "\"\"")),
            Token::Flag(true) => "<exists>".into(),
            Token::Flag(false) => "<absent>".into(),
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    /// The first label skipped since the previous value, while skipping.
    label_since_value: Option<usize>,
    /// The first label between the previous value and the one just returned:
    /// in the long form, where the value the parser wanted was written.
    last_label: Option<usize>,
}

impl Lexer<'_> {
    /// The next value and its byte offset, or `None` at the end of the file.
    fn next(&mut self, path: &Path) -> Result<Option<(usize, Token)>, ReadError> {
        let token = self.value(path)?;
        self.last_label = self.label_since_value.take();
        Ok(token)
    }

    fn value(&mut self, path: &Path) -> Result<Option<(usize, Token)>, ReadError> {
        let bytes = self.text.as_bytes();
        loop {
            let Some(&c) = bytes.get(self.pos) else {
                return Ok(None);
            };
            let at = self.pos;
            match c {
                b if b.is_ascii_whitespace() => self.pos += 1,
                b'!' => {
                    self.skip_past(b'\n');
                }
                b'[' => {
                    if !self.skip_past(b']') {
                        return Err(self.error(path, at, "an index closed by `]`"));
                    }
                }
                b'=' | b':' => self.pos += 1,
                b'"' => return self.string(path, at).map(Some),
                b'<' => {
                    let rest = &self.text[at..];
                    let flag = if rest.starts_with("<exists>") {
                        true
                    } else if rest.starts_with("<absent>") {
                        false
                    } else {
                        return Err(self.error(path, at, "`<exists>` or `<absent>`"));
                    };
                    self.pos += "<exists>".len(); // == "<absent>".len()
                    return Ok(Some((at, Token::Flag(flag))));
                }
                b'0'..=b'9' | b'-' | b'+' | b'.' => {
                    let end = self.text[at..]
                        .find(|c: char| c.is_whitespace())
                        .map_or(self.text.len(), |i| at + i);
                    let word = &self.text[at..end];
                    return match word.parse::<f64>() {
                        Ok(v) if v.is_finite() => {
                            self.pos = end;
                            Ok(Some((at, Token::Number(v))))
                        }
                        _ => Err(self.error(path, at, "a number")),
                    };
                }
                b if b.is_ascii_alphabetic() => {
                    // A label such as `xmin`, `tiers?`, `intervals`, `File type`.
                    self.label_since_value.get_or_insert(at);
                    while let Some(&b) = bytes.get(self.pos) {
                        if b.is_ascii_alphanumeric() || b == b'_' || b == b'?' {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                }
                _ => {
                    return Err(self.error(path, at, "a number, a quoted string or a Praat label"))
                }
            }
        }
    }

    /// Moves past the next `end` byte; false (at the end of the text) when there is none.
    fn skip_past(&mut self, end: u8) -> bool {
        match self.text.as_bytes()[self.pos..]
            .iter()
            .position(|&b| b == end)
        {
            Some(i) => {
                self.pos += i + 1;
                true
            }
            None => {
                self.pos = self.text.len();
                false
            }
        }
    }

    /// A quoted string starting at `at` (`""` stands for one `"`).
    fn string(&mut self, path: &Path, at: usize) -> Result<(usize, Token), ReadError> {
        let mut out = String::new();
        let mut i = at + 1;
        loop {
            let Some(j) = self.text[i..].find('"') else {
                return Err(self.error(path, at, "a string closed by `\"`"));
            };
            out.push_str(&self.text[i..i + j]);
            i += j + 1;
            if self.text[i..].starts_with('"') {
                out.push('"');
                i += 1;
            } else {
                self.pos = i;
                return Ok((at, Token::Str(out)));
            }
        }
    }

    fn error(&self, path: &Path, at: usize, expected: &str) -> ReadError {
        ReadError::syntax(
            path,
            Location::of_offset(self.text, at),
            expected,
            &self.text[at..],
        )
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    path: &'a Path,
}

impl Parser<'_> {
    fn error_at(&self, at: usize, expected: &str, found: &str) -> ReadError {
        ReadError::syntax(
            self.path,
            Location::of_offset(self.lexer.text, at),
            expected,
            found,
        )
    }

    /// The value at `at` is not the `expected` one. In the long form the
    /// problem is where the label of the expected value was written (`xmax =
    /// zero` reads `zero` as a label, as Praat does, and the next value is a
    /// line later), so that line is named, with what it holds.
    fn mismatch(&self, at: usize, expected: &str, found: &Token) -> ReadError {
        match self.lexer.last_label {
            Some(label) if label < at => {
                let line = &self.lexer.text[label..];
                let line = line.lines().next().unwrap_or("").trim_end();
                self.error_at(label, &format!("{expected} on this line"), line)
            }
            _ => self.error_at(at, expected, &found.describe()),
        }
    }

    fn token(&mut self, expected: &str) -> Result<(usize, Token), ReadError> {
        self.lexer
            .next(self.path)?
            .ok_or_else(|| self.error_at(self.lexer.text.len(), expected, ""))
    }

    fn string(&mut self, expected: &str) -> Result<(usize, String), ReadError> {
        match self.token(expected)? {
            (at, Token::Str(s)) => Ok((at, s)),
            (at, t) => Err(self.mismatch(at, expected, &t)),
        }
    }

    fn number(&mut self, expected: &str) -> Result<f64, ReadError> {
        self.number_at(expected).map(|(_, v)| v)
    }

    fn number_at(&mut self, expected: &str) -> Result<(usize, f64), ReadError> {
        match self.token(expected)? {
            (at, Token::Number(v)) => Ok((at, v)),
            (at, t) => Err(self.mismatch(at, expected, &t)),
        }
    }

    fn flag(&mut self, expected: &str) -> Result<bool, ReadError> {
        match self.token(expected)? {
            (_, Token::Flag(f)) => Ok(f),
            (at, t) => Err(self.mismatch(at, expected, &t)),
        }
    }

    fn count(&mut self, expected: &str) -> Result<u64, ReadError> {
        match self.token(expected)? {
            (_, Token::Number(v)) if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 => {
                Ok(v as u64)
            }
            (at, t) => Err(self.mismatch(at, &format!("{expected}, a whole number"), &t)),
        }
    }

    /// A time span `a`, `b` with a <= b; `what` names it in errors.
    fn span(&mut self, what: &str) -> Result<(f64, f64), ReadError> {
        let a = self.number(&format!("the start time of {what}"))?;
        let (at, b) = self.number_at(&format!("the end time of {what}"))?;
        if b < a {
            return Err(self.error_at(
                at,
                &format!("an end time of {what} not before its start ({a})"),
                &b.to_string(),
            ));
        }
        Ok((a, b))
    }

    fn tier(&mut self) -> Result<Tier, ReadError> {
        let (at, class) =
            self.string("a tier class (`class = \"IntervalTier\"` or `\"TextTier\"`)")?;
        let (_, name) = self.string("the tier's name")?;
        let (xmin, xmax) = self.span(&format!("tier \"{name}\""))?;
        let n = self.count(&format!("the number of items in tier \"{name}\""))?;
        let items = match class.as_str() {
            "IntervalTier" => {
                let mut v = Vec::new();
                for i in 0..n {
                    let what = format!("interval {} of tier \"{name}\"", i + 1);
                    let (a, b) = self.span(&what)?;
                    let (_, text) = self.string(&format!("the text of {what}"))?;
                    v.push((a, b, text));
                }
                TierItems::Intervals(v)
            }
            "TextTier" => {
                let mut v = Vec::new();
                for i in 0..n {
                    let what = format!("point {} of tier \"{name}\"", i + 1);
                    let t = self.number(&format!("the time of {what}"))?;
                    let (_, mark) = self.string(&format!("the mark of {what}"))?;
                    v.push((t, mark));
                }
                TierItems::Points(v)
            }
            other => {
                return Err(self.error_at(at, "a tier class `IntervalTier` or `TextTier`", other));
            }
        };
        Ok(Tier {
            name,
            xmin,
            xmax,
            items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &str = r#"File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2.5
tiers? <exists>
size = 3
item []:
    item [1]:
        class = "IntervalTier"
        name = "utterance"
        xmin = 0
        xmax = 2.5
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.4
            text = ""
        intervals [2]:
            xmin = 0.4
            xmax = 2.1
            text = "she said ""hi"" twice"
        intervals [3]:
            xmin = 2.1
            xmax = 2.5
            text = ""
    item [2]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 2.5
        intervals: size = 2
        intervals [1]:
            xmin = 0.4
            xmax = 0.9
            text = "she"
        intervals [2]:
            xmin = 0.9
            xmax = 2.5
            text = ""
    item [3]:
        class = "TextTier"
        name = "events"
        xmin = 0
        xmax = 2.5
        points: size = 1
        points [1]:
            number = 1.25
            mark = "laugh"
"#;

    /// The same grid in Praat's short text form, with a comment.
    const SHORT: &str = "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n0\n2.5\n<exists>\n3\n\
        \"IntervalTier\"\n\"utterance\"\n0\n2.5\n3\n0\n0.4\n\"\"\n0.4\n2.1\n\"she said \"\"hi\"\" twice\"\n2.1\n2.5\n\"\"\n\
        \"IntervalTier\"\n\"words\" ! the word tier\n0\n2.5\n2\n0.4\n0.9\n\"she\"\n0.9\n2.5\n\"\"\n\
        \"TextTier\"\n\"events\"\n0\n2.5\n1\n1.25\n\"laugh\"\n";

    #[test]
    fn long_and_short_forms_read_the_same() {
        let p = Path::new("a.TextGrid");
        let long = parse_grid(LONG, p).unwrap();
        let short = parse_grid(SHORT, p).unwrap();
        assert_eq!(long, short);
        assert_eq!(long.tiers.len(), 3);
        assert_eq!(
            long.tiers[2].items,
            TierItems::Points(vec![(1.25, "laugh".into())])
        );
        let t = parse(LONG, p, None).unwrap();
        let s = t.segments();
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].start, s[0].end, s[0].text.as_str()),
            (0.4, 2.1, "she said \"hi\" twice")
        );
        assert_eq!(
            s[0].words,
            vec![Word {
                start: 0.4,
                end: 0.9,
                text: "she".into()
            }]
        );
    }

    #[test]
    fn a_named_tier_gives_the_segments() {
        let p = Path::new("a.TextGrid");
        let t = parse(LONG, p, Some("events")).unwrap();
        assert_eq!(t.segments()[0].start, 1.25);
        assert_eq!(t.segments()[0].text, "laugh");
        let e = parse(LONG, p, Some("nope")).unwrap_err();
        assert!(
            e.to_string()
                .contains("\"utterance\", \"words\", \"events\""),
            "{e}"
        );
    }

    #[test]
    fn errors_point_at_the_line() {
        let p = Path::new("a.TextGrid");
        // Line 17 (`xmax = 0.4`) made non-numeric: `zero` reads as a label (as in
        // Praat) and the next value is the text on line 18, but the error names
        // line 17, where the number is missing (issue 16, item 11).
        let broken = LONG.replacen("xmax = 0.4", "xmax = zero", 1);
        let e = parse_grid(&broken, p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.TextGrid: line 17, column 13: expected the end time of interval 1 of tier \"utterance\" \
             on this line, found `xmax = zero`"
        );
        // A missing value in the short form (no labels): the value found is named.
        let short = "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n0\n\"x\"\n";
        let e = parse_grid(short, p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.TextGrid: line 5, column 1: expected the TextGrid's xmax, found `\"x\"`"
        );
        // An end before its start names the end's line (21: `xmax = 0.1`).
        let e = parse_grid(&LONG.replacen("xmax = 2.1", "xmax = 0.1", 1), p).unwrap_err();
        assert!(e.to_string().starts_with("a.TextGrid: line 21"), "{e}");
        let e = parse_grid(&LONG.replacen("\"TextTier\"", "\"PitchTier\"", 1), p).unwrap_err();
        assert!(
            e.to_string().contains("line 42") && e.to_string().contains("PitchTier"),
            "{e}"
        );
        let e = parse_grid(&LONG[..LONG.len() - 4], p).unwrap_err(); // `mark = "lau`
        assert!(e.to_string().contains("closed by"), "{e}");
        let e = parse_grid("File type = \"ooBinaryFile\"", p).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
