"""Decoding with and without the word guard on a real model, side by side; prints JSON.

For each held-out prompt the same seed is decoded twice (guard off, guard on), alternating, so
machine noise hits both alike. Reports tokens per second, how often the guard refused a drawn
token, and the share of generated words the model folder's vocabulary knows.

    python benchmarks/bench_word_guard.py --model models/default --prompts 24
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from companion.generation import SamplingConfig
from companion.model.generate import TorchGenerator, decode_steps
from companion.text.template import render_chat
from companion.text.words import WORD
from companion.training.corpus import read_jsonl
from companion.training.evaluate import prompt_turns


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/default")
    p.add_argument("--prompts", type=int, default=24)
    p.add_argument("--tokens", type=int, default=120)
    args = p.parse_args()
    model_dir = Path(args.model)
    generator = TorchGenerator.load(model_dir)
    tok = generator.tokenizer
    vocabulary = generator.lexicon
    if vocabulary is None:
        raise SystemExit(f"{model_dir}/vocabulary.txt is missing: the guard has no words to keep to")
    records = read_jsonl(model_dir / "heldout.jsonl").records
    prompts = [t for r in records if (t := prompt_turns(r))][:: max(1, len(records) // args.prompts)][: args.prompts]
    stops = [tok.end_id, tok.user_id, tok.system_id, tok.assistant_id]
    results = {"off": {"s": 0.0, "tokens": 0, "words": 0, "known": 0, "rates": []},
               "on": {"s": 0.0, "tokens": 0, "words": 0, "known": 0, "rates": [], "steps": 0, "refused": 0}}
    for i, turns in enumerate(prompts):
        ids = render_chat(tok, turns)
        for mode in ("off", "on"):
            guard = generator.word_guard(ids) if mode == "on" else None
            sampling = SamplingConfig(temperature=0.8, max_tokens=args.tokens, seed=i)
            t0 = time.perf_counter()
            out = [s.token_id for s in decode_steps(generator.model, ids, sampling, stop_ids=stops, guard=guard)]
            seconds = time.perf_counter() - t0
            r = results[mode]
            r["s"] += seconds
            r["tokens"] += len(out)
            r["rates"].append(len(out) / seconds)
            words = WORD.findall(tok.decode([t for t in out if t not in stops]))
            r["words"] += len(words)
            r["known"] += sum(w.casefold() in vocabulary.words for w in words)
            if guard is not None:
                r["steps"] += guard.steps
                r["refused"] += guard.first_refused
    report = {"model": str(model_dir), "prompts": len(prompts), "threads": torch.get_num_threads()}
    for mode, r in results.items():
        report[mode] = {"tok_per_s_median": round(statistics.median(r["rates"]), 1),
                        "tokens": r["tokens"], "words": r["words"],
                        "in_vocabulary": round(r["known"] / max(1, r["words"]), 4)}
        if mode == "on":
            report[mode]["first_draw_refused"] = round(r["refused"] / max(1, r["steps"]), 4)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
