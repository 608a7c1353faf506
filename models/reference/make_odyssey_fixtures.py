#!/usr/bin/env python3
"""Build the Odyssey 2024 baseline fixture (models/tests/fixtures/odyssey-dim/).

The Odyssey 2024 Speech Emotion Recognition Challenge baseline
(msplabresearch/MSP-Podcast_Challenge; released on the Hugging Face Hub as
3loi/SER-Odyssey-Baseline-WavLM-Multi-Attributes, MIT) is a WavLM-large
encoder, attentive statistics pooling over its last hidden state, and a small
regression MLP, saved as one state dict:

    ssl_model.*                      WavLMModel
    pool_model.sap_linear.{weight,bias}   Linear(hidden, hidden)
    pool_model.attention             [hidden, 1]
    ser_model.fc.0.0.{weight,bias}   Linear(2 * hidden, head)    } one hidden
    ser_model.fc.0.1.{weight,bias}   LayerNorm(head)             } layer, ReLU
    ser_model.out.0.{weight,bias}    Linear(head, 3)

and a config.json holding the training set's waveform `mean` and `std`
(every input is standardised as (x - mean) / (std + 1e-6), one pair of scalars
for all utterances), `classifier_hidden_layers` and `id2label` (arousal,
dominance, valence: the challenge's label order, EmoAct, EmoDom, EmoVal, each
trained on (score - 1) / 6, so about 0..1).

The forward pass re-implemented here follows the challenge's code
(net/pooling.py, net/ser.py, eval_dim_ser.py), written anew:

- the attentive statistics pooling takes, of each item, the first
  floor((samples - 1) / 320) + 1 frames (the challenge computes the frame
  count from the attention mask with a fixed 20 ms hop), w = softmax over
  time of tanh(sap_linear(x)) @ attention, mu = sum(w x),
  rh = sqrt(clamp(sum(w x^2) - mu^2, 1e-5)), output [mu, rh];
- the MLP: (Linear, LayerNorm, ReLU) per hidden layer, then Linear
  (dropout is off at inference).

The WavLM here is tiny and random but has the released model's arrangement
(LayerNorm after every conv, conv bias, pre-LN encoder, the standard seven-conv
stack with its 320-sample hop, 320 buckets over distance 800), so the Rust
loader's inference of the WavLM shape from the weights is exercised too.

Written: config.json (the Odyssey metadata only, as the release has it),
pytorch_model.bin (the release's file name and format), and
expected.safetensors with `raw.I` (input I before standardisation),
`single.I` (its three outputs alone), `batch` (both as one zero-padded batch
with its attention mask, the challenge's collate function) and
`batch.lengths`.

    pip install -r models/reference/requirements.txt
    python models/reference/make_odyssey_fixtures.py
"""
import json
import pathlib
import sys

import torch
from safetensors.torch import save_file
from torch import nn
from transformers import WavLMConfig, WavLMModel

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_fixtures import randomise, synthetic_speechlike  # noqa: E402

OUT = HERE.parent / "tests" / "fixtures" / "odyssey-dim"
LENGTHS = [4000, 6421]  # 12 and 20 frames
MEAN, STD = 0.0131, 0.0874
LABELS = ["arousal", "dominance", "valence"]
HEAD = 20


class AttentiveStatisticsPooling(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.sap_linear = nn.Linear(dim, dim)
        self.attention = nn.Parameter(torch.randn(dim, 1))

    def forward(self, xs: torch.Tensor, lengths: list[int]) -> torch.Tensor:
        out = []
        for x, n in zip(xs, lengths):
            frames = (n - 1) // 320 + 1
            x = x[:frames].unsqueeze(0)
            w = torch.tanh(self.sap_linear(x)) @ self.attention  # [1, T, 1]
            w = torch.softmax(w.squeeze(2), dim=1).unsqueeze(2)
            mu = (x * w).sum(dim=1)
            rh = ((x * x * w).sum(dim=1) - mu * mu).clamp(min=1e-5).sqrt()
            out.append(torch.cat([mu, rh], dim=1).squeeze(0))
        return torch.stack(out)


class EmotionRegression(nn.Module):
    def __init__(self, dim: int, hidden: int, layers: int, outputs: int):
        super().__init__()
        widths = [dim] + [hidden] * layers
        self.fc = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b), nn.LayerNorm(b), nn.ReLU(), nn.Dropout(0.5))
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.out = nn.Sequential(nn.Linear(hidden, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fc in self.fc:
            x = fc(x)
        return self.out(x)


class Baseline(nn.Module):
    def __init__(self, config: WavLMConfig):
        super().__init__()
        self.ssl_model = WavLMModel(config)
        self.pool_model = AttentiveStatisticsPooling(config.hidden_size)
        self.ser_model = EmotionRegression(2 * config.hidden_size, HEAD, 1, len(LABELS))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.ssl_model(x, attention_mask=mask).last_hidden_state
        lengths = [int(n) for n in mask.sum(dim=1)]
        return self.ser_model(self.pool_model(h, lengths))


def main() -> None:
    torch.manual_seed(0)
    config = WavLMConfig(
        hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
        feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True,
        conv_dim=[8] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
        num_conv_pos_embeddings=7, num_conv_pos_embedding_groups=2,
        num_buckets=320, max_bucket_distance=800,
    )
    model = Baseline(config).eval()
    randomise(model, seed=401)
    g = torch.Generator().manual_seed(402)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gru_rel_pos_const"):
                p.copy_(1.0 + 0.5 * torch.randn(p.shape, generator=g))
            elif name.endswith("rel_attn_embed.weight"):
                p.copy_(2.0 * torch.randn(p.shape, generator=g))
    state = {k: v.contiguous().clone() for k, v in model.state_dict().items()
             if not k.endswith("masked_spec_embed")}
    OUT.mkdir(parents=True, exist_ok=True)
    torch.save(state, OUT / "pytorch_model.bin")
    meta = {
        "mean": MEAN,
        "std": STD,
        "classifier_hidden_layers": 1,
        "id2label": {str(i): l for i, l in enumerate(LABELS)},
        "label2id": {l: i for i, l in enumerate(LABELS)},
    }
    (OUT / "config.json").write_text(json.dumps(meta, indent=2) + "\n")

    raws = [synthetic_speechlike(n, seed=40 + i) for i, n in enumerate(LENGTHS)]
    tensors = {}
    with torch.inference_mode():
        standard = [(torch.from_numpy(r) - MEAN) / (STD + 1e-6) for r in raws]
        for i, (raw, x) in enumerate(zip(raws, standard)):
            tensors[f"raw.{i}"] = torch.from_numpy(raw)
            tensors[f"single.{i}"] = model(x[None], torch.ones(1, len(x)))[0]
        n = max(LENGTHS)
        batch = torch.zeros(len(raws), n)
        mask = torch.zeros(len(raws), n)
        for i, x in enumerate(standard):
            batch[i, : len(x)] = x
            mask[i, : len(x)] = 1
        tensors["batch"] = model(batch, mask)
        tensors["batch.lengths"] = torch.tensor(LENGTHS, dtype=torch.int64)
    save_file({k: v.contiguous().clone() for k, v in tensors.items()}, str(OUT / "expected.safetensors"))
    frames = [(n - 1) // 320 + 1 for n in LENGTHS]
    print(f"odyssey-dim: {len(state)} weights, frames {frames}, outputs {tensors['single.0'].tolist()}")


if __name__ == "__main__":
    main()
