"""Is the answer the companion copies on topic, as a reader judges it? Before and now; prints JSON.

The companion's replies are mostly the nearest answer of its knowledge, copied
(companion/memory/knowledge.py). Whether that answer is about what the user asked is read,
not counted by shared words: benchmarks/data/relevance_labels.jsonl holds, for each of
models/default's 246 held-out first questions (NOVA 69, Sora 79, Lumin 98; none of their
dialogues is in the knowledge), the candidates the top two of four search rules returned (1,004),
then those the larger knowledges of 1 Dec rank first (1,073 in all), each judged 2 = on topic (answers it, or fits the story without clashing), 1 = near
(same subject, another question; or a story's reply whose details clash), 0 = off topic. The
judges: four helper agents of the session of 30 Nov 2026, given the user's words and the
candidate's answer only (not the rule, not the question it answered); on 47 NOVA candidates
read by the session itself, off-or-not agreed 44 times, the judges stricter on "on" (7 of the
session's 9 "on" they called near).

benchmarks/data/paraphrases.jsonl: 140 questions the knowledge does hold (NOVA 60, Sora 40,
Lumin 40), reworded by another helper as someone else would type them (some without diacritics):
does the search find their own answer, and does the companion then answer rather than say it
does not know?

benchmarks/data/everyday_questions.jsonl: 280 everyday messages (120 questions for NOVA, 80
things said to Sora, 80 English questions for Lumin) written by helpers who read nothing of the
corpus or the knowledge (so they test what a user might say, not what the knowledge happens to
hold); everyday_labels.jsonl: the answers each knowledge and rule ranks first for them, judged
the same way (496).

Rules: "before" = bm25 question 1 : answer 2, no floor (until 1 Dec 2026); "now" =
Knowledge.recall (question and answer alike, memory/unsure.py's floor). A candidate a rule
picks that nobody judged counts as "unjudged". --knowledge FILE adds another knowledge.jsonl
(an older one, say) to compare side by side with the model's:

    python benchmarks/bench_relevance.py --model models/default \
        --knowledge <(git show b1c63a3:models/default/knowledge.jsonl)
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

from companion.memory.knowledge import Exchange, Knowledge, search_stems

DATA = Path(__file__).parent / "data"
NAMES = {2: "on", 1: "near", 0: "off"}


def before(knowledge: Knowledge, text: str, tribe: str) -> tuple[Exchange | None, bool]:
    """The rule until 1 Dec 2026: the answer's words weighted twice, never "I do not know"."""
    stems = search_stems(text[:2000])
    row = knowledge.db.execute(
        "SELECT rowid FROM k WHERE k MATCH ? ORDER BY (tribe IS NOT ?), bm25(k, 1.0, 2.0) LIMIT 1",
        (" OR ".join(f'"{s}"' for s in stems), tribe)).fetchone() if stems else None
    return (knowledge.exchanges[row[0]] if row else None), False


def now(knowledge: Knowledge, text: str, tribe: str) -> tuple[Exchange | None, bool]:
    """Knowledge.recall as the app calls it: (what it would copy, whether it says it does not
    know — then the exchange is the nearest it held back)."""
    recall = knowledge.recall(text, 1, tribe=tribe)
    if recall.unsure:
        held = knowledge.search(text, 1, tribe=tribe)
        return (held[0] if held else None), True
    return (recall.exchanges[0] if recall.exchanges else None), False


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def judged(knowledge: Knowledge, rule, labels: list[dict]) -> dict:
    label_of = {(r["question"], r["candidate_question"], r["candidate_reply"]): r["label"] for r in labels}
    questions = list(dict.fromkeys((r["tribe"], r["question"]) for r in labels))
    out: dict = defaultdict(Counter)
    for tribe, question in questions:
        exchange, unsure = rule(knowledge, question, tribe)
        if exchange is None or exchange.tribe != tribe:
            verdict = "nothing"
        else:
            label = label_of.get((question, exchange.user, exchange.reply))
            verdict = "unjudged" if label is None else NAMES[label]
        out[tribe]["questions"] += 1
        out[tribe][("says it does not know, held back " if unsure else "") + verdict] += 1
    return {tribe: dict(sorted(c.items())) for tribe, c in out.items()}


def reworded(knowledge: Knowledge, rule, paraphrases: list[dict]) -> dict:
    out: dict = defaultdict(Counter)
    for p in paraphrases:
        exchange, unsure = rule(knowledge, p["question"], p["tribe"])
        own = exchange is not None and (exchange.user, exchange.reply) == (p["source_question"], p["source_reply"])
        out[p["tribe"]]["questions"] += 1
        out[p["tribe"]]["finds its own answer"] += own
        out[p["tribe"]]["finds it, answers"] += own and not unsure
        out[p["tribe"]]["says it does not know"] += unsure
    return {tribe: dict(c) for tribe, c in out.items()}


def measure(knowledge: Knowledge, labels: list[dict], paraphrases: list[dict], everyday: list[dict]) -> dict:
    report: dict = {"exchanges": len(knowledge)}
    for name, rule in (("before", before), ("now", now)):
        report[name] = {"heldout_top_answer": judged(knowledge, rule, labels),
                        "reworded_known_questions": reworded(knowledge, rule, paraphrases)}
        if everyday:
            report[name]["everyday_top_answer"] = judged(knowledge, rule, everyday)
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="models/default")
    p.add_argument("--knowledge", action="append", default=[], metavar="FILE",
                   help="another knowledge.jsonl to measure beside the model's (repeatable)")
    args = p.parse_args()
    knowledges = {f"{args.model}/knowledge.jsonl": Knowledge.in_folder(args.model)}
    if knowledges[f"{args.model}/knowledge.jsonl"] is None:
        raise SystemExit(f"{args.model} has no knowledge.jsonl (companion knowledge --model ... makes one)")
    knowledges.update({path: Knowledge.load(path) for path in args.knowledge})
    labels = read_jsonl(DATA / "relevance_labels.jsonl")
    paraphrases = read_jsonl(DATA / "paraphrases.jsonl")
    everyday_path = DATA / "everyday_labels.jsonl"
    everyday = read_jsonl(everyday_path) if everyday_path.is_file() else []
    report = {"judged_candidates": len(labels) + len(everyday),
              "knowledge": {path: measure(k, labels, paraphrases, everyday) for path, k in knowledges.items()}}
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
