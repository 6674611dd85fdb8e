"""ConversationStore: the endless session in one SQLite file (seed 003, InnerArianna).

One writer at a time, any number of readers: WAL mode, writes in BEGIN IMMEDIATE
transactions (so a writer waits for the lock instead of failing on upgrade), and a busy
timeout. Every SQLite failure a user can cause (full disk, read-only location, a foreign or
damaged file) becomes a CompanionError that says what to do; a failed write rolls back whole.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from companion.errors import CompanionError
from companion.memory import schema
from companion.memory.checks import check_text, translate_error
from companion.memory.records import (
    ROLES,
    Episode,
    Feedback,
    KnowledgeBin,
    Message,
    SearchHit,
    Snapshot,
    StoreConfig,
    TurnMetrics,
)
from companion.tribes import Alpha, Tribe

DB_FILENAME = "conversations.sqlite3"


def default_db_path() -> Path:
    """<user data dir>/nova-companion/conversations.sqlite3"""
    import platformdirs

    return Path(platformdirs.user_data_dir("nova-companion", appauthor=False)) / DB_FILENAME


class ConversationStore:
    """The conversation memory. Open with ConversationStore.open(path); close() when done.

    A store object may be shared between threads (calls are serialised by a lock); separate
    store objects on the same file (other threads, other processes) are safe too.
    """

    def __init__(self, path: str | Path, config: StoreConfig = StoreConfig(),
                 clock: Callable[[], float] = time.time,
                 migrations: Sequence[schema.Migration] = schema.MIGRATIONS):
        self.path = Path(path).expanduser()
        self.config = config
        self.clock = clock
        self._lock = threading.RLock()
        self._where = str(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CompanionError(
                f"cannot create the folder {self.path.parent} for the conversation database "
                f"({exc.strerror}): choose another location with --db PATH"
            ) from None
        if self.path.is_dir():
            raise CompanionError(f"{self.path} is a folder: give --db the path of a file")
        try:
            conn = sqlite3.connect(self.path, timeout=config.busy_timeout_s,
                                   isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise translate_error(exc, self._where) from None
        try:
            self._configure(conn)
            schema.migrate(conn, self._where, migrations)
        except sqlite3.Error as exc:
            conn.close()
            raise translate_error(exc, self._where) from None
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        self.db = sqlite_utils.Database(conn, execute_plugins=False)

    @classmethod
    def open(cls, path: str | Path | None = None, config: StoreConfig = StoreConfig(),
             clock: Callable[[], float] = time.time) -> ConversationStore:
        """Open (creating and migrating as needed) the database; None means the default place."""
        return cls(default_db_path() if path is None else path, config, clock)

    def _configure(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise CompanionError(
                f"the conversation database {self._where} cannot use write-ahead logging "
                f"(journal mode stays {mode!r}; network or read-only file systems do this): "
                f"choose a local, writable location with --db PATH"
            )
        conn.execute(f"PRAGMA synchronous={self.config.synchronous.upper()}")
        conn.execute("PRAGMA foreign_keys=ON")

    def close(self) -> None:
        with self._lock:
            if getattr(self, "conn", None) is not None:
                self.conn.close()
                self.conn = None

    def __enter__(self) -> ConversationStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of the block is stored, or none of it."""
        with self._lock:
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback(conn)
                raise translate_error(exc, self._where) from None
            except BaseException:
                self._rollback(conn)
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn()
            except sqlite3.Error as exc:
                raise translate_error(exc, self._where) from None

    def _conn(self) -> sqlite3.Connection:
        if self.conn is None:
            raise CompanionError("the conversation store is closed")
        return self.conn

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite already rolled back (e.g. after SQLITE_FULL)

    def _rows(self, sql: str, params: Sequence | dict = ()) -> list[dict]:
        with self._read() as conn:
            cursor = conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    # -- episodes -----------------------------------------------------------------------

    def new_episode(self, title: str | None = None) -> Episode:
        """Start a new episode now (the user asked for a fresh chapter)."""
        with self._write():
            return self._insert_episode(self.clock(), "request", title)

    def _insert_episode(self, now: float, reason: str, title: str | None = None) -> Episode:
        table = self.db["episodes"]
        table.insert({"started_ts": now, "last_ts": now, "title": title, "reason": reason},
                     alter=False)
        return Episode(table.last_pk, now, now, title, reason)

    def current_episode(self) -> Episode | None:
        rows = self._rows("SELECT * FROM episodes ORDER BY id DESC LIMIT 1")
        return Episode(**rows[0]) if rows else None

    def episodes(self, limit: int | None = None) -> list[Episode]:
        sql = "SELECT * FROM episodes ORDER BY id DESC"
        rows = self._rows(sql + " LIMIT ?", (limit,)) if limit else self._rows(sql)
        return [Episode(**r) for r in rows]

    def _episode_for(self, conn: sqlite3.Connection, now: float) -> int:
        """The open episode, or a new one after an idle gap; must run inside _write."""
        row = conn.execute("SELECT id, last_ts FROM episodes ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return self._insert_episode(now, "first").id
        episode_id, last_ts = row
        if now - last_ts > self.config.episode_gap_s:
            return self._insert_episode(now, "idle").id
        conn.execute("UPDATE episodes SET last_ts = max(last_ts, ?) WHERE id = ?",
                     (now, episode_id))
        return episode_id

    # -- messages -----------------------------------------------------------------------

    def add_message(self, role: str, text: str | bytes, *, tribe: Tribe | None = None,
                    alpha: Alpha | None = None, audio_ms: int | None = None,
                    latency_ms: int | None = None, metrics: TurnMetrics | None = None) -> Message:
        """Store one message (and its turn metrics) atomically; returns it with its id.

        The message joins the current episode, or opens a new one after the idle gap.
        """
        if role not in ROLES:
            raise CompanionError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        text = check_text(text, self.config.max_text_chars)
        tribe = Tribe.parse(tribe) if isinstance(tribe, str) else tribe
        with self._write() as conn:
            now = self.clock()
            episode_id = self._episode_for(conn, now)
            row = {
                "ts": now, "role": role, "text": text, "episode_id": episode_id,
                "tribe": tribe.value if tribe else None,
                "alpha_nova": alpha.nova if alpha else None,
                "alpha_sora": alpha.sora if alpha else None,
                "alpha_lumin": alpha.lumin if alpha else None,
                "audio_ms": audio_ms, "latency_ms": latency_ms,
            }
            table = self.db["messages"]
            table.insert(row, alter=False)
            row["id"] = table.last_pk
            if metrics is not None:
                self._insert_metrics(row["id"], now, metrics)
        return Message.from_row(row)

    def add_metrics(self, message_id: int, metrics: TurnMetrics) -> None:
        with self._write():
            self._require_message(message_id)
            self._insert_metrics(message_id, self.clock(), metrics)

    def _insert_metrics(self, message_id: int, now: float, metrics: TurnMetrics) -> None:
        self.db["metrics"].insert({"message_id": message_id, "ts": now, **metrics.as_row()},
                                  alter=False)

    def metrics_for(self, message_id: int) -> TurnMetrics | None:
        rows = self._rows("SELECT * FROM metrics WHERE message_id = ? ORDER BY id DESC LIMIT 1",
                          (message_id,))
        if not rows:
            return None
        row = rows[0]
        return TurnMetrics(**{k: v for k, v in row.items() if k not in ("id", "message_id", "ts")})

    def get_message(self, message_id: int) -> Message:
        rows = self._rows("SELECT * FROM messages WHERE id = ?", (int(message_id),))
        if not rows:
            raise CompanionError(
                f"there is no message {message_id} in {self._where}: "
                f"`companion history` lists the message ids"
            )
        return Message.from_row(rows[0])

    def _require_message(self, message_id: int) -> None:
        row = self.conn.execute("SELECT 1 FROM messages WHERE id = ?", (int(message_id),))
        if row.fetchone() is None:
            raise CompanionError(
                f"there is no message {message_id} in {self._where}: "
                f"`companion history` lists the message ids"
            )

    def recent(self, limit: int = 20, *, episode_id: int | None = None,
               before_id: int | None = None) -> list[Message]:
        """The last `limit` messages (optionally of one episode), oldest first."""
        where, params = [], []
        if episode_id is not None:
            where.append("episode_id = ?")
            params.append(episode_id)
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        sql = "SELECT * FROM messages"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._rows(sql + " ORDER BY id DESC LIMIT ?", (*params, int(limit)))
        return [Message.from_row(r) for r in reversed(rows)]

    def messages(self, *, since: float | None = None, episode_id: int | None = None,
                 after_id: int = 0, batch: int = 500) -> Iterator[Message]:
        """Every message matching the filters, oldest first, read in batches."""
        while True:
            where, params = ["id > ?"], [after_id]
            if since is not None:
                where.append("ts >= ?")
                params.append(since)
            if episode_id is not None:
                where.append("episode_id = ?")
                params.append(episode_id)
            rows = self._rows(
                f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
                (*params, batch),
            )
            if not rows:
                return
            for row in rows:
                yield Message.from_row(row)
            after_id = rows[-1]["id"]

    def count(self, table: str = "messages") -> int:
        if table not in ("messages", "episodes", "metrics", "snapshots", "bins", "feedback"):
            raise ValueError(f"unknown table {table!r}")
        return self._rows(f"SELECT count(*) AS n FROM {table}")[0]["n"]

    # -- search -------------------------------------------------------------------------

    def search(self, words: str, *, limit: int = 10, any_word: bool = False,
               prefix: bool = False, role: str | None = None,
               before_id: int | None = None) -> list[SearchHit]:
        """Full-text search over message text, best matches first.

        Words are matched as whole tokens, case- and diacritic-insensitive; punctuation in
        the query is ignored (so user input can never be an FTS syntax error). any_word=True
        matches messages containing any of the words (for retrieval), otherwise all of them;
        prefix=True lets words of 4+ letters match longer forms ("mare" → "marea").
        """
        query = fts_query(words, any_word=any_word, prefix=prefix)
        if query is None:
            return []
        where, params = [], {}
        if role is not None:
            where.append("role = :role")
            params["role"] = role
        if before_id is not None:
            where.append("rowid < :before_id")
            params["before_id"] = int(before_id)
        with self._read():
            rows = list(self.db["messages"].search(
                query, where=" AND ".join(where) or None, where_args=params or None, limit=int(limit),
                include_rank=True,
            ))
        return [SearchHit(Message.from_row(r), r["rank"]) for r in rows]

    # -- snapshots, feedback, bins ------------------------------------------------------

    def star(self, message_id: int, note: str | None = None) -> Snapshot:
        """Keep a message as a snapshot (the seed's 'reference' replies); starring twice is fine."""
        with self._write() as conn:
            message = self._message_in(conn, message_id)
            now = self.clock()
            conn.execute(
                "INSERT INTO snapshots (message_id, ts, text, note) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(message_id) DO UPDATE SET note = coalesce(excluded.note, note)",
                (message.id, now, message.text, note),
            )
            row = conn.execute("SELECT * FROM snapshots WHERE message_id = ?",
                               (message.id,)).fetchone()
        return Snapshot(*row)

    def unstar(self, message_id: int) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM snapshots WHERE message_id = ?",
                                (int(message_id),)).rowcount > 0

    def snapshots(self, limit: int | None = None) -> list[Snapshot]:
        sql = "SELECT id, message_id, ts, text, note FROM snapshots ORDER BY id DESC"
        rows = self._rows(sql + " LIMIT ?", (limit,)) if limit else self._rows(sql)
        return [Snapshot(**r) for r in rows]

    def rate(self, message_id: int, rating: int, note: str | None = None) -> Feedback:
        """Rate a message 1..5; rating it again replaces the earlier rating."""
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            raise CompanionError(f"a rating is a whole number from 1 to 5, not {rating!r}")
        with self._write() as conn:
            message = self._message_in(conn, message_id)
            conn.execute(
                "INSERT INTO feedback (message_id, ts, rating, note) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(message_id) DO UPDATE SET ts = excluded.ts, "
                "rating = excluded.rating, note = coalesce(excluded.note, note)",
                (message.id, self.clock(), rating, note),
            )
            row = conn.execute("SELECT id, message_id, ts, rating, note FROM feedback "
                               "WHERE message_id = ?", (message.id,)).fetchone()
        return Feedback(*row)

    def count_feedback(self, since: float | None = None) -> int:
        """How many replies were rated (at or after since, in Unix seconds)."""
        rows = self._rows("SELECT count(*) AS n FROM feedback WHERE ts >= ?", (since or 0.0,))
        return int(rows[0]["n"])

    def feedback_for(self, message_id: int) -> Feedback | None:
        rows = self._rows("SELECT id, message_id, ts, rating, note FROM feedback "
                          "WHERE message_id = ?", (int(message_id),))
        return Feedback(**rows[0]) if rows else None

    def _message_in(self, conn: sqlite3.Connection, message_id: int) -> Message:
        cursor = conn.execute("SELECT * FROM messages WHERE id = ?", (int(message_id),))
        row = cursor.fetchone()
        if row is None:
            raise CompanionError(
                f"there is no message {message_id} in {self._where}: "
                f"`companion history` lists the message ids"
            )
        return Message.from_row(dict(zip([d[0] for d in cursor.description], row)))

    def add_bin(self, topic: str, path: str | Path) -> KnowledgeBin:
        with self._write():
            now = self.clock()
            table = self.db["bins"]
            table.insert({"topic": topic, "path": str(path), "created_ts": now,
                          "last_used_ts": None, "decay_level": 0.0}, alter=False)
            return KnowledgeBin(table.last_pk, topic, str(path), now, None, 0.0)

    def touch_bin(self, bin_id: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE bins SET last_used_ts = ?, decay_level = 0 WHERE id = ?",
                         (self.clock(), bin_id))

    def bins(self) -> list[KnowledgeBin]:
        return [KnowledgeBin(**r) for r in self._rows("SELECT * FROM bins ORDER BY id")]

    # -- health -------------------------------------------------------------------------

    def integrity_check(self) -> str:
        """'ok', or SQLite's description of the damage."""
        rows = self._rows("PRAGMA integrity_check")
        return "; ".join(str(next(iter(r.values()))) for r in rows)

    @property
    def schema_version(self) -> int:
        with self._read() as conn:
            return schema.user_version(conn)



def fts_query(words: str, *, any_word: bool = False, prefix: bool = False) -> str | None:
    """User words → a safe FTS5 query of quoted tokens; None when no word is left."""
    tokens = re.findall(r"\w+", words or "")
    if not tokens:
        return None
    quoted = ['"' + t + '"' + ("*" if prefix and len(t) >= 4 else "")
              for t in dict.fromkeys(tokens)]
    return (" OR " if any_word else " ").join(quoted)
