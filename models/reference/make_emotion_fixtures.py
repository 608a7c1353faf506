#!/usr/bin/env python3
"""Build the emotion-model parity fixtures.

Re-creates, in PyTorch, every head Emoscope's checkpoint format describes
(`models/src/emotion/manifest.rs`): the softmax-weighted sum over hidden
states, attentive statistics pooling as in the Odyssey 2024 SER challenge
baseline, early fusion with an optional audio-only fallback MLP, and late
fusion. Each model is an Emoscope checkpoint directory under
`models/tests/fixtures/emotion/<name>/` (`emoscope.json`, `head.safetensors`)
whose backbones are the encoder and text fixtures next to it (relative
paths), plus `expected.safetensors` with the pooled audio vector, the text
embedding and the outputs of each utterance alone, of both as one padded
batch, and without transcript text where the model falls back.

It also re-creates audeering's published `wav2vec2-large-robust-12-ft-emotion-msp-dim`
classes exactly as the model card defines them (`RegressionHead`,
`EmotionModel(Wav2Vec2PreTrainedModel)`), at a tiny size with random
weights, saved as published (`config.json` naming
`Wav2Vec2ForSpeechClassification`, `pytorch_model.bin`,
`preprocessor_config.json`), with the logits the model card's code prints.

    pip install -r models/reference/requirements.txt
    python models/reference/make_fixtures.py         # encoder fixtures (backbones)
    python models/reference/make_text_fixtures.py    # text fixtures (backbones)
    python models/reference/make_emotion_fixtures.py
"""
import json
import math
import pathlib
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import AutoModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model
from transformers.models.wav2vec2.modeling_wav2vec2 import Wav2Vec2PreTrainedModel

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_fixtures import randomise as randomise_encoder, synthetic_speechlike  # noqa: E402
import make_text_fixtures  # noqa: E402

FIXTURES = HERE.parent / "tests" / "fixtures"
OUT = FIXTURES / "emotion"
LENGTHS = [8000, 12345]
TEXTS = ["The results were wonderful and everyone was delighted.", "I can't believe you did this to me!"]


class Mlp(nn.Module):
    """`models/src/head.rs` `Mlp`: dropout before each Linear, activation between them."""

    def __init__(self, dims, activation, dropout):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])])
        self.act = {"relu": F.relu, "tanh": torch.tanh, "gelu": F.gelu}[activation]
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(self.dropout(x))
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x


class AttentiveStatisticsPooling(nn.Module):
    """The Odyssey 2024 SER baseline's pooling (MSP-UTD/MSP-Podcast_Challenge), item by item."""

    def __init__(self, input_size):
        super().__init__()
        self.sap_linear = nn.Linear(input_size, input_size)
        self.attention = nn.Parameter(torch.FloatTensor(input_size, 1))
        nn.init.normal_(self.attention, mean=0, std=1)

    def forward(self, xs, feat_lens):
        pooled = []
        for x, n in zip(xs, feat_lens):
            x = x[:n].unsqueeze(0)
            h = torch.tanh(self.sap_linear(x))
            w = torch.matmul(h, self.attention).squeeze(dim=2)
            w = F.softmax(w, dim=1).view(x.size(0), x.size(1), 1)
            mu = torch.sum(x * w, dim=1)
            rh = torch.sqrt((torch.sum((x ** 2) * w, dim=1) - mu ** 2).clamp(min=1e-5))
            pooled.append(torch.cat((mu, rh), 1).squeeze(0))
        return torch.stack(pooled)


class EmoscopeEmotionHead(nn.Module):
    """Everything of an Emoscope checkpoint that lives in head.safetensors; the
    attribute names are the tensor names."""

    def __init__(self, spec, n_states, hidden, text_dim):
        super().__init__()
        self.spec = spec
        audio, head = spec.get("audio"), spec["head"]
        a = 0
        if audio:
            if audio["layers"] == "weighted":
                self.layer_weights = nn.Parameter(torch.zeros(n_states))
            if audio["pooling"] == "attentive_statistics":
                self.pooling = AttentiveStatisticsPooling(hidden)
                a = 2 * hidden
            else:
                a = hidden
        t = text_dim if spec.get("text") else 0
        dims = lambda n: [n] + head["hidden"] + [3]  # noqa: E731
        act, p = head["activation"], head["dropout"]
        if head["fusion"] == "early":
            self.head = Mlp(dims(a + t), act, p)
            if head.get("audio_fallback"):
                self.fallback = Mlp(dims(a), act, p)
        else:
            self.audio_head = Mlp(dims(a), act, p)
            self.text_head = Mlp(dims(t), act, p)
            self.late_weight = nn.Parameter(torch.zeros(3))

    def pool_audio(self, out, frame_lengths):
        layers = self.spec["audio"]["layers"]
        if layers == "last":
            x = out.last_hidden_state
        elif layers == "weighted":
            w = F.softmax(self.layer_weights, dim=-1)
            x = sum(w[i] * h for i, h in enumerate(out.hidden_states))
        else:
            x = out.hidden_states[layers["index"]]
        if self.spec["audio"]["pooling"] == "attentive_statistics":
            return self.pooling(x, frame_lengths)
        return torch.stack([x[b, :n].mean(0) for b, n in enumerate(frame_lengths)])

    def predict(self, audio, text):
        if self.spec["head"]["fusion"] == "early":
            if text is None and self.spec.get("text"):
                return self.fallback(audio)
            parts = [v for v in (audio, text) if v is not None]
            return self.head(torch.cat(parts, dim=-1))
        if text is None:
            return self.audio_head(audio)
        w = torch.sigmoid(self.late_weight)
        return w * self.audio_head(audio) + (1 - w) * self.text_head(text)


def randomise_head(head, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in head.named_parameters():
            if name.endswith("bias") or name in ("layer_weights", "late_weight"):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[1] if p.dim() > 1 else p.shape[0]
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(fan_in))


def text_embeddings(text_dir, pooling_override, texts):
    """Sentence embeddings as `TextEncoder` documents them (windows, pooling, mean, normalise)."""
    model = AutoModel.from_pretrained(str(text_dir)).eval()
    tok = Tokenizer.from_file(str(text_dir / "tokenizer.json"))
    pool_cfg = json.loads((text_dir / "1_Pooling" / "config.json").read_text())
    pooling = pooling_override or ("cls" if pool_cfg["pooling_mode_cls_token"] else "mean")
    modules = json.loads((text_dir / "modules.json").read_text())
    normalize = any(m["type"].endswith("Normalize") for m in modules)
    out = []
    for text in texts:
        embs = []
        for ids in make_text_fixtures.windows(tok, text):
            _, e = make_text_fixtures.pooled(model, None, ids, pooling)
            embs.append(e)
        e = torch.stack(embs).mean(0)
        if normalize:
            e = e / e.norm().clamp_min(1e-12)
        out.append(e)
    return torch.stack(out), model.config


MODELS = {
    "audio_mean": dict(
        audio=dict(path="../../distilhubert", layers="last", pooling="mean"),
        head=dict(fusion="early", hidden=[16], activation="relu", dropout=0.1),
        labels=["arousal", "valence", "dominance"], output_range=[0.0, 1.0]),
    "audio_asp_weighted": dict(
        audio=dict(path="../../wav2vec2_robust", layers="weighted", pooling="attentive_statistics"),
        head=dict(fusion="early", hidden=[], activation="gelu", dropout=0.0),
        labels=["valence", "arousal", "dominance"], output_range=[1.0, 7.0]),
    "text_mean": dict(
        text=dict(path="../../text/distilbert", pooling="mean"),
        head=dict(fusion="early", hidden=[8], activation="tanh", dropout=0.2),
        labels=["arousal", "valence", "dominance"], output_range=[0.0, 1.0]),
    "early_fallback": dict(
        audio=dict(path="../../distilhubert", layers={"index": 1}, pooling="attentive_statistics"),
        text=dict(path="../../text/bert"),
        head=dict(fusion="early", hidden=[16, 8], activation="gelu", dropout=0.1, audio_fallback=True),
        labels=["arousal", "dominance", "valence"], output_range=[0.0, 1.0]),
    "late": dict(
        audio=dict(path="../../wav2vec2_robust", layers="last", pooling="mean"),
        text=dict(path="../../text/roberta"),
        head=dict(fusion="late", hidden=[8], activation="relu", dropout=0.0),
        labels=["arousal", "valence", "dominance"], output_range=[-1.0, 1.0]),
}


def build(name, spec, seed):
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    tensors = {}
    audio_out, frame_lengths, n_states, hidden = None, None, 0, 0
    if "audio" in spec:
        enc_dir = (d / spec["audio"]["path"]).resolve()
        encoder = AutoModel.from_pretrained(str(enc_dir)).eval()
        pre = json.loads((enc_dir / "preprocessor_config.json").read_text())
        fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                      do_normalize=pre["do_normalize"], return_attention_mask=True)
        n_states, hidden = encoder.config.num_hidden_layers + 1, encoder.config.hidden_size
    text_dim, text_emb = 0, None
    if "text" in spec:
        text_emb, text_cfg = text_embeddings((d / spec["text"]["path"]).resolve(), spec["text"].get("pooling"), TEXTS)
        text_dim = text_emb.shape[1]
    head = EmoscopeEmotionHead(spec, n_states, hidden, text_dim).eval()
    randomise_head(head, seed)
    raws = [synthetic_speechlike(n, seed=10 + i) for i, n in enumerate(LENGTHS)]
    with torch.inference_mode():
        pooled_alone = []
        for i, raw in enumerate(raws):
            audio = None
            if "audio" in spec:
                inp = fe(raw, sampling_rate=16000, return_tensors="pt").input_values
                out = encoder(inp, output_hidden_states=True)
                audio = head.pool_audio(out, [out.last_hidden_state.shape[1]])
                tensors[f"alone.{i}.pooled_audio"] = audio[0]
            text = text_emb[i:i + 1] if text_emb is not None else None
            if text is not None:
                tensors[f"alone.{i}.text_embedding"] = text[0]
            tensors[f"alone.{i}.output"] = head.predict(audio, text)[0]
            if "text" in spec and "audio" in spec:
                tensors[f"no_text.{i}.output"] = head.predict(audio, None)[0]
            pooled_alone.append(audio)
        if "audio" in spec:
            batch = fe(raws, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt")
            out = encoder(batch.input_values, attention_mask=batch.attention_mask, output_hidden_states=True)
            frames = encoder._get_feat_extract_output_lengths(batch.attention_mask.sum(-1)).tolist()
            audio = head.pool_audio(out, frames)
            tensors["batch.pooled_audio"] = audio
            tensors["batch.output"] = head.predict(audio, text_emb)
    manifest = {
        "format": "emoscope-emotion-model", "version": 1, "name": name,
        **{k: spec[k] for k in ("audio", "text") if k in spec},
        "head": spec["head"], "labels": spec["labels"], "output_range": spec["output_range"],
        "sample_rate": 16000,
        "provenance": {"made_by": "models/reference/make_emotion_fixtures.py", "weights": f"random, seed {seed}"},
    }
    (d / "emoscope.json").write_text(json.dumps(manifest, indent=2) + "\n")
    state = {k: v.contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(d / "head.safetensors"))
    save_file({k: v.contiguous().clone() for k, v in tensors.items()}, str(d / "expected.safetensors"))
    print(f"{name}: head tensors {sorted(state)}")


# --- audeering's published model, re-created from its model card -------------------------------

class RegressionHead(nn.Module):
    r"""Classification head (as on the model card of audeering/wav2vec2-large-robust-12-ft-emotion-msp-dim)."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.final_dropout)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features, **kwargs):
        x = features
        x = self.dropout(x)
        x = self.dense(x)
        x = torch.tanh(x)
        x = self.dropout(x)
        x = self.out_proj(x)
        return x


class EmotionModel(Wav2Vec2PreTrainedModel):
    r"""Speech emotion classifier (as on the model card)."""

    def __init__(self, config):
        super().__init__(config)
        self.config = config
        self.wav2vec2 = Wav2Vec2Model(config)
        self.classifier = RegressionHead(config)
        self.post_init()

    def forward(self, input_values):
        outputs = self.wav2vec2(input_values)
        hidden_states = outputs[0]
        hidden_states = torch.mean(hidden_states, dim=1)
        logits = self.classifier(hidden_states)
        return hidden_states, logits


def build_audeering():
    d = OUT / "audeering_tiny"
    d.mkdir(parents=True, exist_ok=True)
    config = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=48,
        feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True,
        num_conv_pos_embeddings=15, num_conv_pos_embedding_groups=2,
        conv_dim=[24] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
        final_dropout=0.1, num_labels=3,
        id2label={0: "arousal", 1: "dominance", 2: "valence"}, label2id={"arousal": 0, "dominance": 1, "valence": 2},
        architectures=["Wav2Vec2ForSpeechClassification"], problem_type="regression",
    )
    model = EmotionModel(config).eval()
    randomise_encoder(model.wav2vec2, seed=300)
    g = torch.Generator().manual_seed(301)
    with torch.no_grad():
        for p in model.classifier.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1]))
    cfg = config.to_dict()
    cfg["architectures"] = ["Wav2Vec2ForSpeechClassification"]
    (d / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    pre = dict(do_normalize=True, feature_extractor_type="Wav2Vec2FeatureExtractor", feature_size=1,
               padding_side="right", padding_value=0.0, return_attention_mask=True, sampling_rate=16000)
    (d / "preprocessor_config.json").write_text(json.dumps(pre, indent=2, sort_keys=True) + "\n")
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("masked_spec_embed")}
    # As published: a PyTorch pickle (torch.save of the state dict), no safetensors.
    torch.save(state, d / "pytorch_model.bin")
    # The model card's usage code: processor -> model -> logits.
    processor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                         do_normalize=True, return_attention_mask=True)
    tensors = {}
    with torch.inference_mode():
        for i, n in enumerate(LENGTHS):
            x = synthetic_speechlike(n, seed=10 + i)
            y = processor(x, sampling_rate=16000)["input_values"][0].reshape(1, -1)
            pooled, logits = model(torch.from_numpy(y))
            tensors[f"alone.{i}.pooled_audio"] = pooled[0]
            tensors[f"alone.{i}.output"] = logits[0]
    save_file({k: v.contiguous().clone() for k, v in tensors.items()}, str(d / "expected.safetensors"))
    print(f"audeering_tiny: {len(state)} weights in pytorch_model.bin")


def main():
    torch.manual_seed(0)
    OUT.mkdir(parents=True, exist_ok=True)
    inputs = {f"input.{i}": torch.from_numpy(synthetic_speechlike(n, seed=10 + i)) for i, n in enumerate(LENGTHS)}
    save_file(inputs, str(OUT / "inputs.safetensors"))
    (OUT / "inputs.json").write_text(json.dumps({"texts": TEXTS}, indent=2) + "\n")
    for seed, (name, spec) in enumerate(MODELS.items()):
        build(name, spec, 200 + seed)
    build_audeering()


if __name__ == "__main__":
    main()
