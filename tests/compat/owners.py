#!/usr/bin/env python3
"""Expected cues for the transcript compatibility suite (tests/transcript_compat.rs).

Downloads the pinned source distributions of five projects that ship subtitle or
annotation parsers, extracts the test files they ship, parses each file with the
project's own parser (the "owner"), and writes what the owner read as JSON:

    <out>/files/<package>/<path inside the sdist>    the test files
    <out>/expected.json                               one record per file

Nothing is copied into the repository: the files are fetched into <out> (by default
target/transcript-compat), and fetching is skipped when the sdists are already there.

The owners run from the extracted sdists themselves (pure Python, on sys.path), so
the parser that judges a file is exactly the pinned version. webvtt-py and pympi-ling
have no dependencies; praatio 6.2.2 needs `typing_extensions` only on old Pythons.

Usage: python3 tests/compat/owners.py [--out DIR]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile

PINNED = [
    ("praatio", "6.2.2"),
    ("pympi-ling", "1.71"),
    ("webvtt-py", "0.6.0"),
    ("srt", "3.5.3"),
    ("pysrt", "1.1.2"),
]

EXTENSIONS = (".srt", ".vtt", ".textgrid", ".eaf")

# Encodings the owners' own tests pass for files that are neither UTF-8 nor marked
# with a byte-order mark (pysrt's tests/test_srtfile.py, srt's
# srt_tools/tests/test_srt_tools.py). Our reader has to detect these itself.
DECLARED_ENCODING = {
    "windows-1252.srt": "windows-1252",
    "gb2312.srt": "gb2312",
}

# Tags the Rust readers remove from SubRip text: `<` followed by a letter or `/`, up to
# `>`, and ASS override blocks `{\...}` (src/transcript/markup.rs). The owners keep
# tags in the text they return (pysrt's `text`, srt's `content`); removing the same
# tags here compares the words, not the markup.
SRT_TAG = re.compile(r"<[A-Za-z/][^>]*>|\{\\[^}]*\}")


# Character references the Rust WebVTT reader decodes (src/transcript/vtt.rs); webvtt-py
# 0.6.0 leaves them as written in `text`.
VTT_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&nbsp;": "\u00a0",
                "&lrm;": "\u200e", "&rlm;": "\u200f", "&quot;": '"', "&apos;": "'"}
VTT_ENTITY = re.compile("|".join(map(re.escape, VTT_ENTITIES)))


def sdist_name(name, version):
    base = {"pympi-ling": "pympi_ling", "webvtt-py": "webvtt_py"}.get(name, name)
    return f"{base}-{version}"


def fetch(out):
    sdists = os.path.join(out, "sdists")
    os.makedirs(sdists, exist_ok=True)
    roots = {}
    for name, version in PINNED:
        stem = sdist_name(name, version)
        archive = os.path.join(sdists, stem + ".tar.gz")
        if not os.path.exists(archive):
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", ":all:", f"{name}=={version}", "-d", sdists],
                check=True,
            )
        root = os.path.join(out, "files", stem)
        if not os.path.isdir(root):
            with tarfile.open(archive) as tar:
                tar.extractall(os.path.join(out, "files"), filter="data")
        roots[name] = root
    return roots


def srt_text(text):
    return " ".join(SRT_TAG.sub("", text).split())


def cue(start, end, text):
    return {"start": float(start), "end": float(end), "text": " ".join(text.split())}


def read_pysrt(path):
    import pysrt

    enc = DECLARED_ENCODING.get(os.path.basename(path))
    subs = pysrt.open(path, encoding=enc, error_handling=pysrt.ERROR_RAISE)
    return {"cues": [cue(s.start.ordinal / 1000, s.end.ordinal / 1000, srt_text(s.text))
                     for s in subs]}


def read_srt(path):
    import srt

    enc = DECLARED_ENCODING.get(os.path.basename(path), "utf-8-sig")
    with open(path, encoding=enc) as f:
        subs = list(srt.parse(f.read()))
    return {"cues": [cue(s.start.total_seconds(), s.end.total_seconds(), srt_text(s.content))
                     for s in subs]}


def read_webvtt(path):
    import webvtt

    if path.lower().endswith(".srt"):
        captions = webvtt.from_srt(path)
    else:
        captions = webvtt.read(path)
    return {"cues": [cue(c.start_in_seconds + (c.start_time.milliseconds / 1000),
                         c.end_in_seconds + (c.end_time.milliseconds / 1000),
                         VTT_ENTITY.sub(lambda m: VTT_ENTITIES[m.group(0)], c.text))
                     for c in captions]}


def read_praatio(path):
    from praatio import textgrid

    tg = textgrid.openTextgrid(path, includeEmptyIntervals=True)
    tiers = []
    for tier in tg.tiers:
        entries = []
        for e in tier.entries:
            if len(e) == 3:
                entries.append(cue(e[0], e[1], e[2]))
            else:
                entries.append(cue(e[0], e[0], e[1]))
        tiers.append({"name": tier.name, "cues": entries})
    return {"tiers": tiers}


def read_pympi(path):
    import pympi

    eaf = pympi.Elan.Eaf(path)
    tiers = []
    for name in eaf.get_tier_names():
        entries = []
        for a in eaf.get_annotation_data_for_tier(name):
            start, end, value = a[0], a[1], a[2]
            if start is None or end is None:
                # An annotation on unaligned slots: pympi gives no time, ELAN
                # interpolates. Compared on text only.
                entries.append({"start": None, "end": None, "text": " ".join(value.split())})
            else:
                entries.append(cue(start / 1000, end / 1000, value))
        tiers.append({"name": name, "cues": entries})
    return {"tiers": tiers}


OWNERS = {
    "praatio": ("praatio 6.2.2", read_praatio),
    "pympi-ling": ("pympi-ling 1.71", read_pympi),
    "webvtt-py": ("webvtt-py 0.6.0", read_webvtt),
    "srt": ("srt 3.5.3", read_srt),
    "pysrt": ("pysrt 1.1.2", read_pysrt),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "..", "target", "transcript-compat")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=default_out)
    out = os.path.abspath(ap.parse_args().out)
    roots = fetch(out)
    # The owners run from their own sdists.
    sys.path[:0] = [roots[n] for n in ("praatio", "srt", "pysrt", "webvtt-py", "pympi-ling")]
    records = []
    for name, root in roots.items():
        owner, read = OWNERS[name]
        for dirpath, _, files in sorted(os.walk(root)):
            for f in sorted(files):
                if not f.lower().endswith(EXTENSIONS):
                    continue
                path = os.path.join(dirpath, f)
                record = {"file": os.path.relpath(path, os.path.join(out, "files")), "owner": owner}
                try:
                    record.update(read(path))
                    record["status"] = "read"
                except Exception as e:  # the owner refuses the file
                    record["status"] = "rejected"
                    record["error"] = f"{type(e).__name__}: {e}"[:300]
                records.append(record)
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"pinned": [f"{n}=={v}" for n, v in PINNED], "files": records}, f,
                  indent=1, ensure_ascii=False)
    read_count = sum(r["status"] == "read" for r in records)
    print(f"{len(records)} files, {read_count} read by their owner -> {out}/expected.json")


if __name__ == "__main__":
    main()
