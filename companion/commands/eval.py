"""`companion eval --model DIR --json`: α accuracy, real-word ratio, held-out loss, samples."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--model", required=True, help="model folder")
    p.add_argument("--heldout", help="held-out corpus JSONL (default: heldout.jsonl in the model folder)")
    p.add_argument("--vocabulary", help="training vocabulary, one word a line (default: vocabulary.txt there)")
    p.add_argument("--samples", type=int, default=8, help="sample replies per tribe")
    p.add_argument("--question-weight", type=float, default=None,
                   help="context-aware decoding for the samples (0 = off; default: the app's, 2)")
    p.add_argument("--copy-weight", type=float, default=None,
                   help="knowledge copying for the samples (0 = off; default: the app's, 0.85)")
    p.add_argument("--no-knowledge", action="store_true",
                   help="do not show the prompts the model's knowledge (knowledge.jsonl), to measure what it adds")
    p.add_argument("--always-answer", action="store_true",
                   help="copy the nearest answer even where the knowledge has nothing near, instead of the "
                        "tribe's \"I do not know\" (the app's setting \"Say when it does not know\" off)")
    p.add_argument("--messages", metavar="FILE",
                   help='also sample replies to these messages, JSONL {"tribe", "question"} a line (e.g. '
                        "benchmarks/data/everyday_questions.jsonl), --samples of each tribe; the card shows them")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--card", metavar="PATH", help="also write a MODEL_CARD.md there")
    p.set_defaults(func=run)


def run(args) -> int:
    from companion.errors import CompanionError
    from companion.memory.knowledge import Knowledge
    from companion.model.generate import TorchGenerator
    from companion.training.corpus import read_jsonl
    from companion.training.evaluate import EVAL_SAMPLING, evaluate_model

    model_dir = Path(args.model)
    heldout_path = Path(args.heldout) if args.heldout else model_dir / "heldout.jsonl"
    if not heldout_path.is_file():
        raise CompanionError(f"{heldout_path} not found: pass --heldout FILE.jsonl (corpus format, with tribes)")
    result = read_jsonl(heldout_path)
    for problem in result.problems:
        print(f"heldout: {problem}", file=sys.stderr)
    vocab_path = Path(args.vocabulary) if args.vocabulary else model_dir / "vocabulary.txt"
    vocabulary = vocab_path.read_text(encoding="utf-8").split() if vocab_path.is_file() else []
    generator = TorchGenerator.load(model_dir)
    knowledge = None if args.no_knowledge else Knowledge.in_folder(model_dir)
    sampling = EVAL_SAMPLING
    if args.question_weight is not None:
        sampling = sampling.with_(question_weight=args.question_weight)
    if args.copy_weight is not None:
        sampling = sampling.with_(copy_weight=args.copy_weight)
    messages = read_messages(Path(args.messages)) if args.messages else []
    report = evaluate_model(generator, result.records, vocabulary=vocabulary, samples_per_tribe=args.samples,
                            sampling=sampling, knowledge=knowledge, admit_unknown=not args.always_answer,
                            messages=messages)
    if args.card:
        from companion.training.card import model_card

        Path(args.card).write_text(model_card(model_dir, report, generator.model.num_params()), encoding="utf-8")
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return 0
    print(f"α accuracy      {report.alpha_accuracy:.3f}  {report.alpha_accuracy_per_tribe}")
    print(f"real-word ratio {report.real_word_ratio:.3f}  {report.real_word_ratio_per_tribe}  "
          f"(without the word guard {report.real_word_ratio_unguarded:.3f})")
    print(f"held-out loss   {report.heldout_loss}  ({report.heldout_records} records)")
    if report.topic_match is not None:
        print(f"topic match     {report.topic_match:.3f}  {report.topic_match_per_tribe}  (0.5 is chance)")
    if report.unsure_samples:
        print(f"said it does not know  {report.unsure_samples}  (of {args.samples} samples a tribe)")
    if report.unknown_words:
        print(f"unknown words   {', '.join(report.unknown_words[:20])}")
    for s in report.samples + report.message_samples:
        print(f"\n[{s.tribe} → {s.chosen}] {s.prompt}\n  {s.reply}")
    return 0


def read_messages(path: Path) -> list:
    """(tribe, text) of each {"tribe", "question"} line; a bad line is named with file:line."""
    from companion.errors import CompanionError
    from companion.tribes import Tribe

    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CompanionError(f"cannot read messages {path}: {e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            out.append((Tribe(data["tribe"]), str(data.get("question", data.get("text")) or "").strip()))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise CompanionError(f"{path}:{n}: not a message line {{\"tribe\", \"question\"}} ({e})") from None
        if not out[-1][1]:
            raise CompanionError(f"{path}:{n}: the message is empty")
    return out
