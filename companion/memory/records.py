"""What the conversation store returns and takes: small dataclasses, no ORM."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, fields

from companion.tribes import Alpha, Tribe

ROLES = ("user", "assistant", "system")


@dataclass(frozen=True)
class StoreConfig:
    """How the store behaves. episode_gap_s: idle time after which a new episode starts."""

    episode_gap_s: float = 30 * 60
    busy_timeout_s: float = 10.0
    # FULL: a committed turn survives power loss too, at one fsync per turn (a few ms).
    synchronous: str = "FULL"
    max_text_chars: int = 1_000_000

    def __post_init__(self):
        from companion.errors import CompanionError

        problems = []
        if self.episode_gap_s <= 0:
            problems.append("episode_gap_s must be > 0")
        if self.busy_timeout_s < 0:
            problems.append("busy_timeout_s must be >= 0")
        if self.synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            problems.append("synchronous must be OFF, NORMAL, FULL or EXTRA")
        if self.max_text_chars < 1:
            problems.append("max_text_chars must be >= 1")
        if problems:
            raise CompanionError("invalid memory settings: " + "; ".join(problems))


@dataclass(frozen=True)
class Message:
    id: int
    ts: float
    role: str
    text: str
    episode_id: int
    tribe: Tribe | None = None
    alpha: Alpha | None = None
    audio_ms: int | None = None
    latency_ms: int | None = None

    @property
    def when(self) -> str:
        return format_ts(self.ts)

    @classmethod
    def from_row(cls, row: dict) -> Message:
        alpha = None
        if row.get("alpha_nova") is not None:
            alpha = Alpha(row["alpha_nova"], row["alpha_sora"], row["alpha_lumin"])
        return cls(
            id=row["id"],
            ts=row["ts"],
            role=row["role"],
            text=row["text"],
            episode_id=row["episode_id"],
            tribe=Tribe(row["tribe"]) if row.get("tribe") else None,
            alpha=alpha,
            audio_ms=row.get("audio_ms"),
            latency_ms=row.get("latency_ms"),
        )


@dataclass(frozen=True)
class Episode:
    id: int
    started_ts: float
    last_ts: float
    title: str | None
    reason: str  # first | idle | request | import


@dataclass(frozen=True)
class SearchHit:
    message: Message
    rank: float  # FTS5 bm25 rank: more negative is a better match


@dataclass(frozen=True)
class Snapshot:
    id: int
    message_id: int | None
    ts: float
    text: str
    note: str | None


@dataclass(frozen=True)
class Feedback:
    id: int
    message_id: int
    ts: float
    rating: int
    note: str | None


@dataclass(frozen=True)
class KnowledgeBin:
    """A knowledge shard (seed 002/003 'bins'): a topic and the path of its .bin file."""

    id: int
    topic: str
    path: str
    created_ts: float
    last_used_ts: float | None
    decay_level: float


@dataclass(frozen=True)
class TurnMetrics:
    """Per-turn measurements; None where a stage did not run (no STT for typed text)."""

    stt_ms: float | None = None
    first_token_ms: float | None = None
    gen_ms: float | None = None
    tts_first_audio_ms: float | None = None
    total_ms: float | None = None
    prompt_tokens: int | None = None
    tokens: int | None = None
    entropy: float | None = None
    tries: int | None = None
    quality: float | None = None
    novelty: float | None = None

    def as_row(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def format_ts(ts: float) -> str:
    """Local time, to the second, for people to read."""
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def iso_utc(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="milliseconds")


def parse_when(value: str) -> float:
    """A date or date-time (ISO 8601; naive means local time) → Unix seconds."""
    from companion.errors import CompanionError

    try:
        parsed = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CompanionError(
            f"cannot read the date {value!r}: write it as YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return parsed.timestamp()
