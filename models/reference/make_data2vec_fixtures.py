#!/usr/bin/env python3
"""Build the Data2Vec-Audio parity fixture (models/tests/fixtures/data2vec-audio/).

A tiny random-weight `Data2VecAudioModel` with the family's arrangement: a
LayerNorm after every feature conv (conv bias on), a stack of positional convs
(three here, five taps each, grouped, each followed by a LayerNorm without
weights and GELU; the released models have five of 19 taps) and a post-LN
encoder. A three-layer conv stack (x20 down-sampling) keeps the inputs short.

The directory holds the checkpoint (config.json as `Data2VecAudioConfig`
writes it, preprocessor_config.json, model.safetensors, no key prefix) and
`expected.safetensors` with the same keys as the WavLM fixtures:

- `raw.I`: input I's samples (before the preprocessor);
- `single.I.extract_features`, `single.I.hidden_states.L`,
  `single.I.last_hidden_state`: input I alone;
- `batch.*`: both inputs as one right-padded batch with its attention mask
  (`batch.lengths` in samples, `batch.frame_lengths` in frames).

models/tests/data2vec_parity.rs loads the checkpoint with the real loading
code and compares against these tensors.

    pip install -r models/reference/requirements.txt
    python models/reference/make_data2vec_fixtures.py
"""
import pathlib
import sys

import torch
from safetensors.torch import save_file
from transformers import Data2VecAudioConfig, Data2VecAudioModel, Wav2Vec2FeatureExtractor

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_fixtures import randomise, synthetic_speechlike, write_checkpoint  # noqa: E402

OUT = HERE.parent / "tests" / "fixtures" / "data2vec-audio"
LENGTHS = [600, 917]


def main() -> None:
    torch.manual_seed(0)
    config = Data2VecAudioConfig(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        conv_dim=[16, 16, 16], conv_kernel=[10, 3, 3], conv_stride=[5, 2, 2], conv_bias=True,
        num_conv_pos_embeddings=3, conv_pos_kernel_size=5, num_conv_pos_embedding_groups=4,
    )
    model = Data2VecAudioModel(config).eval()
    randomise(model, seed=500)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("masked_spec_embed")}
    assert "encoder.pos_conv_embed.layers.2.conv.weight" in state
    write_checkpoint(OUT, config, state, do_normalize=True)
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                  do_normalize=True, return_attention_mask=True)
    tensors = {}
    raws = [synthetic_speechlike(n, seed=50 + i) for i, n in enumerate(LENGTHS)]
    with torch.inference_mode():
        for i, raw in enumerate(raws):
            inp = fe(raw, sampling_rate=16000, return_tensors="pt").input_values
            tensors[f"raw.{i}"] = torch.from_numpy(raw)
            tensors[f"single.{i}.extract_features"] = model.feature_extractor(inp)[0].transpose(0, 1)
            out = model(inp, output_hidden_states=True)
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
    save_file({k: v.contiguous().clone() for k, v in tensors.items()}, str(OUT / "expected.safetensors"))
    print(f"data2vec-audio: {len(state)} weights, {len(tensors)} expected tensors, frames {frames.tolist()}")


if __name__ == "__main__":
    main()
