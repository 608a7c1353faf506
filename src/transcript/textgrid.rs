//! Praat TextGrids (`.TextGrid`), in Praat's long ("text file") and short
//! ("short text file") forms, in any encoding [`decode_text`](super::decode_text)
//! reads (UTF-8, UTF-16, and the Latin-1 / Mac Roman of old Praat versions,
//! detected), and in Praat's binary form ([`parse_binary_grid`]).
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
//!
//! A conversation transcribed a tier per speaker (tiers `alice` and `bob`)
//! has several such interval tiers taking turns: when no tier is named and
//! no two of them share more than half of the smaller one's annotated time,
//! every one of them gives segments, each segment with its tier's name as its
//! [`Speaker`](super::Speaker). Tiers over the same stretches (a translation,
//! notes) are layers of one speech, not speakers: the first alone is read.

use std::path::Path;

use super::error::{Location, ReadError};
use super::markup::collapse_whitespace;
use super::speakers::{take_turns, Names};
use super::{finish, Interval, Point, Segment, Transcript, Word};
use crate::reading::Span;

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
    Intervals(Vec<Interval>),
    /// A `TextTier` (point tier): labelled points (`number`, `mark`).
    Points(Vec<Point>),
}

/// Parses a TextGrid read from `path` into a transcript, taking the segments
/// from the tier named `tier` when given (see the module docs).
pub fn parse(text: &str, path: &Path, tier: Option<&str>) -> Result<Transcript, ReadError> {
    transcript(&parse_grid(text, path)?, path, tier)
}

/// The transcript a grid read from `path` stands for (see the module docs).
pub fn transcript(
    grid: &TextGrid,
    path: &Path,
    tier: Option<&str>,
) -> Result<Transcript, ReadError> {
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
    finish(path, to_segments(grid, tier))
}

/// Parses a TextGrid in Praat's binary format (`ooBinaryFile`, written by
/// Praat's "Save as binary file"). Every value of the text form is there, in
/// the same order: numbers as big-endian IEEE doubles, counts as big-endian
/// 32-bit integers, the `<exists>` flag as one byte, class names as a length
/// byte and ASCII, tier names and texts as a big-endian 16-bit length and
/// Latin-1 bytes or, after a length of -1 (0xFFFF), a 16-bit length and that
/// many UTF-16BE units. Errors name the byte offset.
pub fn parse_binary_grid(bytes: &[u8], path: &Path) -> Result<TextGrid, ReadError> {
    let mut r = Binary {
        bytes,
        pos: 0,
        path,
    };
    let magic = r.take(12, "the signature `ooBinaryFile`")?;
    if magic != b"ooBinaryFile" {
        return Err(r.error(0, "the signature `ooBinaryFile`", "other bytes"));
    }
    let at = r.pos;
    let class = r.short_string("the object class `TextGrid`")?;
    if class != "TextGrid" {
        return Err(r.error(at, "the object class `TextGrid`", &class));
    }
    let xmin = r.f64("the TextGrid's xmin")?;
    let xmax = r.f64("the TextGrid's xmax")?;
    let mut tiers = Vec::new();
    if r.take(1, "the `<exists>` flag")?[0] != 0 {
        let n = r.count("the number of tiers")?;
        for _ in 0..n {
            let at = r.pos;
            let class = r.short_string("a tier class")?;
            let name = r.text("the tier's name")?;
            let what = format!("tier \"{name}\"");
            let txmin = r.f64(&format!("the xmin of {what}"))?;
            let txmax = r.f64(&format!("the xmax of {what}"))?;
            let n = r.count(&format!("the number of items in {what}"))?;
            let items = match class.as_str() {
                "IntervalTier" => {
                    let mut v = Vec::new();
                    for i in 0..n {
                        let what = format!("interval {} of {what}", i + 1);
                        let a = r.f64(&format!("the start of {what}"))?;
                        let end_at = r.pos;
                        let b = r.f64(&format!("the end of {what}"))?;
                        if b < a {
                            return Err(r.error(
                                end_at,
                                &format!("an end of {what} not before its start ({a})"),
                                &b.to_string(),
                            ));
                        }
                        v.push(Interval {
                            start: a,
                            end: b,
                            text: r.text(&format!("the text of {what}"))?,
                        });
                    }
                    TierItems::Intervals(v)
                }
                "TextTier" | "PointTier" => {
                    let mut v = Vec::new();
                    for i in 0..n {
                        let what = format!("point {} of {what}", i + 1);
                        let time = r.f64(&format!("the time of {what}"))?;
                        v.push(Point {
                            time,
                            text: r.text(&format!("the mark of {what}"))?,
                        });
                    }
                    TierItems::Points(v)
                }
                other => {
                    return Err(r.error(at, "a tier class `IntervalTier` or `TextTier`", other))
                }
            };
            tiers.push(Tier {
                name,
                xmin: txmin,
                xmax: txmax,
                items,
            });
        }
    }
    if r.pos != bytes.len() {
        return Err(r.error(
            r.pos,
            "the end of the file after the last tier",
            &format!("{} more bytes", bytes.len() - r.pos),
        ));
    }
    Ok(TextGrid { xmin, xmax, tiers })
}

/// A cursor over a binary TextGrid.
struct Binary<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl Binary<'_> {
    fn error(&self, at: usize, expected: &str, found: &str) -> ReadError {
        ReadError::Syntax {
            path: self.path.to_owned(),
            location: Location::Byte(at),
            expected: expected.to_owned(),
            found: found.to_owned(),
        }
    }

    fn take(&mut self, n: usize, expected: &str) -> Result<&[u8], ReadError> {
        match self.bytes.get(self.pos..self.pos + n) {
            Some(b) => {
                self.pos += n;
                Ok(b)
            }
            None => Err(self.error(self.pos, expected, "end of file")),
        }
    }

    fn f64(&mut self, expected: &str) -> Result<f64, ReadError> {
        let at = self.pos;
        let b = self.take(8, expected)?;
        let v = f64::from_be_bytes(b.try_into().expect("8 bytes"));
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.error(at, &format!("{expected}, a finite number"), &v.to_string()))
        }
    }

    fn count(&mut self, expected: &str) -> Result<usize, ReadError> {
        let at = self.pos;
        let b = self.take(4, expected)?;
        let n = i32::from_be_bytes(b.try_into().expect("4 bytes"));
        // Each item takes at least 10 bytes: a count larger than the rest of
        // the file is corrupt (and must not reserve memory).
        match usize::try_from(n) {
            Ok(n) if n <= (self.bytes.len() - self.pos) / 10 + 1 => Ok(n),
            _ => Err(self.error(
                at,
                &format!("{expected}, a count that fits the file"),
                &n.to_string(),
            )),
        }
    }

    /// A length byte and ASCII (class names).
    fn short_string(&mut self, expected: &str) -> Result<String, ReadError> {
        let n = usize::from(self.take(1, expected)?[0]);
        Ok(self
            .take(n, expected)?
            .iter()
            .map(|&b| char::from(b))
            .collect())
    }

    /// A 16-bit length and Latin-1 bytes, or -1 and UTF-16BE.
    fn text(&mut self, expected: &str) -> Result<String, ReadError> {
        let n = u16::from_be_bytes(self.take(2, expected)?.try_into().expect("2 bytes"));
        if n != 0xFFFF {
            return Ok(self
                .take(usize::from(n), expected)?
                .iter()
                .map(|&b| char::from(b))
                .collect());
        }
        let at = self.pos;
        let n = u16::from_be_bytes(self.take(2, expected)?.try_into().expect("2 bytes"));
        let units = self.take(2 * usize::from(n), expected)?;
        char::decode_utf16(
            units
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .collect::<Result<String, _>>()
        .map_err(|_| {
            self.error(
                at,
                &format!("{expected} in valid UTF-16"),
                "an unpaired surrogate",
            )
        })
    }
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
    fn intervals(t: &Tier) -> Option<&Vec<Interval>> {
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
    // A tier per speaker: several transcript tiers taking turns.
    let candidates: Vec<&Tier> = grid
        .tiers
        .iter()
        .filter(|t| intervals(t).is_some() && !is_sub(t))
        .collect();
    let spoken = |t: &Tier| -> Vec<Span> {
        intervals(t)
            .into_iter()
            .flatten()
            .filter(|i| !i.text.trim().is_empty())
            .map(|i| Span::new(i.start, i.end))
            .collect()
    };
    let by_speaker =
        named.is_none() && take_turns(&candidates.iter().map(|t| spoken(t)).collect::<Vec<_>>());
    let seg_tiers = if by_speaker {
        candidates
    } else {
        vec![seg_tier]
    };
    let word_tier = grid
        .tiers
        .iter()
        .filter(|t| !seg_tiers.iter().any(|s| std::ptr::eq(*t, *s)))
        .find(|t| matches!(lower(t).as_str(), "word" | "words"))
        .and_then(intervals);
    let mut names = Names::default();
    let mut segments: Vec<Segment> = Vec::new();
    for tier in &seg_tiers {
        let speaker = if by_speaker {
            names.get(&tier.name)
        } else {
            None
        };
        segments.extend(
            intervals(tier)
                .expect("chosen for having intervals")
                .iter()
                .filter(|i| !i.text.trim().is_empty())
                .map(|i| Segment {
                    start: i.start,
                    end: i.end,
                    text: collapse_whitespace(&i.text),
                    words: Vec::new(),
                    speaker: speaker.clone(),
                }),
        );
    }
    segments.sort_by(|a, b| a.start.total_cmp(&b.start));
    if let Some(words) = word_tier {
        for w in words.iter().filter(|w| !w.text.trim().is_empty()) {
            let mid = 0.5 * (w.start + w.end);
            if let Some(s) = segments.iter_mut().find(|s| s.start <= mid && mid <= s.end) {
                s.words.push(Word {
                    start: w.start,
                    end: w.end,
                    text: collapse_whitespace(&w.text),
                });
            }
        }
    }
    segments
}

/// Zero-length segments at the labelled points of a point tier.
fn point_segments(points: &[Point]) -> Vec<Segment> {
    points
        .iter()
        .filter(|p| !p.text.trim().is_empty())
        .map(|p| Segment {
            start: p.time,
            end: p.time,
            text: collapse_whitespace(&p.text),
            ..Default::default()
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
                    let (start, end) = self.span(&what)?;
                    let (_, text) = self.string(&format!("the text of {what}"))?;
                    v.push(Interval { start, end, text });
                }
                TierItems::Intervals(v)
            }
            "TextTier" => {
                let mut v = Vec::new();
                for i in 0..n {
                    let what = format!("point {} of tier \"{name}\"", i + 1);
                    let time = self.number(&format!("the time of {what}"))?;
                    let (_, text) = self.string(&format!("the mark of {what}"))?;
                    v.push(Point { time, text });
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
            TierItems::Points(vec![Point {
                time: 1.25,
                text: "laugh".into()
            }])
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

    /// An interval tier of [`short_grid`]: its name and `(xmin, xmax, text)`s.
    type IntervalSpec<'a> = (&'a str, &'a [(f64, f64, &'a str)]);

    /// A grid in the short text form with the given interval tiers.
    fn short_grid(tiers: &[IntervalSpec<'_>]) -> String {
        let mut out = format!(
            "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n0\n10\n<exists>\n{}\n",
            tiers.len()
        );
        for (name, intervals) in tiers {
            out += &format!("\"IntervalTier\"\n\"{name}\"\n0\n10\n{}\n", intervals.len());
            for (a, b, text) in *intervals {
                out += &format!("{a}\n{b}\n\"{text}\"\n");
            }
        }
        out
    }

    /// `(speaker, start, text)` of each segment.
    fn said(t: &Transcript) -> Vec<(Option<&str>, f64, &str)> {
        t.segments()
            .iter()
            .map(|s| {
                (
                    s.speaker.as_ref().map(|v| v.as_str()),
                    s.start,
                    s.text.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn a_tier_per_speaker_names_the_speakers() {
        // alice 0..3 and 6..8, bob 2.5..6 (0.5 s shared, under half of either):
        // they take turns, so both are read, in time order, words and all.
        let grid = short_grid(&[
            (
                "alice",
                &[(0.0, 3.0, "hello bob"), (3.0, 6.0, ""), (6.0, 8.0, "bye")],
            ),
            ("bob", &[(2.5, 6.0, "hi alice")]),
            ("words", &[(2.6, 3.5, "hi")]),
        ]);
        let p = Path::new("talk.TextGrid");
        let t = parse(&grid, p, None).unwrap();
        assert_eq!(
            said(&t),
            vec![
                (Some("alice"), 0.0, "hello bob"),
                (Some("bob"), 2.5, "hi alice"),
                (Some("alice"), 6.0, "bye")
            ]
        );
        // The word's middle (3.05 s) is inside bob's turn only.
        assert_eq!(t.segments()[1].words.len(), 1);
        // A tier asked for by name is read alone, without a speaker.
        let t = parse(&grid, p, Some("bob")).unwrap();
        assert_eq!(said(&t), vec![(None, 2.5, "hi alice")]);
    }

    #[test]
    fn layered_tiers_are_not_speakers() {
        // A translation over the same utterances: the first tier alone, as before.
        let grid = short_grid(&[
            ("utterance", &[(0.0, 3.0, "hello"), (4.0, 6.0, "bye")]),
            ("translation", &[(0.0, 3.0, "hallo"), (4.0, 6.0, "tschüss")]),
        ]);
        let t = parse(&grid, Path::new("a.TextGrid"), None).unwrap();
        assert_eq!(said(&t), vec![(None, 0.0, "hello"), (None, 4.0, "bye")]);
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

    /// A tier to write: class, name, items (start, end, text; the end is unused for points).
    type TierSpec<'a> = (&'a str, &'a str, &'a [(f64, f64, &'a str)]);

    /// A binary TextGrid built by hand from the format (see [`parse_binary_grid`]).
    fn binary(tiers: &[TierSpec<'_>]) -> Vec<u8> {
        fn text(out: &mut Vec<u8>, s: &str) {
            if s.is_ascii() {
                out.extend((s.len() as u16).to_be_bytes());
                out.extend(s.as_bytes());
            } else {
                let units: Vec<u16> = s.encode_utf16().collect();
                out.extend([0xFF, 0xFF]);
                out.extend((units.len() as u16).to_be_bytes());
                out.extend(units.iter().flat_map(|u| u.to_be_bytes()));
            }
        }
        let mut out = b"ooBinaryFile\x08TextGrid".to_vec();
        out.extend(0.0f64.to_be_bytes());
        out.extend(2.5f64.to_be_bytes());
        out.push(1);
        out.extend((tiers.len() as i32).to_be_bytes());
        for (class, name, items) in tiers {
            out.push(class.len() as u8);
            out.extend(class.as_bytes());
            text(&mut out, name);
            out.extend(0.0f64.to_be_bytes());
            out.extend(2.5f64.to_be_bytes());
            out.extend((items.len() as i32).to_be_bytes());
            for (a, b, t) in *items {
                out.extend(a.to_be_bytes());
                if *class == "IntervalTier" {
                    out.extend(b.to_be_bytes());
                }
                text(&mut out, t);
            }
        }
        out
    }

    #[test]
    fn binary_textgrids_read_like_text_ones() {
        let bytes = binary(&[
            (
                "IntervalTier",
                "utterance",
                &[
                    (0.0, 0.4, ""),
                    (0.4, 2.1, "she said \"hi\" twice"),
                    (2.1, 2.5, ""),
                ],
            ),
            (
                "IntervalTier",
                "words",
                &[(0.4, 1.2, "señora"), (1.2, 2.5, "")],
            ),
            ("TextTier", "events", &[(1.5, 0.0, "laugh")]),
        ]);
        let grid = parse_binary_grid(&bytes, Path::new("b.TextGrid")).unwrap();
        assert_eq!(grid.tiers.len(), 3);
        assert_eq!(
            grid.tiers[1].items,
            TierItems::Intervals(vec![
                Interval {
                    start: 0.4,
                    end: 1.2,
                    text: "señora".into()
                },
                Interval {
                    start: 1.2,
                    end: 2.5,
                    text: String::new()
                }
            ])
        );
        assert_eq!(
            grid.tiers[2].items,
            TierItems::Points(vec![Point {
                time: 1.5,
                text: "laugh".into()
            }])
        );
        // Through read_file, as a sidecar.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.TextGrid");
        std::fs::write(&path, &bytes).unwrap();
        let t = crate::transcript::read_file(&path, &Default::default()).unwrap();
        assert_eq!(t.segments()[0].text, "she said \"hi\" twice");
        assert_eq!(t.segments()[0].words[0].text, "señora");
    }

    #[test]
    fn truncated_binary_textgrids_name_the_byte() {
        let bytes = binary(&[("IntervalTier", "u", &[(0.0, 1.0, "x")])]);
        for cut in [13, 30, bytes.len() - 1] {
            let e = parse_binary_grid(&bytes[..cut], Path::new("b.TextGrid")).unwrap_err();
            assert!(e.to_string().contains("found end of file"), "{cut}: {e}");
        }
        // A count far beyond the file's size is refused, not allocated.
        let mut huge = bytes.clone();
        let at = 12 + 9 + 16 + 1;
        huge[at..at + 4].copy_from_slice(&i32::MAX.to_be_bytes());
        let e = parse_binary_grid(&huge, Path::new("b.TextGrid")).unwrap_err();
        assert!(e.to_string().contains("byte 38"), "{e}");
    }

    #[test]
    fn latin1_textgrids_from_old_praat_versions_are_decoded() {
        // Praat before 4.3.20 wrote 8-bit text: "señora" and "café" in Latin-1
        // (ñ = 0xF1, é = 0xE9).
        let long = LONG.replace("she said \"\"hi\"\" twice", "se\u{f1}ora caf\u{e9}");
        let bytes: Vec<u8> = long.chars().map(|c| c as u32 as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.TextGrid");
        std::fs::write(&path, &bytes).unwrap();
        let t = crate::transcript::read_file(&path, &Default::default()).unwrap();
        assert_eq!(t.segments()[0].text, "señora café");
        assert!(
            t.warnings()[0].message.contains("windows-1252"),
            "{:?}",
            t.warnings()
        );
    }
}
