//! Standard MIDI File (format 1, written with `midly`) to drag into a DAW as
//! automation: 480 ticks per quarter note at 120 BPM, so 960 ticks per
//! second. Track 1 (conductor) holds the tempo, the time signature and a
//! marker meta event at every segment boundary (the segment's label at its
//! start, `end` at its end). Track 2 holds one controller lane per dimension
//! on the plugin's default channel and controllers ([`crate::cc`]): a value
//! per analysis window at its centre, the model's output range mapped onto
//! 0..127 exactly as the plugin's live CC output does. A categorical model
//! has a lane per category instead, its probability (0..1) on controllers
//! 23 onwards ([`default_category_cc`]).
//!
//! With speakers, the markers start with their speaker (`host: A.50 …`,
//! `host: end`) and each speaker has a track of their own on a channel of
//! their own: the first speaker in the order of their first turn on
//! channel 1, the second on channel 2 and so on ([`speaker_channel`]; the
//! 17th shares channel 1 again), with the same controllers; readings that
//! name no one stay on the default channel.

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use super::document::Annotation;
use super::document::Track;
use super::{spoken, voices};
use crate::cc::{default_category_cc, to_cc7, DEFAULT_CC, DEFAULT_CHANNEL};

/// Ticks per quarter note.
pub const PPQ: u16 = 480;
/// Tempo: 120 BPM as microseconds per quarter note.
pub const TEMPO_US_PER_QUARTER: u32 = 500_000;
/// Ticks per second at [`PPQ`] and [`TEMPO_US_PER_QUARTER`]: 480 * 1e6 / 500000 = 960.
pub const TICKS_PER_SECOND: f64 = PPQ as f64 * 1e6 / TEMPO_US_PER_QUARTER as f64;

/// The tick of time `t` seconds, rounded (clamped to the 28-bit range of a
/// delta time, about 77 hours).
pub fn tick(t: f64) -> u32 {
    ((t.max(0.0) * TICKS_PER_SECOND).round() as u32).min(u28::max_value().as_int())
}

/// The channel (0-based, as MIDI bytes count them: 0 is channel 1) of the
/// `k`-th speaker (0-based) in the order of their first turn: channel
/// `k + 1`, wrapping after 16.
pub fn speaker_channel(k: usize) -> u8 {
    (k % 16) as u8
}

/// The MIDI file bytes.
pub fn render(doc: &Annotation) -> Vec<u8> {
    let range = doc.output_range;
    let labels: Vec<Vec<u8>> = doc
        .segments
        .iter()
        .flat_map(|s| {
            let who = s.speaker.as_ref();
            [spoken(&s.label, who), spoken("end", who)].map(String::into_bytes)
        })
        .collect();
    // Conductor: (tick, kind) at absolute ticks.
    let mut conductor: Vec<(u32, TrackEventKind<'_>)> = vec![
        (0, TrackEventKind::Meta(MetaMessage::TrackName(b"emoscope"))),
        (
            0,
            TrackEventKind::Meta(MetaMessage::Tempo(u24::new(TEMPO_US_PER_QUARTER))),
        ),
        (
            0,
            TrackEventKind::Meta(MetaMessage::TimeSignature(4, 2, 24, 8)),
        ),
    ];
    for (i, s) in doc.segments.iter().enumerate() {
        conductor.push((
            tick(s.span.start),
            TrackEventKind::Meta(MetaMessage::Marker(&labels[2 * i])),
        ));
        conductor.push((
            tick(s.span.end),
            TrackEventKind::Meta(MetaMessage::Marker(&labels[2 * i + 1])),
        ));
    }
    let voices = voices(doc);
    // Each track's controller and value scale: dimensions on the model's
    // range, probabilities on 0..1.
    let lanes_of: Vec<(u8, Track)> = doc
        .tracks()
        .into_iter()
        .map(|(track, _)| match track {
            Track::Dimension(i) => (DEFAULT_CC[i], track),
            Track::Category(k) => (default_category_cc(k), track),
        })
        .collect();
    let track_names: Vec<&str> = doc.tracks().into_iter().map(|(_, n)| n).collect();
    let title = format!("{} CC", track_names.join(" "));
    let names: Vec<Vec<u8>> = voices
        .iter()
        .map(|who| spoken(&title, who.as_ref()).into_bytes())
        .collect();
    let mut tracks = vec![track(conductor)];
    for (k, who) in voices.iter().enumerate() {
        let channel = match who {
            Some(_) => speaker_channel(k),
            None => DEFAULT_CHANNEL,
        };
        let mut lanes: Vec<(u32, TrackEventKind<'_>)> =
            vec![(0, TrackEventKind::Meta(MetaMessage::TrackName(&names[k])))];
        for r in doc
            .timeline
            .iter()
            .filter(|r| r.speaker.as_ref() == who.as_ref())
        {
            for &(cc, track) in &lanes_of {
                let t = track.normalised(&r.emotion, range);
                lanes.push((
                    tick(r.span.centre()),
                    TrackEventKind::Midi {
                        channel: u4::new(channel),
                        message: MidiMessage::Controller {
                            controller: u7::new(cc),
                            value: u7::new(to_cc7(t)),
                        },
                    },
                ));
            }
        }
        tracks.push(track(lanes));
    }
    let mut smf = Smf::new(Header::new(
        Format::Parallel,
        Timing::Metrical(u15::new(PPQ)),
    ));
    smf.tracks = tracks;
    let mut out = Vec::new();
    smf.write_std(&mut out).expect("writing to memory");
    out
}

/// Events at absolute ticks to a track with delta times and an end-of-track event.
fn track(mut events: Vec<(u32, TrackEventKind<'_>)>) -> Vec<TrackEvent<'_>> {
    events.sort_by_key(|e| e.0); // stable: same-tick events keep their order
    let mut now = 0;
    let mut out: Vec<TrackEvent<'_>> = events
        .into_iter()
        .map(|(t, kind)| {
            let delta = t - now;
            now = t;
            TrackEvent {
                delta: u28::new(delta),
                kind,
            }
        })
        .collect();
    out.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_per_second() {
        assert_eq!(TICKS_PER_SECOND, 960.0);
        assert_eq!(tick(1.5), 1440);
        assert_eq!(tick(-1.0), 0);
    }
}
