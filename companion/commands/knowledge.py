"""`companion knowledge`: give a model folder the exchanges of a corpus to retrieve from.

Knowledge is data beside the weights (knowledge.jsonl), so it can be added or renewed without
training: the model's held-out dialogues stay out, so `companion eval` still scores unseen ones.
For a corpus a model was trained on, this writes what `companion train --knowledge` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from companion.commands.train import add_corpus_arguments, import_sources


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--model", required=True, help="model folder (knowledge.jsonl is written there)")
    add_corpus_arguments(p, "folder or file of dialogues (.jsonl/.txt/.md/.csv; repeatable)")
    p.set_defaults(func=run)


def run(args) -> int:
    from companion.errors import CompanionError
    from companion.memory.knowledge import KNOWLEDGE_FILE
    from companion.training.augment import build_knowledge
    from companion.training.clean import deduplicate
    from companion.training.corpus import read_jsonl

    model = Path(args.model)
    if not (model / "config.json").is_file():
        raise CompanionError(f"{model} is not a model folder (no config.json)")
    sources, _ = import_sources(args)
    heldout_path = model / "heldout.jsonl"
    heldout = read_jsonl(heldout_path).records if heldout_path.is_file() else []
    knowledge, _ = build_knowledge(deduplicate(r for _, records in sources for r in records).kept, heldout)
    if not len(knowledge):
        raise CompanionError("the corpus has no dialogues (a user turn and a reply) to learn from")
    knowledge.save(model / KNOWLEDGE_FILE)
    print(f"knowledge: {len(knowledge)} exchanges in {model / KNOWLEDGE_FILE} "
          f"({len(heldout)} held-out dialogues left out)", file=sys.stderr)
    return 0
