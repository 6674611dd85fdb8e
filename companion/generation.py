"""The generator interface: prompt → stream of text pieces + α. Torch-free on purpose.

Callers (Companion, CLI, GUI worker) depend only on this module, so a backend without
PyTorch (the InnerArianna seed's C/NumPy runtime) can be added beside the torch one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from companion.errors import CompanionError
from companion.text.template import ChatTurn
from companion.tribes import Alpha, Tribe


QUESTION_WEIGHT = 2.0
COPY_WEIGHT = 0.85


@dataclass(frozen=True)
class SamplingConfig:
    """How to pick each next token. temperature 0 means greedy."""

    temperature: float = 0.8
    top_k: int | None = 40
    top_p: float | None = 0.95
    repetition_penalty: float = 1.1
    repetition_window: int = 64  # how many recent tokens the penalty looks at
    max_tokens: int = 200
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # Only spell words of the model's training text or of the conversation (companion/text/words.py);
    # off, or a model folder without vocabulary.txt: any spelling the model likes.
    word_guard: bool = True
    # Context-aware decoding: how strongly the user's question steers each token against the
    # same reply without it (0 = off; companion/model/generate.py). 2 is what the app uses:
    # measured on models/default's held-out questions (72 and 120 samples, two seeds), topic
    # match 0.543 → 0.604 and 0.533 → 0.569 with the same real-word ratio; decoding takes
    # twice the forward passes (benchmarks/bench_generate.py: 522 → 258 tok/s).
    question_weight: float = QUESTION_WEIGHT
    # Copying from the model's knowledge: the share of each next-token distribution that comes
    # from the memories' replies in the system turn (companion/model/copy.py; 0 = off; no effect
    # for a model without knowledge.jsonl). Measured on models/default's held-out questions
    # (36 samples): topic match 0.50 → 0.655 (0.7), 0.662 (0.85), 0.659 (0.95); 72 samples at
    # 0.85: 0.556 → 0.665, α and real words unchanged (MODEL_CARD.md).
    copy_weight: float = COPY_WEIGHT

    def __post_init__(self):
        problems = []
        if self.temperature < 0:
            problems.append("temperature must be >= 0")
        if self.top_k is not None and self.top_k < 1:
            problems.append("top_k must be >= 1 (or None for no limit)")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            problems.append("top_p must be in (0, 1]")
        if self.repetition_penalty <= 0:
            problems.append("repetition_penalty must be > 0 (1 = off)")
        if self.max_tokens < 1:
            problems.append("max_tokens must be >= 1")
        if not 0 <= self.copy_weight < 1:
            problems.append("copy_weight must be in [0, 1)")
        if not 0 <= self.question_weight <= 10:
            problems.append("question_weight must be in [0, 10]")
        if problems:
            raise CompanionError("invalid generation settings: " + "; ".join(problems))

    def with_(self, **changes) -> SamplingConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class Piece:
    """One step of a generation stream.

    text is the newly decoded text (may be "" while a character is incomplete); alpha is α at
    the last position so far. The last piece has done=True, stop_reason and the turn's α.
    """

    text: str
    alpha: Alpha
    tokens: int  # tokens generated so far
    done: bool = False
    stop_reason: str | None = None  # "end_of_turn" | "stop_string" | "max_tokens" | "context_full"
    token_ids: tuple[int, ...] = field(default=(), repr=False)  # generated ids, on the last piece


class Generator(Protocol):
    """What every backend offers."""

    max_context: int  # tokens the model can attend to, prompt included

    def count_tokens(self, text: str) -> int: ...

    def generate_ids(self, prompt_ids: Sequence[int], sampling: SamplingConfig,
                     tag_by_alpha: bool = False) -> Iterator[Piece]:
        """Stream the continuation of prompt_ids until end of turn or a limit. tag_by_alpha: a
        prompt ending where the assistant's reply starts gets the tag of the tribe α picks."""
        ...

    def reply_alpha(self, turns: Sequence[ChatTurn]) -> Alpha:
        """α where the assistant's reply to turns would start: which tribe will answer."""
        ...

    def chat(
        self,
        turns: Sequence[ChatTurn],
        sampling: SamplingConfig,
        reply_tribe: Tribe | None = None,
    ) -> Iterator[Piece]:
        """Render turns with the chat template and stream the assistant's reply: in the locked
        persona's voice, else in the voice α picks at the reply start."""
        ...


def load_generator(model_dir: str | Path, backend: str = "torch", device: str = "cpu") -> Generator:
    """Load a model folder into a generator of the named backend."""
    if backend == "torch":
        from companion.model.generate import TorchGenerator

        return TorchGenerator.load(model_dir, device=device)
    raise CompanionError(f"unknown generator backend {backend!r}: available: torch")
