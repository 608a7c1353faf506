#!/usr/bin/env python3
"""Opens the SubRip, WebVTT and TextGrid files `emoscope transcribe` wrote for
one recording with readers written independently of Emoscope (srt, webvtt-py
and textgrid from PyPI) and compares their times and texts with the
openai-whisper JSON of the same recording, read with Python's json.

usage: check_transcripts.py <json> <srt> <vtt> <TextGrid>

Every time `transcribe` writes is a whole number of milliseconds, which the
subtitle formats hold exactly; the TextGrid drops words of no length (Praat has
no such intervals) and starts a word that overlaps the previous one at its end.
Prints one line per check and `N passed, M failed`; exits 1 on any failure.
"""

import html
import json
import sys

import srt
import textgrid
import webvtt

PASSED, FAILED = [], []


def check(name, ok, detail=""):
    (PASSED if ok else FAILED).append(name)
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))


def same(got, want, tol):
    return len(got) == len(want) and all(
        abs(g[0] - w[0]) <= tol and abs(g[1] - w[1]) <= tol and g[2] == w[2] for g, w in zip(got, want)
    )


def vtt_seconds(stamp):
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def tier_items(tier):
    return [(float(i.minTime), float(i.maxTime), i.mark) for i in tier if i.mark]


def main(json_path, srt_path, vtt_path, grid_path):
    doc = json.load(open(json_path, encoding="utf-8"))
    segs = [(s["start"], s["end"], s["text"].strip()) for s in doc["segments"]]
    check("json has text, language and segments", doc["language"] and doc["text"].strip() and segs)

    cues = list(srt.parse(open(srt_path, encoding="utf-8").read()))
    got = [(c.start.total_seconds(), c.end.total_seconds(), c.content) for c in cues]
    check("SubRip cues (srt)", same(got, segs, 1e-9), f"{got[:2]} vs {segs[:2]}")
    check("SubRip cue numbers", [c.index for c in cues] == list(range(1, len(cues) + 1)))

    caps = list(webvtt.read(vtt_path))
    got = [(vtt_seconds(c.start), vtt_seconds(c.end), html.unescape(c.text)) for c in caps]
    check("WebVTT cues (webvtt-py)", same(got, segs, 1e-9), f"{got[:2]} vs {segs[:2]}")

    tg = textgrid.TextGrid()
    tg.read(grid_path, round_digits=15)  # the default rounds times to 5 digits
    tiers = {t.name: t for t in tg.tiers}
    got = tier_items(tiers["segments"])
    check("TextGrid segments tier (textgrid)", same(got, segs, 0.0), f"{got[:2]} vs {segs[:2]}")
    # Whisper's word entries as words: an entry without a leading space
    # continues the word before ("old" + "-sposed"), spanning both.
    joined = []
    for s in doc["segments"]:
        for k, w in enumerate(s["words"]):
            if k > 0 and joined and not w["word"].startswith(" "):
                start, end, text = joined[-1]
                joined[-1] = (start, max(end, w["end"]), text + w["word"].strip())
            else:
                joined.append((w["start"], w["end"], w["word"].strip()))
    words, t = [], 0.0
    for w_start, w_end, text in joined:
        start = max(w_start, t)
        if w_end > start:
            words.append((start, w_end, text))
            t = w_end
    got = tier_items(tiers["words"])
    check("TextGrid words tier (textgrid)", same(got, words, 0.0), f"{got[:3]} vs {words[:3]}")
    for name in ("segments", "words"):
        items = list(tiers[name])
        check(
            f"TextGrid {name} tier covers the recording",
            items[0].minTime == 0
            and all(a.maxTime == b.minTime for a, b in zip(items, items[1:]))
            and items[-1].maxTime == tg.maxTime,
        )

    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
