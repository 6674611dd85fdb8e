"""Which knowledge does a question find? The search rule before and now, side by side; prints JSON.

Decoding copies from the memories' answers of the tribe that speaks (companion/model/copy.py),
so what counts is the first such answer among the MEMORIES exchanges the prompt shows. For
each question it is scored with eval's topic match against the tribe's references (0.5 =
chance; a question with no answer of its tribe among the memories scores 0.5: nothing to copy).

- heldout: the model's held-out questions (never in its knowledge); references = their answers.
- leave_one_out: up to --per-tribe exchanges of each tribe searched with themselves excluded.

Rules: "before" = the index until 30 Nov 2026 (stems with diacritics, bm25 question 2 :
answer 1, any tribe, 2 memories of 240 characters shown); "now" = Knowledge.search with the
tribe that answers (the labelled one here; in the app, α's), one memory, its first whole
sentences within ANSWER_CHARS shown. No model is run: this measures retrieval alone.

    python benchmarks/bench_retrieval.py --model models/default
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import time

from companion.memory.context import ANSWER_CHARS, MEMORIES
from companion.memory.knowledge import Exchange, Knowledge, clip, clip_answer, content_stems
from companion.training.corpus import read_jsonl
from companion.training.evaluate import TopicMatcher, first_reply, prompt_turns
from companion.tribes import TRIBE_ORDER


class BeforeRule:
    """The search as it was: unfolded stems, question 2 : answer 1, no tribe preference, the
    whole answer indexed but 240 characters of it shown."""

    memories = 2

    @staticmethod
    def shown(reply: str) -> str:
        return clip(reply, 240)

    def __init__(self, exchanges: list[Exchange]):
        self.exchanges = exchanges
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE VIRTUAL TABLE k USING fts5(user, reply)")
        self.db.executemany("INSERT INTO k(rowid, user, reply) VALUES (?, ?, ?)",
                            ((i, " ".join(sorted(content_stems(e.user))), " ".join(sorted(content_stems(e.reply))))
                             for i, e in enumerate(exchanges)))

    def search(self, text: str, limit: int, exclude: int | None = None, tribe: str | None = None) -> list[Exchange]:
        stems = sorted(content_stems(text[:2000]))
        if not stems:
            return []
        rows = self.db.execute(
            "SELECT rowid FROM k WHERE k MATCH ? AND rowid != ? ORDER BY bm25(k, 2.0, 1.0) LIMIT ?",
            (" OR ".join(f'"{s}"' for s in stems), -1 if exclude is None else exclude, limit)).fetchall()
        return [self.exchanges[i] for (i,) in rows]


def score(rule, questions: list[tuple[str, int | None]], references: list[str], tribe: str) -> dict:
    matcher = TopicMatcher(references)
    scores, missing, ms = [], 0, []
    for own, (question, exclude) in enumerate(questions):
        started = time.perf_counter()
        found = rule.search(question, getattr(rule, "memories", MEMORIES), exclude=exclude, tribe=tribe)
        ms.append((time.perf_counter() - started) * 1000)
        copyable = next((e for e in found if e.tribe == tribe), None)
        missing += copyable is None
        if copyable is None:
            scores.append(0.5)
            continue
        # Only what the memory line shows of the answer is copied from.
        shown = rule.shown(copyable.reply) if hasattr(rule, "shown") else clip_answer(copyable.reply, ANSWER_CHARS)
        scores.append(matcher.match(shown, own))
    return {"topic_match": round(statistics.mean(scores), 4), "no_copyable_memory": missing,
            "questions": len(questions), "search_ms": round(statistics.median(ms), 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/default")
    p.add_argument("--per-tribe", type=int, default=400, help="leave-one-out questions per tribe")
    args = p.parse_args()
    knowledge = Knowledge.in_folder(args.model)
    if knowledge is None:
        raise SystemExit(f"{args.model} has no knowledge.jsonl (companion knowledge --model ... makes one)")
    rules = {"before": BeforeRule(knowledge.exchanges), "now": knowledge}
    heldout = [r for r in read_jsonl(f"{args.model}/heldout.jsonl").records if prompt_turns(r)]
    rng = random.Random(1)
    report: dict = {"exchanges": len(knowledge), "memories": MEMORIES}
    for name, rule in rules.items():
        report[name] = {"heldout": {}, "leave_one_out": {}}
    for tribe in TRIBE_ORDER:
        records = [r for r in heldout if r.tribe is tribe]
        held = ([(prompt_turns(r)[-1].text, None) for r in records], [first_reply(r) for r in records])
        own = [i for i, e in enumerate(knowledge.exchanges) if e.tribe == tribe.value]
        own = rng.sample(own, min(args.per_tribe, len(own)))
        loo = ([(knowledge.exchanges[i].user, i) for i in own], [knowledge.exchanges[i].reply for i in own])
        for name, rule in rules.items():
            for split, (questions, references) in (("heldout", held), ("leave_one_out", loo)):
                if len(references) > 1:
                    report[name][split][tribe.value] = score(rule, questions, references, tribe.value)
    for name in rules:
        for split in ("heldout", "leave_one_out"):
            per = report[name][split]
            n = sum(v["questions"] for v in per.values())
            per["all"] = {"topic_match": round(sum(v["topic_match"] * v["questions"] for v in per.values()) / n, 4),
                          "no_copyable_memory": sum(v["no_copyable_memory"] for v in per.values()), "questions": n}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
