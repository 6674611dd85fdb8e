"""Conversations ↔ training-corpus JSONL (the InnerArianna seed's "extract" step, and back).

One record per assistant reply, UTF-8, one JSON object a line:

    {"tribe": "sora",                      # the corpus label: which persona answered
     "turns": [{"role": "user", "text": "..."},
               {"role": "assistant", "text": "...", "tribe": "sora"}],
     "source": "conversation", "episode": 3, "message_id": 17,
     "ts": "2025-01-02T10:00:00.000+00:00", "alpha": [0.1, 0.8, 0.1], "rating": 5}

turns holds the user messages since the previous reply of the same episode, then the reply.
A reply with neither a tribe nor α has no label and is skipped (counted). `rating` is absent
when the reply was not rated. Import reads the same format back into new episodes.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from companion.errors import CompanionError
from companion.memory.checks import check_text
from companion.memory.records import Message, iso_utc, parse_when
from companion.memory.store import ConversationStore
from companion.tribes import Tribe


@dataclass(frozen=True)
class ExportFilter:
    since: float | None = None  # Unix seconds; replies at or after it
    episode_id: int | None = None
    min_rating: int | None = None  # only replies rated at least this


@dataclass(frozen=True)
class ExportResult:
    path: Path
    records: int
    skipped_unlabelled: int


@dataclass(frozen=True)
class ImportResult:
    records: int
    messages: int
    episodes: int
    duplicates: int  # records already in the database, left out


def iter_records(store: ConversationStore, filters: ExportFilter = ExportFilter()) -> Iterator[dict]:
    """Export records in message order; a dict with key "skipped" marks an unlabelled reply."""
    if filters.min_rating is not None and not 1 <= filters.min_rating <= 5:
        raise CompanionError(f"--min-rating must be 1..5, not {filters.min_rating}")
    pending: dict[int, list[Message]] = {}  # episode → user messages waiting for a reply
    for message in store.messages(episode_id=filters.episode_id):
        if message.role == "user":
            pending.setdefault(message.episode_id, []).append(message)
            continue
        if message.role != "assistant":
            continue
        asked = pending.pop(message.episode_id, [])
        if filters.since is not None and message.ts < filters.since:
            continue
        feedback = store.feedback_for(message.id)
        if filters.min_rating is not None and (feedback is None
                                               or feedback.rating < filters.min_rating):
            continue
        tribe = message.tribe or (message.alpha.dominant() if message.alpha else None)
        if tribe is None:
            yield {"skipped": message.id}
            continue
        record = {
            "tribe": tribe.value,
            "turns": [{"role": "user", "text": m.text} for m in asked]
            + [{"role": "assistant", "text": message.text, "tribe": tribe.value}],
            "source": "conversation",
            "episode": message.episode_id,
            "message_id": message.id,
            "ts": iso_utc(message.ts),
        }
        if message.alpha is not None:
            record["alpha"] = [round(a, 4) for a in message.alpha.as_tuple()]
        if feedback is not None:
            record["rating"] = feedback.rating
        yield record


def export_jsonl(store: ConversationStore, out: str | Path,
                 filters: ExportFilter = ExportFilter()) -> ExportResult:
    """Write the selected replies as corpus JSONL; the file appears whole or not at all."""
    out = Path(out).expanduser()
    tmp = out.with_name(out.name + ".partial")
    records = skipped = 0
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            for record in iter_records(store, filters):
                if "skipped" in record:
                    skipped += 1
                    continue
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                records += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise CompanionError(
            f"cannot write the export file {out} ({exc.strerror}): choose another --out path "
            f"or free some disk space"
        ) from None
    return ExportResult(out, records, skipped)


def _read_records(path: Path) -> list[tuple[int, dict]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CompanionError(f"cannot read {path} ({exc.strerror})") from None
    records = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CompanionError(
                f"{path}:{number}: not valid UTF-8 (bad byte 0x{line[exc.start]:02x} at column "
                f"{exc.start + 1}): save the file as UTF-8 and import again; nothing was imported"
            ) from None
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CompanionError(
                f"{path}:{number}: not a JSON object ({exc.msg} at column {exc.colno}); "
                f"nothing was imported"
            ) from None
        records.append((number, record))
    return records


def _validate(path: Path, number: int, record, max_chars: int) -> list[dict]:
    where = f"{path}:{number}"
    turns = record.get("turns") if isinstance(record, dict) else None
    if not isinstance(turns, list) or not turns:
        raise CompanionError(f"{where}: a record needs a non-empty \"turns\" list; "
                             f"nothing was imported")
    label = record.get("tribe")
    checked = []
    for turn in turns:
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant", "system"):
            raise CompanionError(f"{where}: every turn needs a role of user, assistant or "
                                 f"system; nothing was imported")
        tribe = turn.get("tribe") or (label if turn["role"] == "assistant" else None)
        try:
            text = check_text(turn.get("text"), max_chars, what=f"text at {where}")
        except CompanionError as exc:
            raise CompanionError(f"{exc}; nothing was imported") from None
        try:
            tribe = Tribe.parse(tribe) if tribe else None
        except CompanionError as exc:
            raise CompanionError(f"{where}: {exc}; nothing was imported") from None
        checked.append({"role": turn["role"], "text": text, "tribe": tribe})
    return checked


def import_jsonl(store: ConversationStore, path: str | Path) -> ImportResult:
    """Read corpus JSONL into new episodes, all in one transaction (all or nothing).

    Records carrying the same "episode" value share one new episode. A record whose reply
    (same time and text) is already stored is left out, so importing an export twice is safe.
    """
    path = Path(path).expanduser()
    parsed = [(n, r, _validate(path, n, r, store.config.max_text_chars))
              for n, r in _read_records(path)]
    episodes: dict[object, int] = {}
    counts = {"records": 0, "messages": 0, "duplicates": 0}
    with store._write() as conn:
        for number, record, turns in parsed:
            ts = parse_when(record["ts"]) if isinstance(record.get("ts"), str) else store.clock()
            last = turns[-1]["text"]
            if conn.execute("SELECT 1 FROM messages WHERE ts = ? AND text = ?",
                            (ts, last)).fetchone():
                counts["duplicates"] += 1
                continue
            key = record.get("episode", ("line", number))
            key = key if isinstance(key, (int, str)) else ("line", number)
            if key not in episodes:
                conn.execute("INSERT INTO episodes (started_ts, last_ts, title, reason) "
                             "VALUES (?, ?, ?, 'import')", (ts, ts, f"imported from {path.name}"))
                episodes[key] = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            episode_id = episodes[key]
            conn.execute("UPDATE episodes SET started_ts = min(started_ts, ?), "
                         "last_ts = max(last_ts, ?) WHERE id = ?", (ts, ts, episode_id))
            alpha = record.get("alpha")
            alpha = alpha if isinstance(alpha, list) and len(alpha) == 3 else [None] * 3
            for i, turn in enumerate(turns):
                is_reply = i == len(turns) - 1 and turn["role"] == "assistant"
                # Earlier turns get slightly earlier times so the order survives a sort by ts.
                turn_ts = ts - 0.001 * (len(turns) - 1 - i)
                conn.execute(
                    "INSERT INTO messages (ts, role, text, episode_id, tribe, alpha_nova, "
                    "alpha_sora, alpha_lumin) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (turn_ts, turn["role"], turn["text"], episode_id,
                     turn["tribe"].value if turn["tribe"] else None,
                     *(alpha if is_reply else [None] * 3)),
                )
                counts["messages"] += 1
            rating = record.get("rating")
            if isinstance(rating, int) and 1 <= rating <= 5 and turns[-1]["role"] == "assistant":
                conn.execute("INSERT INTO feedback (message_id, ts, rating) "
                             "VALUES (last_insert_rowid(), ?, ?)", (ts, rating))
            counts["records"] += 1
    return ImportResult(counts["records"], counts["messages"], len(episodes), counts["duplicates"])
