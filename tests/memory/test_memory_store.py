"""The store's behaviour on real SQLite files: episodes, search, feedback, schema versions."""

import sqlite3

import pytest

from companion.errors import CompanionError
from companion.memory import ConversationStore, StoreConfig, TurnMetrics
from companion.memory import schema
from companion.tribes import Alpha, Tribe


class FakeClock:
    def __init__(self, now=1_700_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def test_schema_wal_and_tables(store):
    assert store.schema_version == schema.SCHEMA_VERSION
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = set(store.db.table_names())
    assert {"messages", "episodes", "metrics", "snapshots", "bins", "feedback",
            "messages_fts"} <= tables
    columns = [c.name for c in store.db["messages"].columns]
    assert columns == ["id", "ts", "role", "text", "episode_id", "tribe", "alpha_nova",
                       "alpha_sora", "alpha_lumin", "audio_ms", "latency_ms"]
    assert [c.name for c in store.db["feedback"].columns] == ["id", "message_id", "ts",
                                                              "rating", "note"]


def test_message_round_trip_with_alpha_and_metrics(store):
    reply = store.add_message("assistant", "Bună dimineața!", tribe=Tribe.SORA,
                              alpha=Alpha(0.1, 0.8, 0.1), audio_ms=1200, latency_ms=340,
                              metrics=TurnMetrics(first_token_ms=80.0, tokens=12, entropy=0.6))
    again = store.get_message(reply.id)
    assert again == reply
    assert again.alpha == Alpha(0.1, 0.8, 0.1) and again.tribe is Tribe.SORA
    assert store.metrics_for(reply.id) == TurnMetrics(first_token_ms=80.0, tokens=12, entropy=0.6)
    with pytest.raises(CompanionError, match="no message 999"):
        store.get_message(999)


def test_new_episode_after_idle_gap_and_on_request(tmp_path):
    clock = FakeClock()
    with ConversationStore.open(tmp_path / "m.db", StoreConfig(episode_gap_s=600), clock) as s:
        a = s.add_message("user", "unu")
        clock.now += 599
        b = s.add_message("user", "doi")
        clock.now += 601
        c = s.add_message("user", "trei")
        d_episode = s.new_episode("capitol nou")
        clock.now += 1
        d = s.add_message("user", "patru")
        assert a.episode_id == b.episode_id != c.episode_id
        assert d.episode_id == d_episode.id != c.episode_id
        reasons = [e.reason for e in reversed(s.episodes())]
        assert reasons == ["first", "idle", "request"]
        assert s.current_episode().title == "capitol nou"
        assert [m.text for m in s.recent(10, episode_id=c.episode_id)] == ["trei"]


def test_search_is_diacritic_and_case_insensitive_and_safe(store):
    sea = store.add_message("user", "Mi-e dor de MARE și de inimă.")
    store.add_message("assistant", "Marea te așteaptă.", tribe=Tribe.SORA)
    python = store.add_message("user", "How do I install Python packages?")
    assert [h.message.id for h in store.search("inima")] == [sea.id]
    assert [h.message.id for h in store.search("mare")] == [sea.id]
    assert len(store.search("mare", prefix=True)) == 2
    assert store.search("mare python") == []  # all words by default
    assert {h.message.id for h in store.search("mare python", any_word=True)} == {sea.id, python.id}
    assert store.search('"unbalanced (NEAR AND* -') == []  # FTS syntax in input is harmless
    assert store.search("   ") == []
    assert [h.message.id for h in store.search("mare", prefix=True, role="user")] == [sea.id]
    assert store.search("python", before_id=python.id) == []


def test_star_and_rate(store):
    reply = store.add_message("assistant", "Lumina cade pe apă.", tribe=Tribe.SORA)
    snap = store.star(reply.id, note="frumos")
    assert snap.text == reply.text and snap.message_id == reply.id
    assert store.star(reply.id).id == snap.id  # starring twice keeps one snapshot
    assert [s.note for s in store.snapshots()] == ["frumos"]
    assert store.rate(reply.id, 4).rating == 4
    assert store.rate(reply.id, 2, "prea lung").rating == 2
    assert store.feedback_for(reply.id).rating == 2 and store.count("feedback") == 1
    for bad in (0, 6, 3.5, "5", True):
        with pytest.raises(CompanionError, match="1 to 5"):
            store.rate(reply.id, bad)
    with pytest.raises(CompanionError, match="no message 77"):
        store.star(77)
    assert store.unstar(reply.id) and store.snapshots() == []


def test_bins(store):
    b = store.add_bin("astronomie", "/data/astro.bin")
    store.touch_bin(b.id)
    (again,) = store.bins()
    assert again.topic == "astronomie" and again.last_used_ts is not None


def test_reopen_is_a_no_op_and_keeps_data(tmp_path):
    with ConversationStore.open(tmp_path / "m.db") as s:
        s.add_message("user", "păstrează-mă")
    with ConversationStore.open(tmp_path / "m.db") as s:
        assert [m.text for m in s.recent()] == ["păstrează-mă"]


def test_newer_schema_is_refused_untouched(tmp_path):
    db = tmp_path / "m.db"
    with ConversationStore.open(db) as s:
        s.add_message("user", "din viitor")
        s.conn.execute("PRAGMA user_version = 99")
    with pytest.raises(CompanionError, match="schema version 99.*update the companion"):
        ConversationStore.open(db)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT text FROM messages").fetchall() == [("din viitor",)]


def test_foreign_database_is_refused(tmp_path):
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    with pytest.raises(CompanionError, match="some other program"):
        ConversationStore.open(db)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CompanionError, match="not a conversation database"):
        ConversationStore.open(garbage)


def test_a_failing_migration_rolls_back_and_keeps_everything(tmp_path):
    db = tmp_path / "m.db"
    with ConversationStore.open(db) as s:
        s.add_message("user", "înainte de upgrade")

    def broken(conn):
        conn.execute("ALTER TABLE messages ADD COLUMN language TEXT")
        conn.execute("DELETE FROM messages")  # a bad upgrade that wipes data ...
        raise sqlite3.OperationalError("simulated failure half-way")  # ... then fails

    bad = (*schema.MIGRATIONS, schema.Migration(2, "broken", broken))
    with pytest.raises(CompanionError):
        ConversationStore(db, migrations=bad)
    with ConversationStore.open(db) as s:
        assert s.schema_version == 1
        assert [m.text for m in s.recent()] == ["înainte de upgrade"]
        assert "language" not in {c.name for c in s.db["messages"].columns}


def test_a_later_migration_upgrades_in_place(tmp_path):
    db = tmp_path / "m.db"
    with ConversationStore.open(db) as s:
        s.add_message("user", "vechi")

    def add_language(conn):
        conn.execute("ALTER TABLE messages ADD COLUMN language TEXT")

    newer = (*schema.MIGRATIONS, schema.Migration(2, "language", add_language))
    with ConversationStore(db, migrations=newer) as s:
        assert s.schema_version == 2
        assert "language" in {c.name for c in s.db["messages"].columns}
        assert [m.text for m in s.recent()] == ["vechi"]


def test_bad_config_is_a_clear_error():
    with pytest.raises(CompanionError, match="episode_gap_s"):
        StoreConfig(episode_gap_s=0)
