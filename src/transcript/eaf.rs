//! ELAN annotation documents (`.eaf`), read with `quick-xml`.
//!
//! An EAF file holds a `TIME_ORDER` of time slots (milliseconds; a slot may
//! be unaligned, without a value) and tiers of annotations. Alignable
//! annotations span two slots; reference annotations have no slots and get
//! their times from the annotation they refer to, as ELAN displays them: on
//! a tier whose linguistic type is a `Symbolic_Subdivision`, the annotations
//! referring to one parent divide the parent's span evenly, in the order of
//! their `PREVIOUS_ANNOTATION` chain; on a `Symbolic_Association` tier each
//! takes its parent's span. (A tier whose type the file does not declare is
//! read as a subdivision when several of its annotations share a parent,
//! which only a subdivision allows.) Unaligned slots get times as ELAN places
//! them: annotations of a tier that share slots form a chain (the words of a
//! time-subdivided utterance), and the unaligned slots inside a chain divide
//! the span between the chain's nearest aligned slots evenly; a slot in no
//! such chain is interpolated between the aligned slots around it in
//! `TIME_ORDER`. Annotations with divided or interpolated times, and those
//! referring to one, are marked in [`EafTier::interpolated`].
//!
//! To a [`Transcript`]: segments are the non-empty annotations of the tier
//! the caller names, else of the first top-level tier (no `PARENT_REF`) that
//! has annotations; words come from a child tier of it whose id contains
//! `word`. A tier's `PARTICIPANT` is its segments' [`Speaker`](super::Speaker).
//!
//! A conversation is transcribed a tier per speaker. When no tier is named,
//! every top-level tier with a `PARTICIPANT` is read when they name two or
//! more participants; without participants, every top-level tier with
//! annotations is read when they take turns (no two share more than half of
//! the smaller one's annotated time), each segment with its tier's id as the
//! speaker. Tiers over the same stretches (a translation, notes, Emoscope's
//! own dimension tiers) are layers of one speech: the first alone is read.
//! Each tier read brings the words of its own `word` child tier.

use std::collections::HashMap;
use std::path::Path;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use super::error::{Location, ReadError};
use super::markup::collapse_whitespace;
use super::speakers::{take_turns, Names};
use super::{finish, Interval, Segment, Transcript, Word};
use crate::reading::Span;

/// A parsed ELAN document: its tiers with resolved times.
#[derive(Debug, Clone, PartialEq)]
pub struct Eaf {
    /// The tiers in file order.
    pub tiers: Vec<EafTier>,
}

/// One tier.
#[derive(Debug, Clone, PartialEq)]
pub struct EafTier {
    /// `TIER_ID`.
    pub id: String,
    /// `PARENT_REF`, for dependent tiers.
    pub parent: Option<String>,
    /// `PARTICIPANT`: who speaks on the tier, when the file says.
    pub participant: Option<String>,
    /// Annotations (start and end in seconds, `ANNOTATION_VALUE` as the
    /// text), in file order.
    pub annotations: Vec<Interval>,
    /// Parallel to `annotations`: whether a time of it was interpolated from
    /// unaligned slots or divided from its parent's span (a symbolic
    /// subdivision), itself or in an annotation it refers to, rather than
    /// written in the file.
    pub interpolated: Vec<bool>,
}

/// A `TIME_SLOT` of the `TIME_ORDER`.
struct Slot {
    /// `TIME_SLOT_ID`.
    id: String,
    /// `TIME_VALUE` in milliseconds; `None` for an unaligned slot.
    ms: Option<u64>,
    /// Byte offset of the element (named in errors).
    at: usize,
}

/// An annotation before its times are resolved.
struct RawAnnotation {
    id: String,
    at: usize,
    span: RawSpan,
    value: String,
}

enum RawSpan {
    /// `TIME_SLOT_REF1`, `TIME_SLOT_REF2`.
    Slots(String, String),
    /// `ANNOTATION_REF` and `PREVIOUS_ANNOTATION` (the sibling before it in a
    /// symbolic subdivision).
    Ref {
        target: String,
        previous: Option<String>,
    },
}

struct RawTier {
    id: String,
    parent: Option<String>,
    participant: Option<String>,
    /// `LINGUISTIC_TYPE_REF`.
    linguistic_type: Option<String>,
    annotations: Vec<RawAnnotation>,
}

/// Parses an EAF document read from `path` into a transcript, taking the
/// segments from the tier named `tier` when given (see the module docs).
pub fn parse(text: &str, path: &Path, tier: Option<&str>) -> Result<Transcript, ReadError> {
    let eaf = parse_eaf(text, path)?;
    let seg_tiers: Vec<&EafTier> = match tier {
        Some(name) => vec![eaf.tiers.iter().find(|t| t.id == name).ok_or_else(|| {
            let ids: Vec<&str> = eaf.tiers.iter().map(|t| t.id.as_str()).collect();
            ReadError::syntax(
                path,
                Location::File,
                format!("a tier named \"{name}\""),
                &format!("tiers {ids:?}"),
            )
        })?],
        None => transcript_tiers(&eaf),
    };
    let by_tier = seg_tiers.len() > 1;
    let mut names = Names::default();
    let mut segments: Vec<Segment> = Vec::new();
    for seg_tier in seg_tiers {
        let speaker = match participant(seg_tier) {
            Some(p) => names.get(p),
            None if by_tier => names.get(&seg_tier.id),
            None => None,
        };
        segments.extend(tier_segments(&eaf, seg_tier, speaker));
    }
    finish(path, segments)
}

/// The non-empty `PARTICIPANT` of a tier.
fn participant(t: &EafTier) -> Option<&str> {
    t.participant.as_deref().filter(|p| !p.trim().is_empty())
}

/// The tiers whose annotations are the transcript when the caller names
/// none (see the module docs): the participants' tiers, the tiers of
/// speakers taking turns, or the first top-level tier with annotations.
fn transcript_tiers(eaf: &Eaf) -> Vec<&EafTier> {
    let top: Vec<&EafTier> = eaf
        .tiers
        .iter()
        .filter(|t| t.parent.is_none() && !t.annotations.is_empty())
        .collect();
    let with_participant: Vec<&EafTier> = top
        .iter()
        .copied()
        .filter(|t| participant(t).is_some())
        .collect();
    let first_participant = with_participant.first().and_then(|t| participant(t));
    if with_participant
        .iter()
        .any(|t| participant(t) != first_participant)
    {
        return with_participant;
    }
    let spoken: Vec<Vec<Span>> = top
        .iter()
        .map(|t| {
            t.annotations
                .iter()
                .filter(|a| !a.text.trim().is_empty())
                .map(|a| Span::new(a.start, a.end))
                .collect()
        })
        .collect();
    if take_turns(&spoken) {
        return top;
    }
    top.into_iter().take(1).collect()
}

/// The segments of one tier, each with `speaker`, with the words of its
/// child tier whose id contains `word`.
fn tier_segments(eaf: &Eaf, seg_tier: &EafTier, speaker: Option<super::Speaker>) -> Vec<Segment> {
    let mut segments: Vec<Segment> = seg_tier
        .annotations
        .iter()
        .filter(|a| !a.text.trim().is_empty())
        .map(|a| Segment {
            start: a.start,
            end: a.end,
            text: collapse_whitespace(&a.text),
            words: Vec::new(),
            speaker: speaker.clone(),
        })
        .collect();
    let word_tier = eaf.tiers.iter().find(|t| {
        t.parent.as_deref() == Some(seg_tier.id.as_str())
            && t.id.to_ascii_lowercase().contains("word")
    });
    if let Some(words) = word_tier {
        for w in words
            .annotations
            .iter()
            .filter(|w| !w.text.trim().is_empty())
        {
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

/// The text from byte `at` on, starting at the char boundary at or before it:
/// quick-xml reports positions that can fall inside a character when the
/// document starts with a byte-order mark it skipped.
fn tail(text: &str, at: usize) -> &str {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    &text[at..]
}

/// Parses an EAF document read from `path` (named in errors) into its tiers:
/// reads the elements in order (a `Document`), then resolves slot times and
/// annotation spans (`resolve`).
pub fn parse_eaf(text: &str, path: &Path) -> Result<Eaf, ReadError> {
    let mut reader = Reader::from_str(text);
    let mut doc = Document::new(text, path);
    loop {
        let at = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            let pos = reader.error_position() as usize;
            doc.err(pos, "well-formed XML", &format!("{e}"))
        })?;
        match event {
            Event::Start(e) => doc.open(&e, false, at)?,
            Event::Empty(e) => doc.open(&e, true, at)?,
            Event::Text(t) if doc.in_value() => {
                let t = t
                    .decode()
                    .map_err(|e| doc.err(at, "text", &e.to_string()))?;
                doc.push_value(&t);
            }
            Event::CData(t) if doc.in_value() => {
                let t = t
                    .decode()
                    .map_err(|e| doc.err(at, "text", &e.to_string()))?;
                doc.push_value(&t);
            }
            Event::GeneralRef(r) if doc.in_value() => {
                let resolved = doc.entity(&r, at)?;
                doc.push_value(&resolved);
            }
            Event::End(e) => doc.close(e.name().as_ref()),
            Event::Eof => break,
            _ => {}
        }
    }
    doc.finish()
}

/// What [`parse_eaf`] has read so far: the time slots and tiers, and the
/// annotation and value whose elements are open.
struct Document<'t> {
    /// The whole document (errors quote it from an offset on).
    text: &'t str,
    /// Named in errors.
    path: &'t Path,
    slots: Vec<Slot>,
    tiers: Vec<RawTier>,
    /// `CONSTRAINTS` of each `LINGUISTIC_TYPE` by `LINGUISTIC_TYPE_ID` (the
    /// types follow the tiers in a file).
    constraints: HashMap<String, Option<String>>,
    /// The annotation whose element is open.
    annotation: Option<RawAnnotation>,
    /// The text of the open `<ANNOTATION_VALUE>`.
    value: Option<String>,
    /// Whether `<ANNOTATION_DOCUMENT>` has been seen (it must come first).
    root_seen: bool,
}

impl<'t> Document<'t> {
    fn new(text: &'t str, path: &'t Path) -> Self {
        Self {
            text,
            path,
            slots: Vec::new(),
            tiers: Vec::new(),
            constraints: HashMap::new(),
            annotation: None,
            value: None,
            root_seen: false,
        }
    }

    /// The error at byte `at`.
    fn err(&self, at: usize, expected: &str, found: &str) -> ReadError {
        ReadError::syntax(
            self.path,
            Location::of_offset(self.text, at),
            expected,
            found,
        )
    }

    /// The error at byte `at`, quoting the document from there.
    fn err_here(&self, at: usize, expected: &str) -> ReadError {
        self.err(at, expected, tail(self.text, at))
    }

    /// Attribute `key` of element `e` at byte `at`.
    fn attr(&self, e: &BytesStart<'_>, key: &[u8], at: usize) -> Result<Option<String>, ReadError> {
        attr(e, key, at, self.path, self.text)
    }

    /// Attribute `key`, which the element must have (`expected` names it in the error).
    fn required(
        &self,
        e: &BytesStart<'_>,
        key: &[u8],
        at: usize,
        expected: &str,
    ) -> Result<String, ReadError> {
        self.attr(e, key, at)?
            .ok_or_else(|| self.err_here(at, expected))
    }

    /// An opening (or empty, `is_empty`) element at byte `at`.
    fn open(&mut self, e: &BytesStart<'_>, is_empty: bool, at: usize) -> Result<(), ReadError> {
        let name = e.name();
        let name = name.as_ref();
        if !self.root_seen {
            if name != b"ANNOTATION_DOCUMENT" {
                return Err(self.err_here(at, "the root element <ANNOTATION_DOCUMENT>"));
            }
            self.root_seen = true;
            return Ok(());
        }
        match name {
            b"TIME_SLOT" => self.time_slot(e, at),
            b"TIER" => self.tier(e, at),
            b"LINGUISTIC_TYPE" => self.linguistic_type(e, at),
            b"ALIGNABLE_ANNOTATION" | b"REF_ANNOTATION" => {
                self.annotation(e, name == b"ALIGNABLE_ANNOTATION", is_empty, at)
            }
            b"ANNOTATION_VALUE" if !is_empty => self.open_value(at),
            _ => Ok(()),
        }
    }

    /// `<TIME_SLOT TIME_SLOT_ID=".." TIME_VALUE="..">` (the value is optional).
    fn time_slot(&mut self, e: &BytesStart<'_>, at: usize) -> Result<(), ReadError> {
        let id = self.required(e, b"TIME_SLOT_ID", at, "a TIME_SLOT_ID attribute")?;
        let ms = match self.attr(e, b"TIME_VALUE", at)? {
            Some(v) => Some(
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| self.err(at, "a TIME_VALUE in whole milliseconds", &v))?,
            ),
            None => None,
        };
        self.slots.push(Slot { id, ms, at });
        Ok(())
    }

    /// `<TIER TIER_ID=".." PARENT_REF=".." LINGUISTIC_TYPE_REF="..">`: the
    /// annotations that follow are its own.
    fn tier(&mut self, e: &BytesStart<'_>, at: usize) -> Result<(), ReadError> {
        let id = self.required(e, b"TIER_ID", at, "a TIER_ID attribute")?;
        let parent = self.attr(e, b"PARENT_REF", at)?;
        let participant = self.attr(e, b"PARTICIPANT", at)?;
        let linguistic_type = self.attr(e, b"LINGUISTIC_TYPE_REF", at)?;
        self.tiers.push(RawTier {
            id,
            parent,
            participant,
            linguistic_type,
            annotations: Vec::new(),
        });
        Ok(())
    }

    /// `<LINGUISTIC_TYPE LINGUISTIC_TYPE_ID=".." CONSTRAINTS="..">` (a type
    /// without an id names nothing and is passed over).
    fn linguistic_type(&mut self, e: &BytesStart<'_>, at: usize) -> Result<(), ReadError> {
        if let Some(id) = self.attr(e, b"LINGUISTIC_TYPE_ID", at)? {
            let constraints = self.attr(e, b"CONSTRAINTS", at)?;
            self.constraints.insert(id, constraints);
        }
        Ok(())
    }

    /// `<ALIGNABLE_ANNOTATION>` (two slot references) or `<REF_ANNOTATION>`
    /// (the annotation it refers to), inside a tier; an empty one is complete.
    fn annotation(
        &mut self,
        e: &BytesStart<'_>,
        alignable: bool,
        is_empty: bool,
        at: usize,
    ) -> Result<(), ReadError> {
        if self.tiers.is_empty() || self.annotation.is_some() {
            return Err(self.err_here(at, "an annotation inside <TIER><ANNOTATION>"));
        }
        let id = self.required(e, b"ANNOTATION_ID", at, "an ANNOTATION_ID attribute")?;
        let span = if alignable {
            let r1 = self.attr(e, b"TIME_SLOT_REF1", at)?;
            let r2 = self.attr(e, b"TIME_SLOT_REF2", at)?;
            match (r1, r2) {
                (Some(a), Some(b)) => RawSpan::Slots(a, b),
                _ => return Err(self.err_here(at, "TIME_SLOT_REF1 and TIME_SLOT_REF2 attributes")),
            }
        } else {
            RawSpan::Ref {
                target: self.required(e, b"ANNOTATION_REF", at, "an ANNOTATION_REF attribute")?,
                previous: self.attr(e, b"PREVIOUS_ANNOTATION", at)?,
            }
        };
        let a = RawAnnotation {
            id,
            at,
            span,
            value: String::new(),
        };
        if is_empty {
            self.tiers.last_mut().expect("checked").annotations.push(a);
        } else {
            self.annotation = Some(a);
        }
        Ok(())
    }

    /// `<ANNOTATION_VALUE>`, inside an annotation: its text follows.
    fn open_value(&mut self, at: usize) -> Result<(), ReadError> {
        if self.annotation.is_none() {
            return Err(self.err_here(at, "<ANNOTATION_VALUE> inside an annotation"));
        }
        self.value = Some(String::new());
        Ok(())
    }

    /// Whether an `<ANNOTATION_VALUE>` is open (text elsewhere is ignored).
    fn in_value(&self) -> bool {
        self.value.is_some()
    }

    /// Text of the open `<ANNOTATION_VALUE>`.
    fn push_value(&mut self, text: &str) {
        if let Some(v) = self.value.as_mut() {
            v.push_str(text);
        }
    }

    /// A character reference or one of XML's predefined entities, resolved.
    fn entity(&self, r: &BytesRef<'_>, at: usize) -> Result<String, ReadError> {
        match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            Ok(None) => {
                let name = r
                    .decode()
                    .map_err(|e| self.err(at, "an entity name", &e.to_string()))?;
                quick_xml::escape::resolve_xml_entity(&name)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        self.err(
                            at,
                            "a predefined XML entity (&amp; &lt; &gt; &quot; &apos;)",
                            &name,
                        )
                    })
            }
            Err(e) => Err(self.err(at, "a valid character reference", &e.to_string())),
        }
    }

    /// A closing element: a value goes to its annotation, an annotation to its tier.
    fn close(&mut self, name: &[u8]) {
        match name {
            b"ANNOTATION_VALUE" => {
                if let (Some(a), Some(v)) = (self.annotation.as_mut(), self.value.take()) {
                    a.value = v;
                }
            }
            b"ALIGNABLE_ANNOTATION" | b"REF_ANNOTATION" => {
                if let Some(a) = self.annotation.take() {
                    self.tiers
                        .last_mut()
                        .expect("annotation opened inside a tier")
                        .annotations
                        .push(a);
                }
            }
            _ => {}
        }
    }

    /// The end of the input: the tiers with their times resolved.
    fn finish(self) -> Result<Eaf, ReadError> {
        if !self.root_seen {
            return Err(self.err(0, "an ELAN document (<ANNOTATION_DOCUMENT>)", self.text));
        }
        resolve(
            self.slots,
            self.tiers,
            &self.constraints,
            self.path,
            self.text,
        )
    }
}

/// An attribute's unescaped value, if present.
fn attr(
    e: &BytesStart<'_>,
    key: &[u8],
    at: usize,
    path: &Path,
    text: &str,
) -> Result<Option<String>, ReadError> {
    for a in e.attributes() {
        let a = a.map_err(|err| {
            ReadError::syntax(
                path,
                Location::of_offset(text, at),
                "well-formed attributes",
                &err.to_string(),
            )
        })?;
        if a.key.as_ref() == key {
            let v = a.unescape_value().map_err(|err| {
                ReadError::syntax(
                    path,
                    Location::of_offset(text, at),
                    "a valid attribute value",
                    &err.to_string(),
                )
            })?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

/// Slot times (interpolating unaligned slots) and annotation spans;
/// `constraints` are the linguistic types' `CONSTRAINTS` by id.
fn resolve(
    slots: Vec<Slot>,
    tiers: Vec<RawTier>,
    constraints: &HashMap<String, Option<String>>,
    path: &Path,
    text: &str,
) -> Result<Eaf, ReadError> {
    let err = |at: usize, expected: &str, found: &str| {
        ReadError::syntax(path, Location::of_offset(text, at), expected, found)
    };
    // Times in seconds; None for unaligned slots with no aligned slot on one side.
    let known: Vec<Option<f64>> = slots
        .iter()
        .map(|s| s.ms.map(|ms| ms as f64 / 1000.0))
        .collect();
    let index: HashMap<&str, usize> = slots
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut times = known.clone();
    // Chains of annotations in one tier sharing slots, as ELAN subdivides them.
    for tier in &tiers {
        let links: Vec<(usize, usize)> = tier
            .annotations
            .iter()
            .filter_map(|a| match &a.span {
                RawSpan::Slots(r1, r2) => {
                    Some((*index.get(r1.as_str())?, *index.get(r2.as_str())?))
                }
                RawSpan::Ref { .. } => None,
            })
            .collect();
        let next: HashMap<usize, usize> = links.iter().copied().collect();
        let is_target: std::collections::HashSet<usize> = links.iter().map(|l| l.1).collect();
        for &(first, _) in links.iter().filter(|l| !is_target.contains(&l.0)) {
            let mut chain = vec![first];
            while let Some(&n) = next.get(chain.last().expect("never empty")) {
                if chain.len() > links.len() {
                    break; // A cycle: leave it to the checks below.
                }
                chain.push(n);
            }
            interpolate_chain(&chain, &known, &mut times);
        }
    }
    for (i, time) in times.iter_mut().enumerate() {
        if time.is_some() {
            continue;
        }
        let before = (0..i).rev().find_map(|j| known[j].map(|t| (j, t)));
        let after = (i + 1..known.len()).find_map(|j| known[j].map(|t| (j, t)));
        if let (Some((j0, t0)), Some((j1, t1))) = (before, after) {
            *time = Some(t0 + (t1 - t0) * (i - j0) as f64 / (j1 - j0) as f64);
        }
    }
    let slot_time: HashMap<&str, (Option<f64>, usize)> = slots
        .iter()
        .zip(&times)
        .map(|(s, t)| (s.id.as_str(), (*t, s.at)))
        .collect();
    let lookup = |id: &str, at: usize| -> Result<f64, ReadError> {
        match slot_time.get(id) {
            Some((Some(t), _)) => Ok(*t),
            Some((None, slot_at)) => Err(err(
                *slot_at,
                "a TIME_VALUE (an unaligned slot needs aligned slots before and after it)",
                id,
            )),
            None => Err(err(at, "a TIME_SLOT_REF naming a slot in TIME_ORDER", id)),
        }
    };
    // Alignable spans first, then references, a parent before its children.
    let bare = |r: &str| index.get(r).is_some_and(|&i| known[i].is_none());
    // Each annotation's span and whether it is interpolated or divided.
    let mut spans: HashMap<&str, (f64, f64, bool)> = HashMap::new();
    for a in tiers.iter().flat_map(|t| &t.annotations) {
        if let RawSpan::Slots(r1, r2) = &a.span {
            let (s, e) = (lookup(r1, a.at)?, lookup(r2, a.at)?);
            if e < s {
                return Err(err(
                    a.at,
                    "TIME_SLOT_REF2 not before TIME_SLOT_REF1",
                    &format!("{e} s < {s} s"),
                ));
            }
            spans.insert(&a.id, (s, e, bare(r1) || bare(r2)));
        }
    }
    let mut pending = reference_groups(&tiers, constraints);
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|group| {
            let Some(&(s, e, inherited)) = spans.get(group.target) else {
                return true;
            };
            let n = group.members.len();
            let divided = group.subdivision && n > 1;
            // Boundary k of n equal parts; the last is the parent's end exactly.
            let boundary = |k: usize| {
                if k == n {
                    e
                } else {
                    s + (e - s) * k as f64 / n as f64
                }
            };
            for (k, a) in group.members.iter().enumerate() {
                let (start, end) = if divided {
                    (boundary(k), boundary(k + 1))
                } else {
                    (s, e)
                };
                spans.insert(&a.id, (start, end, inherited || divided));
            }
            false
        });
        if pending.len() == before {
            let group = &pending[0];
            return Err(err(
                group.members[0].at,
                "an ANNOTATION_REF naming an annotation with a time span",
                group.target,
            ));
        }
    }
    Ok(Eaf {
        tiers: tiers
            .iter()
            .map(|t| {
                let resolved: Vec<(f64, f64, bool)> =
                    t.annotations.iter().map(|a| spans[a.id.as_str()]).collect();
                EafTier {
                    id: t.id.clone(),
                    parent: t.parent.clone(),
                    participant: t.participant.clone(),
                    annotations: t
                        .annotations
                        .iter()
                        .zip(&resolved)
                        .map(|(a, &(start, end, _))| Interval {
                            start,
                            end,
                            text: a.value.clone(),
                        })
                        .collect(),
                    interpolated: resolved.iter().map(|r| r.2).collect(),
                }
            })
            .collect(),
    })
}

/// The reference annotations of one tier that refer to one parent.
struct RefGroup<'a> {
    /// The parent's `ANNOTATION_ID`.
    target: &'a str,
    /// In order: the `PREVIOUS_ANNOTATION` chain, then (should the chain
    /// break or loop) the rest in file order.
    members: Vec<&'a RawAnnotation>,
    /// Whether they divide the parent's span (a `Symbolic_Subdivision` tier)
    /// rather than each take all of it (`Symbolic_Association`).
    subdivision: bool,
}

/// The reference annotations grouped by tier and parent, in file order of
/// each group's first member.
fn reference_groups<'a>(
    tiers: &'a [RawTier],
    constraints: &HashMap<String, Option<String>>,
) -> Vec<RefGroup<'a>> {
    let mut groups = Vec::new();
    for tier in tiers {
        let mut by_target: Vec<(&str, Vec<&RawAnnotation>)> = Vec::new();
        let mut slot: HashMap<&str, usize> = HashMap::new();
        for a in &tier.annotations {
            if let RawSpan::Ref { target, .. } = &a.span {
                let k = *slot.entry(target.as_str()).or_insert_with(|| {
                    by_target.push((target.as_str(), Vec::new()));
                    by_target.len() - 1
                });
                by_target[k].1.push(a);
            }
        }
        let declared = tier
            .linguistic_type
            .as_ref()
            .and_then(|t| constraints.get(t))
            .map(|c| c.as_deref() == Some("Symbolic_Subdivision"));
        for (target, members) in by_target {
            let subdivision = declared.unwrap_or(members.len() > 1);
            groups.push(RefGroup {
                target,
                members: previous_order(members),
                subdivision,
            });
        }
    }
    groups
}

/// `members` in the order of their `PREVIOUS_ANNOTATION` chain: from each
/// member whose previous is none of them (in file order; a well-formed group
/// has one), its successors one after another; members no chain reaches
/// (a loop) follow in file order.
fn previous_order(members: Vec<&RawAnnotation>) -> Vec<&RawAnnotation> {
    let previous = |a: &RawAnnotation| match &a.span {
        RawSpan::Ref { previous, .. } => previous.clone(),
        RawSpan::Slots(..) => None,
    };
    let ids: std::collections::HashSet<&str> = members.iter().map(|a| a.id.as_str()).collect();
    let mut next: HashMap<String, usize> = HashMap::new();
    let mut starts = Vec::new();
    for (k, a) in members.iter().enumerate() {
        match previous(a) {
            Some(p) if ids.contains(p.as_str()) => {
                next.entry(p).or_insert(k);
            }
            _ => starts.push(k),
        }
    }
    let mut order = Vec::with_capacity(members.len());
    let mut taken = vec![false; members.len()];
    for start in starts {
        let mut current = Some(start);
        while let Some(k) = current.filter(|&k| !taken[k]) {
            taken[k] = true;
            order.push(k);
            current = next.get(members[k].id.as_str()).copied();
        }
    }
    order.extend((0..members.len()).filter(|&k| !taken[k]));
    order.into_iter().map(|k| members[k]).collect()
}

/// Gives the unaligned slots of `chain` (slot indices in chain order) times
/// dividing the span between their aligned neighbours in the chain evenly.
fn interpolate_chain(chain: &[usize], known: &[Option<f64>], times: &mut [Option<f64>]) {
    let mut last: Option<(usize, f64)> = None;
    for (k, &slot) in chain.iter().enumerate() {
        let Some(t1) = known[slot] else { continue };
        if let Some((k0, t0)) = last {
            for (j, &between) in chain.iter().enumerate().take(k).skip(k0 + 1) {
                if times[between].is_none() && t1 >= t0 {
                    times[between] = Some(t0 + (t1 - t0) * (j - k0) as f64 / (k - k0) as f64);
                }
            }
        }
        last = Some((k, t1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="" DATE="2024-01-01T00:00:00Z" FORMAT="3.0" VERSION="3.0">
    <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds"/>
    <TIME_ORDER>
        <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="500"/>
        <TIME_SLOT TIME_SLOT_ID="ts2"/>
        <TIME_SLOT TIME_SLOT_ID="ts3" TIME_VALUE="2500"/>
        <TIME_SLOT TIME_SLOT_ID="ts4" TIME_VALUE="3000"/>
        <TIME_SLOT TIME_SLOT_ID="ts5" TIME_VALUE="4000"/>
    </TIME_ORDER>
    <TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="default"/>
    <TIER LINGUISTIC_TYPE_REF="default-lt" TIER_ID="utterances">
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts3">
            <ANNOTATION_VALUE>Fish &amp; chips&#33;</ANNOTATION_VALUE>
        </ALIGNABLE_ANNOTATION></ANNOTATION>
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a2" TIME_SLOT_REF1="ts4" TIME_SLOT_REF2="ts5">
            <ANNOTATION_VALUE>Bye</ANNOTATION_VALUE>
        </ALIGNABLE_ANNOTATION></ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="sub" PARENT_REF="utterances" TIER_ID="words">
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a3" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2">
            <ANNOTATION_VALUE>Fish</ANNOTATION_VALUE>
        </ALIGNABLE_ANNOTATION></ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="assoc" PARENT_REF="utterances" TIER_ID="translation">
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="a4" ANNOTATION_REF="a2">
            <ANNOTATION_VALUE>Tschüss</ANNOTATION_VALUE>
        </REF_ANNOTATION></ANNOTATION>
    </TIER>
    <LINGUISTIC_TYPE LINGUISTIC_TYPE_ID="default-lt" TIME_ALIGNABLE="true"/>
</ANNOTATION_DOCUMENT>
"#;

    #[test]
    fn segments_words_references_and_interpolated_slots() {
        let p = Path::new("a.eaf");
        let t = parse(DOC, p, None).unwrap();
        let s = t.segments();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].start, s[0].end, s[0].text.as_str()),
            (0.5, 2.5, "Fish & chips!")
        );
        // ts2 is unaligned between ts1 (0.5 s) and ts3 (2.5 s): 1.5 s.
        assert_eq!(
            s[0].words,
            vec![Word {
                start: 0.5,
                end: 1.5,
                text: "Fish".into()
            }]
        );
        assert_eq!((s[1].start, s[1].end), (3.0, 4.0));
        let eaf = parse_eaf(DOC, p).unwrap();
        assert_eq!(
            eaf.tiers[3].annotations,
            vec![Interval {
                start: 3.0,
                end: 4.0,
                text: "Tschüss".into()
            }]
        );
        let t = parse(DOC, p, Some("translation")).unwrap();
        assert_eq!(t.segments()[0].text, "Tschüss");
    }

    #[test]
    fn unaligned_subdivisions_divide_their_parent_evenly_as_elan_does() {
        // pympi-ling's sample_2.8.eaf: the words of "The quick brown fox" (8.0 to
        // 11.0 s) are a chain ts38 → ts39 … ts42 (unaligned) → ts55. In TIME_ORDER
        // the unaligned slots sit between ts38 and ts43, both 8000 ms, so
        // interpolating there made every word 8.000..8.000. Along the chain, five
        // words share 3 s: 0.6 s each.
        let doc = r#"<ANNOTATION_DOCUMENT FORMAT="3.0" VERSION="3.0">
    <TIME_ORDER>
        <TIME_SLOT TIME_SLOT_ID="ts38" TIME_VALUE="8000"/>
        <TIME_SLOT TIME_SLOT_ID="ts39"/>
        <TIME_SLOT TIME_SLOT_ID="ts40"/>
        <TIME_SLOT TIME_SLOT_ID="ts41"/>
        <TIME_SLOT TIME_SLOT_ID="ts42"/>
        <TIME_SLOT TIME_SLOT_ID="ts43" TIME_VALUE="8000"/>
        <TIME_SLOT TIME_SLOT_ID="ts55" TIME_VALUE="11000"/>
    </TIME_ORDER>
    <TIER TIER_ID="text">
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a3" TIME_SLOT_REF1="ts38" TIME_SLOT_REF2="ts55">
            <ANNOTATION_VALUE>The quick brown fox 003</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
    </TIER>
    <TIER PARENT_REF="text" TIER_ID="words-timesub">
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="w1" TIME_SLOT_REF1="ts38" TIME_SLOT_REF2="ts39"><ANNOTATION_VALUE>The</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="w2" TIME_SLOT_REF1="ts39" TIME_SLOT_REF2="ts40"><ANNOTATION_VALUE>quick</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="w3" TIME_SLOT_REF1="ts40" TIME_SLOT_REF2="ts41"><ANNOTATION_VALUE>brown</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="w4" TIME_SLOT_REF1="ts41" TIME_SLOT_REF2="ts42"><ANNOTATION_VALUE>fox</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="w5" TIME_SLOT_REF1="ts42" TIME_SLOT_REF2="ts55"><ANNOTATION_VALUE>003</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
    </TIER>
</ANNOTATION_DOCUMENT>"#;
        let eaf = parse_eaf(doc, Path::new("s.eaf")).unwrap();
        let words = &eaf.tiers[1];
        let spans: Vec<(f64, f64)> = words
            .annotations
            .iter()
            .map(|a| ((a.start * 1000.0).round(), (a.end * 1000.0).round()))
            .collect();
        assert_eq!(
            spans,
            vec![
                (8000.0, 8600.0),
                (8600.0, 9200.0),
                (9200.0, 9800.0),
                (9800.0, 10400.0),
                (10400.0, 11000.0)
            ]
        );
        assert_eq!(words.interpolated, vec![true; 5]);
        assert_eq!(eaf.tiers[0].interpolated, vec![false]);
        // The transcript's words follow.
        let t = parse(doc, Path::new("s.eaf"), None).unwrap();
        assert_eq!(t.segments()[0].words.len(), 5);
    }

    /// `(start, end, text)` of a tier's annotations.
    fn spans(tier: &EafTier) -> Vec<(f64, f64, &str)> {
        tier.annotations
            .iter()
            .map(|a| (a.start, a.end, a.text.as_str()))
            .collect()
    }

    /// An utterance 2.0..5.0 s, its words on a `Symbolic_Subdivision` tier
    /// (written out of order: the `PREVIOUS_ANNOTATION` chain is The → quick →
    /// brown → fox), morphemes of "quick" subdividing it again, parts of speech
    /// associated with the words, and a translation associated with the utterance.
    const SYMBOLIC: &str = r#"<ANNOTATION_DOCUMENT FORMAT="3.0" VERSION="3.0">
    <TIME_ORDER>
        <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="2000"/>
        <TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="5000"/>
    </TIME_ORDER>
    <TIER LINGUISTIC_TYPE_REF="utterance" TIER_ID="text">
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2"><ANNOTATION_VALUE>The quick brown fox</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="symsub" PARENT_REF="text" TIER_ID="words">
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="w3" ANNOTATION_REF="a1" PREVIOUS_ANNOTATION="w2"><ANNOTATION_VALUE>brown</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="w1" ANNOTATION_REF="a1"><ANNOTATION_VALUE>The</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="w4" ANNOTATION_REF="a1" PREVIOUS_ANNOTATION="w3"><ANNOTATION_VALUE>fox</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="w2" ANNOTATION_REF="a1" PREVIOUS_ANNOTATION="w1"><ANNOTATION_VALUE>quick</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="symsub" PARENT_REF="words" TIER_ID="morphemes">
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="m1" ANNOTATION_REF="w2"><ANNOTATION_VALUE>qu</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="m2" ANNOTATION_REF="w2" PREVIOUS_ANNOTATION="m1"><ANNOTATION_VALUE>i</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="m3" ANNOTATION_REF="w2" PREVIOUS_ANNOTATION="m2"><ANNOTATION_VALUE>ck</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="assoc" PARENT_REF="words" TIER_ID="pos">
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="p2" ANNOTATION_REF="w2"><ANNOTATION_VALUE>adj</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="p4" ANNOTATION_REF="w4"><ANNOTATION_VALUE>n</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="assoc" PARENT_REF="text" TIER_ID="translation">
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="t1" ANNOTATION_REF="a1"><ANNOTATION_VALUE>Der schnelle braune Fuchs</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
    </TIER>
    <LINGUISTIC_TYPE LINGUISTIC_TYPE_ID="utterance" TIME_ALIGNABLE="true"/>
    <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Subdivision" LINGUISTIC_TYPE_ID="symsub" TIME_ALIGNABLE="false"/>
    <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Association" LINGUISTIC_TYPE_ID="assoc" TIME_ALIGNABLE="false"/>
</ANNOTATION_DOCUMENT>"#;

    #[test]
    fn symbolic_subdivisions_divide_their_parent_evenly_in_chain_order() {
        let eaf = parse_eaf(SYMBOLIC, Path::new("s.eaf")).unwrap();
        // Four words share 2.0..5.0 s: 3 s / 4 = 0.75 s each, in chain order
        // (The, quick, brown, fox), whatever the file order (brown, The, fox, quick).
        assert_eq!(
            spans(&eaf.tiers[1]),
            vec![
                (3.5, 4.25, "brown"),
                (2.0, 2.75, "The"),
                (4.25, 5.0, "fox"),
                (2.75, 3.5, "quick")
            ]
        );
        assert_eq!(eaf.tiers[1].interpolated, vec![true; 4]);
        // "quick" (2.75..3.5 s) into three morphemes: 0.75 s / 3 = 0.25 s each.
        assert_eq!(
            spans(&eaf.tiers[2]),
            vec![(2.75, 3.0, "qu"), (3.0, 3.25, "i"), (3.25, 3.5, "ck")]
        );
        // Associations take their parent's span: a divided word's (so marked) …
        assert_eq!(
            spans(&eaf.tiers[3]),
            vec![(2.75, 3.5, "adj"), (4.25, 5.0, "n")]
        );
        assert_eq!(eaf.tiers[3].interpolated, vec![true; 2]);
        // … or an aligned utterance's (written in the file, not marked).
        assert_eq!(
            spans(&eaf.tiers[4]),
            vec![(2.0, 5.0, "Der schnelle braune Fuchs")]
        );
        assert_eq!(eaf.tiers[4].interpolated, vec![false]);
    }

    #[test]
    fn undeclared_types_divide_when_siblings_share_a_parent() {
        // Without LINGUISTIC_TYPE elements: several annotations on one parent can
        // only be a subdivision; a single one takes the parent's span.
        let doc = SYMBOLIC
            .split("    <LINGUISTIC_TYPE ")
            .next()
            .unwrap()
            .to_owned()
            + "</ANNOTATION_DOCUMENT>";
        let eaf = parse_eaf(&doc, Path::new("s.eaf")).unwrap();
        assert_eq!(spans(&eaf.tiers[1])[1], (2.0, 2.75, "The"));
        assert_eq!(
            spans(&eaf.tiers[4]),
            vec![(2.0, 5.0, "Der schnelle braune Fuchs")]
        );
        assert_eq!(eaf.tiers[4].interpolated, vec![false]);
    }

    #[test]
    fn a_broken_previous_chain_keeps_each_piece_in_order() {
        // x's PREVIOUS_ANNOTATION names no sibling, y has none, z follows y:
        // the pieces x and y → z start in file order, so x, y, z take the
        // thirds of 2.0..5.0 s (1 s each).
        let doc = r#"<ANNOTATION_DOCUMENT FORMAT="3.0" VERSION="3.0">
    <TIME_ORDER>
        <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="2000"/>
        <TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="5000"/>
    </TIME_ORDER>
    <TIER TIER_ID="text">
        <ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2"><ANNOTATION_VALUE>x y z</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="symsub" PARENT_REF="text" TIER_ID="words">
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="z" ANNOTATION_REF="a1" PREVIOUS_ANNOTATION="y"><ANNOTATION_VALUE>z</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="x" ANNOTATION_REF="a1" PREVIOUS_ANNOTATION="gone"><ANNOTATION_VALUE>x</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
        <ANNOTATION><REF_ANNOTATION ANNOTATION_ID="y" ANNOTATION_REF="a1"><ANNOTATION_VALUE>y</ANNOTATION_VALUE></REF_ANNOTATION></ANNOTATION>
    </TIER>
    <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Subdivision" LINGUISTIC_TYPE_ID="symsub"/>
</ANNOTATION_DOCUMENT>"#;
        let eaf = parse_eaf(doc, Path::new("s.eaf")).unwrap();
        assert_eq!(
            spans(&eaf.tiers[1]),
            vec![(4.0, 5.0, "z"), (2.0, 3.0, "x"), (3.0, 4.0, "y")]
        );
    }

    /// One tier of [`conversation`]: id, `PARTICIPANT`, `PARENT_REF` and
    /// annotations (start ms, end ms, value).
    type TierSpec<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        &'a [(u64, u64, &'a str)],
    );

    /// An ELAN document with the given alignable tiers, two slots per annotation.
    fn conversation(tiers: &[TierSpec<'_>]) -> String {
        let mut slots = String::new();
        let mut body = String::new();
        let mut k = 0;
        for (id, participant, parent, annotations) in tiers {
            let mut attrs = format!("TIER_ID=\"{id}\"");
            if let Some(p) = participant {
                attrs += &format!(" PARTICIPANT=\"{p}\"");
            }
            if let Some(p) = parent {
                attrs += &format!(" PARENT_REF=\"{p}\"");
            }
            body += &format!("<TIER {attrs}>\n");
            for (a, b, value) in *annotations {
                slots += &format!(
                    "<TIME_SLOT TIME_SLOT_ID=\"s{k}\" TIME_VALUE=\"{a}\"/><TIME_SLOT TIME_SLOT_ID=\"s{}\" TIME_VALUE=\"{b}\"/>\n",
                    k + 1
                );
                body += &format!(
                    "<ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID=\"a{k}\" TIME_SLOT_REF1=\"s{k}\" TIME_SLOT_REF2=\"s{}\"><ANNOTATION_VALUE>{value}</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION></ANNOTATION>\n",
                    k + 1
                );
                k += 2;
            }
            body += "</TIER>\n";
        }
        format!("<ANNOTATION_DOCUMENT FORMAT=\"3.0\" VERSION=\"3.0\">\n<TIME_ORDER>\n{slots}</TIME_ORDER>\n{body}</ANNOTATION_DOCUMENT>\n")
    }

    /// `(speaker, start, text, number of words)` of each segment.
    fn said(t: &Transcript) -> Vec<(Option<&str>, f64, &str, usize)> {
        t.segments()
            .iter()
            .map(|s| {
                (
                    s.speaker.as_ref().map(|v| v.as_str()),
                    s.start,
                    s.text.as_str(),
                    s.words.len(),
                )
            })
            .collect()
    }

    #[test]
    fn participants_name_the_speakers_of_their_tiers() {
        // Two participants' tiers (each with its words), and notes over the
        // same stretches without a participant, which are not read.
        let doc = conversation(&[
            (
                "A-utt",
                Some("Alice"),
                None,
                &[(0, 2000, "hello"), (5000, 6000, "bye")],
            ),
            ("A-words", None, Some("A-utt"), &[(0, 1000, "hello")]),
            ("notes", None, None, &[(0, 6000, "laughter")]),
            ("B-utt", Some("Bob"), None, &[(1500, 4000, "hi there")]),
            (
                "B-words",
                None,
                Some("B-utt"),
                &[(1500, 2500, "hi"), (2500, 4000, "there")],
            ),
        ]);
        let p = Path::new("talk.eaf");
        let t = parse(&doc, p, None).unwrap();
        assert_eq!(
            said(&t),
            vec![
                (Some("Alice"), 0.0, "hello", 1),
                (Some("Bob"), 1.5, "hi there", 2),
                (Some("Alice"), 5.0, "bye", 0)
            ]
        );
        assert_eq!(
            parse_eaf(&doc, p).unwrap().tiers[0].participant.as_deref(),
            Some("Alice")
        );
        // A tier asked for by name: alone, with its participant.
        let t = parse(&doc, p, Some("B-utt")).unwrap();
        assert_eq!(said(&t), vec![(Some("Bob"), 1.5, "hi there", 2)]);
    }

    #[test]
    fn tiers_taking_turns_are_speakers_by_tier_id() {
        // No participants; `alice` 0..2 s and 5..6 s, `bob` 1.5..4 s share
        // 0.5 s, under half of either: they take turns.
        let doc = conversation(&[
            (
                "alice",
                None,
                None,
                &[(0, 2000, "hello"), (5000, 6000, "bye")],
            ),
            ("bob", None, None, &[(1500, 4000, "hi there")]),
        ]);
        let t = parse(&doc, Path::new("talk.eaf"), None).unwrap();
        assert_eq!(
            said(&t),
            vec![
                (Some("alice"), 0.0, "hello", 0),
                (Some("bob"), 1.5, "hi there", 0),
                (Some("alice"), 5.0, "bye", 0)
            ]
        );
    }

    #[test]
    fn layered_tiers_are_one_speech() {
        // As Emoscope writes its own EAF: segments, words and dimension tiers,
        // all top-level over the same stretches: the first tier alone.
        let doc = conversation(&[
            (
                "segments",
                None,
                None,
                &[(0, 2000, "hello there"), (3000, 4000, "bye")],
            ),
            (
                "words",
                None,
                None,
                &[(0, 1000, "hello"), (1000, 2000, "there")],
            ),
            ("arousal", None, None, &[(0, 4000, "0.5")]),
        ]);
        let t = parse(&doc, Path::new("talk.emoscope.eaf"), None).unwrap();
        assert_eq!(
            said(&t),
            vec![(None, 0.0, "hello there", 0), (None, 3.0, "bye", 0)]
        );
        // One participant is that tier's speaker.
        let doc = conversation(&[("utt", Some("Ann"), None, &[(0, 1000, "hi")])]);
        let t = parse(&doc, Path::new("a.eaf"), None).unwrap();
        assert_eq!(said(&t), vec![(Some("Ann"), 0.0, "hi", 0)]);
    }

    #[test]
    fn errors_name_the_line() {
        let p = Path::new("a.eaf");
        let e = parse(
            &DOC.replace("TIME_VALUE=\"2500\"", "TIME_VALUE=\"2.5s\""),
            p,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("a.eaf: line 7"), "{e}");
        let e = parse(
            &DOC.replace("TIME_SLOT_REF2=\"ts5\"", "TIME_SLOT_REF2=\"ts9\""),
            p,
            None,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("line 16") && e.to_string().contains("ts9"),
            "{e}"
        );
        let e = parse(
            &DOC.replace(
                "</TIER>\n    <TIER LINGUISTIC_TYPE_REF=\"sub\"",
                "<TIER LINGUISTIC_TYPE_REF=\"sub\"",
            ),
            p,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("expected well-formed XML"), "{e}");
        let e = parse("<html></html>", p, None).unwrap_err();
        assert!(e.to_string().contains("ANNOTATION_DOCUMENT"), "{e}");
        let e = parse(
            &DOC.replace("ANNOTATION_REF=\"a2\"", "ANNOTATION_REF=\"zz\""),
            p,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("line 26"), "{e}");
    }

    #[test]
    fn fuzz_findings_are_errors_not_panics() {
        // Found by `cargo fuzz run eaf`: a UTF-16 file whose text starts with a
        // second byte-order mark, which quick-xml skips, so its positions fall
        // inside multi-byte characters of the decoded text.
        let bytes = include_bytes!(
            "../../fuzz/regressions/eaf/crash-518a59740b72bf43ad51f82c2d80d43e74b90257"
        );
        let p = Path::new("fuzz.eaf");
        let text = crate::transcript::decode_text(bytes, p).unwrap();
        let e = parse(&text, p, None).unwrap_err();
        assert!(e.to_string().contains("ANNOTATION_DOCUMENT"), "{e}");
        assert_eq!(tail("a\u{e9}b", 2), "\u{e9}b");
    }
}
