#!/usr/bin/env python3
"""Opens every file `emoscope annotate` exported for a conversation (speaker
turns known) with readers written independently of Emoscope (textgrid,
pympi-ling, mido, webvtt-py from PyPI; Python's csv for the CSV and label
formats) and checks that each speaker has their own tiers, layers, channel,
voice and labels, holding exactly that speaker's segments and readings of the
annotation JSON of the same run.

usage: check_speaker_exports.py <out-dir> <stem>

The JSON itself (readings, segments and markers per speaker) is checked by the
Rust test that runs this (tests/speakers_cli.rs). Prints one line per check and
`N passed, M failed`; exits 1 on any failure.
"""

import csv
import html
import json
import re
import sys
from pathlib import Path

import mido
import textgrid
import webvtt
from pympi.Elan import Eaf

# The checks' bookkeeping and the shared conversions, from the checker of the
# single-speaker exports (same directory).
from check_exports import FAILED, PASSED, cc7, check, close, f32, vtt_seconds  # noqa: E402


def centre(r):
    return (r["start"] + r["end"]) / 2


def main(out, stem):
    base = Path(out) / stem
    doc = json.loads(Path(str(base) + ".json").read_text())
    segs, marks, tl = doc["segments"], doc["markers"], doc["timeline"]
    lo, hi = doc["output_range"]
    names = [s["speaker"] for s in doc["speakers"]]
    check("json names two or more speakers", len(names) >= 2, str(names))
    check(
        "json: every reading, segment and marker names a speaker",
        all(x.get("speaker") in names for x in tl + segs + marks),
    )
    of = {n: ([s for s in segs if s["speaker"] == n], [r for r in tl if r["speaker"] == n]) for n in names}
    words = {n: sorted((w for s in doc["transcript"] if s.get("speaker") == n for w in s["words"]), key=lambda w: w["start"]) for n in names}
    for n in names:
        check(f"json: {n} has segments and readings", len(of[n][0]) > 0 and len(of[n][1]) > 0)

    # Praat TextGrid (textgrid package): segments@, arousal@, ... per speaker.
    tg = textgrid.TextGrid()
    tg.read(str(base) + ".TextGrid", round_digits=15)
    tiers = {t.name: t for t in tg.tiers}
    want_names = [f"{t}@{n}" for n in names for t in ("segments", "arousal", "valence", "dominance")]
    want_names += [f"words@{n}" for n in names if words[n]]
    check("TextGrid tier names", sorted(tiers) == sorted(want_names), str(sorted(tiers)))
    for n in names:
        mine, readings = of[n]
        got = [(float(i.minTime), float(i.maxTime), i.mark) for i in tiers[f"segments@{n}"] if i.mark]
        want = [(s["start"], s["end"], s["label"]) for s in mine]
        check(
            f"TextGrid segments@{n}",
            len(got) == len(want) and all(close(g[0], w[0], 1e-9) and close(g[1], w[1], 1e-9) and g[2] == w[2] for g, w in zip(got, want)),
            f"{got[:3]} vs {want[:3]}",
        )
        if words[n]:
            got = [i.mark for i in tiers[f"words@{n}"] if i.mark]
            check(f"TextGrid words@{n}", got == [w["text"] for w in words[n]], f"{got[:4]}")
        for dim in ("arousal", "valence", "dominance"):
            pts = [(float(p.time), float(p.mark)) for p in tiers[f"{dim}@{n}"]]
            want = [(centre(r), r[dim]) for r in readings]
            check(
                f"TextGrid {dim}@{n}",
                len(pts) == len(want) and all(close(p[0], w[0], 1e-9) and close(p[1], w[1], 5.001e-5) for p, w in zip(pts, want)),
                f"{pts[:3]} vs {want[:3]}",
            )

    # ELAN EAF (pympi-ling): the same tiers, each with its PARTICIPANT.
    eaf = Eaf(str(base) + ".eaf")
    check("EAF tier names", sorted(eaf.get_tier_names()) == sorted(want_names), str(sorted(eaf.get_tier_names())))
    for n in names:
        mine, readings = of[n]
        for t in ("segments", "arousal", "valence", "dominance"):
            p = eaf.get_parameters_for_tier(f"{t}@{n}")
            check(f"EAF {t}@{n} PARTICIPANT", p.get("PARTICIPANT") == n, str(p))
        got = sorted(eaf.get_annotation_data_for_tier(f"segments@{n}"))
        want = [(round(s["start"] * 1000), round(s["end"] * 1000), s["label"]) for s in mine]
        check(f"EAF segments@{n}", [tuple(g[:3]) for g in got] == want, f"{got[:3]} vs {want[:3]}")
        if words[n]:
            got = [g[2] for g in sorted(eaf.get_annotation_data_for_tier(f"words@{n}"))]
            check(f"EAF words@{n}", got == [w["text"] for w in words[n]], f"{got[:4]}")
        for dim in ("arousal", "valence", "dominance"):
            got = sorted(eaf.get_annotation_data_for_tier(f"{dim}@{n}"))
            inside = all(g[0] <= round(centre(r) * 1000) <= g[1] for g, r in zip(got, readings))
            values = all(close(g[2], r[dim], 5.001e-5) for g, r in zip(got, readings))
            # A speaker's cells never reach into the time between their turns:
            # each lies within the span of the readings it stands for.
            within = all(g[0] >= round(r["start"] * 1000) and g[1] <= round(r["end"] * 1000) for g, r in zip(got, readings))
            check(f"EAF {dim}@{n}", len(got) == len(readings) and inside and values and within, f"{got[:3]}")

    # Standard MIDI File (mido): conductor, then one track per speaker on channel k + 1.
    mid = mido.MidiFile(str(base) + ".mid")
    check("MIDI a track per speaker", mid.type == 1 and len(mid.tracks) == 1 + len(names), str(len(mid.tracks)))
    events = []
    for track in mid.tracks[:1]:
        t = 0
        for msg in track:
            t += msg.time
            events.append((t, msg))
    got = [(t, m.text) for t, m in events if m.type == "marker"]
    want = []
    for s in segs:
        want += [(round(s["start"] * 960), f"{s['speaker']}: {s['label']}"), (round(s["end"] * 960), f"{s['speaker']}: end")]
    check("MIDI markers name their speaker", sorted(got) == sorted(want), f"{got[:4]} vs {want[:4]}")
    for k, n in enumerate(names):
        track = mid.tracks[1 + k]
        title = [m.name for m in track if m.type == "track_name"]
        check(f"MIDI track {k + 2} is {n}'s", title == [f"{n}: arousal valence dominance CC"], str(title))
        t, ccs = 0, []
        for msg in track:
            t += msg.time
            if msg.type == "control_change":
                ccs.append((t, msg.channel, msg.control, msg.value))
        for cc, dim in zip((20, 21, 22), ("arousal", "valence", "dominance")):
            got = [(t, v) for t, ch, c, v in ccs if c == cc]
            want = [(round(centre(r) * 960), cc7(r[dim], lo, hi)) for r in of[n][1]]
            check(f"MIDI {n} CC{cc} ({dim})", got == want, f"{got[:4]} vs {want[:4]}")
        check(f"MIDI {n} on channel {k + 1}", {ch for _, ch, _, _ in ccs} == {k}, str({ch for _, ch, _, _ in ccs}))

    # WebVTT (webvtt-py): a cue per segment, with its speaker's voice.
    caps = list(webvtt.read(str(base) + ".vtt"))
    got = [(vtt_seconds(c.start), vtt_seconds(c.end), c.voice, html.unescape(c.text)) for c in caps]
    # Times to the millisecond: within half of one of the exact times.
    want = [(s["start"], s["end"], s["speaker"], s["label"]) for s in segs]
    check(
        "WebVTT cues keep <v speaker>",
        len(got) == len(want) and all(close(g[0], w[0], 5.001e-4) and close(g[1], w[1], 5.001e-4) and g[2:] == w[2:] for g, w in zip(got, want)),
        f"{got[:3]} vs {want[:3]}",
    )

    # Audacity labels: `speaker: label`.
    rows = list(csv.reader(open(str(base) + ".txt", newline=""), delimiter="\t"))
    want = sorted(
        [(s["start"], f"{s['speaker']}: {s['label']}") for s in segs]
        + [(m["time"], f"{m['speaker']}: {m['label']}") for m in marks]
        + [(a, "no speech") for a, _ in doc.get("no_speech", [])],
        key=lambda r: r[0],
    )
    check(
        "Audacity labels name their speaker",
        sorted((round(float(r[0]), 6), r[2]) for r in rows) == sorted((round(w[0], 6), w[1]) for w in want),
        f"{rows[:3]} vs {want[:3]}",
    )

    # REAPER regions and markers: `speaker: label`.
    rows = list(csv.reader(open(str(base) + ".reaper.csv", newline="")))
    regions = [r for r in rows[1:] if r[0].startswith("R")]
    markers = [r for r in rows[1:] if r[0].startswith("M")]
    check(
        "REAPER regions name their speaker",
        len(regions) == len(segs) and all(r[1] == f"{s['speaker']}: {s['label']}" and close(r[2], s["start"], 5e-7) for r, s in zip(regions, segs)),
        f"{regions[:2]}",
    )
    check(
        "REAPER markers name their speaker",
        len(markers) == len(marks) and all(r[1] == f"{m['speaker']}: {m['label']}" and close(r[2], m["time"], 5e-7) for r, m in zip(markers, marks)),
        f"{markers[:2]}",
    )

    # Sonic Visualiser: everyone's layers (labels name the speaker) and each speaker's own.
    for dim in ("arousal", "valence", "dominance"):
        rows = list(csv.DictReader(open(f"{base}.sv-{dim}.csv", newline="")))
        check(
            f"Sonic Visualiser {dim} layer (everyone)",
            len(rows) == len(tl) and all(float(r["VALUE"]) == t[dim] and r["LABEL"] == f"{t['speaker']}: {dim} {t[dim]:.4f}" for r, t in zip(rows, tl)),
            f"{rows[:2]}",
        )
    for n in names:
        slug = re.sub(r"[^A-Za-z0-9_-]", "_", n)
        mine, readings = of[n]
        for dim in ("arousal", "valence", "dominance"):
            rows = list(csv.DictReader(open(f"{base}.sv-{slug}-{dim}.csv", newline="")))
            check(
                f"Sonic Visualiser {n} {dim} layer",
                len(rows) == len(readings)
                and all(close(r["TIME"], centre(t), 5e-7) and float(r["VALUE"]) == t[dim] for r, t in zip(rows, readings)),
                f"{rows[:2]}",
            )
        rows = list(csv.DictReader(open(f"{base}.sv-{slug}-segments.csv", newline="")))
        check(
            f"Sonic Visualiser {n} region layer",
            len(rows) == len(mine)
            and all(close(r["TIME"], s["start"], 5e-7) and close(r["DURATION"], s["end"] - s["start"], 1e-6) and r["LABEL"] == f"{n}: {s['label']}" for r, s in zip(rows, mine)),
            f"{rows[:2]}",
        )

    # Timeline CSV: the speaker column, row for row.
    rows = list(csv.DictReader(open(str(base) + ".csv", newline="")))
    check(
        "timeline CSV speaker column",
        len(rows) == len(tl) and all(r["speaker"] == t["speaker"] and r["overlap"] == str(t.get("overlap", False)).lower() for r, t in zip(rows, tl)),
        f"{rows[:2]}",
    )

    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
