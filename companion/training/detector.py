"""Train the context detector alone: which tribe answers, learnt from labelled dialogues.

The tribe loss reaches only the detector (α is computed from the token embeddings, before the
transformer layers). In `companion train` that loss is spread over every token of every
window, most of them inside replies, while the voice is chosen at one place: where the reply
starts, from the user's turn. Here the detector sees whole dialogues, one exchange at a time
(as at run time), with the user turn and the reply start weighted up. The embeddings and the
language model are frozen, so the replies' words do not change, only who speaks them, and the
detector's few parameters train on a CPU in about a minute.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from companion.errors import CompanionError
from companion.model.transformer import TribalTransformer
from companion.model.tribal import ContextDetector
from companion.text.template import Role
from companion.text.tokenizer import Tokenizer
from companion.training.corpus import Record
from companion.training.shards import record_ids
from companion.tribes import TRIBE_ORDER


@dataclass(frozen=True)
class DetectorConfig:
    epochs: int = 40
    lr: float = 2e-3
    min_lr: float = 1e-4
    batch_size: int = 32
    weight_decay: float = 0.05
    decision_weight: float = 5.0  # the user turn and the reply start count this many times a reply token
    val_fraction: float = 0.1  # dialogues kept aside to pick the best epoch
    patience: int = 8  # epochs without a better validation accuracy before stopping
    fresh: bool = False  # start the detector from random weights instead of the model's
    seed: int = 1337

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise CompanionError("detector training needs --epochs and --batch-size of at least 1")
        if not 0 < self.val_fraction < 0.5:
            raise CompanionError("--val-fraction must be between 0 and 0.5")


@dataclass(frozen=True)
class Example:
    ids: list[int]
    tribe: int  # index in TRIBE_ORDER
    weights: list[float]  # per position: decision_weight in the decision zone, else 1
    reply_starts: list[int]  # positions of <|assistant|>: where α chooses the voice
    balance: float = 1.0  # every tribe weighs the same in the loss, however many dialogues it has


@dataclass
class DetectorResult:
    epochs: int
    best_epoch: int
    train_dialogues: int
    val_dialogues: int
    val_accuracy_before: float  # α right at reply starts of the validation dialogues (mean over tribes)
    val_accuracy: float  # the same after, at the best epoch
    seconds: float


def examples_of(records: Sequence[Record], tokenizer: Tokenizer, max_len: int,
                decision_weight: float) -> list[Example]:
    """Dialogues in the chat template; positions from <|user|> to the reply start are weighted."""
    out = []
    for record in records:
        if not record.turns:
            continue  # plain text has no user turn: nothing to decide from
        ids = record_ids(tokenizer, record)[:max_len]
        weights, starts, zone = [], [], False
        for pos, token in enumerate(ids):
            if token == tokenizer.user_id:
                zone = True
            weights.append(decision_weight if zone else 1.0)
            if token == tokenizer.assistant_id:
                zone = False
                starts.append(pos)
        if starts:
            out.append(Example(ids, TRIBE_ORDER.index(record.tribe), weights, starts))
    return out


def detector_logits(model: TribalTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """The detector's tribe logits [B, T, 3] for whole sequences, without the layers after it."""
    return model.detector_logits(model.tok_embeddings(tokens), tokens)


def _batch(examples: Sequence[Example]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    length = max(len(e.ids) for e in examples)
    tokens = torch.zeros(len(examples), length, dtype=torch.long)
    labels = torch.zeros(len(examples), length, dtype=torch.long)
    weights = torch.zeros(len(examples), length)
    for row, e in enumerate(examples):
        n = len(e.ids)  # padding sits after the sequence: the detector is causal, so it is unseen
        tokens[row, :n] = torch.tensor(e.ids)
        labels[row, :n] = e.tribe
        weights[row, :n] = torch.tensor(e.weights) * e.balance
    return tokens, labels, weights


@torch.no_grad()
def reply_start_accuracy(model: TribalTransformer, examples: Sequence[Example], batch_size: int = 64) -> float:
    """Mean over tribes of the share of reply starts where α's argmax is the label.

    Every exchange of every dialogue counts; the mean over tribes keeps the many English
    dialogues from hiding a Romanian tribe that is often wrong.
    """
    right = [0] * len(TRIBE_ORDER)
    total = [0] * len(TRIBE_ORDER)
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        tokens, _, _ = _batch(chunk)
        predicted = detector_logits(model, tokens).argmax(-1)
        for row, e in enumerate(chunk):
            picks = predicted[row, e.reply_starts]
            right[e.tribe] += int((picks == e.tribe).sum())
            total[e.tribe] += len(e.reply_starts)
    shares = [r / n for r, n in zip(right, total) if n]
    return sum(shares) / len(shares) if shares else 0.0


def train_detector(model: TribalTransformer, tokenizer: Tokenizer, records: Sequence[Record],
                   cfg: DetectorConfig = DetectorConfig(),
                   log: Callable[[str], None] = lambda line: None) -> DetectorResult:
    """Train model.context_detector in place on labelled dialogues; the rest stays frozen."""
    started = time.perf_counter()
    examples = examples_of(records, tokenizer, model.config.max_seq_len, cfg.decision_weight)
    counts = Counter(e.tribe for e in examples)
    if len(counts) < 2:
        raise CompanionError("the detector needs dialogues of at least two tribes to learn who answers")
    examples = [replace(e, balance=len(examples) / (len(counts) * counts[e.tribe])) for e in examples]
    rng = random.Random(cfg.seed)
    rng.shuffle(examples)
    n_val = max(1, int(len(examples) * cfg.val_fraction))
    val, train = examples[:n_val], examples[n_val:]
    torch.manual_seed(cfg.seed)
    detector = model.context_detector
    if cfg.fresh:
        detector.load_state_dict(ContextDetector(model.config).state_dict())
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    for p in detector.parameters():
        p.requires_grad_(True)
    before = reply_start_accuracy(model, val)
    optimizer = torch.optim.AdamW(detector.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    best = (before, 0, {k: v.clone() for k, v in detector.state_dict().items()})
    log(f"detector: {len(train)} dialogues to learn from, {len(val)} to check; α right at reply start "
        f"before: {before:.3f}")
    step = epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        rng.shuffle(train)
        detector.train()
        total_loss = 0.0
        for i in range(0, len(train), cfg.batch_size):
            lr = cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * step / total_steps))
            for group in optimizer.param_groups:
                group["lr"] = lr
            tokens, labels, weights = _batch(train[i : i + cfg.batch_size])
            logits = detector_logits(model, tokens)
            per_token = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
            loss = (per_token * weights.flatten()).sum() / weights.sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(detector.parameters(), 1.0)
            optimizer.step()
            total_loss += loss.item()
            step += 1
        detector.eval()
        accuracy = reply_start_accuracy(model, val)
        log(f"detector: epoch {epoch}: loss {total_loss / steps_per_epoch:.4f}, α right at reply start "
            f"{accuracy:.3f}")
        # On a tie with the detector it started from, the trained one wins: it has learnt these
        # labels, while the start's score on a small validation set can be luck (a random
        # detector scored 2 of 3 tribes on 5 dialogues and early stopping then kept it).
        if accuracy > best[0] or (accuracy == best[0] and best[1] == 0):
            best = (accuracy, epoch, {k: v.clone() for k, v in detector.state_dict().items()})
        elif epoch - best[1] >= cfg.patience:
            break
    detector.load_state_dict(best[2])
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    return DetectorResult(epochs=epoch, best_epoch=best[1], train_dialogues=len(train), val_dialogues=len(val),
                          val_accuracy_before=round(before, 4), val_accuracy=round(best[0], 4),
                          seconds=round(time.perf_counter() - started, 1))


def dialogue_key(record: Record) -> tuple[str, ...]:
    """What identifies a dialogue across corpus edits: its assistant turns (or its text)."""
    if record.turns:
        return tuple(t.text for t in record.turns if t.role is Role.ASSISTANT)
    return (record.text or "",)


def split_heldout(records: Sequence[Record], heldout: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    """(records without the held-out dialogues, the held-out set in the corpus's current words).

    A held-out dialogue is recognised by its replies, so one whose user turn was rewritten in
    the corpus since is still held out, and evaluated as it reads now.
    """
    current = {dialogue_key(r): r for r in records}
    keys = {dialogue_key(r) for r in heldout}
    train = [r for r in records if dialogue_key(r) not in keys]
    return train, [current.get(dialogue_key(r), r) for r in heldout]


def retrain_model_detector(model_dir: Path, records: Sequence[Record], out_dir: Path,
                           cfg: DetectorConfig = DetectorConfig(),
                           log: Callable[[str], None] = lambda line: None) -> DetectorResult:
    """Train the detector of the model in model_dir on records; write the model to out_dir.

    The model's held-out dialogues (heldout.jsonl) stay out of training and are written to
    out_dir as the corpus now words them; its vocabulary, corpus facts and shards travel along.
    out_dir may be model_dir itself.
    """
    from companion.model.checkpoint import load_checkpoint, save_checkpoint
    from companion.training.corpus import read_jsonl, write_jsonl
    from companion.training.finetune import link_tree

    checkpoint = load_checkpoint(model_dir)
    heldout_path = model_dir / "heldout.jsonl"
    heldout = read_jsonl(heldout_path).records if heldout_path.is_file() else []
    train, heldout_now = split_heldout(records, heldout)
    log(f"detector: {len(records) - len(train)} held-out dialogues kept out of training")
    result = train_detector(checkpoint.model, checkpoint.tokenizer, train, cfg, log)
    save_checkpoint(checkpoint.model, checkpoint.tokenizer, out_dir,
                    metadata={**checkpoint.metadata, "detector": asdict(result)})
    if heldout:
        write_jsonl(heldout_now, out_dir / "heldout.jsonl")
    if out_dir.resolve() != model_dir.resolve():
        for extra in ("vocabulary.txt", "corpus_stats.json", "training.json"):
            if (model_dir / extra).is_file():
                shutil.copy2(model_dir / extra, out_dir / extra)
        if (model_dir / "shards").is_dir():
            link_tree(model_dir / "shards", out_dir / "shards")
    return result
