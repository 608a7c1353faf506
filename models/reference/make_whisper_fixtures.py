#!/usr/bin/env python3
"""Build the Whisper parity fixtures (models/tests/fixtures/whisper/).

A tiny random-weight `WhisperForConditionalGeneration` (d_model 32, 2 + 2
layers of 4 heads, 80 mel bins, 30 s of encoder positions, 64 decoder
positions) with a tiny word-level tokenizer: 40 words, Whisper's nine special
tokens by their real names, then 151 timestamp tokens (<|0.00|> to <|3.00|>)
that, as in the real English-only tokenizers, are in the model's vocabulary
but not in tokenizer.json. Written in both layouts:

- hf/: save_pretrained (config.json, generation_config.json with
  suppress_tokens, begin_suppress_tokens and alignment_heads,
  model.safetensors) and tokenizer.json;
- ct2/: the same model through CTranslate2's own converter
  (`ctranslate2.converters.TransformersConverter`, what ct2-transformers-converter
  runs; float32 so that both layouts can be held to the same tolerance;
  CTranslate2's float16/int8 storage is covered by the Rust unit tests and the
  real tiny.en test), plus tokenizer.json.

expected.safetensors holds, for fixed inputs:
- `mel80` / `mel128`: WhisperFeatureExtractor's log-mel of a 3 s synthetic
  signal (chirps and a tone), the first 320 frames, with
  `mel80_floor` / `mel128_floor` the value of every later frame (checked here);
- `encoder`: the encoder's last hidden state for `mel80` (full window);
- `decoder_ids`, `logits`: the logits for a fixed token sequence;
- `cross_attention.N`: layer N's cross-attention probabilities for it;
- `greedy.K.prompt`, `greedy.K.tokens`, `greedy.K.no_speech_prob`:
  CTranslate2's greedy `generate` on the ct2/ model (prompt K: none, or a
  previous-text prompt), the reference of the decoding rules;
- `align.tokens`, `align.path`, `align.text_token_probs`: CTranslate2's
  `align` of those words with the first 300 mel frames (the DTW path of
  word timing).

    pip install torch transformers ctranslate2==4.8.5
    python models/reference/make_whisper_fixtures.py
"""
import json
import pathlib
import shutil
import sys

import numpy as np
import torch
from safetensors.numpy import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "tests" / "fixtures" / "whisper"
sys.path.insert(0, str(HERE))
from whisper_ct2_greedy import log_mel  # noqa: E402  (the numpy reference the real test uses)

WORDS = ("the a of and to in he was not an ill disposed young man had she might have been made more "
         "amiable woman still respectable than himself even rather cold hearted selfish is be unless "
         "it so far").split()
SPECIALS = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>",
            "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"]
N_TIMESTAMPS = 151


def tokenizer():
    vocab = {w: i for i, w in enumerate(["<unk>"] + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    tok.add_special_tokens(SPECIALS)
    return tok


def signal():
    """3 s: a 200 Hz -> 5.6 kHz chirp, a 3 kHz tone and a 7 kHz -> 4 kHz chirp
    (models/tests/whisper_parity.rs computes the same samples)."""
    t = np.arange(3 * 16000, dtype=np.float64) / 16000
    chirp = 0.3 * np.sin(2 * np.pi * (200 + 900 * t) * t)
    tone = 0.1 * np.sin(2 * np.pi * 3000 * t)
    down = 0.05 * np.sin(2 * np.pi * (7000 - 500 * t) * t)
    return (chirp + tone + down).astype(np.float32)


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * (0.6 if "embed" in name else 0.25))


def main():
    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "hf").mkdir(parents=True)
    tok = tokenizer()
    ids = {t: tok.token_to_id(t) for t in SPECIALS}
    n_text = tok.get_vocab_size()
    vocab_size = n_text + N_TIMESTAMPS
    ts_begin = ids["<|notimestamps|>"] + 1
    assert ts_begin == n_text
    cfg = WhisperConfig(
        vocab_size=vocab_size, num_mel_bins=80, d_model=32,
        encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=64,
        decoder_layers=2, decoder_attention_heads=4, decoder_ffn_dim=64,
        max_source_positions=1500, max_target_positions=64,
        decoder_start_token_id=ids["<|startoftranscript|>"], eos_token_id=ids["<|endoftext|>"],
        bos_token_id=ids["<|endoftext|>"], pad_token_id=ids["<|endoftext|>"],
    )
    model = WhisperForConditionalGeneration(cfg).eval()
    randomise(model, 7)
    gen = model.generation_config
    gen.suppress_tokens = [tok.token_to_id("so"), tok.token_to_id("far")] + [
        ids[t] for t in ["<|startoftranscript|>", "<|translate|>", "<|transcribe|>", "<|startoflm|>",
                         "<|startofprev|>", "<|nospeech|>"]]
    gen.begin_suppress_tokens = [tok.token_to_id("it"), ids["<|endoftext|>"]]
    gen.alignment_heads = [[1, 0], [1, 2]]
    gen.no_timestamps_token_id = ids["<|notimestamps|>"]
    model.save_pretrained(OUT / "hf")
    tok.save(str(OUT / "hf" / "tokenizer.json"))

    class Converter(TransformersConverter):
        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            return PreTrainedTokenizerFast(tokenizer_object=tok, additional_special_tokens=SPECIALS[1:])

    Converter(str(OUT / "hf")).convert(str(OUT / "ct2"), quantization="float32", force=True)
    shutil.copy(OUT / "hf" / "tokenizer.json", OUT / "ct2" / "tokenizer.json")

    expected = {}
    x = signal()
    for n_mels, keep in [(80, 320), (128, 320)]:
        fe = WhisperFeatureExtractor(feature_size=n_mels)
        mel = fe(x, sampling_rate=16000, return_tensors="np").input_features[0]
        ours = log_mel(x, n_mels)
        assert np.abs(mel - ours).max() < 1e-4, "the numpy reference differs from WhisperFeatureExtractor"
        floor = mel[:, keep:]
        assert np.all(floor == floor.flat[0]), "frames past `keep` are not all the floor value"
        expected[f"mel{n_mels}"] = np.ascontiguousarray(mel[:, :keep])
        expected[f"mel{n_mels}_floor"] = np.array([floor.flat[0]], dtype=np.float32)
    mel = WhisperFeatureExtractor(feature_size=80)(x, sampling_rate=16000, return_tensors="pt").input_features
    sot, eot = ids["<|startoftranscript|>"], ids["<|endoftext|>"]
    words = [tok.token_to_id(w) for w in ["he", "was", "not"]]
    decoder_ids = [sot, ts_begin] + words + [ts_begin + 20]
    with torch.no_grad():
        model.config._attn_implementation = "eager"
        enc = model.model.encoder(mel).last_hidden_state
        out = model(input_features=mel, decoder_input_ids=torch.tensor([decoder_ids]), output_attentions=True)
    expected["encoder"] = enc[0].numpy()
    expected["decoder_ids"] = np.array(decoder_ids, dtype=np.int64)
    expected["logits"] = out.logits[0].numpy()
    for i, a in enumerate(out.cross_attentions):
        expected[f"cross_attention.{i}"] = a[0].numpy()

    ct2 = ctranslate2.models.Whisper(str(OUT / "ct2"), device="cpu", compute_type="float32")
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.numpy()))
    prompts = [[], [tok.token_to_id(w) for w in ["he", "might", "have"]]]
    for k, prompt in enumerate(prompts):
        start = ([ids["<|startofprev|>"]] + prompt if prompt else []) + [sot]
        r = ct2.generate(features, [start], beam_size=1, suppress_blank=True, suppress_tokens=[-1],
                         max_initial_timestamp_index=50, return_no_speech_prob=True, max_length=64)[0]
        expected[f"greedy.{k}.prompt"] = np.array(prompt, dtype=np.int64)
        expected[f"greedy.{k}.tokens"] = np.array(r.sequences_ids[0], dtype=np.int64)
        expected[f"greedy.{k}.no_speech_prob"] = np.array([r.no_speech_prob], dtype=np.float32)
        print(f"greedy {k}: {r.sequences_ids[0]}")
    # Word alignment: CTranslate2's align() on the converted model (alignment
    # heads of ct2/config.json), 3 s of audio = 300 mel frames.
    align_tokens = [tok.token_to_id(w) for w in "he was not an ill disposed young man".split()]
    a = ct2.align(features, [sot], [align_tokens], [300], median_filter_width=7)[0]
    expected["align.tokens"] = np.array(align_tokens, dtype=np.int64)
    expected["align.path"] = np.array(a.alignments, dtype=np.int64)
    expected["align.text_token_probs"] = np.array(a.text_token_probs, dtype=np.float32)
    save_file({k: np.ascontiguousarray(v) for k, v in expected.items()}, str(OUT / "expected.safetensors"))
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{OUT}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
