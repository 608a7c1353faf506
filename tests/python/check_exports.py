#!/usr/bin/env python3
"""Opens every file `emoscope annotate` exported for one input with readers
written independently of Emoscope (textgrid, pympi-ling, mido, webvtt-py from
PyPI; Python's csv for the CSV and label formats) and compares their times,
labels and values with the annotation JSON of the same run.

usage: check_exports.py <out-dir> <stem>

The JSON itself is checked against the engine by the Rust test that runs this.
Prints one line per check and `N passed, M failed`; exits 1 on any failure.
"""

import csv
import html
import json
import math
import struct
import sys
from pathlib import Path

import mido
import textgrid
import webvtt
from pympi.Elan import Eaf

PASSED, FAILED = [], []


def check(name, ok, detail=""):
    (PASSED if ok else FAILED).append(name)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))


def close(a, b, tol):
    return abs(float(a) - float(b)) <= tol


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def cc7(value, lo, hi):
    """emoscope::cc::to_cc7(normalise(value, (lo, hi))) with f32 arithmetic."""
    t = f32(f32(f32(value) - f32(lo)) / f32(f32(hi) - f32(lo)))
    t = 0.5 if math.isnan(t) else min(max(t, 0.0), 1.0)
    return int(math.floor(f32(t * 127.0) + 0.5))


def vtt_seconds(stamp):
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def main(out, stem):
    base = Path(out) / stem
    doc = json.loads(Path(str(base) + ".json").read_text())
    segs, marks, tl = doc["segments"], doc["markers"], doc["timeline"]
    lo, hi = doc["output_range"]
    words = [w for s in doc["transcript"] for w in s["words"]]
    check("json has segments, markers and a timeline", len(segs) > 0 and len(marks) > 0 and len(tl) > 0)

    # Praat TextGrid (textgrid package).
    tg = textgrid.TextGrid()
    tg.read(str(base) + ".TextGrid", round_digits=15)  # the default rounds times to 5 digits
    tiers = {t.name: t for t in tg.tiers}
    got = [(float(i.minTime), float(i.maxTime), i.mark) for i in tiers["segments"] if i.mark]
    want = [(s["start"], s["end"], s["label"]) for s in segs]
    check(
        "TextGrid segments tier",
        len(got) == len(want) and all(close(g[0], w[0], 1e-9) and close(g[1], w[1], 1e-9) and g[2] == w[2] for g, w in zip(got, want)),
        f"{got[:3]} vs {want[:3]}",
    )
    intervals = list(tiers["segments"])
    check(
        "TextGrid segments tier covers the file without gaps",
        close(intervals[0].minTime, 0, 1e-12)
        and all(close(a.maxTime, b.minTime, 1e-12) for a, b in zip(intervals, intervals[1:]))
        and close(intervals[-1].maxTime, tg.maxTime, 1e-12),
    )
    for dim in ("arousal", "valence", "dominance"):
        pts = [(float(p.time), float(p.mark)) for p in tiers[dim]]
        want = [((r["start"] + r["end"]) / 2, r[dim]) for r in tl]
        check(
            f"TextGrid {dim} point tier",
            len(pts) == len(want) and all(close(p[0], w[0], 1e-9) and close(p[1], w[1], 5.001e-5) for p, w in zip(pts, want)),
            f"{pts[:3]} vs {want[:3]}",
        )
    if words:
        got = [(float(i.minTime), float(i.maxTime), i.mark) for i in tiers["words"] if i.mark]
        check("TextGrid words tier", [g[2] for g in got] == [w["text"] for w in words], f"{got[:4]}")

    # ELAN EAF (pympi-ling).
    eaf = Eaf(str(base) + ".eaf")
    got = sorted(eaf.get_annotation_data_for_tier("segments"))
    want = [(round(s["start"] * 1000), round(s["end"] * 1000), s["label"]) for s in segs]
    check("EAF segments tier", [tuple(g[:3]) for g in got] == want, f"{got[:3]} vs {want[:3]}")
    for dim in ("arousal", "valence", "dominance"):
        got = sorted(eaf.get_annotation_data_for_tier(dim))
        centres_inside = all(g[0] <= round((r["start"] + r["end"]) / 2 * 1000) <= g[1] for g, r in zip(got, tl))
        values = all(close(g[2], r[dim], 5.001e-5) for g, r in zip(got, tl))
        check(f"EAF {dim} tier", len(got) == len(tl) and centres_inside and values, f"{got[:3]}")
    if words:
        got = sorted(eaf.get_annotation_data_for_tier("words"))
        check("EAF words tier", [g[2] for g in got] == [w["text"] for w in words], f"{got[:4]}")

    # Standard MIDI File (mido).
    mid = mido.MidiFile(str(base) + ".mid")
    check("MIDI 480 PPQ, format 1, two tracks", mid.ticks_per_beat == 480 and mid.type == 1 and len(mid.tracks) == 2)
    events = []
    for track in mid.tracks:
        t = 0
        for msg in track:
            t += msg.time
            events.append((t, msg))
    tempos = [m.tempo for _, m in events if m.type == "set_tempo"]
    check("MIDI tempo 120 BPM", tempos == [500000], str(tempos))
    got = [(t, m.text) for t, m in events if m.type == "marker"]
    want = []
    for s in segs:
        want += [(round(s["start"] * 960), s["label"]), (round(s["end"] * 960), "end")]
    check("MIDI markers at segment boundaries", sorted(got) == sorted(want), f"{got[:4]} vs {want[:4]}")
    for cc, dim in zip((20, 21, 22), ("arousal", "valence", "dominance")):
        got = [(t, m.value) for t, m in events if m.type == "control_change" and m.control == cc and m.channel == 0]
        want = [(round((r["start"] + r["end"]) / 2 * 960), cc7(r[dim], lo, hi)) for r in tl]
        check(f"MIDI CC{cc} ({dim})", got == want, f"{got[:4]} vs {want[:4]}")

    # WebVTT (webvtt-py).
    caps = list(webvtt.read(str(base) + ".vtt"))
    got = [(vtt_seconds(c.start), vtt_seconds(c.end), html.unescape(c.text)) for c in caps]
    want = [(round(s["start"], 3), round(s["end"], 3), s["label"]) for s in segs]
    check(
        "WebVTT cues",
        len(got) == len(want) and all(close(g[0], w[0], 5e-4) and close(g[1], w[1], 5e-4) and g[2] == w[2] for g, w in zip(got, want)),
        f"{got[:3]} vs {want[:3]}",
    )

    # Audacity labels (TAB-separated).
    rows = list(csv.reader(open(str(base) + ".txt", newline=""), delimiter="\t"))
    gaps = [(a, b, "no speech") for a, b in doc.get("no_speech", [])]
    want = sorted([(s["start"], s["end"], s["label"]) for s in segs] + [(m["time"], m["time"], m["label"]) for m in marks] + gaps, key=lambda r: r[0])
    check(
        "Audacity labels",
        len(rows) == len(want)
        and all(close(r[0], w[0], 5e-7) and close(r[1], w[1], 5e-7) and r[2] == w[2] and len(r[0].split(".")[1]) == 6 for r, w in zip(rows, want)),
        f"{rows[:3]} vs {want[:3]}",
    )

    # REAPER region/marker CSV.
    rows = list(csv.reader(open(str(base) + ".reaper.csv", newline="")))
    regions = [r for r in rows[1:] if r[0].startswith("R")]
    markers = [r for r in rows[1:] if r[0].startswith("M")]
    check("REAPER header", rows[0] == ["#", "Name", "Start", "End", "Length"], str(rows[0]))
    check(
        "REAPER regions",
        [r[0] for r in regions] == [f"R{i + 1}" for i in range(len(segs))]
        and all(r[1] == s["label"] and close(r[2], s["start"], 5e-7) and close(r[3], s["end"], 5e-7) and close(r[4], s["end"] - s["start"], 1e-6) for r, s in zip(regions, segs)),
        f"{regions[:2]}",
    )
    check(
        "REAPER markers",
        [r[0] for r in markers] == [f"M{i + 1}" for i in range(len(marks))]
        and all(r[1] == m["label"] and close(r[2], m["time"], 5e-7) and r[3] == "" and r[4] == "" for r, m in zip(markers, marks)),
        f"{markers[:2]}",
    )

    # Sonic Visualiser layers.
    for dim in ("arousal", "valence", "dominance"):
        rows = list(csv.DictReader(open(f"{base}.sv-{dim}.csv", newline="")))
        check(
            f"Sonic Visualiser {dim} layer",
            len(rows) == len(tl) and all(close(r["TIME"], (t["start"] + t["end"]) / 2, 5e-7) and float(r["VALUE"]) == t[dim] for r, t in zip(rows, tl)),
            f"{rows[:2]}",
        )
    rows = list(csv.DictReader(open(f"{base}.sv-segments.csv", newline="")))
    check(
        "Sonic Visualiser region layer",
        list(rows[0].keys()) == ["TIME", "VALUE", "DURATION", "LABEL"]
        and len(rows) == len(segs)
        and all(close(r["TIME"], s["start"], 5e-7) and close(r["DURATION"], s["end"] - s["start"], 1e-6) and r["LABEL"] == s["label"] for r, s in zip(rows, segs)),
        f"{rows[:2]}",
    )

    # Timeline CSV.
    rows = list(csv.DictReader(open(str(base) + ".csv", newline="")))
    check(
        "timeline CSV",
        len(rows) == len(tl)
        and all(float(r["start"]) == t["start"] and float(r["end"]) == t["end"] and all(float(r[d]) == t[d] for d in ("arousal", "valence", "dominance")) and r["text"] == t["text"] and r["model_id"] == t["model_id"] for r, t in zip(rows, tl)),
        f"{rows[:2]}",
    )

    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
