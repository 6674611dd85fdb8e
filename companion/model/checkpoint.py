"""Model folders: model.safetensors + config.json + tokenizer.model + manifest.json (sha256).

Every load verifies the manifest first, so a missing, truncated or changed file is named
before any bytes of it are parsed. Weights are safetensors only: nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from companion.errors import CompanionError, ModelLoadError
from companion.model.config import ModelConfig
from companion.model.transformer import TribalTransformer
from companion.text.tokenizer import Tokenizer

WEIGHTS, CONFIG, TOKENIZER, MANIFEST = "model.safetensors", "config.json", "tokenizer.model", "manifest.json"
CHECKED_FILES = (WEIGHTS, CONFIG, TOKENIZER)
# Data about the model that travels with its folder, outside the manifest: the evaluation set,
# the words it may spell, and the exchanges it retrieves (training and fine-tuning copy them).
DATA_FILES = ("heldout.jsonl", "vocabulary.txt", "knowledge.jsonl")
FORMAT = "nova-tribal-transformer"
FORMAT_VERSION = 1
_RESTORE_HINT = "Restore the folder from a backup, re-export it, or choose another model folder."


@dataclass
class Checkpoint:
    model: TribalTransformer
    tokenizer: Tokenizer
    folder: Path
    metadata: dict = field(default_factory=dict)

    @property
    def config(self) -> ModelConfig:
        return self.model.config


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_checkpoint(
    model: TribalTransformer, tokenizer: Tokenizer, folder: str | Path, metadata: dict | None = None
) -> Path:
    """Write a model folder; the manifest is written last, so a folder without one is incomplete."""
    folder = Path(folder)
    if tokenizer.vocab_size != model.config.vocab_size:
        raise ValueError(
            f"tokenizer has {tokenizer.vocab_size} pieces but the model expects {model.config.vocab_size}"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).unlink(missing_ok=True)
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        tmp = folder / (WEIGHTS + ".partial")
        save_file(state, str(tmp), metadata={"format": FORMAT})
        os.replace(tmp, folder / WEIGHTS)
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": model.config.to_dict(),
            "metadata": metadata or {},
        }
        _write_atomic(folder / CONFIG, json.dumps(config, indent=2, ensure_ascii=False).encode())
        _write_atomic(folder / TOKENIZER, tokenizer.model_proto)
        files = {
            name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size}
            for name in CHECKED_FILES
        }
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "files": files}
        _write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2).encode())
    except OSError as exc:
        raise CompanionError(f"cannot write model folder {folder}: {exc.strerror or exc}") from None
    return folder


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"{path} is not valid JSON ({exc}). {_RESTORE_HINT}") from None
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path} does not hold a JSON object. {_RESTORE_HINT}")
    return data


def verify_folder(folder: str | Path) -> dict:
    """Check presence, size and sha256 of every file; return the parsed config.json."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(
            f"model folder {folder} not found. Choose a folder that holds "
            f"{WEIGHTS}, {CONFIG}, {TOKENIZER} and {MANIFEST}."
        )
    for name in (MANIFEST, *CHECKED_FILES):
        if not (folder / name).is_file():
            extra = " (an interrupted save leaves no manifest)" if name == MANIFEST else ""
            raise ModelLoadError(f"{folder / name} is missing{extra}. {_RESTORE_HINT}")
    manifest = _read_json(folder / MANIFEST)
    entries = manifest.get("files")
    if manifest.get("format") != FORMAT or not isinstance(entries, dict):
        raise ModelLoadError(f"{folder / MANIFEST} is not a NOVA companion manifest. {_RESTORE_HINT}")
    for name in CHECKED_FILES:
        entry = entries.get(name)
        if not isinstance(entry, dict) or "sha256" not in entry or "bytes" not in entry:
            raise ModelLoadError(f"{folder / MANIFEST} has no checksum for {name}. {_RESTORE_HINT}")
        path = folder / name
        size = path.stat().st_size
        if size < entry["bytes"]:
            raise ModelLoadError(
                f"{path} is truncated ({size} of {entry['bytes']} bytes), e.g. by an interrupted "
                f"copy or download. {_RESTORE_HINT}"
            )
        if size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
            raise ModelLoadError(
                f"{path} was changed after the model was saved (sha256 does not match "
                f"{MANIFEST}). {_RESTORE_HINT}"
            )
    config = _read_json(folder / CONFIG)
    if config.get("format") != FORMAT:
        raise ModelLoadError(f"{folder / CONFIG} is not a tribal transformer config. {_RESTORE_HINT}")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ModelLoadError(
            f"{folder / CONFIG} has format version {config['format_version']}, newer than this "
            f"app understands ({FORMAT_VERSION}). Update NOVA companion."
        )
    return config


def load_checkpoint(folder: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Verify and load a model folder; every failure is a ModelLoadError naming the file."""
    folder = Path(folder)
    config_data = verify_folder(folder)
    try:
        config = ModelConfig.from_dict(config_data.get("model", {}))
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{folder / CONFIG}: {exc}. {_RESTORE_HINT}") from None
    tokenizer = Tokenizer.load(folder / TOKENIZER)
    if tokenizer.vocab_size != config.vocab_size:
        raise ModelLoadError(
            f"{folder / TOKENIZER} has {tokenizer.vocab_size} pieces but {folder / CONFIG} says "
            f"vocab_size={config.vocab_size}: the tokenizer belongs to another model. {_RESTORE_HINT}"
        )
    try:
        state = load_file(str(folder / WEIGHTS), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"{folder / WEIGHTS} is not a readable safetensors file ({exc}). {_RESTORE_HINT}") from None
    model = TribalTransformer(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing tensors {missing[:3]}")
        if unexpected:
            details.append(f"unexpected tensors {unexpected[:3]}")
        if wrong:
            k = wrong[0]
            details.append(f"{k} has shape {tuple(state[k].shape)}, config needs {tuple(expected[k].shape)}")
        raise ModelLoadError(
            f"{folder / WEIGHTS} does not match {folder / CONFIG}: {'; '.join(details)}. {_RESTORE_HINT}"
        )
    model.load_state_dict(state, strict=True)
    model.to(device).eval()
    return Checkpoint(model=model, tokenizer=tokenizer, folder=folder, metadata=config_data.get("metadata", {}))
