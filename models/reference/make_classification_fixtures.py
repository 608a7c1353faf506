#!/usr/bin/env python3
"""Build the sequence-classification parity fixtures (models/tests/fixtures/classification-*).

Eight tiny random-weight transformers task models, each backbone with each kind of head:

| fixture                              | class                               | head                                   | weights file                        |
|--------------------------------------|-------------------------------------|----------------------------------------|-------------------------------------|
| classification-hubert-categories     | HubertForSequenceClassification     | 4 labels, single_label, weighted sum   | model.safetensors                   |
| classification-hubert-dimensions     | HubertForSequenceClassification     | arousal/valence/dominance, regression  | pytorch_model.bin                   |
| classification-wav2vec2-categories   | Wav2Vec2ForSequenceClassification   | 4 labels, no problem_type, weighted    | model.safetensors, no `wav2vec2.`   |
| classification-wav2vec2-dimensions   | Wav2Vec2ForSequenceClassification   | arousal/dominance/valence, regression  | model.safetensors                   |
| classification-wavlm-categories      | WavLMForSequenceClassification      | 4 labels, single_label, weighted sum   | model.safetensors                   |
| classification-wavlm-dimensions      | WavLMForSequenceClassification      | arousal/valence/dominance, regression  | model.safetensors                   |
| classification-data2vec-categories   | Data2VecAudioForSequenceClassification | 4 labels, single_label, weighted sum | model.safetensors                   |
| classification-data2vec-dimensions   | Data2VecAudioForSequenceClassification | valence/arousal/dominance, regression | pytorch_model.bin                  |

Data2Vec-Audio's backbone has a stack of positional convs (three here, of five
taps, each with a weightless LayerNorm and GELU) where the others have one
weight-normalised conv, a LayerNorm after every feature conv and a post-LN
encoder.

The categorical heads use `use_weighted_layer_sum` (softmax layer weights over
every hidden state), the dimensional ones the encoder's `last_hidden_state`;
the wav2vec2 categories and WavLM dimensions backbones are large-shaped
(LayerNorm convs, pre-LN encoder with a final LayerNorm), the others
base-shaped, so the weighted sum reads the pre-LN states and the plain head
the final LayerNorm's output. `classifier_proj_size` (6) differs from the
hidden sizes, so a transposed projector cannot load.

Every directory is written by `save_pretrained` (config.json with
`architectures`, `id2label`, `problem_type`; `hubert.`/`wav2vec2.`/`wavlm.`
keys plus `projector.*`, `classifier.*`, `layer_weights`) and the feature
extractor's `save_pretrained`. transformers 5 writes only safetensors, so the
pickle is `torch.save(model.state_dict())` as `pytorch_model.bin` (the layout
of checkpoints published before safetensors), and the prefix-less checkpoint
is the saved one with the backbone prefix stripped from its keys: transformers
does not write that layout, but `from_pretrained` reads it (it adds the base
model prefix to each key only found under it). Both are re-loaded with
`from_pretrained` here and must give the same logits with no missing key.

`classification-inputs.safetensors` holds the raw inputs `raw.I` (600, 917 and
760 samples: 29, 44 and 37 frames of the three-conv stack's x20 down-sampling).
Each fixture's `expected.safetensors` holds:

- `single.I.logits` (`[num_labels]`): the model on input I alone, prepared by
  the feature extractor, no attention mask (transformers' plain mean over frames);
- `batch.logits` (`[3, num_labels]`): the three inputs as one right-padded batch
  with the attention mask (`batch.lengths`, `batch.frame_lengths`), the mean
  over each item's valid frames (`_get_feature_vector_attention_mask`);
- `nomask.input_values`, `nomask.logits`: the padded batch without an attention
  mask (the feature extractor normalises over the padded length and the model
  averages every frame, padding included), as transformers computes it;
- for the categorical heads, `single.I.probabilities` and `batch.probabilities`:
  softmax of the logits over the labels.

The Rust tests in models/tests/classification_parity.rs load the directories
with the real loading code and compare against these tensors.

    pip install -r models/reference/requirements.txt
    python models/reference/make_classification_fixtures.py [FIXTURE ...]

Naming fixtures builds only those (the inputs file is written when absent).

Every run is deterministic (fixed seeds), so regenerating gives the same bytes
for the same library versions (the committed fixtures: torch 2.15.0,
transformers 5.24.0).
"""
import json
import pathlib
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import (
    Data2VecAudioConfig,
    Data2VecAudioForSequenceClassification,
    HubertConfig,
    HubertForSequenceClassification,
    Wav2Vec2Config,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForSequenceClassification,
    WavLMConfig,
    WavLMForSequenceClassification,
)

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_fixtures import randomise, synthetic_speechlike  # noqa: E402

OUT = HERE.parent / "tests" / "fixtures"
LENGTHS = [600, 917, 760]
CONV = dict(conv_dim=[16, 16, 16], conv_kernel=[10, 3, 3], conv_stride=[5, 2, 2])
CATEGORIES = ["neutral", "happy", "sad", "angry"]

BASE = dict(
    hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
    feat_extract_norm="group", conv_bias=False, do_stable_layer_norm=False,
    num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4, **CONV,
)
LARGE = dict(
    hidden_size=24, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
    feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True,
    num_conv_pos_embeddings=7, num_conv_pos_embedding_groups=2, **CONV,
)
WAVLM = dict(num_buckets=16, max_bucket_distance=20)
DATA2VEC = dict(
    hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
    conv_bias=True, num_conv_pos_embeddings=3, conv_pos_kernel_size=5,
    num_conv_pos_embedding_groups=4, **CONV,
)


def labels(names):
    return dict(id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})


CATEGORICAL = dict(use_weighted_layer_sum=True, classifier_proj_size=6, **labels(CATEGORIES))


def dimensional(order):
    return dict(use_weighted_layer_sum=False, classifier_proj_size=6, problem_type="regression",
                **labels(order))


AVD = ["arousal", "valence", "dominance"]
FIXTURES = {
    "classification-hubert-categories": dict(
        cls=HubertForSequenceClassification, config=HubertConfig,
        kwargs=dict(**BASE, **CATEGORICAL, problem_type="single_label_classification"),
        do_normalize=False, weights="safetensors", seed=400),
    "classification-hubert-dimensions": dict(
        cls=HubertForSequenceClassification, config=HubertConfig,
        kwargs=dict(**BASE, **dimensional(AVD)),
        do_normalize=True, weights="pytorch", seed=401),
    # No problem_type: four labels are read as single-label classification.
    "classification-wav2vec2-categories": dict(
        cls=Wav2Vec2ForSequenceClassification, config=Wav2Vec2Config,
        kwargs=dict(**LARGE, **CATEGORICAL),
        do_normalize=True, weights="no-prefix", seed=402),
    # audeering's output order: arousal, dominance, valence.
    "classification-wav2vec2-dimensions": dict(
        cls=Wav2Vec2ForSequenceClassification, config=Wav2Vec2Config,
        kwargs=dict(**BASE, **dimensional(["arousal", "dominance", "valence"])),
        do_normalize=False, weights="safetensors", seed=403),
    "classification-wavlm-categories": dict(
        cls=WavLMForSequenceClassification, config=WavLMConfig,
        kwargs=dict(**BASE, **WAVLM, **CATEGORICAL, problem_type="single_label_classification"),
        do_normalize=False, weights="safetensors", seed=404),
    "classification-wavlm-dimensions": dict(
        cls=WavLMForSequenceClassification, config=WavLMConfig,
        kwargs=dict(**LARGE, **WAVLM, **dimensional(AVD)),
        do_normalize=True, weights="safetensors", seed=405),
    "classification-data2vec-categories": dict(
        cls=Data2VecAudioForSequenceClassification, config=Data2VecAudioConfig,
        kwargs=dict(**DATA2VEC, **CATEGORICAL, problem_type="single_label_classification"),
        do_normalize=True, weights="safetensors", seed=406),
    "classification-data2vec-dimensions": dict(
        cls=Data2VecAudioForSequenceClassification, config=Data2VecAudioConfig,
        kwargs=dict(**DATA2VEC, **dimensional(["valence", "arousal", "dominance"])),
        do_normalize=False, weights="pytorch", seed=407),
}


def randomise_extras(model, seed: int) -> None:
    """Layer weights far from uniform (the initial ones/n softmaxes to a plain
    average) and WavLM gates around their initial 1, so each is visible."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "layer_weights":
                p.copy_(torch.randn(p.shape, generator=g))
            elif name.endswith("gru_rel_pos_const"):
                p.copy_(1.0 + 0.5 * torch.randn(p.shape, generator=g))
            elif name.endswith("rel_attn_embed.weight"):
                p.copy_(2.0 * torch.randn(p.shape, generator=g))


def rewrite_weights(dir_: pathlib.Path, model, how: str) -> None:
    """Replace the saved model.safetensors by the layout `how` names."""
    if how == "safetensors":
        return
    saved = dir_ / "model.safetensors"
    if how == "pytorch":
        saved.unlink()
        torch.save(model.state_dict(), dir_ / "pytorch_model.bin")
    elif how == "no-prefix":
        prefix = model.base_model_prefix + "."
        state = load_file(str(saved))
        assert any(k.startswith(prefix) for k in state)
        stripped = {k.removeprefix(prefix): v for k, v in state.items()}
        save_file(stripped, str(saved), metadata={"format": "pt"})
    else:
        raise ValueError(how)


def main() -> None:
    torch.manual_seed(0)
    raws = [synthetic_speechlike(n, seed=20 + i) for i, n in enumerate(LENGTHS)]
    inputs = OUT / "classification-inputs.safetensors"
    only = sys.argv[1:]
    if not only or not inputs.exists():
        save_file({f"raw.{i}": torch.from_numpy(r) for i, r in enumerate(raws)}, str(inputs))
    for name, spec in FIXTURES.items():
        if only and name not in only:
            continue
        config = spec["config"](**spec["kwargs"])
        model = spec["cls"](config).eval()
        randomise(model, seed=spec["seed"])
        randomise_extras(model, seed=spec["seed"] + 1000)
        dir_ = OUT / name
        if dir_.exists():
            shutil.rmtree(dir_)
        model.save_pretrained(dir_)
        rewrite_weights(dir_, model, spec["weights"])
        fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                      do_normalize=spec["do_normalize"], return_attention_mask=True)
        fe.save_pretrained(dir_)

        categorical = config.problem_type != "regression"
        tensors = {}
        with torch.inference_mode():
            for i, raw in enumerate(raws):
                inp = fe(raw, sampling_rate=16000, return_tensors="pt").input_values
                logits = model(inp).logits[0]
                tensors[f"single.{i}.logits"] = logits
                if categorical:
                    tensors[f"single.{i}.probabilities"] = logits.softmax(-1)
            batch = fe(raws, sampling_rate=16000, padding=True, return_attention_mask=True,
                       return_tensors="pt")
            logits = model(batch.input_values, attention_mask=batch.attention_mask).logits
            tensors["batch.logits"] = logits
            if categorical:
                tensors["batch.probabilities"] = logits.softmax(-1)
            lengths = batch.attention_mask.sum(-1)
            tensors["batch.lengths"] = lengths.to(torch.int64)
            tensors["batch.frame_lengths"] = model._get_feat_extract_output_lengths(lengths).to(torch.int64)
            nomask = fe(raws, sampling_rate=16000, padding=True, return_attention_mask=False,
                        return_tensors="pt").input_values
            tensors["nomask.input_values"] = nomask
            tensors["nomask.logits"] = model(nomask).logits

            # The directory as written loads back into the same model.
            again, info = spec["cls"].from_pretrained(dir_, output_loading_info=True)
            assert not info["missing_keys"], info
            assert not info["mismatched_keys"], info
            again.eval()
            for i, raw in enumerate(raws):
                inp = fe(raw, sampling_rate=16000, return_tensors="pt").input_values
                assert torch.equal(again(inp).logits[0], tensors[f"single.{i}.logits"]), name
        save_file({k: v.contiguous().clone() for k, v in tensors.items()}, str(dir_ / "expected.safetensors"))
        cfg = json.loads((dir_ / "config.json").read_text())
        files = sorted(p.name for p in dir_.iterdir())
        print(f"{name}: {cfg['architectures']}, problem_type {cfg.get('problem_type')}, "
              f"labels {list(cfg['id2label'].values())}, files {files}, "
              f"frames {tensors['batch.frame_lengths'].tolist()}")


if __name__ == "__main__":
    main()
