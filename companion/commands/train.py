"""`companion train`: corpus → tokenizer → knowledge shards → tribal transformer."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + (
        ". Re-running with the same --out resumes an interrupted run."))
    add_corpus_arguments(p, "folder or file of .jsonl/.txt/.md/.csv (repeatable; one shard per path)")
    p.add_argument("--out", required=True, help="run folder: best/ (the model), shards/, log.csv, train_state/")
    p.add_argument("--balance-tribes", action="store_true",
                   help="sample each tribe equally often, however much text it has (small corpora are repeated)")
    p.add_argument("--knowledge", action="store_true",
                   help="retrieval-augmented training: show each dialogue with the nearest other exchanges as "
                        "memories, and ship them (knowledge.jsonl) so the app retrieves as training did")
    p.add_argument("--preset", default="small", help="model size: tiny, small, base")
    p.add_argument("--vocab", type=int, default=4096, help="tokenizer vocabulary size")
    p.add_argument("--tokenizer", help="use this tokenizer.model instead of training one")
    p.add_argument("--seq-len", type=int, help="context length (default: the preset's)")
    p.add_argument("--dropout", type=float, help="dropout while training (default: the preset's, 0); "
                   "0.1 helps when a small corpus is seen for many epochs")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-batches", type=int, default=20)
    p.add_argument("--patience", type=int, default=5, help="evaluations without improvement before stopping")
    p.add_argument("--alpha-weight", type=float, default=0.5, help="λ of the tribe loss")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--max-minutes", type=float, help="stop (resumably) after this much training time")
    p.add_argument("--fresh", action="store_true", help="ignore a saved train_state in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs still go to log.csv)")
    add_detector_arguments(p, default_epochs=0)
    p.set_defaults(func=run)


def add_corpus_arguments(p, corpus_help: str) -> None:
    """--corpus, --chitchat and --tribe: what import_sources reads (train, detector, knowledge)."""
    p.add_argument("--corpus", action="append", default=[], metavar="PATH", help=corpus_help)
    p.add_argument("--chitchat", type=int, default=0, metavar="N",
                   help="add N English dialogues from the chitchat-dataset package as Lumin (-1: all)")
    p.add_argument("--tribe", choices=["nova", "sora", "lumin"], help="tribe for files that name none")


def add_detector_arguments(p, default_epochs: int) -> None:
    """Options of the detector stage (here after training; `companion detector` runs it alone)."""
    p.add_argument("--detector-epochs", type=int, default=default_epochs, metavar="N",
                   help="then train the context detector alone for up to N epochs over the dialogues, "
                        "user turn and reply start weighted up (0: skip)")
    p.add_argument("--detector-lr", type=float, default=2e-3)
    p.add_argument("--detector-decision-weight", type=float, default=5.0,
                   help="weight of the user turn and the reply start against a reply token")


def detector_config(args):
    from companion.training.detector import DetectorConfig

    return DetectorConfig(epochs=args.detector_epochs, lr=args.detector_lr,
                          decision_weight=args.detector_decision_weight, seed=args.seed)


def import_sources(args) -> tuple[list[tuple[str, list]], int]:
    """The corpus paths (and chitchat) as (source name, records); bad records are reported."""
    from companion.errors import CompanionError
    from companion.training.chitchat import chitchat_records
    from companion.training.importers import import_folder
    from companion.tribes import Tribe

    sources: list[tuple[str, list]] = []
    default = Tribe.parse(args.tribe) if args.tribe else None
    problems = 0
    for path in args.corpus:
        result = import_folder(path, default)
        for problem in result.problems:
            print(f"corpus: {problem}", file=sys.stderr)
        problems += len(result.problems)
        sources.append((Path(path).stem or "corpus", result.records))
    if args.chitchat:
        sources.append(("chitchat", list(chitchat_records(None if args.chitchat < 0 else args.chitchat))))
    if not any(records for _, records in sources):
        raise CompanionError("no training records: pass --corpus PATH (and/or --chitchat N)")
    return sources, problems


def prepare(args, out: Path):
    """Import, clean, tokenise: returns (tokenizer, shard folder). Skipped when shards exist."""
    from companion.text.tokenizer import Tokenizer
    from companion.training.clean import corpus_stats, deduplicate
    from companion.training.corpus import write_jsonl
    from companion.training.evaluate import words_of
    from companion.training.shards import write_shard

    shard_dir = out / "shards"
    tok_path = out / "tokenizer.model"
    if tok_path.is_file() and any(shard_dir.glob("*.json")):
        return Tokenizer.load(tok_path), shard_dir
    sources, problems = import_sources(args)
    report = deduplicate(r for _, records in sources for r in records)
    heldout = choose_heldout(report.kept, seed=args.seed)
    kept = {id(r) for r in report.kept} - {id(r) for r in heldout}
    for dropped, original in report.exact[:20] + report.near[:20]:
        print(f"corpus: duplicate {dropped} of {original} removed", file=sys.stderr)
    print(f"corpus: {len(report.kept)} records kept, {len(report.exact)} exact and {len(report.near)} "
          f"near duplicates removed, {problems} bad records reported", file=sys.stderr)
    stats = {"per_tribe": corpus_stats(report.kept), "sources": [name for name, _ in sources],
             "exact_duplicates": len(report.exact), "near_duplicates": len(report.near), "bad_records": problems}
    print("corpus: " + json.dumps(stats["per_tribe"], ensure_ascii=False), file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    (out / "corpus_stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=1), encoding="utf-8")
    write_jsonl(heldout, out / "heldout.jsonl")
    words = sorted({w.casefold() for r in report.kept if id(r) in kept for t in r.texts() for w in words_of(t)})
    (out / "vocabulary.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"corpus: {len(heldout)} dialogues held out for evaluation (heldout.jsonl)", file=sys.stderr)
    if args.tokenizer:
        tokenizer = Tokenizer.load(args.tokenizer)
    else:
        tokenizer = Tokenizer.train((t for r in report.kept for t in r.texts()), vocab_size=args.vocab)
    out.mkdir(parents=True, exist_ok=True)
    kept_sources = [(name, [r for r in records if id(r) in kept]) for name, records in sources]
    weights = tribe_balance_weights(kept_sources) if args.balance_tribes else {}
    if args.knowledge:
        from companion.memory.knowledge import KNOWLEDGE_FILE
        from companion.training.augment import build_knowledge, with_memories

        knowledge, index_of = build_knowledge((r for _, records in kept_sources for r in records), heldout)
        knowledge.save(out / KNOWLEDGE_FILE)
        print(f"corpus: {len(knowledge)} exchanges in {KNOWLEDGE_FILE}, dialogues shown with their nearest",
              file=sys.stderr)
        kept_sources = [(name, list(with_memories(records, knowledge, index_of, seed=args.seed)))
                        for name, records in kept_sources]
    for name, records in kept_sources:
        if records:
            write_shard(records, tokenizer, shard_dir, name, source=name, weight=weights.get(name, 1.0))
    tokenizer.save(tok_path)
    return tokenizer, shard_dir


def prepare_once(args, out: Path):
    """prepare() on rank 0 only; under torchrun the other ranks wait for its tokenizer.

    Every rank writing the same shard files raced (one rank's rename of a .partial file
    failed: seen in the DDP test). The tokenizer is saved after the shards, so it is the sign.
    """
    import os
    import time

    from companion.errors import CompanionError

    if int(os.environ.get("RANK", "0")) == 0:
        return prepare(args, out)
    deadline = time.monotonic() + 3600
    while not (out / "tokenizer.model").is_file():
        if time.monotonic() > deadline:
            raise CompanionError(f"rank {os.environ['RANK']}: rank 0 did not prepare {out} within an hour")
        time.sleep(0.5)
    return prepare(args, out)


def _record_run(out: Path, result, data, detector=None) -> None:
    """Training facts for the model card, beside the model (best/training.json)."""
    if not (out / "best").is_dir():
        return
    import dataclasses
    import shlex

    command = "companion " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    facts = {"command": command, "steps": result.steps, "tokens_seen": result.tokens_seen,
             "seconds": round(result.seconds, 1),
             "best_val_loss": round(result.best_val_loss, 4), "train_tokens": data.tokens("train"),
             "val_tokens": data.tokens("val"), "stopped_early": result.stopped_early}
    if detector is not None:
        facts["detector"] = dataclasses.asdict(detector)
    (out / "best" / "training.json").write_text(json.dumps(facts, indent=1), encoding="utf-8")


def tribe_balance_weights(sources: list) -> dict[str, float]:
    """Per-source sampling weights giving every tribe the same share of training windows.

    A source counts for the tribe most of its text belongs to; weights are relative to the
    largest tribe, which keeps weight 1.
    """
    from collections import Counter

    size: dict[str, int] = {}
    tribe_of: dict[str, object] = {}
    for name, records in sources:
        chars = Counter()
        for r in records:
            chars[r.tribe] += sum(len(t) for t in r.texts())
        if chars:
            tribe_of[name], size[name] = chars.most_common(1)[0][0], sum(chars.values())
    per_tribe = Counter()
    for name, tribe in tribe_of.items():
        per_tribe[tribe] += size[name]
    largest = max(per_tribe.values(), default=1)
    return {name: largest / per_tribe[tribe] for name, tribe in tribe_of.items()}


def choose_heldout(records: list, seed: int, fraction: float = 0.05, floor: int = 20, cap: int = 100) -> list:
    """A reproducible sample of dialogues per tribe, kept out of training for `companion eval`.

    At least `floor` per tribe once a tribe has 100 dialogues (a 5 % sample of a small tribe
    would be 5 records: too few for an accuracy worth reporting), at most `cap`.
    """
    import random

    from companion.tribes import TRIBE_ORDER

    rng = random.Random(seed)
    chosen = []
    for tribe in TRIBE_ORDER:
        dialogues = [r for r in records if r.tribe is tribe and r.turns]
        if len(dialogues) < 10:
            continue
        n = int(len(dialogues) * fraction)
        if len(dialogues) >= 100:
            n = max(n, floor)
        chosen.extend(rng.sample(dialogues, min(cap, max(1, n))))
    return chosen


def run(args) -> int:
    import dataclasses

    from companion.model.config import PRESETS
    from companion.errors import CompanionError
    from companion.training.shards import ShardSet, list_shards
    from companion.training.train import STATE_DIR, TrainConfig, Trainer

    out = Path(args.out)
    if args.fresh and (out / STATE_DIR).exists():
        import shutil

        shutil.rmtree(out / STATE_DIR)
    if args.preset not in PRESETS:
        raise CompanionError(f"unknown preset {args.preset!r}: use one of {', '.join(PRESETS)}")
    tokenizer, shard_dir = prepare_once(args, out)
    if args.dropout is not None and not 0 <= args.dropout < 1:
        raise CompanionError(f"--dropout must be in [0, 1), not {args.dropout}")
    model_config = dataclasses.replace(PRESETS[args.preset], vocab_size=tokenizer.vocab_size,
                                       detector_reset_id=tokenizer.user_id,
                                       **({"max_seq_len": args.seq_len} if args.seq_len else {}),
                                       **({"dropout": args.dropout} if args.dropout is not None else {}))
    config = TrainConfig(
        batch_size=args.batch_size, grad_accum=args.grad_accum, lr=args.lr, min_lr=args.lr / 10,
        warmup_steps=args.warmup, max_steps=args.steps, alpha_weight=args.alpha_weight,
        eval_every=args.eval_every, eval_batches=args.eval_batches, patience=args.patience,
        seed=args.seed, device=args.device,
    )
    data = ShardSet(list_shards(shard_dir, tokenizer))
    bar = None
    if not args.no_progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=args.steps, unit="step", dynamic_ncols=True)

    def progress(row: dict) -> None:
        if bar is not None:
            bar.n = row["step"]
            post = {"loss": row["loss"], "best_val": round(row["best_val_loss"], 3)}
            if "tok_per_s" in row:
                post["tok/s"] = row["tok_per_s"]
            bar.set_postfix(post, refresh=True)
        elif "val_loss" in row:
            print(f"step {row['step']}/{row['max_steps']} loss {row['loss']} val {row['val_loss']} "
                  f"α-acc {row['alpha_accuracy']} {row['elapsed_s']} s", file=sys.stderr)

    trainer = Trainer(model_config, tokenizer, data, out, config, on_progress=progress)
    if trainer.resume() and trainer.is_main:
        print(f"train: resumed at step {trainer.step} from {out / STATE_DIR}", file=sys.stderr)
    result = trainer.fit(max_seconds=args.max_minutes * 60 if args.max_minutes else None)
    if trainer.is_main and (out / "best").is_dir():
        import shutil

        from companion.model.checkpoint import DATA_FILES

        # The model's data and base shards travel with the model folder (outside its
        # manifest: they are data about the model, not the model), and so do the corpus stats.
        for extra in (*DATA_FILES, "corpus_stats.json"):
            if (out / extra).is_file():
                shutil.copy2(out / extra, out / "best" / extra)
        shutil.rmtree(out / "best" / "shards", ignore_errors=True)
        shutil.copytree(shard_dir, out / "best" / "shards")
    if bar is not None:
        bar.close()
    finished = result.stopped_early or result.steps >= args.steps
    detector = None
    if trainer.is_main and finished and args.detector_epochs > 0 and (out / "best").is_dir():
        from companion.model.checkpoint import verify_folder
        from companion.training.clean import deduplicate
        from companion.training.detector import DetectorResult, retrain_model_detector

        done = verify_folder(out / "best").get("metadata", {}).get("detector")
        if done is not None:  # a finished run started again: its detector stage ran already
            print(f"train: the detector stage ran already (best epoch {done['best_epoch']})", file=sys.stderr)
            detector = DetectorResult(**done)
        else:
            sources, _ = import_sources(args)
            records = deduplicate(r for _, rs in sources for r in rs).kept
            detector = retrain_model_detector(out / "best", records, out / "best", detector_config(args),
                                              log=lambda line: print(line, file=sys.stderr))
    if trainer.is_main:
        print(json.dumps({
            "steps": result.steps, "best_val_loss": round(result.best_val_loss, 4),
            "tokens_seen": result.tokens_seen, "seconds": round(result.seconds, 1),
            "stopped_early": result.stopped_early, "model": str(out / "best"),
            "params": trainer.model.num_params(), "train_tokens": data.tokens("train"),
            "val_tokens": data.tokens("val"),
        }))
        _record_run(out, result, data, detector)
    return 0
