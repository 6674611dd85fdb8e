"""The training corpus: JSONL records, each with a tribe label and either turns or plain text.

Schema (one JSON object per line, UTF-8):

    {"tribe": "sora", "turns": [{"role": "user", "text": "..."},
                                {"role": "assistant", "text": "..."}], "topic": "natura"}
    {"tribe": "nova", "text": "a plain paragraph in NOVA's voice", "topic": "fizica"}

- tribe: "nova" | "sora" | "lumin" (required): who speaks the assistant turns / the text.
- turns: list of {"role": "user" | "assistant" | "system", "text": str}, at least one
  assistant turn; or text: a non-empty string. Exactly one of the two.
- topic, source, rating (1..5, from conversation feedback), id: optional; records exported
  from conversations (companion export) also carry episode, message_id, ts and alpha, and
  their assistant turns a "tribe" — all accepted and ignored here.

Bad records are never dropped silently: readers return them as Problem(file, line, message).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from companion.errors import CompanionError
from companion.text.normalize import normalize_text
from companion.text.template import ChatTurn, Role
from companion.tribes import Tribe

OPTIONAL_KEYS = {"topic", "source", "rating", "id", "episode", "message_id", "ts", "alpha"}


@dataclass(frozen=True)
class Record:
    tribe: Tribe
    turns: tuple[ChatTurn, ...] = ()
    text: str | None = None
    topic: str | None = None
    rating: int | None = None
    origin: str = ""  # "file:line" it came from, for reports

    def texts(self) -> Iterator[str]:
        """Every piece of text in the record (for tokenizer training and statistics)."""
        if self.text is not None:
            yield self.text
        for turn in self.turns:
            yield turn.text

    def to_json(self) -> dict:
        data: dict = {"tribe": self.tribe.value}
        if self.text is not None:
            data["text"] = self.text
        else:
            data["turns"] = [{"role": t.role.value, "text": t.text} for t in self.turns]
        if self.topic:
            data["topic"] = self.topic
        if self.rating is not None:
            data["rating"] = self.rating
        return data


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class ReadResult:
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: ReadResult) -> None:
        self.records.extend(other.records)
        self.problems.extend(other.problems)


def parse_record(data, origin: str) -> Record:
    """Validate one decoded JSON value; ValueError says what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("a record must be a JSON object")
    unknown = set(data) - {"tribe", "turns", "text"} - OPTIONAL_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    tribe_name = data.get("tribe")
    if not isinstance(tribe_name, str):
        raise ValueError('missing "tribe" (one of nova, sora, lumin)')
    try:
        tribe = Tribe.parse(tribe_name)
    except CompanionError as exc:
        raise ValueError(str(exc)) from None
    has_turns, has_text = "turns" in data, "text" in data
    if has_turns == has_text:
        raise ValueError('a record needs exactly one of "turns" or "text"')
    rating = data.get("rating")
    if rating is not None and (not isinstance(rating, int) or not 1 <= rating <= 5):
        raise ValueError('"rating" must be an integer 1..5')
    topic = data.get("topic")
    if topic is not None and not isinstance(topic, str):
        raise ValueError('"topic" must be a string')
    if has_text:
        text = data["text"]
        if not isinstance(text, str) or not text.strip():
            raise ValueError('"text" must be a non-empty string')
        return Record(tribe, text=clean_text(text), topic=topic, rating=rating, origin=origin)
    turns_data = data["turns"]
    if not isinstance(turns_data, list) or not turns_data:
        raise ValueError('"turns" must be a non-empty list')
    turns = []
    for i, turn in enumerate(turns_data):
        if not isinstance(turn, dict) or set(turn) - {"role", "text", "tribe"}:
            raise ValueError(f'turn {i}: must be {{"role": ..., "text": ...}}')
        try:
            role = Role(turn.get("role"))
        except ValueError:
            raise ValueError(f"turn {i}: role must be user, assistant or system") from None
        text = turn.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"turn {i}: text must be a non-empty string")
        turns.append(ChatTurn(role, clean_text(text), tribe if role is Role.ASSISTANT else None))
    if not any(t.role is Role.ASSISTANT for t in turns):
        raise ValueError("a dialogue needs at least one assistant turn")
    return Record(tribe, turns=tuple(turns), topic=topic, rating=rating, origin=origin)


def clean_text(text: str) -> str:
    """NFC + comma-below ș ț, trimmed lines, runs of blank lines and spaces collapsed."""
    lines = [" ".join(line.split()) for line in normalize_text(text).strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def read_jsonl(path: str | Path) -> ReadResult:
    """Read a corpus JSONL file; every bad line becomes a Problem with its line number."""
    path = Path(path)
    result = ReadResult()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        result.problems.append(Problem(str(path), 0, f"cannot read file ({exc.strerror})"))
        return result
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line.decode("utf-8"))
            result.records.append(parse_record(data, f"{path}:{number}"))
        except UnicodeDecodeError as exc:
            result.problems.append(Problem(str(path), number, f"not UTF-8 (byte {exc.start})"))
        except json.JSONDecodeError as exc:
            result.problems.append(Problem(str(path), number, f"invalid JSON ({exc.msg}, column {exc.colno})"))
        except ValueError as exc:
            result.problems.append(Problem(str(path), number, str(exc)))
    return result


def write_jsonl(records: Iterable[Record], path: str | Path) -> int:
    """Write records as corpus JSONL; returns how many."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n
