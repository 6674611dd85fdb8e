"""`companion detector`: retrain which persona answers, on labelled dialogues, in about a minute.

The language model stays as it is (same words); only the context detector, whose α picks the
voice, learns from the corpus. The model's held-out dialogues stay out of training.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from companion.commands.train import add_corpus_arguments, add_detector_arguments, detector_config, import_sources


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + (
        ". The words the model writes do not change, only which persona α picks for them."))
    p.add_argument("--model", required=True, help="model folder to start from")
    add_corpus_arguments(p, "folder or file of labelled dialogues (.jsonl/.txt/.md/.csv; repeatable)")
    p.add_argument("--out", required=True, help="where to write the model (may be --model itself)")
    p.add_argument("--seed", type=int, default=1337)
    add_detector_arguments(p, default_epochs=12)
    p.set_defaults(func=run)


def run(args) -> int:
    from dataclasses import asdict

    from companion.errors import CompanionError
    from companion.training.clean import deduplicate
    from companion.training.detector import retrain_model_detector

    if args.detector_epochs < 1:
        raise CompanionError("--detector-epochs must be at least 1")
    sources, _ = import_sources(args)
    records = deduplicate(r for _, rs in sources for r in rs).kept
    result = retrain_model_detector(Path(args.model), records, Path(args.out), detector_config(args),
                                    log=lambda line: print(line, file=sys.stderr))
    print(json.dumps({**asdict(result), "model": args.out}))
    return 0
