"""`companion finetune`: learn from your rated conversations; publish only if it holds up."""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + (
        ". The new version is published (and picked up by a running companion on its next turn) "
        "only when the base held-out loss and the real-word ratio do not degrade."))
    p.add_argument("--db", help="conversation database (default: the user data dir)")
    p.add_argument("--model", help="model to start from (default: the current version)")
    p.add_argument("--models-dir", help="where versions are published (default: <user data dir>/models)")
    p.add_argument("--since", metavar="DATE", help="only replies from this date on (YYYY-MM-DD)")
    p.add_argument("--min-rating", type=int, help="only replies rated at least this (1..5)")
    p.add_argument("--mix", type=float, default=0.8, help="share of base data in training (default 0.8)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-base-loss-increase", type=float, default=0.05,
                   help="refuse to publish when the base held-out loss rises by more (relative, 0.05 = 5 %%)")
    p.add_argument("--max-real-word-drop", type=float, default=0.02,
                   help="refuse to publish when the real-word ratio drops by more (absolute)")
    p.add_argument("--if-new", type=int, metavar="N",
                   help="do nothing unless at least N replies were rated since the current model was made")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--json", action="store_true", help="print one JSON report")
    p.set_defaults(func=run)


def run(args) -> int:
    from companion.errors import CompanionError
    from companion.memory.corpus import ExportFilter, export_jsonl
    from companion.memory.records import parse_when
    from companion.memory.store import ConversationStore
    from companion.model.checkpoint import verify_folder
    from companion.training.finetune import FinetuneConfig, finetune
    from companion.versions import ModelVersions

    versions = ModelVersions(args.models_dir)
    model_dir = Path(args.model) if args.model else versions.current_path()
    config = FinetuneConfig(mix=args.mix, steps=args.steps, lr=args.lr, batch_size=args.batch_size,
                            max_base_loss_increase=args.max_base_loss_increase,
                            max_real_word_drop=args.max_real_word_drop, device=args.device)
    with ConversationStore.open(args.db) as store:
        if args.if_new is not None:
            made_at = verify_folder(model_dir).get("metadata", {}).get("finetuned_at", 0.0)
            rated = store.count_feedback(since=made_at)
            if rated < args.if_new:
                msg = f"finetune: {rated} replies rated since the current model was made; waiting for {args.if_new}"
                print(json.dumps({"skipped": True, "rated": rated, "needed": args.if_new}) if args.json else msg)
                return 0
        with tempfile.TemporaryDirectory(prefix="nova-finetune-") as tmp:
            exported = export_jsonl(store, Path(tmp) / "dialogues.jsonl", ExportFilter(
                since=parse_when(args.since) if args.since else None, min_rating=args.min_rating))
            if exported.records == 0:
                raise CompanionError("no conversations match: talk with the companion (and rate replies) first")
            report = finetune(model_dir, exported.path, versions, config, work_dir=Path(tmp) / "work")
    if args.json:
        print(json.dumps(dataclasses.asdict(report), ensure_ascii=False))
    else:
        b, a = report.before, report.after
        print(f"finetune: {report.dialogues} dialogues, {report.steps} steps, {report.seconds} s")
        print(f"  base held-out loss {b.base_loss:.4f} → {a.base_loss:.4f}")
        print(f"  dialogue loss      {b.dialogue_loss:.4f} → {a.dialogue_loss:.4f}")
        print(f"  real-word ratio    {b.real_word_ratio:.3f} → {a.real_word_ratio:.3f}")
        if report.published:
            print(f"published version {report.version} ({versions.root}); a running companion switches on its next turn")
        else:
            print(f"NOT published: {report.reason}", file=sys.stderr)
    return 0 if report.published else 4
