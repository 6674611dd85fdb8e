"""The training loop: AdamW, warmup + cosine, accumulation, clipping, evaluation, best-model
saving, resume, early stopping, progress, CSV log, DDP under torchrun.

Loss = next-token cross-entropy + λ · cross-entropy(α logits, tribe label of the segment).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from companion.errors import CompanionError
from companion.model import ModelConfig, TribalTransformer
from companion.model.checkpoint import load_checkpoint, save_checkpoint
from companion.text.tokenizer import Tokenizer
from companion.training.shards import ShardSet
from companion.tribes import TRIBE_ORDER

STATE_DIR = "train_state"


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    max_steps: int = 2000
    weight_decay: float = 0.1
    beta2: float = 0.99
    grad_clip: float = 1.0
    alpha_weight: float = 0.5  # λ of the tribe loss
    eval_every: int = 100
    eval_batches: int = 20
    patience: int = 5  # evaluations without improvement before stopping (0 = never)
    seed: int = 1337
    device: str = "auto"  # auto | cpu | cuda
    log_every: int = 10

    def lr_at(self, step: int) -> float:
        """Linear warmup, then cosine decay to min_lr at max_steps."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.max_steps - self.warmup_steps))
        return self.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (self.lr - self.min_lr)


@dataclass
class EvalResult:
    loss: float
    lm_loss: float
    alpha_loss: float
    alpha_accuracy: float
    loss_per_tribe: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    steps: int
    best_val_loss: float
    tokens_seen: int
    seconds: float
    stopped_early: bool
    out_dir: Path


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CompanionError("--device cuda was asked for, but no CUDA GPU is available; use --device cpu")
    if name not in ("cpu", "cuda"):
        raise CompanionError(f"unknown device {name!r}: use auto, cpu or cuda")
    return torch.device(name)


def losses(model, x, y, labels, alpha_weight: float):
    out = model(x)
    lm = F.cross_entropy(out.logits.flatten(0, 1), y.flatten(), ignore_index=-100)
    tribe = F.cross_entropy(out.alpha_logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    return lm + alpha_weight * tribe, lm, tribe, out


@torch.no_grad()
def evaluate(model: TribalTransformer, data: ShardSet, batch_size: int, max_batches: int | None,
             device: torch.device, alpha_weight: float) -> EvalResult:
    """Loss on the validation tails; per-tribe loss groups tokens by their segment's tribe."""
    was_training = model.training
    model.eval()
    seq_len = model.config.max_seq_len
    lm_sum = tribe_sum = 0.0
    count = correct = 0
    per_tribe_sum = torch.zeros(3, dtype=torch.float64)
    per_tribe_n = torch.zeros(3, dtype=torch.float64)
    for x, y, labels in data.validation_batches(batch_size, seq_len, max_batches):
        x, y, labels = (torch.from_numpy(a).to(device) for a in (x, y, labels))
        out = model(x)
        tok_loss = F.cross_entropy(out.logits.flatten(0, 1), y.flatten(), ignore_index=-100, reduction="none")
        mask = y.flatten() != -100
        lab = labels.flatten()
        lm_sum += float(tok_loss[mask].sum())
        tribe_sum += float(F.cross_entropy(out.alpha_logits.flatten(0, 1)[mask], lab[mask], reduction="sum"))
        correct += int((out.alpha_logits.flatten(0, 1)[mask].argmax(-1) == lab[mask]).sum())
        count += int(mask.sum())
        per_tribe_sum.index_add_(0, lab[mask].cpu(), tok_loss[mask].double().cpu())
        per_tribe_n.index_add_(0, lab[mask].cpu(), torch.ones(int(mask.sum()), dtype=torch.float64))
    model.train(was_training)
    if count == 0:
        raise CompanionError("no validation tokens: the corpus is too small for a validation split")
    lm, tribe = lm_sum / count, tribe_sum / count
    per_tribe = {t.value: round(float(per_tribe_sum[i] / per_tribe_n[i]), 4)
                 for i, t in enumerate(TRIBE_ORDER) if per_tribe_n[i] > 0}
    return EvalResult(lm + alpha_weight * tribe, lm, tribe, correct / count, per_tribe)


# -- resumable state: weights as safetensors, optimizer via torch.load(weights_only=True) -----

def _replace_dir(src: Path, dest: Path) -> None:
    """Put the finished folder src at dest. Two renames, so a kill at any moment leaves either
    dest or dest.old whole (deleting dest first lost the saved state to a kill in between)."""
    import shutil

    old = dest.with_name(dest.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        os.replace(dest, old)
    os.replace(src, dest)
    shutil.rmtree(old, ignore_errors=True)


def _recover_dir(dest: Path) -> None:
    """After a kill between _replace_dir's two renames: the previous folder comes back."""
    old = dest.with_name(dest.name + ".old")
    if not dest.exists() and old.is_dir():
        try:
            os.replace(old, dest)
        except FileNotFoundError:  # another DDP rank brought it back first
            pass


class Trainer:
    """One training run writing into out_dir: best/ (model folder), train_state/, log.csv."""

    def __init__(self, model_config: ModelConfig, tokenizer: Tokenizer, data: ShardSet, out_dir: str | Path,
                 config: TrainConfig, on_progress: Callable[[dict], None] | None = None,
                 initial_state: dict[str, torch.Tensor] | None = None):
        self.cfg = config
        self.tokenizer = tokenizer
        self.data = data
        self.out = Path(out_dir)
        self.on_progress = on_progress
        self.ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.device = resolve_device(config.device)
        if self.ddp and not dist.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            dist.init_process_group(backend)
        self.rank = dist.get_rank() if self.ddp else 0
        self.world = dist.get_world_size() if self.ddp else 1
        if self.device.type == "cuda" and self.ddp:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.manual_seed(config.seed)
        self.model = TribalTransformer(model_config)
        if initial_state is not None:  # fine-tuning starts from a trained model
            self.model.load_state_dict(initial_state)
        self.model.to(self.device)
        decay = [p for n, p in self.model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in self.model.named_parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr, betas=(0.9, config.beta2),
        )
        self.rng = np.random.default_rng(config.seed + self.rank)
        self.step = 0
        self.best = float("inf")
        self.bad_evals = 0
        self.tokens_seen = 0
        self.elapsed = 0.0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def resume(self) -> bool:
        """Continue from out_dir/train_state if it is there; True when resumed."""
        state = self.out / STATE_DIR
        _recover_dir(state)  # every rank: each must see the state to resume from it
        _recover_dir(self.out / "best")
        if not (state / "progress.json").is_file():
            return False
        ckpt = load_checkpoint(state)
        if ckpt.config != self.model.config:
            raise CompanionError(f"{state} was trained with another model shape; use a new --out folder")
        self.model.load_state_dict(ckpt.model.state_dict())
        saved = torch.load(state / "optimizer.pt", weights_only=True, map_location=self.device)
        self.optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        meta = json.loads((state / "progress.json").read_text())
        self.step, self.best, self.bad_evals = meta["step"], meta["best_val_loss"], meta["bad_evals"]
        self.tokens_seen, self.elapsed = meta["tokens_seen"], meta["elapsed"]
        self.rng.bit_generator.state = meta["numpy_rng"]
        self._truncate_log(self.step)
        return True

    def _truncate_log(self, step: int) -> None:
        """Drop log rows after the resumed step: they belong to work that was lost."""
        path = self.out / "log.csv"
        if not path.is_file() or not self.is_main:
            return
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        kept = rows[:1] + [r for r in rows[1:] if r and int(r[0]) <= step]
        with open(path, "w", newline="") as fh:
            csv.writer(fh).writerows(kept)

    def _save_state(self) -> None:
        state, tmp = self.out / STATE_DIR, self.out / (STATE_DIR + ".partial")
        save_checkpoint(self.model, self.tokenizer, tmp, metadata={"step": self.step})
        torch.save({"optimizer": self.optimizer.state_dict(), "torch_rng": torch.get_rng_state()},
                   tmp / "optimizer.pt")
        meta = {"step": self.step, "best_val_loss": self.best, "bad_evals": self.bad_evals,
                "tokens_seen": self.tokens_seen, "elapsed": self.elapsed,
                "numpy_rng": self.rng.bit_generator.state}
        (tmp / "progress.json").write_text(json.dumps(meta))
        _replace_dir(tmp, state)

    def _save_best(self, result: EvalResult) -> None:
        tmp = self.out / "best.partial"
        metadata = {"step": self.step, "val_loss": result.loss, "lm_loss": result.lm_loss,
                    "alpha_accuracy": result.alpha_accuracy, "loss_per_tribe": result.loss_per_tribe,
                    "tokens_seen": self.tokens_seen, "train_config": asdict(self.cfg)}
        save_checkpoint(self.model, self.tokenizer, tmp, metadata=metadata)
        _replace_dir(tmp, self.out / "best")

    def _log(self, row: dict) -> None:
        path = self.out / "log.csv"
        fields = ["step", "lr", "loss", "lm_loss", "alpha_loss", "val_loss", "val_lm_loss", "alpha_accuracy",
                  "tok_per_s", "elapsed_s"]
        new = not path.exists()
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def fit(self, max_seconds: float | None = None, stop_at_step: int | None = None) -> TrainResult:
        """Train until max_steps, early stopping, max_seconds or stop_at_step (an interruption)."""
        cfg = self.cfg
        model = self.model
        train_model = torch.nn.parallel.DistributedDataParallel(model) if self.ddp else model
        self.out.mkdir(parents=True, exist_ok=True)
        seq_len = model.config.max_seq_len
        model.train()
        stopped_early = False
        start = time.perf_counter() - self.elapsed
        window_tokens, window_t = 0, time.perf_counter()
        while self.step < cfg.max_steps:
            lr = cfg.lr_at(self.step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            total = lm_total = tribe_total = 0.0
            for micro in range(cfg.grad_accum):
                x, y, labels = (torch.from_numpy(a).to(self.device) for a in self.data.sample(cfg.batch_size, seq_len, self.rng))
                sync = (not self.ddp) or micro == cfg.grad_accum - 1
                ctx = train_model.no_sync() if self.ddp and not sync else contextlib.nullcontext()
                with ctx:
                    loss, lm, tribe, _ = losses(train_model, x, y, labels, cfg.alpha_weight)
                    (loss / cfg.grad_accum).backward()
                total += loss.item() / cfg.grad_accum
                lm_total += lm.item() / cfg.grad_accum
                tribe_total += tribe.item() / cfg.grad_accum
                n_tokens = int((y != -100).sum()) * self.world
                self.tokens_seen += n_tokens
                window_tokens += n_tokens
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            self.step += 1
            self.elapsed = time.perf_counter() - start
            row = {"step": self.step, "lr": f"{lr:.3e}", "loss": round(total, 4), "lm_loss": round(lm_total, 4),
                   "alpha_loss": round(tribe_total, 4), "elapsed_s": round(self.elapsed, 1)}
            if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                now = time.perf_counter()
                row["tok_per_s"] = round(window_tokens / max(now - window_t, 1e-9))
                window_tokens, window_t = 0, now
            evaluated = self.step % cfg.eval_every == 0 or self.step == cfg.max_steps
            if evaluated:
                result = evaluate(model, self.data, cfg.batch_size, cfg.eval_batches, self.device, cfg.alpha_weight)
                row.update(val_loss=round(result.loss, 4), val_lm_loss=round(result.lm_loss, 4),
                           alpha_accuracy=round(result.alpha_accuracy, 4))
                if result.loss < self.best:
                    self.best, self.bad_evals = result.loss, 0
                    if self.is_main:
                        self._save_best(result)
                else:
                    self.bad_evals += 1
            if self.is_main and ("tok_per_s" in row or evaluated):
                self._log(row)
            if self.on_progress and self.is_main:
                self.on_progress(dict(row, max_steps=cfg.max_steps, best_val_loss=self.best))
            if evaluated and self.is_main:
                self._save_state()
            if evaluated and cfg.patience and self.bad_evals >= cfg.patience:
                stopped_early = True
                break
            if max_seconds is not None and self.elapsed >= max_seconds:
                self._save_state()  # a time limit is a planned pause: keep every step
                break
            if stop_at_step is not None and self.step >= stop_at_step:
                break
        if self.ddp:
            dist.barrier()
        return TrainResult(self.step, self.best, self.tokens_seen, self.elapsed, stopped_early, self.out)


