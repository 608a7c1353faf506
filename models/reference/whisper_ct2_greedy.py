#!/usr/bin/env python3
"""Greedy Whisper decoding by CTranslate2 itself, the reference of models/tests/whisper_real.rs.

    python3 models/reference/whisper_ct2_greedy.py MODEL_DIR a.wav [b.wav ...]

For each 16 kHz mono 16-bit WAV (shorter than 30 s), two inputs: "window",
the log-mel features of `WhisperFeatureExtractor` (computed here with numpy,
see `log_mel`; make_whisper_fixtures.py checks them against transformers),
and "transcribe", the first window openai-whisper's `transcribe` decodes
(the mel zero-padded past the audio, see `transcribe_features`); for each,
`ctranslate2.models.Whisper.generate` with one hypothesis (beam_size=1), the
start-of-transcript prompt, timestamps on, `suppress_blank`, the model's
`suppress_tokens` and `max_initial_timestamp_index=50`: openai-whisper's
greedy decoding of one window. Prints one JSON object: per file and input, the
generated token ids (timestamps included, end of text not), the no-speech
probability and the seconds `generate` took, and `align`'s DTW path and token
probabilities for the text tokens (word timing), plus the seconds loading took.
Needs only numpy and ctranslate2 (no torch, no transformers).
"""
import json
import sys
import time
import wave

import numpy as np

SAMPLE_RATE, N_FFT, HOP, N_SAMPLES = 16000, 400, 160, 480000


def hertz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    logstep = 27.0 / np.log(6.4)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) * logstep, 3.0 * f / 200.0)


def mel_to_hertz(m):
    m = np.asarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), 200.0 * m / 3.0)


def mel_filters(n_mels):
    """audio_utils.mel_filter_bank(201, n_mels, 0, 8000, 16000, "slaney", "slaney"): [201, n_mels]."""
    fft_freqs = np.linspace(0, SAMPLE_RATE // 2, N_FFT // 2 + 1)
    mels = np.linspace(hertz_to_mel(0.0), hertz_to_mel(8000.0), n_mels + 2)
    filter_freqs = mel_to_hertz(mels)
    diff = np.diff(filter_freqs)
    slopes = np.expand_dims(filter_freqs, 0) - np.expand_dims(fft_freqs, 1)
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    filters = np.maximum(np.zeros(1), np.minimum(down, up))
    return filters * np.expand_dims(2.0 / (filter_freqs[2:] - filter_freqs[:-2]), 0)


def log_mel(samples, n_mels=80):
    """WhisperFeatureExtractor's features of one window: [n_mels, 3000] float32."""
    x = np.zeros(N_SAMPLES, dtype=np.float64)
    x[: min(len(samples), N_SAMPLES)] = samples[:N_SAMPLES]
    return log_mel_signal(x, n_mels)


def transcribe_features(samples, n_mels=80):
    """The first window openai-whisper's `transcribe` decodes: the log-mel of the
    audio followed by 30 s of silence, its first min(3000, len // 160) frames,
    zero-padded to 3000 (`pad_or_trim` of the mel segment)."""
    x = np.concatenate([samples.astype(np.float64), np.zeros(N_SAMPLES)])
    mel = log_mel_signal(x, n_mels)
    content = min(3000, len(samples) // HOP)
    out = np.zeros((n_mels, 3000), dtype=np.float32)
    out[:, :content] = mel[:, :content]
    return out


def log_mel_signal(x, n_mels):
    """len(x) // 160 frames: centred STFT, last frame dropped, log10, max - 8, (x + 4) / 4."""
    x = np.pad(x, N_FFT // 2, mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    frames = 1 + (len(x) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2  # [frames, 201]
    mel = spec @ mel_filters(n_mels)  # [frames, n_mels]
    logm = np.log10(np.maximum(mel, 1e-10)).T[:, :-1]
    logm = np.maximum(logm, logm.max() - 8.0)
    return np.ascontiguousarray(((logm + 4.0) / 4.0).astype(np.float32))


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return data.astype(np.float32) / 32768.0


def main():
    import ctranslate2

    model_dir, wavs = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    model = ctranslate2.models.Whisper(model_dir, device="cpu", compute_type="float32", intra_threads=2)
    load_s = time.perf_counter() - t0
    vocab = json.load(open(f"{model_dir}/tokenizer.json"))
    special = {t["content"]: t["id"] for t in vocab["added_tokens"]}
    sot, eot = special["<|startoftranscript|>"], special["<|endoftext|>"]
    out = {"load_seconds": load_s, "ctranslate2": ctranslate2.__version__, "files": {}}
    for path in wavs:
        samples = read_wav(path)
        out["files"][path] = {}
        for name, features in [("window", log_mel), ("transcribe", transcribe_features)]:
            t0 = time.perf_counter()
            features = ctranslate2.StorageView.from_array(np.ascontiguousarray(features(samples, model.n_mels)[None]))
            result = model.generate(
                features,
                [[sot]],
                beam_size=1,
                suppress_blank=True,
                suppress_tokens=[-1],
                max_initial_timestamp_index=50,
                return_no_speech_prob=True,
            )[0]
            seconds = time.perf_counter() - t0
            text = [t for t in result.sequences_ids[0] if t < eot]
            alignment = model.align(features, [sot], [text], [min(3000, len(samples) // HOP)])[0]
            out["files"][path][name] = {
                "tokens": result.sequences_ids[0],
                "no_speech_prob": result.no_speech_prob,
                "seconds": seconds,
                "align_path": alignment.alignments,
                "text_token_probs": alignment.text_token_probs,
            }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
