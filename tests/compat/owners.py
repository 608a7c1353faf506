#!/usr/bin/env python3
"""Expected cues for the transcript compatibility suite (tests/transcript_compat.rs).

Downloads the pinned source distributions of five projects that ship subtitle or
annotation parsers, extracts the test files they ship, writes the documents their
test modules hold inline (see `inline_documents` and `srt_generated`), parses each
file with the project's own parser (the "owner"), and writes what the owner read as
JSON; a SubRip file's record also holds what the other pinned SubRip parsers read
("peers"). It also runs the writers of openai-whisper and WhisperX (their
`utils.py`, which needs no model) on a few results and judges each file they write
with the format's parser:

    <out>/files/<package>/<path inside the sdist>    the test files
    <out>/files/<package>/inline/<module>.<test>_<n>.<ext>
                                                      the inline test inputs
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
import shutil
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

# Speech-to-text tools whose writers (`utils.py`, pure Python, no model needed) produce
# the sidecars people actually have. Their files are written here from the results in
# WRITER_RESULTS and judged by the format's parser: srt 3.5.3 for .srt, webvtt-py 0.6.0
# for .vtt; .json and WhisperX's Audacity labels by the result that was written.
WRITERS = [
    ("openai-whisper", "20250625", "whisper"),
    ("whisperx", "3.8.6", "whisperx"),
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
    base = {"pympi-ling": "pympi_ling", "webvtt-py": "webvtt_py",
            "openai-whisper": "openai_whisper"}.get(name, name)
    return f"{base}-{version}"


def fetch(out):
    sdists = os.path.join(out, "sdists")
    os.makedirs(sdists, exist_ok=True)
    roots = {}
    for name, version in PINNED + [(n, v) for n, v, _ in WRITERS]:
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
                try:
                    tar.extractall(os.path.join(out, "files"), filter="data")
                except TypeError:  # Python without extraction filters (before 3.8.17)
                    tar.extractall(os.path.join(out, "files"))
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
    """pympi's annotations per tier, with ELAN's times for symbolic subdivisions.

    `get_annotation_data_for_tier` gives every reference annotation the span of
    its aligned ancestor: the words of a `Symbolic_Subdivision` tier all span
    the whole utterance. ELAN divides that span evenly among them, and pympi's
    own `get_annotation_data_for_symbsub_tier` does the same (whole
    milliseconds), but drops the last parent's children (its loop stops one
    short). So: a subdivision of an aligned tier takes pympi's divided times
    where that helper gives them (checked against the annotation's text), no
    time where it does not (compared on text only); an annotation referring to
    a divided one takes its time (ELAN's `Symbolic_Association`).
    """
    import pympi

    eaf = pympi.Elan.Eaf(path)
    divided = {}  # annotation id -> (start, end) in ms, from pympi's division
    undivided = set()  # children of a subdivision that pympi's helper drops
    for name in eaf.get_tier_names():
        refs, attrs = eaf.tiers[name][1], eaf.tiers[name][2]
        ltype = eaf.linguistic_types.get(attrs.get("LINGUISTIC_TYPE_REF"), {})
        if not refs or ltype.get("CONSTRAINTS") != "Symbolic_Subdivision":
            continue
        parent = attrs.get("PARENT_REF")
        if parent in eaf.tiers and not eaf.tiers[parent][1]:  # parent tier aligned
            bucket = eaf.get_annotation_data_for_symbsub_tier(name)
        else:
            bucket = []  # pympi divides the aligned ancestor's span: no time
        for k, aid in enumerate(refs):
            if k < len(bucket) and bucket[k][2] == refs[aid][1]:
                divided[aid] = bucket[k][:2]
            else:
                undivided.add(aid)

    def times(aid):
        """The divided time of `aid` or of the annotation it refers to."""
        seen = 0
        while seen < 100:
            if aid in divided:
                return divided[aid]
            if aid in undivided:
                return (None, None)
            tier = eaf.tiers.get(eaf.annotations.get(aid), ({}, {}))
            if aid not in tier[1]:
                return None  # aligned: pympi's own times stand
            aid, seen = tier[1][aid][0], seen + 1
        return None

    tiers = []
    for name in eaf.get_tier_names():
        entries = []
        ref_ids = list(eaf.tiers[name][1])  # in the order pympi lists them
        for k, a in enumerate(eaf.get_annotation_data_for_tier(name)):
            start, end, value = a[0], a[1], a[2]
            if ref_ids:
                start, end = times(ref_ids[k]) or (start, end)
            if start is None or end is None:
                # An annotation on unaligned slots: pympi gives no time, ELAN
                # interpolates. Compared on text only.
                entries.append({"start": None, "end": None, "text": " ".join(value.split())})
            else:
                entries.append(cue(start / 1000, end / 1000, value))
        tiers.append({"name": name, "cues": entries})
    return {"tiers": tiers}


def word(text, start=None, end=None):
    w = {"word": text}
    if start is not None:
        w.update(start=start, end=end, probability=0.9)
    return w


# What the writers are given: segments without words; segments with word timings
# (one past an hour, for the hours field); WhisperX output with untimed words (digits
# the aligner cannot place) and speakers.
WRITER_RESULTS = {
    "plain": {"language": "en", "text": "", "segments": [
        {"id": 0, "start": 0.0, "end": 2.48, "text": " Hello there, how are you today?"},
        {"id": 1, "start": 2.48, "end": 5.0, "text": " I'm fine --> thanks, & you? <3"},
        {"id": 2, "start": 3725.125, "end": 3727.5, "text": " Señor, ça va? 日本語です。"},
    ]},
    "words": {"language": "en", "text": "", "segments": [
        {"id": 0, "start": 0.5, "end": 3.0, "text": " The results were wonderful today",
         "words": [word(" The", 0.5, 0.7), word(" results", 0.7, 1.3), word(" were", 1.3, 1.6),
                   word(" wonderful", 1.6, 2.4), word(" today", 2.4, 3.0)]},
        {"id": 1, "start": 3600.0, "end": 3602.0, "text": " An hour later.",
         "words": [word(" An", 3600.0, 3600.4), word(" hour", 3600.4, 3601.0),
                   word(" later.", 3601.0, 3602.0)]},
    ]},
    "whisperx": {"language": "en", "segments": [
        {"start": 0.25, "end": 2.0, "text": " It costs 20 dollars.", "speaker": "SPEAKER_00",
         "words": [word("It", 0.25, 0.4), word("costs", 0.4, 0.9), word("20"),
                   word("dollars.", 1.3, 2.0)]},
        {"start": 2.5, "end": 4.0, "text": " Okay then.", "speaker": "SPEAKER_01",
         "words": [word("Okay", 2.5, 3.0), word("then.", 3.1, 4.0)]},
    ]},
}

WRITER_OPTIONS = {
    "default": {"max_line_width": None, "max_line_count": None, "highlight_words": False},
    "highlight": {"max_line_width": None, "max_line_count": None, "highlight_words": True},
    "narrow": {"max_line_width": 16, "max_line_count": 1, "highlight_words": False},
}


def load_utils(root, package):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"{package}_utils", os.path.join(root, package, "utils.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def result_cues(result, fmt):
    def text(s):
        # WhisperX's Audacity writer puts the speaker first: `[[SPEAKER_00]]It costs …`.
        speaker = f"[[{s['speaker']}]]" if fmt == "aud" and "speaker" in s else ""
        return speaker + s["text"].strip()
    return {"cues": [cue(s["start"], s["end"], text(s)) for s in result["segments"]]}


def write_with_tools(roots, out):
    """Files written by the tools' writers, with the owner that judges each."""
    records = []
    for name, version, package in WRITERS:
        utils = load_utils(roots[name], package)
        folder = os.path.join(out, "files", "writers", f"{name}-{version}")
        os.makedirs(folder, exist_ok=True)
        for rname, result in WRITER_RESULTS.items():
            if package == "whisper" and rname == "whisperx":
                continue  # openai-whisper needs timings on every word
            jobs = [("json", "default", "json")]
            jobs += [(fmt, o, fmt) for fmt in ("srt", "vtt") for o in WRITER_OPTIONS
                     if o == "default" or "words" in result["segments"][0]]
            if package == "whisperx":
                jobs.append(("aud", "default", "txt"))
            for fmt, oname, ext in jobs:
                writer = utils.get_writer(fmt, folder)
                stem = f"{rname}-{oname}"
                import copy
                writer(copy.deepcopy(result), stem + ".wav", dict(WRITER_OPTIONS[oname]))
                written = os.path.join(folder, f"{stem}.{fmt}")
                path = os.path.join(folder, f"{stem}-{fmt}.{ext}")
                os.replace(written, path)
                judge = {"srt": ("srt 3.5.3", read_srt), "vtt": ("webvtt-py 0.6.0", read_webvtt)}
                who, read = judge.get(fmt, ("the result written", None))
                record = {"file": os.path.relpath(path, os.path.join(out, "files")),
                          "owner": f"{name} {version} {fmt} writer, judged by {who}"}
                try:
                    record.update(read(path) if read else result_cues(result, fmt))
                    record["status"] = "read"
                except Exception as e:
                    record["status"] = "rejected"
                    record["error"] = f"{type(e).__name__}: {e}"[:300]
                records.append(record)
    return records


# Test inputs the owners' suites hold inline, as Python strings rather than files.
# Every string constant in these modules that reads as a WebVTT or SubRip document
# (see `inline_kind`) is written to <out>/files/<sdist>/inline/ and judged by its
# owner like the shipped files. praatio and pympi-ling build their inline TextGrids
# and EAFs through their own object APIs, not as text, so they have none.
INLINE_MODULES = {
    "webvtt-py": "tests",
    "pysrt": "tests",
}

# A SubRip or WebVTT timing line: `H:M:S` with `,`/`.` milliseconds, an arrow.
TIMING_LINE = re.compile(r"^\s*\d+:\d+:\d+([,.]\d*)?\s*-+\s*>", re.M)


def inline_kind(text):
    """"vtt", "srt", or None for strings that are no document of either kind.

    A WebVTT document starts with `WEBVTT`. A SubRip document has a timing line and
    either `,` before the milliseconds or a cue number first. Timing-and-text
    fragments with `.` and no number (the owners' tests of one WebVTT cue block, fed
    to block parsers) are neither: WebVTT requires the header, SubRip the comma or
    the number, and both owners reject them as files.
    """
    if text.lstrip("\ufeff").startswith("WEBVTT"):
        return "vtt"
    m = TIMING_LINE.search(text)
    if not m or len(text.strip().splitlines()) < 2:
        return None  # one timing line alone is a piece the test puts into a document
    first = text.strip().split("\n", 1)[0].strip()
    if "," in m.group(0) or first.isdigit():
        return "srt"
    return None


def literal(node):
    """The text a test builds from constants at `node`, or None.

    Follows what the tests do to their documents: string constants, `+` and `*`,
    `textwrap.dedent(...)`, `.strip()`/`.lstrip()`/`.rstrip()`/`.replace(...)` with
    constant arguments, `.split(...)` into lines, and lists of lines (the
    line-list parsers' input, joined with line feeds and ended with one). Anything
    that depends on a variable is None: a document built in a loop is not taken.
    """
    import ast
    import textwrap

    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, (str, int)) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        a, b = literal(node.left), literal(node.right)
        if a is None or b is None:
            return None
        try:
            return a + b if isinstance(node.op, ast.Add) else a * b
        except TypeError:
            return None
    if isinstance(node, ast.List) and node.elts:
        lines = [literal(e) for e in node.elts]
        if all(isinstance(line, str) and "\n" not in line for line in lines):
            return "\n".join(lines) + "\n"
        return None
    if isinstance(node, ast.Call) and not node.keywords:
        f = node.func
        args = [literal(a) for a in node.args]
        if any(a is None for a in args):
            return None
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
        if name == "dedent" and len(args) == 1 and isinstance(args[0], str):
            return textwrap.dedent(args[0])
        if isinstance(f, ast.Attribute) and name in ("strip", "lstrip", "rstrip", "replace",
                                                        "split"):
            value = literal(f.value)
            if not isinstance(value, str):
                return None
            if name == "split":
                # Split into lines for a line-list parser: the same document.
                return value if args in ([], ["\n"]) else None
            try:
                return getattr(value, name)(*args)
            except TypeError:
                return None
    return None


def inline_documents(root, folder):
    """(name, text, kind) for each distinct inline document under root/folder.

    The name is `<module>.<enclosing class and function>_<n>`, n counting the
    documents of that function in source order. Each is the text the test builds
    from constants (`literal`), taken at the outermost expression that still gives
    text; the same document in several tests is written once.
    """
    import ast

    seen = set()
    found = []
    for dirpath, _, files in sorted(os.walk(os.path.join(root, folder))):
        for f in sorted(files):
            if not (f.startswith("test") and f.endswith(".py")):
                continue
            with open(os.path.join(dirpath, f), encoding="utf-8") as src:
                tree = ast.parse(src.read())
            module = f[:-3]
            counts = {}

            def visit(node, scope):
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        visit(child, scope + [child.name])
                        continue
                    text = literal(child) if isinstance(child, ast.expr) else None
                    if not isinstance(text, str):
                        visit(child, scope)
                        continue
                    kind = inline_kind(text)
                    if kind and text not in seen:
                        seen.add(text)
                        name = ".".join([module] + scope)
                        counts[name] = counts.get(name, 0) + 1
                        found.append((f"{name}_{counts[name]}", text, kind))

            visit(tree, [])
    return found


def srt_generated():
    """srt 3.5.3's parser tests as documents, on fixed subtitles.

    srt's `tests/test_srt.py` holds no document inline: each parser test composes
    Hypothesis-generated subtitles with `srt.compose` and transforms the text. The
    transforms are repeated here, each under its test's name, on three fixed
    subtitles (one line; two lines; past an hour, non-ASCII, with coordinates after
    the timing), so every file is the same on every run. Where a test draws extra values
    (whitespace, zeroes), fixed ones stand in.
    """
    from datetime import timedelta as td

    import srt

    def subs():
        return [
            srt.Subtitle(1, td(seconds=1, milliseconds=500), td(seconds=3, milliseconds=250),
                         "Hello there."),
            srt.Subtitle(2, td(seconds=3, milliseconds=250), td(seconds=7, milliseconds=5),
                         "Two lines,\nthe second one."),
            srt.Subtitle(3, td(hours=1, minutes=2, seconds=3, milliseconds=45),
                         td(hours=1, minutes=2, seconds=5), "Señor, ça va? 日本語です。",
                         proprietary="X1:100 X2:600 Y1:10 Y2:50"),
        ]

    def compose(**kw):
        return srt.compose(subs(), reindex=False, **kw)

    def per_block(edit):
        out = []
        for block in (s.to_srt() for s in subs()):
            lines = block.split("\n")
            edit(lines)
            out.append("\n".join(lines))
        return "".join(out)

    def with_content(content):
        changed = subs()
        for s in changed:
            s.content = content(s.content)
        return srt.compose(changed, reindex=False, strict=False)

    def negative_index():
        changed = subs()
        for s in changed:
            s.index *= -1
        return srt.compose(changed, reindex=False, strict=False)

    def missing_index():
        out = ""
        for s in subs():
            block = s.to_srt()
            out += block[block.index("\n") + 1:]
        return out

    def final_no_newline_no_content():
        sub1, sub2 = subs()[:2]
        sub2.content = ""
        return srt.compose([sub1, sub2], reindex=False)[:-2]

    def newline_no_content():
        changed = subs()
        for s in changed:
            s.content = ""
        return "".join(s.to_srt()[:-1] for s in changed)

    def set_line(i, value):
        def edit(lines):
            lines[i] = value(lines[i])
        return edit

    return [
        ("test_compose_and_parse_from_file", compose()),
        ("test_compose_and_parse_from_file_bom", "\ufeff" + compose()),
        ("test_can_compose_without_ending_blank_line", compose()[:-1]),
        ("test_can_compose_without_eol_at_all", compose().rstrip("\r\n")),
        ("test_parsing_spaced_arrow", compose(strict=False).replace("-->", "- >")),
        ("test_parsing_spaced_ender_arrow", compose(strict=False).replace("-->", "-- >")),
        ("test_parsing_no_ws_arrow", compose(strict=False).replace(" --> ", "-->")),
        ("test_parsing_leading_whitespace", " \t\n\n" + compose(strict=False)),
        ("test_parsing_negative_index", negative_index()),
        ("test_parsing_content_with_blank_lines", with_content(lambda c: c + "\n\n" + c)),
        ("test_parsing_no_content", with_content(lambda c: "")),
        ("test_parser_can_parse_with_dot_msec_delimiter",
         per_block(set_line(1, lambda t: t.replace(",", ".", 2)))),
        ("test_parser_can_parse_with_fullwidth_delimiter",
         per_block(set_line(1, lambda t: t.replace(",", "，", 1).replace(":", "：", 1)))),
        ("test_parser_can_parse_with_no_msec",
         per_block(set_line(1, lambda t: re.sub(",[0-9]+", "", t, count=2)))),
        ("test_parser_accepts_final_no_newline_no_content", final_no_newline_no_content()),
        ("test_parser_accepts_newline_no_content", newline_no_content()),
        ("test_compose_and_parse_strict_crlf", compose().replace("\n", "\r\n")),
        ("test_compose_and_parse_strict_custom_eol", compose(eol="\r\n")),
        ("test_can_parse_index_trailing_ws", per_block(set_line(0, lambda t: t + " \t"))),
        ("test_can_parse_index_with_dot", per_block(set_line(0, lambda t: t + "." + t))),
        ("test_can_parse_index_leading_zeroes", per_block(set_line(0, lambda t: "00" + t))),
        ("test_parse_file_with_missing_index", missing_index()),
        # test_parser_noncontiguous: garbage that looks like a block; srt refuses it.
        ("test_parser_noncontiguous",
         srt.compose(subs()).replace("\n\n", "\n\n%d\n%s %s" % (
             7, srt.timedelta_to_srt_timestamp(td(seconds=2)), "garbage"))),
    ]


def inline_records(roots, out):
    """Write the inline documents and judge each with its owner."""
    files = os.path.join(out, "files")
    jobs = []
    for name, folder in INLINE_MODULES.items():
        for stem, text, kind in inline_documents(roots[name], folder):
            jobs.append((name, stem, text, kind))
    jobs += [("srt", "test_srt." + stem, text, "srt") for stem, text in srt_generated()]
    for name in {job[0] for job in jobs}:
        # Written afresh: a document the tests no longer hold leaves no file behind.
        shutil.rmtree(os.path.join(roots[name], "inline"), ignore_errors=True)
    records = []
    for name, stem, text, kind in jobs:
        folder = os.path.join(roots[name], "inline")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{stem}.{kind}")
        # newline="": the text's own line ends, `\r\n` included, reach the file.
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        owner, read = OWNERS[name]
        record = {"file": os.path.relpath(path, files), "owner": owner, "inline": True}
        try:
            record.update(read(path))
            record["status"] = "read"
        except Exception as e:  # the owner refuses the document
            record["status"] = "rejected"
            record["error"] = f"{type(e).__name__}: {e}"[:300]
        records.append(record)
    return records


# The three SubRip parsers pinned here. Each SubRip file's record also holds what
# the other two read ("peers"): where the owner reads a file differently from us,
# the suite's exception has to name a peer that reads it as we do.
SRT_PARSERS = {
    "srt 3.5.3": lambda path: read_srt(path),
    "pysrt 1.1.2": lambda path: read_pysrt(path),
    "webvtt-py 0.6.0": lambda path: read_webvtt(path),
}


def add_peers(records, out):
    for record in records:
        if not record["file"].lower().endswith(".srt"):
            continue
        path = os.path.join(out, "files", record["file"])
        peers = {}
        for who, read in SRT_PARSERS.items():
            if who in record["owner"]:
                continue  # the owner itself
            try:
                peers[who] = {"status": "read", **read(path)}
            except Exception as e:
                peers[who] = {"status": "rejected", "error": f"{type(e).__name__}: {e}"[:300]}
        record["peers"] = peers


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
        if name not in OWNERS:
            continue
        owner, read = OWNERS[name]
        for dirpath, _, files in sorted(os.walk(root)):
            if os.path.relpath(dirpath, root).split(os.sep)[0] == "inline":
                continue  # written below, judged with the inline records
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
    records += inline_records(roots, out)
    records += write_with_tools(roots, out)
    add_peers(records, out)
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"pinned": [f"{n}=={v}" for n, v in PINNED], "files": records}, f,
                  indent=1, ensure_ascii=False)
    read_count = sum(r["status"] == "read" for r in records)
    inline = sum(bool(r.get("inline")) for r in records)
    print(f"{len(records)} files ({inline} inline test inputs), {read_count} read by their "
          f"owner -> {out}/expected.json")


if __name__ == "__main__":
    main()
