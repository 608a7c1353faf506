#!/usr/bin/env python3
"""Reference side of `cargo xtask bench annotate`: the windows and segments an
`emoscope annotate` run read, read again by a PyTorch loop with transformers
and sentence-transformers, timed in the same process layout.

    python bench_annotate.py --model DIR --audio WAV --annotation JSON --threads 2 --batch 8 [--bf16]

DIR is the Emoscope model `cargo xtask bench annotate` built: `emoscope.json`
with an audio branch (a transformers HubertModel directory: last hidden
state, mean over frames), a text branch (a sentence-transformers directory,
all-MiniLM-L6-v2), an early-fusion linear head over [audio, text] and an
audio-only fallback for windows without words, bounded by a sigmoid to the
output range when the manifest says `bounded`. JSON is the annotation Emoscope wrote for WAV: its timeline
gives each window's span and text, its segments each segment's span and text.
The loop reads the same samples with the same texts: windows in batches of
`--batch` (all 4 s, so no padding), each distinct text embedded once in
batches; each segment in the pieces Emoscope reads it in (at most one window
long, widened to 0.5 s when shorter), averaged.

Prints one JSON line: seconds to load, to read the windows, to read the
segments, in all; windows and segments read; and the largest difference of
the window and segment readings from Emoscope's.
"""
import argparse
import json
import math
import pathlib
import resource
import time
import wave

import numpy as np

MIN_SPAN_SECONDS = 0.5


def read_wav(path: pathlib.Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, "16-bit mono WAV"
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return (x.astype(np.float32) / 32768.0), rate


def span_pieces(n: int, rate: int, start: float, end: float, max_seconds: float):
    """Emoscope's `span_pieces`: the sample ranges a segment is read from."""
    total = n / rate
    a, b = min(max(start, 0.0), total), min(max(end, 0.0), total)
    if b - a < MIN_SPAN_SECONDS:
        mid = 0.5 * (a + b)
        b = min(mid + 0.5 * MIN_SPAN_SECONDS, total)
        a = max(b - MIN_SPAN_SECONDS, 0.0)
        b = min(a + MIN_SPAN_SECONDS, total)
    pieces = max(math.ceil((b - a) / max(max_seconds, MIN_SPAN_SECONDS)), 1)
    step = (b - a) / pieces
    out = []
    for k in range(pieces):
        lo = round((a + k * step) * rate)
        hi = min(round((a + (k + 1) * step) * rate), n)
        out.append((min(lo, hi), hi))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=pathlib.Path, required=True)
    ap.add_argument("--audio", type=pathlib.Path, required=True)
    ap.add_argument("--annotation", type=pathlib.Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--bf16", action="store_true", help="autocast the encoders to bf16")
    args = ap.parse_args()

    t0 = time.perf_counter()
    import torch
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer
    from transformers import HubertModel

    torch.set_num_threads(args.threads)
    manifest = json.loads((args.model / "emoscope.json").read_text())
    audio_dir = (args.model / manifest["audio"]["path"]).resolve()
    text_dir = (args.model / manifest["text"]["path"]).resolve()
    encoder = HubertModel.from_pretrained(audio_dir).eval()
    sentences = SentenceTransformer(str(text_dir), device="cpu")
    head = load_file(str(args.model / "head.safetensors"))
    w, b = head["head.layers.0.weight"], head["head.layers.0.bias"]
    fw, fb = head["fallback.layers.0.weight"], head["fallback.layers.0.bias"]
    lo, hi = manifest["output_range"]
    bounded = manifest["head"].get("bounded", False)
    labels = manifest["labels"]
    samples, rate = read_wav(args.audio)
    doc = json.loads(args.annotation.read_text())
    window_seconds = doc["window_seconds"]
    load_s = time.perf_counter() - t0

    cache: dict[str, torch.Tensor] = {}

    def embed(texts):
        missing = sorted({t.strip() for t in texts if t.strip() and t.strip() not in cache})
        for i in range(0, len(missing), 64):
            chunk = missing[i : i + 64]
            e = sentences.encode(chunk, convert_to_tensor=True, batch_size=64)
            for t, v in zip(chunk, e):
                cache[t] = v.float()

    def read(batch_samples, texts):
        """Readings (rows in label order) of same-length windows with their texts."""
        x = torch.from_numpy(np.stack(batch_samples))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            h = encoder(x).last_hidden_state
        pooled = h.float().mean(dim=1)
        embed(texts)
        rows = []
        for i, t in enumerate(texts):
            t = t.strip()
            if t:
                y = torch.cat([pooled[i], cache[t]]) @ w.T + b
            else:
                y = pooled[i] @ fw.T + fb
            rows.append(lo + (hi - lo) * torch.sigmoid(y) if bounded else y)
        return rows

    def as_avd(row):
        return [float(row[labels.index(d)]) for d in ("arousal", "valence", "dominance")]

    diffs = []
    t1 = time.perf_counter()
    with torch.inference_mode():
        timeline = doc["timeline"]
        for i in range(0, len(timeline), args.batch):
            chunk = timeline[i : i + args.batch]
            n = round(window_seconds * rate)
            # The end of the file reads as followed by silence, as in Emoscope.
            xs = [np.pad(x, (0, n - len(x))) for x in (samples[round(e["start"] * rate) :][:n] for e in chunk)]
            same = len({len(x) for x in xs}) == 1
            rows = read(xs, [e["text"] for e in chunk]) if same else [r for x, e in zip(xs, chunk) for r in read([x], [e["text"]])]
            for e, r in zip(chunk, rows):
                diffs.append(max(abs(a - e[k]) for a, k in zip(as_avd(r), ("arousal", "valence", "dominance"))))
        t2 = time.perf_counter()
        seg_diffs = []
        for s in doc["segments"]:
            pieces = span_pieces(len(samples), rate, s["start"], s["end"], window_seconds)
            rows = [read([samples[a:b]], [s["text"]])[0] for a, b in pieces]
            mean = [sum(v) / len(rows) for v in zip(*[as_avd(r) for r in rows])]
            seg_diffs.append(max(abs(a - s[k]) for a, k in zip(mean, ("arousal", "valence", "dominance"))))
        t3 = time.perf_counter()
    print(json.dumps({
        "load_s": load_s,
        "windows_s": t2 - t1,
        "segments_s": t3 - t2,
        "total_s": time.perf_counter() - t0,
        "windows": len(doc["timeline"]),
        "segments": len(doc["segments"]),
        "texts": len(cache),
        "max_window_diff": max(diffs, default=0.0),
        "max_segment_diff": max(seg_diffs, default=0.0),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
