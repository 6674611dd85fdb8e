"""Replies with and without the model's knowledge, side by side on a real model; prints JSON.

Three ways for each held-out prompt, the same seed, interleaved so machine noise hits all
alike: the model alone; with its knowledge (knowledge.jsonl) in the system turn but no copying;
with knowledge and copying (the app's default weight). Reports tokens per second, the median
time to the first words, and what loading and searching the knowledge cost, and asking α
which tribe answers (the search prefers that tribe's exchanges). Then, with the app's own
sampling, whether each reply keeps to the memory it copies or leaves it mid-way.

    python benchmarks/bench_knowledge.py --model models/default --prompts 24
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from companion.generation import COPY_WEIGHT, SamplingConfig
from companion.memory.knowledge import Knowledge, replies_in
from companion.model.generate import TorchGenerator
from companion.training.corpus import read_jsonl
from companion.training.evaluate import EVAL_SAMPLING, prompt_turns, with_knowledge


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/default")
    p.add_argument("--prompts", type=int, default=24)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    gen = TorchGenerator.load(args.model)
    started = time.perf_counter()
    knowledge = Knowledge.in_folder(args.model)
    load_ms = (time.perf_counter() - started) * 1000
    if knowledge is None:
        raise SystemExit(f"{args.model} has no knowledge.jsonl (companion knowledge --model ... makes one)")
    records = [r for r in read_jsonl(f"{args.model}/heldout.jsonl").records if prompt_turns(r)]
    step = max(1, len(records) // args.prompts)
    prompts = [prompt_turns(r) for r in records[::step][: args.prompts]]
    started = time.perf_counter()
    for turns in prompts:
        knowledge.search(turns[-1].text)
    search_ms = (time.perf_counter() - started) * 1000 / len(prompts)
    # The app asks α which tribe answers before it searches (companion.Companion._answering).
    started = time.perf_counter()
    for turns in prompts:
        gen.reply_alpha(turns[-1:])
    tribe_ms = (time.perf_counter() - started) * 1000 / len(prompts)
    ways = {"model alone": (None, 0.0), "knowledge, no copying": (knowledge, 0.0),
            f"knowledge, copying {COPY_WEIGHT}": (knowledge, COPY_WEIGHT)}
    stats = {name: {"tokens": 0, "seconds": 0.0, "first_words_ms": []} for name in ways}
    for i, turns in enumerate(prompts):
        for name, (k, weight) in ways.items():
            shown, _, _ = with_knowledge(gen, turns, k, EVAL_SAMPLING.max_tokens)
            started = time.perf_counter()
            first = None
            for piece in gen.chat(shown, EVAL_SAMPLING.with_(seed=i, copy_weight=weight)):
                if first is None and piece.text.strip():
                    first = time.perf_counter() - started
            s = stats[name]
            s["seconds"] += time.perf_counter() - started
            s["tokens"] += piece.tokens
            s["first_words_ms"].append((first or 0.0) * 1000)
    # With the app's own sampling (temperature 0.8, top-p 0.95, 200 tokens): does a reply that
    # copies its memory keep to it, or leave it mid-sentence (companion/model/copy.py, share)?
    fidelity = {"same_as_memory": 0, "memory_cut_short": 0, "left_it_mid_way": 0, "own_words_from_start": 0}
    for i, turns in enumerate(prompts):
        shown, lines, _ = with_knowledge(gen, turns, knowledge, SamplingConfig().max_tokens)
        pieces = list(gen.chat(shown, SamplingConfig(seed=i)))
        reply = "".join(p.text for p in pieces).strip()
        tribe = pieces[-1].alpha.dominant().value
        memory = next((r for t, r, _ in replies_in("\n".join(lines)) if t == tribe), None)
        if memory is None:
            continue
        key = ("same_as_memory" if reply == memory.strip() else "memory_cut_short" if memory.startswith(reply)
               else "left_it_mid_way" if reply.split()[:2] == memory.split()[:2] else "own_words_from_start")
        fidelity[key] += 1
    print(json.dumps({
        "model": args.model, "prompts": len(prompts), "exchanges": len(knowledge),
        "knowledge_load_ms": round(load_ms, 1), "search_ms": round(search_ms, 2),
        "answering_tribe_ms": round(tribe_ms, 2),
        **{name: {"tok_per_s": round(s["tokens"] / s["seconds"], 1), "tokens": s["tokens"],
                  "first_words_ms_median": round(statistics.median(s["first_words_ms"]), 1)}
           for name, s in stats.items()},
        "app_sampling_copy": fidelity,
    }))


if __name__ == "__main__":
    main()
