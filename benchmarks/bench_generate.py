"""Decode speed of a randomly initialised tribal transformer with the KV cache; prints JSON.

Example (the shape of the foundation issue's target, >= 250 tok/s on a 2-core CPU):
    python benchmarks/bench_generate.py --dim 288 --layers 6 --heads 6 --vocab 32000 \
        --seq-len 256 --prompt 16 --tokens 200
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from companion.generation import SamplingConfig
from companion.model import ModelConfig, TribalTransformer
from companion.model.generate import HEAD_PRECISIONS, decode_steps, resolve_head_dtype


def run_once(model, prompt, sampling, contrast=None) -> tuple[float, float, int]:
    """(prompt ms, decode seconds, tokens decoded); the prompt pass is timed on its own."""
    steps = decode_steps(model, prompt, sampling, contrast_ids=contrast)
    t0 = time.perf_counter()
    next(steps)  # prompt pass + first sample
    t1 = time.perf_counter()
    n = 0
    for _ in steps:
        n += 1
    t2 = time.perf_counter()
    return (t1 - t0) * 1000, t2 - t1, n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=288)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--prompt", type=int, default=16, help="prompt length in tokens")
    p.add_argument("--tokens", type=int, default=200, help="tokens to generate")
    p.add_argument("--tribe-dim", type=int, default=None)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--head-precision", choices=HEAD_PRECISIONS, default="auto",
                   help="output-head dtype of the reported figure; float32 is always measured beside it")
    p.add_argument("--greedy", action="store_true", help="argmax instead of the default sampling")
    p.add_argument("--repeat", type=int, default=5, help="timed runs; the median is reported")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--question-weight", type=float, default=2.0,
                   help="context-aware decoding, measured beside the plain decode (the contrast: the "
                        "prompt's first token)")
    args = p.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tribe_dim = args.tribe_dim or max(2, args.dim // 6)
    config = ModelConfig(
        vocab_size=args.vocab, dim=args.dim, n_layers=args.layers, n_heads=args.heads,
        max_seq_len=args.seq_len, tribe_dim=tribe_dim,
    )
    model = TribalTransformer(config).eval()
    prompt = torch.randint(0, args.vocab, (args.prompt,)).tolist()
    sampling = SamplingConfig(max_tokens=args.tokens, seed=args.seed)
    if args.greedy:
        sampling = sampling.with_(temperature=0.0)

    weight = model.tok_embeddings.weight
    head_dtype = resolve_head_dtype(args.head_precision, head_bytes=weight.numel() * weight.element_size())
    # bfloat16 is always measured beside float32, whichever one "auto" reports.
    variants = {"float32": None, "bfloat16": torch.bfloat16}
    reported = str(head_dtype).removeprefix("torch.") if head_dtype else "float32"
    contrasted = sampling.with_(question_weight=args.question_weight)
    # Interleave the variants run by run so machine noise hits them alike.
    runs: dict[str, list] = {name: [] for name in [*variants, "question_weight"]}
    for name, dtype in variants.items():  # warm-up: first-call allocations, kernel selection
        model.use_head_precision(dtype)
        run_once(model, prompt, sampling)
    for _ in range(args.repeat):
        for name, dtype in variants.items():
            model.use_head_precision(dtype)
            runs[name].append(run_once(model, prompt, sampling))
        model.use_head_precision(head_dtype)
        runs["question_weight"].append(run_once(model, prompt, contrasted, contrast=prompt[:1]))
    decoded = runs[reported][0][2]  # tokens after the first (which the prompt pass produced)

    def tok_per_s(name: str) -> float:
        return round(decoded / statistics.median(r[1] for r in runs[name]), 1)

    decode_s = statistics.median(r[1] for r in runs[reported])
    print(json.dumps({
        "tok_per_s": tok_per_s(reported),
        "head_precision": reported,
        "tok_per_s_by_head_precision": {name: tok_per_s(name) for name in variants},
        "tok_per_s_with_question_weight": tok_per_s("question_weight"),
        "question_weight": args.question_weight,
        "ms_per_token": round(decode_s / decoded * 1000, 3),
        "prompt_ms": round(statistics.median(r[0] for r in runs[reported]), 2),
        "params": model.num_params(),
        "tokens": decoded + 1,
        "prompt_tokens": args.prompt,
        "sampling": "greedy" if args.greedy else "temperature=0.8,top_k=40,top_p=0.95,rep=1.1",
        "threads": torch.get_num_threads(),
        "repeat": args.repeat,
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "shape": {"dim": args.dim, "layers": args.layers, "heads": args.heads, "vocab": args.vocab,
                  "seq_len": args.seq_len, "tribe_dim": tribe_dim},
    }))


if __name__ == "__main__":
    main()
