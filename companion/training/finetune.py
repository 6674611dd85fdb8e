"""Night school (InnerArianna seed): fine-tune on the companion's own rated conversations.

Base knowledge shards stay as they are (the Arianna seed's "DNA"); the exported dialogues
become extra shards, sampled at a fixed share (default 80 % base / 20 % dialogues) and
weighted by their rating. The candidate is published only when it did not get worse on the
base held-out data or in real words: the Arianna seed's fine-tune on 171 dialogues
"corrupted the soul" and produced invented words.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from companion.errors import CompanionError
from companion.generation import SamplingConfig
from companion.model.checkpoint import DATA_FILES, load_checkpoint, save_checkpoint, verify_folder
from companion.model.generate import TorchGenerator
from companion.training.corpus import Record, read_jsonl
from companion.training.evaluate import LANGUAGE_OF, WordChecker, prompt_turns
from companion.training.shards import ShardSet, list_shards, write_shard
from companion.training.train import TrainConfig, Trainer, evaluate
from companion.versions import ModelVersions

# Sampling weight of a dialogue by its rating; 1 ★ replies are not learned from at all.
RATING_WEIGHTS = {None: 1.0, 1: 0.0, 2: 0.5, 3: 1.0, 4: 1.5, 5: 2.0}


@dataclass(frozen=True)
class FinetuneConfig:
    mix: float = 0.8  # share of base data in the training batches
    steps: int = 200
    lr: float = 3e-4
    batch_size: int = 8
    seq_len: int | None = None  # default: the model's context
    max_base_loss_increase: float = 0.05  # refuse when base held-out loss rises more (relative)
    max_real_word_drop: float = 0.02  # refuse when the real-word ratio drops more (absolute)
    samples: int = 12  # replies generated to measure real words
    seed: int = 7
    device: str = "cpu"

    def __post_init__(self):
        if not 0 < self.mix < 1:
            raise CompanionError("--mix must be between 0 and 1 (the share of base data), e.g. 0.8")
        if self.steps < 1:
            raise CompanionError("--steps must be at least 1")


@dataclass
class Scores:
    base_loss: float
    dialogue_loss: float
    real_word_ratio: float


@dataclass
class FinetuneReport:
    published: bool
    reason: str
    version: str | None
    dialogues: int
    steps: int
    before: Scores
    after: Scores
    seconds: float
    unknown_words: list[str] = field(default_factory=list)


def load_dialogues(path: Path) -> list[Record]:
    result = read_jsonl(path)
    if result.problems:
        raise CompanionError("exported dialogues are malformed: " + "; ".join(map(str, result.problems[:3])))
    return [r for r in result.records if RATING_WEIGHTS.get(r.rating, 1.0) > 0]


def real_word_ratio(generator: TorchGenerator, prompts: list[Record], vocabulary: list[str],
                    seed: int) -> tuple[float, list[str]]:
    """Share of words in replies to the prompts that Hunspell or the vocabulary knows."""
    checkers: dict[str, WordChecker] = {}
    known = total = 0
    unknown: list[str] = []
    for i, record in enumerate(prompts):
        turns = prompt_turns(record)
        if not turns:
            continue
        lang = LANGUAGE_OF[record.tribe]
        checker = checkers.setdefault(lang, WordChecker(lang, vocabulary))
        # Without the word guard: the gate is about what the network itself learnt to spell.
        sampling = SamplingConfig(temperature=0.7, top_k=40, top_p=0.9, max_tokens=60, seed=seed + i,
                                  word_guard=False)
        reply = "".join(p.text for p in generator.chat(turns, sampling))
        good, bad = checker.check(reply)
        known, total, unknown = known + good, total + good + len(bad), unknown + bad
    return (known / total if total else 1.0), sorted(set(unknown))


def scores(model, tokenizer, base: ShardSet, dialogues: ShardSet, prompts, vocabulary, cfg) -> tuple[Scores, list[str]]:
    device = torch.device(cfg.device)
    base_eval = evaluate(model, base, cfg.batch_size, None, device, 0.0)
    dial_eval = evaluate(model, dialogues, cfg.batch_size, None, device, 0.0)
    ratio, unknown = real_word_ratio(TorchGenerator(model, tokenizer, head_precision="float32"),
                                     prompts, vocabulary, cfg.seed)
    return Scores(round(base_eval.lm_loss, 4), round(dial_eval.lm_loss, 4), round(ratio, 4)), unknown


def finetune(model_dir: str | Path, dialogues_jsonl: str | Path, versions: ModelVersions,
             cfg: FinetuneConfig = FinetuneConfig(), work_dir: str | Path | None = None) -> FinetuneReport:
    """Fine-tune the model in model_dir on exported dialogues; publish into versions if it holds up."""
    started = time.perf_counter()
    model_dir = Path(model_dir)
    ckpt = load_checkpoint(model_dir)
    tokenizer = ckpt.tokenizer
    if not (model_dir / "shards").is_dir():
        raise CompanionError(f"{model_dir} has no base shards (shards/): fine-tuning needs the base data "
                             "to keep the model from forgetting it; retrain with `companion train`")
    base_shards = list_shards(model_dir / "shards", tokenizer)
    dialogues = load_dialogues(Path(dialogues_jsonl))
    if not dialogues:
        raise CompanionError("no dialogues to learn from (nothing exported, or all rated 1)")
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="nova-finetune-"))
    buckets: dict[int | None, list[Record]] = {}
    for record in dialogues:
        buckets.setdefault(record.rating, []).append(record)
    dial_shards = [write_shard(recs, tokenizer, work / "dialogues", f"dialogues_r{rating or 'none'}",
                               val_fraction=0.2, weight=RATING_WEIGHTS.get(rating, 1.0))
                   for rating, recs in sorted(buckets.items(), key=lambda kv: kv[0] or 0)]
    # Per-shard weights so that base : dialogues = mix : 1 - mix, whatever their sizes.
    base_tokens = sum(s.split for s in base_shards)
    dial_mass = sum(s.split * s.weight for s in dial_shards)
    if base_tokens == 0 or dial_mass == 0:
        raise CompanionError("not enough data to fine-tune: base or dialogue shards hold no training tokens")
    mixed = [dataclasses.replace(s, weight=s.weight * cfg.mix / base_tokens) for s in base_shards]
    mixed += [dataclasses.replace(s, weight=s.weight * (1 - cfg.mix) / dial_mass) for s in dial_shards]
    base_set, dial_set = ShardSet(base_shards), ShardSet(dial_shards)
    vocabulary = (model_dir / "vocabulary.txt").read_text(encoding="utf-8").split() \
        if (model_dir / "vocabulary.txt").is_file() else []
    heldout = read_jsonl(model_dir / "heldout.jsonl").records if (model_dir / "heldout.jsonl").is_file() else []
    prompts = [r for r in heldout if r.turns][: cfg.samples] or dialogues[: cfg.samples]

    before, _ = scores(ckpt.model, tokenizer, base_set, dial_set, prompts, vocabulary, cfg)
    model_config = ckpt.config if cfg.seq_len is None else dataclasses.replace(ckpt.config, max_seq_len=cfg.seq_len)
    train_cfg = TrainConfig(batch_size=cfg.batch_size, lr=cfg.lr, min_lr=cfg.lr / 10,
                            warmup_steps=max(1, min(20, cfg.steps // 10)), max_steps=cfg.steps,
                            eval_every=cfg.steps, eval_batches=4, patience=0, seed=cfg.seed, device=cfg.device)
    trainer = Trainer(model_config, tokenizer, ShardSet(mixed), work / "run", train_cfg,
                      initial_state=ckpt.model.state_dict())
    trainer.fit()
    candidate = trainer.model.eval()
    after, unknown = scores(candidate, tokenizer, base_set, dial_set, prompts, vocabulary, cfg)

    reasons = []
    limit = before.base_loss * (1 + cfg.max_base_loss_increase)
    if after.base_loss > limit:
        reasons.append(f"base held-out loss rose from {before.base_loss:.4f} to {after.base_loss:.4f} "
                       f"(allowed up to {limit:.4f}): the model started to forget its base")
    if after.real_word_ratio < before.real_word_ratio - cfg.max_real_word_drop:
        reasons.append(f"real-word ratio fell from {before.real_word_ratio:.3f} to {after.real_word_ratio:.3f} "
                       f"(invented words: {', '.join(unknown[:8])})")
    version = None
    if not reasons:
        staged = versions.staging_dir()
        try:
            save_checkpoint(candidate, tokenizer, staged, metadata={
                "finetuned_from": str(model_dir), "finetuned_at": time.time(), "dialogues": len(dialogues),
                "steps": cfg.steps, "mix": cfg.mix, "before": dataclasses.asdict(before),
                "after": dataclasses.asdict(after)})
            link_tree(model_dir / "shards", staged / "shards")
            for extra in DATA_FILES:
                if (model_dir / extra).is_file():
                    shutil.copy2(model_dir / extra, staged / extra)
            version = versions.publish(staged, verify=verify_folder).name
        except BaseException:
            versions.discard(staged)
            raise
    if work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return FinetuneReport(
        published=version is not None,
        reason="; ".join(reasons) or "base held-out loss and real-word ratio held up",
        version=version, dialogues=len(dialogues), steps=trainer.step, before=before, after=after,
        seconds=round(time.perf_counter() - started, 1), unknown_words=unknown[:20],
    )


def link_tree(src: Path, dest: Path) -> None:
    """Hard-link the base shards into the new version where the filesystem allows (no extra disk)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in src.iterdir():
        try:
            (dest / path.name).hardlink_to(path)
        except OSError:
            shutil.copy2(path, dest / path.name)
