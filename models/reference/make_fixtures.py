#!/usr/bin/env python3
"""Build the encoder parity fixtures from Hugging Face transformers.

Writes tiny random-weight HuBERT / wav2vec2 checkpoints (config.json,
preprocessor_config.json, model.safetensors) in both positional-conv
weight-norm layouts, plus `expected.safetensors` per family holding the raw
inputs, the normalised inputs (as `Wav2Vec2FeatureExtractor` makes them), the
conv feature-extractor output, every hidden state (the encoder input, then
each layer's output) and the last hidden state (after the final LayerNorm of
the stable variant) of every input, alone and as one padded batch. The Rust tests in `models/tests/parity.rs` load the
checkpoints with the real loading code and compare against these tensors.

    pip install -r models/reference/requirements.txt
    python models/reference/make_fixtures.py   # writes models/tests/fixtures/

Every run is deterministic (fixed seeds), so regenerating gives the same bytes
for the same library versions.
"""
import json
import math
import pathlib

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures"
# Sample lengths of the test inputs: 0.1 s, 0.25 s, ~0.52 s at 16 kHz. The odd
# lengths make the conv length formula round down at several layers.
LENGTHS = [1600, 4000, 8333]

# Seven conv layers with the real kernels and strides (x320 downsampling) but
# narrow channels, so each checkpoint stays a few hundred kilobytes.
CONV = dict(conv_dim=[24] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2])

FAMILIES = {
    # DistilHuBERT-shaped: GroupNorm on the first conv, no conv bias, no
    # feature-projection LayerNorm, post-LN encoder, even positional kernel.
    "distilhubert": dict(
        cls=HubertModel,
        config=HubertConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            feat_extract_norm="group", conv_bias=False, feat_proj_layer_norm=False,
            do_stable_layer_norm=False, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
            hidden_act="gelu", feat_extract_activation="gelu", **CONV,
        ),
        prefix="hubert.",
        do_normalize=False,
    ),
    # wav2vec2-large-robust-shaped: LayerNorm after every conv, conv bias,
    # stable (pre-LN) encoder with a final LayerNorm, odd positional kernel.
    "wav2vec2_robust": dict(
        cls=Wav2Vec2Model,
        config=Wav2Vec2Config(
            hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
            feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True,
            num_conv_pos_embeddings=15, num_conv_pos_embedding_groups=2,
            hidden_act="gelu", feat_extract_activation="gelu", **CONV,
        ),
        prefix="wav2vec2.",
        do_normalize=True,
    ),
}


def synthetic_speechlike(n: int, seed: int) -> np.ndarray:
    """A voiced-like signal: harmonics of a gliding f0 with noise and an envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000.0
    f0 = 110.0 + 40.0 * np.sin(2 * math.pi * 1.5 * t + seed)
    phase = 2 * math.pi * np.cumsum(f0) / 16000.0
    x = sum((0.5 / k) * np.sin(k * phase) for k in range(1, 8))
    x = x * (0.6 + 0.4 * np.sin(2 * math.pi * 3.0 * t)) + 0.05 * rng.standard_normal(n)
    return (0.3 * x + 0.02).astype(np.float32)  # a small DC offset exercises normalisation


def randomise(model: torch.nn.Module, seed: int) -> None:
    """Give every parameter non-default values so a mis-loaded key cannot hide."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("masked_spec_embed"):
                continue
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "original0" in name or name.endswith("weight_g"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:
                fan_in = max(1, p[0].numel()) if p.dim() > 1 else p.numel()
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))


def legacy_weight_norm_keys(state: dict) -> dict:
    """Rename parametrizations.weight.original0/1 to the older weight_g/weight_v."""
    out = {}
    for k, v in state.items():
        k = k.replace("conv.parametrizations.weight.original0", "conv.weight_g")
        k = k.replace("conv.parametrizations.weight.original1", "conv.weight_v")
        out[k] = v
    return out


def write_checkpoint(dir_: pathlib.Path, config, state: dict, do_normalize: bool) -> None:
    dir_.mkdir(parents=True, exist_ok=True)
    cfg = config.to_dict()
    (dir_ / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    pre = dict(
        do_normalize=do_normalize, feature_extractor_type="Wav2Vec2FeatureExtractor", feature_size=1,
        padding_side="right", padding_value=0.0, return_attention_mask=True, sampling_rate=16000,
    )
    (dir_ / "preprocessor_config.json").write_text(json.dumps(pre, indent=2, sort_keys=True) + "\n")
    save_file({k: v.contiguous() for k, v in state.items()}, str(dir_ / "model.safetensors"))


def main() -> None:
    torch.manual_seed(0)
    for fam_idx, (name, spec) in enumerate(FAMILIES.items()):
        config = spec["config"]
        model = spec["cls"](config).eval()
        randomise(model, seed=100 + fam_idx)
        state = {k: v for k, v in model.state_dict().items() if not k.endswith("masked_spec_embed")}
        assert any("parametrizations.weight.original1" in k for k in state), "expected the modern layout"
        # Two key layouts of the same weights: modern without a prefix, legacy
        # weight_g/weight_v under the task-model prefix (as *ForSequenceClassification saves).
        write_checkpoint(OUT / name, config, state, spec["do_normalize"])
        legacy = {spec["prefix"] + k: v for k, v in legacy_weight_norm_keys(state).items()}
        write_checkpoint(OUT / f"{name}_legacy", config, legacy, spec["do_normalize"])

        fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                      do_normalize=spec["do_normalize"], return_attention_mask=True)
        tensors = {}
        raws = [synthetic_speechlike(n, seed=i) for i, n in enumerate(LENGTHS)]
        with torch.inference_mode():
            for i, raw in enumerate(raws):
                inp = fe(raw, sampling_rate=16000, return_tensors="pt").input_values  # [1, n]
                tensors[f"raw.{i}"] = torch.from_numpy(raw)
                tensors[f"input.{i}"] = inp[0]
                tensors[f"single.{i}.extract_features"] = model.feature_extractor(inp)[0].transpose(0, 1)
                out = model(inp, output_hidden_states=True)
                assert len(out.hidden_states) == config.num_hidden_layers + 1
                for layer, h in enumerate(out.hidden_states):
                    tensors[f"single.{i}.hidden_states.{layer}"] = h[0]
                # Differs from hidden_states[-1] in the stable-LN variant: transformers 5
                # records each layer's output and applies the final LayerNorm only here.
                tensors[f"single.{i}.last_hidden_state"] = out.last_hidden_state[0]
            batch = fe(raws, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt")
            out = model(batch.input_values, attention_mask=batch.attention_mask, output_hidden_states=True)
            frames = model._get_feat_extract_output_lengths(batch.attention_mask.sum(-1))
            tensors["batch.input_values"] = batch.input_values
            tensors["batch.lengths"] = batch.attention_mask.sum(-1).to(torch.int64)
            tensors["batch.frame_lengths"] = frames.to(torch.int64)
            for layer, h in enumerate(out.hidden_states):
                tensors[f"batch.hidden_states.{layer}"] = h
            tensors["batch.last_hidden_state"] = out.last_hidden_state
        save_file({k: v.contiguous().clone() for k, v in tensors.items()}, str(OUT / f"{name}_expected.safetensors"))
        print(f"{name}: {len(state)} weights, {len(tensors)} expected tensors")


if __name__ == "__main__":
    main()
