//! Exact syntax of every export for a small hand-made annotation; the
//! expected texts are written out from each format's specification.

use super::*;
use crate::reading::{Emotion, OutputRange, Reading, Span};

/// Two windows (centres 2.0 and 3.0 s), one transcript segment with a word,
/// one VAD segment, one marker; output range 0..1.
fn doc() -> Annotation {
    let reading = |start: f64, a: f32| Reading {
        span: Span::new(start, start + 4.0),
        emotion: Emotion::new(a, 0.25, 0.5),
        text: "hi, there".into(),
        model_id: "m".into(),
        ..Reading::default()
    };
    Annotation {
        format: DOCUMENT_FORMAT.into(),
        audio: String::new(),
        duration: 5.5,
        model: "m".into(),
        output_range: OutputRange::UNIT,
        categories: Vec::new(),
        window_seconds: 4.0,
        hop_seconds: 1.0,
        smoothing_seconds: 0.0,
        timeline: vec![reading(0.0, 0.75), reading(1.0, 1.0)],
        segments: vec![
            MarkedSegment {
                span: Span::new(0.5, 1.25),
                emotion: Emotion::new(0.75, 0.25, 0.5),
                label: "A.75 V.25 D.50 | hi, \"there\"".into(),
                text: "hi, \"there\"".into(),
                source: SegmentSource::Transcript,
                out_of_range: false,
                speaker: None,
            },
            MarkedSegment {
                span: Span::new(2.0, 3.5),
                emotion: Emotion::new(1.0, 0.25, 0.5),
                label: "A1.00 V.25 D.50".into(),
                text: String::new(),
                source: SegmentSource::Vad,
                out_of_range: false,
                speaker: None,
            },
        ],
        markers: vec![Marker {
            time: 2.0,
            label: "tense A.75 V.25 D.50".into(),
            speaker: None,
        }],
        transcript: vec![TranscriptSegment {
            start: 0.5,
            end: 1.25,
            text: "hi, \"there\"".into(),
            words: vec![TranscriptWord {
                start: 0.5,
                end: 0.75,
                text: "hi,".into(),
            }],
            speaker: None,
        }],
        no_speech: Vec::new(),
        speakers: Vec::new(),
    }
}

fn text(format: ExportFormat) -> Vec<String> {
    render(format, &doc())
        .into_iter()
        .map(|f| String::from_utf8(f.bytes).unwrap())
        .collect()
}

#[test]
fn audacity_labels() {
    // The marker at 2.0 s sorts after the segment starting at 2.0 s.
    assert_eq!(
        text(ExportFormat::Audacity),
        ["0.500000\t1.250000\tA.75 V.25 D.50 | hi, \"there\"\n\
          2.000000\t3.500000\tA1.00 V.25 D.50\n\
          2.000000\t2.000000\ttense A.75 V.25 D.50\n"]
    );
}

#[test]
fn reaper_regions_and_markers() {
    assert_eq!(
        text(ExportFormat::Reaper),
        ["#,Name,Start,End,Length\n\
          R1,\"A.75 V.25 D.50 | hi, \"\"there\"\"\",0.500000,1.250000,0.750000\n\
          R2,A1.00 V.25 D.50,2.000000,3.500000,1.500000\n\
          M1,tense A.75 V.25 D.50,2.000000,,\n"]
    );
}

#[test]
fn sonic_visualiser_layers() {
    let files = render(ExportFormat::SonicVisualiser, &doc());
    let suffixes: Vec<&str> = files.iter().map(|f| f.suffix.as_str()).collect();
    assert_eq!(
        suffixes,
        [
            ".sv-arousal.csv",
            ".sv-valence.csv",
            ".sv-dominance.csv",
            ".sv-segments.csv"
        ]
    );
    let t = text(ExportFormat::SonicVisualiser);
    assert_eq!(
        t[0],
        "TIME,VALUE,LABEL\n2.000000,0.75,arousal 0.7500\n3.000000,1,arousal 1.0000\n"
    );
    assert_eq!(
        t[2],
        "TIME,VALUE,LABEL\n2.000000,0.5,dominance 0.5000\n3.000000,0.5,dominance 0.5000\n"
    );
    assert_eq!(
        t[3],
        "TIME,VALUE,DURATION,LABEL\n0.500000,0.75,0.750000,\"A.75 V.25 D.50 | hi, \"\"there\"\"\"\n\
         2.000000,1,1.500000,A1.00 V.25 D.50\n"
    );
}

#[test]
fn webvtt_cues() {
    assert_eq!(
        text(ExportFormat::WebVtt),
        [
            "WEBVTT - Emoscope annotation\n\n1\n00:00:00.500 --> 00:00:01.250\nA.75 V.25 D.50 | hi, \"there\"\n\n\
          2\n00:00:02.000 --> 00:00:03.500\nA1.00 V.25 D.50\n"
        ]
    );
    assert_eq!(vtt::timestamp(3723.4567), "01:02:03.457");
}

#[test]
fn timeline_csv() {
    assert_eq!(
        text(ExportFormat::Csv),
        [
            "start,end,arousal,valence,dominance,text,model_id,out_of_range\n\
          0,4,0.75,0.25,0.5,\"hi, there\",m,false\n\
          1,5,1,0.25,0.5,\"hi, there\",m,false\n"
        ]
    );
}

#[test]
fn textgrid_long_form() {
    let t = &text(ExportFormat::TextGrid)[0];
    let expected_start = "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n\
        xmin = 0 \nxmax = 5.5 \ntiers? <exists> \nsize = 5 \nitem []: \n\
        \x20   item [1]:\n\
        \x20       class = \"IntervalTier\" \n\
        \x20       name = \"segments\" \n\
        \x20       xmin = 0 \n\
        \x20       xmax = 5.5 \n\
        \x20       intervals: size = 5 \n\
        \x20       intervals [1]:\n\
        \x20           xmin = 0 \n\
        \x20           xmax = 0.5 \n\
        \x20           text = \"\" \n\
        \x20       intervals [2]:\n\
        \x20           xmin = 0.5 \n\
        \x20           xmax = 1.25 \n\
        \x20           text = \"A.75 V.25 D.50 | hi, \"\"there\"\"\" \n";
    assert!(t.starts_with(expected_start), "{t}");
    assert!(
        t.contains("        class = \"TextTier\" \n        name = \"arousal\" \n"),
        "{t}"
    );
    assert!(
        t.contains(
            "        points [2]:\n            number = 3 \n            mark = \"1.0000\" \n"
        ),
        "{t}"
    );
    // Segments 0.5-1.25 and 2.0-3.5 in 0..5.5: five intervals with the gaps.
    let grid =
        crate::transcript::textgrid::parse_grid(t, std::path::Path::new("x.TextGrid")).unwrap();
    let crate::transcript::textgrid::TierItems::Intervals(iv) = &grid.tiers[0].items else {
        panic!()
    };
    let spans: Vec<(f64, f64)> = iv.iter().map(|i| (i.start, i.end)).collect();
    assert_eq!(
        spans,
        [(0.0, 0.5), (0.5, 1.25), (1.25, 2.0), (2.0, 3.5), (3.5, 5.5)]
    );
}

#[test]
fn eaf_document() {
    let t = eaf::render(&doc(), "2024-05-06T07:08:09Z");
    assert!(
        t.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ANNOTATION_DOCUMENT AUTHOR=\"emoscope\" \
         DATE=\"2024-05-06T07:08:09Z\" FORMAT=\"3.0\" VERSION=\"3.0\""
        ),
        "{t}"
    );
    assert!(
        t.contains("<HEADER MEDIA_FILE=\"\" TIME_UNITS=\"milliseconds\">"),
        "{t}"
    );
    // Segments 500-1250 and 2000-3500 ms, words 500-750 ms, cells 1500-2500 and 2500-3500 ms per
    // dimension: 2 + 1 + 3 * 2 = 9 annotations, 18 slots.
    assert_eq!(t.matches("<TIME_SLOT ").count(), 18);
    assert_eq!(t.matches("<ALIGNABLE_ANNOTATION ").count(), 9);
    assert!(
        t.contains("<PROPERTY NAME=\"lastUsedAnnotationId\">9</PROPERTY>"),
        "{t}"
    );
    assert!(
        t.contains("<ANNOTATION_VALUE>A.75 V.25 D.50 | hi, &quot;there&quot;</ANNOTATION_VALUE>"),
        "{t}"
    );
    assert!(
        t.contains("<TIER LINGUISTIC_TYPE_REF=\"emoscope\" TIER_ID=\"dominance\">"),
        "{t}"
    );
    assert!(t.contains(
        "<LINGUISTIC_TYPE GRAPHIC_REFERENCES=\"false\" LINGUISTIC_TYPE_ID=\"emoscope\" TIME_ALIGNABLE=\"true\"/>"
    ));
    let eaf = crate::transcript::eaf::parse_eaf(&t, std::path::Path::new("x.eaf")).unwrap();
    let annotations: Vec<(f64, f64, &str)> = eaf.tiers[2]
        .annotations
        .iter()
        .map(|a| (a.start, a.end, a.text.as_str()))
        .collect();
    assert_eq!(annotations, [(1.5, 2.5, "0.7500"), (2.5, 3.5, "1.0000")]);
}

#[test]
fn midi_file_layout() {
    let bytes = midi::render(&doc());
    // Header chunk: "MThd", length 6, format 1, 2 tracks, 480 ticks per quarter note.
    assert_eq!(
        &bytes[..14],
        b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0"
    );
    let smf = midly::Smf::parse(&bytes).unwrap();
    // Conductor: name, tempo, time signature, 2 segments x (start, end) markers, end of track.
    assert_eq!(smf.tracks[0].len(), 3 + 4 + 1);
    // Lanes: name, 2 windows x 3 controllers, end of track.
    assert_eq!(smf.tracks[1].len(), 1 + 6 + 1);
    // First CC at the first centre, 2.0 s = 1920 ticks; arousal 0.75 -> round(95.25) = 95.
    assert_eq!(smf.tracks[1][1].delta.as_int(), 1920);
    assert_eq!(
        smf.tracks[1][1].kind,
        midly::TrackEventKind::Midi {
            channel: 0.into(),
            message: midly::MidiMessage::Controller {
                controller: 20.into(),
                value: 95.into()
            }
        }
    );
}

#[test]
fn json_reads_back_equal() {
    let d = doc();
    assert_eq!(Annotation::from_json(&d.to_json()).unwrap(), d);
}

#[test]
fn values_outside_the_range_are_kept_and_flagged_everywhere() {
    // A checkpoint without a bounded head read valence 1.41 on a 0..1 scale:
    // the value stays 1.41 in JSON and CSV, is flagged, and the label says 1.41.
    use crate::engine::AnalysisConfig;
    let entry = |start: f64, v: f32| Reading {
        span: Span::new(start, start + 4.0),
        emotion: Emotion::new(0.5, v, 0.5),
        text: String::new(),
        model_id: "m".into(),
        ..Reading::default()
    };
    let config = AnalysisConfig::default();
    let info = BuildInfo {
        audio: "a.wav",
        duration: 5.0,
        model: "m",
        output_range: OutputRange::UNIT,
        categories: &[],
        config: &config,
        speech: &[Span::new(0.0, 5.0)],
        transcript: None,
        labels: LabelStyle::default(),
        no_speech: &[],
        turns: None,
    };
    let doc = Annotation::build(vec![entry(0.0, 0.25), entry(1.0, 1.41)], &info);
    let flags: Vec<bool> = doc.timeline.iter().map(|r| r.out_of_range).collect();
    assert_eq!(flags, [false, true]);
    assert_eq!(doc.timeline[1].emotion.valence, 1.41);
    // The segment 0..5 overlaps both windows fully (4 s each): (0.25 + 1.41) / 2 = 0.83.
    assert!((doc.segments[0].emotion.valence - 0.83).abs() < 1e-6);
    assert!(!doc.segments[0].out_of_range);
    let json = doc.to_json();
    assert!(json.contains("\"out_of_range\": true"), "{json}");
    assert_eq!(Annotation::from_json(&json).unwrap(), doc);
    let csv = String::from_utf8(render(ExportFormat::Csv, &doc)[0].bytes.clone()).unwrap();
    assert!(
        csv.lines().nth(2).unwrap().ends_with(",1.41,0.5,,m,true"),
        "{csv}"
    );
    let seg = Annotation::build_with_segment_readings(
        vec![entry(0.0, 0.25)],
        &info,
        &[Emotion::new(0.5, 1.41, 0.5)],
    );
    assert!(seg.segments[0].out_of_range);
    assert_eq!(seg.segments[0].label, "A.50 V1.41 D.50");
}

/// The document's JSON is byte for byte what it was when readings and
/// segments were flat structs and ranges and stretches plain arrays: the
/// reference is that layout, declared here as it was, filled with the same
/// values and written by the same serializer.
#[test]
fn json_bytes_keep_the_flat_layout() {
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    struct FlatDocument {
        format: String,
        audio: String,
        duration: f64,
        model: String,
        output_range: [f32; 2],
        window_seconds: f64,
        hop_seconds: f64,
        smoothing_seconds: f64,
        timeline: Vec<FlatReading>,
        segments: Vec<FlatSegment>,
        markers: Vec<Marker>,
        transcript: Vec<TranscriptSegment>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        no_speech: Vec<[f64; 2]>,
    }
    #[derive(Serialize, Deserialize)]
    struct FlatReading {
        start: f64,
        end: f64,
        arousal: f32,
        valence: f32,
        dominance: f32,
        text: String,
        model_id: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        out_of_range: bool,
    }
    #[derive(Serialize, Deserialize)]
    struct FlatSegment {
        start: f64,
        end: f64,
        arousal: f32,
        valence: f32,
        dominance: f32,
        label: String,
        text: String,
        source: SegmentSource,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        out_of_range: bool,
    }

    let mut d = doc();
    d.output_range = OutputRange::new(-1.0, 1.5);
    d.timeline[1].out_of_range = true;
    d.segments[1].out_of_range = true;
    d.no_speech = vec![Span::new(4.0, 4.5), Span::new(5.0, 5.25)];
    let flat = FlatDocument {
        format: d.format.clone(),
        audio: d.audio.clone(),
        duration: d.duration,
        model: d.model.clone(),
        output_range: [d.output_range.min, d.output_range.max],
        window_seconds: d.window_seconds,
        hop_seconds: d.hop_seconds,
        smoothing_seconds: d.smoothing_seconds,
        timeline: d
            .timeline
            .iter()
            .map(|r| FlatReading {
                start: r.span.start,
                end: r.span.end,
                arousal: r.emotion.arousal,
                valence: r.emotion.valence,
                dominance: r.emotion.dominance,
                text: r.text.clone(),
                model_id: r.model_id.clone(),
                out_of_range: r.out_of_range,
            })
            .collect(),
        segments: d
            .segments
            .iter()
            .map(|s| FlatSegment {
                start: s.span.start,
                end: s.span.end,
                arousal: s.emotion.arousal,
                valence: s.emotion.valence,
                dominance: s.emotion.dominance,
                label: s.label.clone(),
                text: s.text.clone(),
                source: s.source,
                out_of_range: s.out_of_range,
            })
            .collect(),
        markers: d.markers.clone(),
        transcript: d.transcript.clone(),
        no_speech: d.no_speech.iter().map(|s| [s.start, s.end]).collect(),
    };
    let flat_json = serde_json::to_string_pretty(&flat).unwrap();
    assert_eq!(d.to_json(), flat_json);
    assert!(
        flat_json.contains("\"no_speech\": [\n    [\n      4.0,"),
        "{flat_json}"
    );
    // And a document written in that layout reads back as the same values.
    assert_eq!(Annotation::from_json(&flat_json).unwrap(), d);
}
