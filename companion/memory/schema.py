"""The conversation database schema and its migrations, versioned by PRAGMA user_version.

Each migration runs inside one IMMEDIATE transaction together with the version bump, so an
upgrade either completes or leaves the database exactly as it was: upgrades never wipe it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from companion.errors import CompanionError


@dataclass(frozen=True)
class Migration:
    version: int  # user_version after this migration
    description: str
    apply: Callable[[sqlite3.Connection], None]


def _execute_script(statements: str) -> Callable[[sqlite3.Connection], None]:
    # executescript() would COMMIT the surrounding transaction, so statements run one by one.
    def apply(conn: sqlite3.Connection) -> None:
        for statement in _split_sql(statements):
            conn.execute(statement)

    return apply


def _split_sql(script: str) -> list[str]:
    """Split a script into complete statements (triggers contain ';' inside BEGIN … END)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement in migration: {current.strip()[:80]}")
    return statements


V1 = """
CREATE TABLE episodes (
    id          INTEGER PRIMARY KEY,
    started_ts  REAL    NOT NULL,
    last_ts     REAL    NOT NULL,
    title       TEXT,
    reason      TEXT    NOT NULL DEFAULT 'idle'
                CHECK (reason IN ('first', 'idle', 'request', 'import'))
);

CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    ts          REAL    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    text        TEXT    NOT NULL,
    episode_id  INTEGER NOT NULL REFERENCES episodes(id),
    tribe       TEXT    CHECK (tribe IS NULL OR tribe IN ('nova', 'sora', 'lumin')),
    alpha_nova  REAL,
    alpha_sora  REAL,
    alpha_lumin REAL,
    audio_ms    INTEGER,
    latency_ms  INTEGER
);
CREATE INDEX messages_episode ON messages(episode_id, id);
CREATE INDEX messages_ts ON messages(ts);

CREATE TABLE metrics (
    id                 INTEGER PRIMARY KEY,
    message_id         INTEGER NOT NULL REFERENCES messages(id),
    ts                 REAL    NOT NULL,
    stt_ms             REAL,
    first_token_ms     REAL,
    gen_ms             REAL,
    tts_first_audio_ms REAL,
    total_ms           REAL,
    prompt_tokens      INTEGER,
    tokens             INTEGER,
    entropy            REAL,
    tries              INTEGER,
    quality            REAL,
    novelty            REAL
);
CREATE INDEX metrics_message ON metrics(message_id);

CREATE TABLE snapshots (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER UNIQUE REFERENCES messages(id),
    ts          REAL    NOT NULL,
    text        TEXT    NOT NULL,
    note        TEXT
);

CREATE TABLE bins (
    id           INTEGER PRIMARY KEY,
    topic        TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    created_ts   REAL    NOT NULL,
    last_used_ts REAL,
    decay_level  REAL    NOT NULL DEFAULT 0
);

CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL UNIQUE REFERENCES messages(id),
    ts          REAL    NOT NULL,
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    note        TEXT
);

-- External-content FTS5 index kept in step by triggers, so it commits with the message.
-- remove_diacritics 2: "inima" finds "inimă", "sa" finds "să" (Romanian without diacritics).
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, content=[messages], content_rowid=[id],
    tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_au AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
END;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "messages, episodes, metrics, snapshots, bins, feedback, FTS5", _execute_script(V1)),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(
    conn: sqlite3.Connection, where: str, migrations: Sequence[Migration] = MIGRATIONS
) -> list[int]:
    """Bring the database up to the last migration's version; returns the versions applied.

    conn must be in autocommit mode (isolation_level=None). A database written by a newer
    version of the app is refused rather than guessed at.
    """
    applied: list[int] = []
    latest = migrations[-1].version if migrations else 0
    current = user_version(conn)
    if current > latest:
        raise CompanionError(
            f"the conversation database {where} has schema version {current}, but this version "
            f"of the companion knows only up to {latest}: update the companion, or choose "
            f"another database with --db PATH (the file was left untouched)"
        )
    if current == 0 and _has_foreign_tables(conn):
        raise CompanionError(
            f"{where} is an SQLite database of some other program (it has tables but no "
            f"companion schema version): choose another file with --db PATH (it was left untouched)"
        )
    for migration in migrations:
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the lock: another process may have migrated meanwhile.
            if user_version(conn) >= migration.version:
                conn.execute("COMMIT")
                continue
            migration.apply(conn)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
        current = migration.version
    return applied


def _has_foreign_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchone()
    return row[0] > 0
