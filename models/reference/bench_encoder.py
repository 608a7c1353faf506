#!/usr/bin/env python3
"""Reference side of `cargo xtask bench encoder`.

    python bench_encoder.py make  --out DIR            # DistilHuBERT-size random model, ONNX export, parity tensors
    python bench_encoder.py time  --model DIR --framework torch|onnx --seconds 10 --threads 2 --runs 5

`make` writes DIR/{config.json, preprocessor_config.json, model.safetensors,
model.onnx, parity.safetensors}. The model has DistilHuBERT's real shape
(ntu-spml/distilhubert's config: 7 convs of 512 channels with GroupNorm, two
768-wide post-LN layers, 12 heads, 3072 FFN, 128-tap positional conv in 16
groups, no feature-projection LayerNorm) with random weights: no pretrained
weights can be downloaded here, and speed does not depend on weight values.

`time` prints one JSON line: median and minimum seconds per forward pass over
`--runs` timed runs after one warm-up, and the process's peak resident memory.
"""
import argparse
import json
import pathlib
import resource
import statistics
import time

import numpy as np


def distilhubert_config():
    from transformers import HubertConfig

    return HubertConfig(
        hidden_size=768, num_hidden_layers=2, num_attention_heads=12, intermediate_size=3072,
        feat_extract_norm="group", conv_bias=False, feat_proj_layer_norm=False, do_stable_layer_norm=False,
        conv_dim=[512] * 7, conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2],
        num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16, hidden_act="gelu",
        feat_extract_activation="gelu", layer_norm_eps=1e-5,
    )


def audio(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(seconds * 16000))).astype(np.float32)


def make(out: pathlib.Path) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import HubertModel

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cfg = distilhubert_config()
    model = HubertModel(cfg).eval()
    # Non-trivial norms and biases, so the parity check below means something.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.add_(0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.normal_(0.0, 0.02)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True))
    (out / "preprocessor_config.json").write_text(json.dumps({"do_normalize": False, "sampling_rate": 16000}))
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "masked_spec_embed"}
    save_file(state, str(out / "model.safetensors"))
    x = torch.from_numpy(audio(10.0))[None]
    with torch.inference_mode():
        o = model(x, output_hidden_states=True)
    tensors = {"input": x[0].clone()}
    for i, h in enumerate(o.hidden_states):
        tensors[f"hidden_states.{i}"] = h[0].clone()
    save_file(tensors, str(out / "parity.safetensors"))

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_values):
            return self.m(input_values).last_hidden_state

    torch.onnx.export(
        Wrapper(model), (x,), str(out / "model.onnx"), input_names=["input_values"],
        output_names=["last_hidden_state"], dynamic_axes={"input_values": {1: "samples"}},
        opset_version=17, dynamo=False,
    )
    print(json.dumps({"made": str(out)}))


def time_runs(fn, runs: int):
    fn()  # warm-up (allocations, ORT graph optimisation)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def time_model(model_dir: pathlib.Path, framework: str, seconds: float, threads: int, runs: int) -> None:
    x = audio(seconds)
    if framework == "torch":
        import torch
        from transformers import HubertModel

        torch.set_num_threads(threads)
        model = HubertModel.from_pretrained(str(model_dir)).eval()
        xt = torch.from_numpy(x)[None]

        def fn():
            with torch.inference_mode():
                model(xt, output_hidden_states=True)

        version = torch.__version__
    elif framework == "onnx":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(str(model_dir / "model.onnx"), so, providers=["CPUExecutionProvider"])
        feed = {"input_values": x[None]}

        def fn():
            sess.run(None, feed)

        version = ort.__version__
    else:
        raise SystemExit(f"unknown framework {framework}")
    times = time_runs(fn, runs)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "framework": framework, "version": version, "seconds_audio": seconds, "threads": threads,
        "median_s": statistics.median(times), "min_s": min(times), "runs": runs, "peak_rss_mb": peak_mb,
    }))


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", type=pathlib.Path, required=True)
    t = sub.add_parser("time")
    t.add_argument("--model", type=pathlib.Path, required=True)
    t.add_argument("--framework", required=True)
    t.add_argument("--seconds", type=float, default=10.0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.out)
    else:
        time_model(a.model, a.framework, a.seconds, a.threads, a.runs)


if __name__ == "__main__":
    main()
