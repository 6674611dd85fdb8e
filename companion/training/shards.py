"""Knowledge shards (Arianna seed): each source → its own uint16 .bin + a JSON sidecar.

Training reads every shard in a folder, so adding or removing a knowledge module is adding
or removing two files. The train/validation split is made inside each shard by token
ranges (the tail of each shard is validation), so a single shard works: the seed's bug was
a split by file count, `int(1 * 0.9) = 0` files for training.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion.errors import CompanionError
from companion.text.template import ChatTurn, Role, render_chat
from companion.text.tokenizer import Tokenizer
from companion.training.corpus import Record
from companion.tribes import TRIBE_ORDER

SHARD_FORMAT = "nova-shard"
SHARD_VERSION = 1
MAX_VOCAB = 1 << 16  # ids are stored as uint16


def tokenizer_fingerprint(tokenizer: Tokenizer) -> str:
    return hashlib.sha256(tokenizer.model_proto).hexdigest()[:16]


def record_ids(tokenizer: Tokenizer, record: Record) -> list[int]:
    """A record in the chat template; plain text is an assistant turn in its tribe's voice."""
    turns = record.turns or (ChatTurn(Role.ASSISTANT, record.text or "", record.tribe),)
    return render_chat(tokenizer, turns, add_generation_prompt=False)


def safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_") or "shard"


@dataclass(frozen=True)
class ShardInfo:
    name: str
    bin_path: Path
    tokens: int
    split: int  # tokens [0, split) train, [split, tokens) validation
    segments: tuple[tuple[int, int], ...]  # (start token, tribe index), sorted by start
    weight: float = 1.0  # sampling weight multiplier (e.g. rated dialogues)

    def labels(self, start: int, end: int) -> np.ndarray:
        """Tribe index of every token in [start, end)."""
        starts = np.array([s for s, _ in self.segments])
        tribes = np.array([t for _, t in self.segments], dtype=np.int64)
        idx = np.searchsorted(starts, np.arange(start, end), side="right") - 1
        return tribes[np.clip(idx, 0, None)]


def write_shard(
    records: Iterable[Record],
    tokenizer: Tokenizer,
    folder: str | Path,
    name: str,
    *,
    val_fraction: float = 0.1,
    weight: float = 1.0,
    source: str = "",
) -> ShardInfo:
    """Tokenise records into folder/name.bin + folder/name.json; returns its info."""
    if tokenizer.vocab_size > MAX_VOCAB:
        raise CompanionError(f"vocabulary of {tokenizer.vocab_size} does not fit uint16 shards")
    if not 0 <= val_fraction < 1:
        raise CompanionError("val_fraction must be in [0, 1)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_name(name)
    ids: list[int] = []
    segments: list[list[int]] = []
    boundaries: list[int] = []
    per_tribe = {t.value: 0 for t in TRIBE_ORDER}
    n_records = 0
    for record in records:
        rec = record_ids(tokenizer, record)
        boundaries.append(len(ids))
        if not segments or segments[-1][1] != record.tribe.index:
            segments.append([len(ids), record.tribe.index])
        ids.extend(rec)
        per_tribe[record.tribe.value] += len(rec)
        n_records += 1
    if not ids:
        raise CompanionError(f"shard {name}: no records to write")
    total = len(ids)
    # Validation = the tail, started at a record boundary so no record straddles the split.
    target = total - math.ceil(total * val_fraction) if val_fraction else total
    split = max((b for b in boundaries if b <= target), default=0) if val_fraction else total
    if split == 0 and val_fraction:
        split = target  # one huge record: split inside it rather than train on nothing
    tmp = folder / f"{name}.bin.partial"
    np.asarray(ids, dtype=np.uint16).tofile(tmp)
    os.replace(tmp, folder / f"{name}.bin")
    sidecar = {
        "format": SHARD_FORMAT, "version": SHARD_VERSION, "name": name, "source": source,
        "tokens": total, "split": split, "records": n_records, "weight": weight,
        "tokenizer": tokenizer_fingerprint(tokenizer), "tokens_per_tribe": per_tribe,
        "segments": segments,
    }
    (folder / f"{name}.json").write_text(json.dumps(sidecar, ensure_ascii=False, indent=1), encoding="utf-8")
    return ShardInfo(name, folder / f"{name}.bin", total, split, tuple(map(tuple, segments)), weight)


def read_shard(json_path: Path, tokenizer: Tokenizer | None = None) -> ShardInfo:
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompanionError(f"{json_path}: unreadable shard sidecar ({exc}); rebuild the shards") from None
    if meta.get("format") != SHARD_FORMAT:
        raise CompanionError(f"{json_path}: not a shard sidecar")
    bin_path = json_path.with_suffix(".bin")
    if not bin_path.is_file():
        raise CompanionError(f"{bin_path} is missing (its sidecar {json_path.name} is there); rebuild the shards")
    size = bin_path.stat().st_size
    if size != 2 * meta["tokens"]:
        raise CompanionError(f"{bin_path} has {size // 2} tokens, its sidecar says {meta['tokens']}; rebuild it")
    if tokenizer is not None and meta["tokenizer"] != tokenizer_fingerprint(tokenizer):
        raise CompanionError(f"{bin_path} was tokenised with another tokenizer; rebuild the shards")
    return ShardInfo(meta["name"], bin_path, meta["tokens"], meta["split"],
                     tuple(map(tuple, meta["segments"])), float(meta.get("weight", 1.0)))


def list_shards(folder: str | Path, tokenizer: Tokenizer | None = None) -> list[ShardInfo]:
    """All shards of a folder (every *.json sidecar with its .bin), sorted by name."""
    folder = Path(folder)
    shards = [read_shard(p, tokenizer) for p in sorted(folder.glob("*.json"))]
    if not shards:
        raise CompanionError(f"no shards in {folder}; build them with `companion train --corpus ...`")
    return shards


class ShardSet:
    """Random training windows and sequential validation windows over many shards."""

    def __init__(self, shards: list[ShardInfo]):
        self.shards = shards
        self.data = [np.memmap(s.bin_path, dtype=np.uint16, mode="r") for s in shards]

    def _ranges(self, split: str) -> list[tuple[int, int, int]]:
        """(shard index, start, end) of the split in each shard that has any of it."""
        out = []
        for i, s in enumerate(self.shards):
            start, end = (0, s.split) if split == "train" else (s.split, s.tokens)
            if end - start >= 2:
                out.append((i, start, end))
        return out

    def tokens(self, split: str) -> int:
        return sum(end - start for _, start, end in self._ranges(split))

    def sample(self, batch_size: int, seq_len: int, rng: np.random.Generator):
        """(x, y, tribe labels of y) int64 arrays [B, T]; windows drawn by size × weight."""
        ranges = self._ranges("train")
        if not ranges:
            raise CompanionError("the shards hold no training tokens")
        weights = np.array([(end - start) * self.shards[i].weight for i, start, end in ranges], dtype=np.float64)
        picks = rng.choice(len(ranges), size=batch_size, p=weights / weights.sum())
        return self._windows([ranges[p] for p in picks], seq_len, rng)

    def _windows(self, ranges, seq_len, rng):
        x = np.zeros((len(ranges), seq_len), dtype=np.int64)
        y = np.full((len(ranges), seq_len), -100, dtype=np.int64)
        labels = np.full((len(ranges), seq_len), -100, dtype=np.int64)
        for row, (i, start, end) in enumerate(ranges):
            span = min(seq_len + 1, end - start)
            offset = start + (int(rng.integers(0, end - start - span + 1)) if rng is not None else 0)
            chunk = np.asarray(self.data[i][offset : offset + span], dtype=np.int64)
            x[row, : span - 1] = chunk[:-1]
            y[row, : span - 1] = chunk[1:]
            labels[row, : span - 1] = self.shards[i].labels(offset + 1, offset + span)
        return x, y, labels

    def validation_batches(self, batch_size: int, seq_len: int, max_batches: int | None = None):
        """Consecutive non-overlapping windows over every shard's validation tail."""
        windows = []
        for i, start, end in self._ranges("val"):
            pos = start
            while end - pos >= 2:
                windows.append((i, pos, min(end, pos + seq_len + 1)))
                pos += seq_len
        for b in range(0, len(windows), batch_size):
            if max_batches is not None and b // batch_size >= max_batches:
                return
            yield self._windows(windows[b : b + batch_size], seq_len, None)
