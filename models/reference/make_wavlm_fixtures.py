#!/usr/bin/env python3
"""Build the WavLM parity fixtures (models/tests/fixtures/wavlm-base/, wavlm-large/).

Two tiny random-weight `WavLMModel`s, one per encoder arrangement:

- wavlm-base: shaped like microsoft/wavlm-base(-plus): GroupNorm on the first
  conv, no conv bias, post-LN encoder (`do_stable_layer_norm: false`), even
  positional kernel;
- wavlm-large: shaped like microsoft/wavlm-large: LayerNorm after every conv,
  conv bias, pre-LN encoder with a final LayerNorm (`do_stable_layer_norm:
  true`), odd positional kernel.

Both have 2 layers (layer 0 owns `rel_attn_embed` and computes the relative
position bias, layer 1 re-uses it through its own gate), and few buckets over a
short `max_bucket_distance`, so inputs of a few dozen frames reach the exact,
the logarithmic and the clamped buckets on both sides. A three-layer conv stack
(x20 down-sampling instead of x320) gives those frames from under a thousand
samples, which keeps the fixtures at tens of kilobytes.

Each directory holds the checkpoint (config.json, preprocessor_config.json,
model.safetensors in the current weight-norm layout, no key prefix) and
`expected.safetensors`:

- `raw.I`: input I's samples (before the preprocessor);
- `single.I.extract_features`: the conv feature extractor's output;
- `single.I.hidden_states.L`: every hidden state (the encoder input, then each
  layer's output, as transformers 5 records them), `single.I.last_hidden_state`;
- `batch.*`: the same for both inputs as one right-padded batch with its
  attention mask (`batch.lengths` in samples, `batch.frame_lengths` in frames);
- `buckets.320_800`: `_relative_positions_bucket` of relative positions
  -1000..=1000 with the published checkpoints' 320 buckets and distance 800
  (wavlm-base only).

The Rust tests in models/tests/wavlm_parity.rs load the checkpoints with the
real loading code and compare against these tensors.

    pip install -r models/reference/requirements.txt
    python models/reference/make_wavlm_fixtures.py

Every run is deterministic (fixed seeds), so regenerating gives the same bytes
for the same library versions (the committed fixtures: torch 2.15.0,
transformers 5.24.0).
"""
import json
import pathlib
import sys

import torch
from safetensors.torch import save_file
from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel
from transformers.models.wavlm.modeling_wavlm import WavLMAttention

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_fixtures import randomise, synthetic_speechlike, write_checkpoint  # noqa: E402

OUT = HERE.parent / "tests" / "fixtures"
# 600 samples give 29 frames, 917 give 44 (the odd length rounds down at every conv).
LENGTHS = [600, 917]
CONV = dict(conv_dim=[16, 16, 16], conv_kernel=[10, 3, 3], conv_stride=[5, 2, 2])

VARIANTS = {
    # 16 buckets: 8 per direction, exact below 4, logarithmic up to 20 frames, clamped beyond.
    "wavlm-base": dict(
        config=WavLMConfig(
            hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
            feat_extract_norm="group", conv_bias=False, do_stable_layer_norm=False,
            num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4,
            num_buckets=16, max_bucket_distance=20, **CONV,
        ),
        do_normalize=False,
        seed=300,
    ),
    # 10 buckets: 5 per direction (odd), exact below 2, logarithmic up to 12 frames.
    "wavlm-large": dict(
        config=WavLMConfig(
            hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
            feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True,
            num_conv_pos_embeddings=7, num_conv_pos_embedding_groups=2,
            num_buckets=10, max_bucket_distance=12, **CONV,
        ),
        do_normalize=True,
        seed=301,
    ),
}


def randomise_gates(model: WavLMModel, seed: int) -> None:
    """`randomise` leaves `gru_rel_pos_const` (no bias, no norm) at fan-in-scaled
    noise around 0; give it values around its initial 1 instead, with a spread,
    so each head's gate differs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gru_rel_pos_const"):
                p.copy_(1.0 + 0.5 * torch.randn(p.shape, generator=g))
            elif name.endswith("rel_attn_embed.weight"):
                # Biases of a few units, as trained checkpoints have, so that the
                # bias visibly moves the attention.
                p.copy_(2.0 * torch.randn(p.shape, generator=g))


def main() -> None:
    torch.manual_seed(0)
    for name, spec in VARIANTS.items():
        config = spec["config"]
        model = WavLMModel(config).eval()
        randomise(model, seed=spec["seed"])
        randomise_gates(model, seed=spec["seed"] + 1000)
        state = {k: v for k, v in model.state_dict().items() if not k.endswith("masked_spec_embed")}
        assert any("parametrizations.weight.original1" in k for k in state), "expected the modern layout"
        assert "encoder.layers.0.attention.rel_attn_embed.weight" in state
        assert "encoder.layers.1.attention.rel_attn_embed.weight" not in state
        dir_ = OUT / name
        write_checkpoint(dir_, config, state, spec["do_normalize"])

        fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                      do_normalize=spec["do_normalize"], return_attention_mask=True)
        tensors = {}
        raws = [synthetic_speechlike(n, seed=10 + i) for i, n in enumerate(LENGTHS)]
        with torch.inference_mode():
            for i, raw in enumerate(raws):
                inp = fe(raw, sampling_rate=16000, return_tensors="pt").input_values  # [1, n]
                tensors[f"raw.{i}"] = torch.from_numpy(raw)
                tensors[f"single.{i}.extract_features"] = model.feature_extractor(inp)[0].transpose(0, 1)
                out = model(inp, output_hidden_states=True)
                assert len(out.hidden_states) == config.num_hidden_layers + 1
                for layer, h in enumerate(out.hidden_states):
                    tensors[f"single.{i}.hidden_states.{layer}"] = h[0]
                tensors[f"single.{i}.last_hidden_state"] = out.last_hidden_state[0]
            batch = fe(raws, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt")
            out = model(batch.input_values, attention_mask=batch.attention_mask, output_hidden_states=True)
            frames = model._get_feat_extract_output_lengths(batch.attention_mask.sum(-1))
            tensors["batch.lengths"] = batch.attention_mask.sum(-1).to(torch.int64)
            tensors["batch.frame_lengths"] = frames.to(torch.int64)
            for layer, h in enumerate(out.hidden_states):
                tensors[f"batch.hidden_states.{layer}"] = h
            tensors["batch.last_hidden_state"] = out.last_hidden_state
        if name == "wavlm-base":
            attn = WavLMAttention(16, 2, num_buckets=320, max_distance=800)
            rel = torch.arange(-1000, 1001)[None, :]
            tensors["buckets.320_800"] = attn._relative_positions_bucket(rel)[0].to(torch.int64)
        save_file({k: v.contiguous().clone() for k, v in tensors.items()}, str(dir_ / "expected.safetensors"))
        print(f"{name}: {len(state)} weights, {len(tensors)} expected tensors, frames {frames.tolist()}")


if __name__ == "__main__":
    main()
