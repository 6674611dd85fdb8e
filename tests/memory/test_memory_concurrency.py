"""Readers and writers at once, as the GUI, the CLI and a fine-tune export will be."""

import threading
import time

from companion.memory import ConversationStore, TurnMetrics
from companion.tribes import Alpha, Tribe


def _writer(db, turns, errors, tag):
    try:
        with ConversationStore.open(db) as store:
            for i in range(turns):
                user = store.add_message("user", f"{tag} întrebarea {i} despre stele")
                store.add_message("assistant", f"{tag} răspunsul {i}", tribe=Tribe.NOVA,
                                  alpha=Alpha(0.8, 0.1, 0.1), metrics=TurnMetrics(tokens=i))
                if i % 10 == 0:
                    store.rate(user.id + 1, 4)
    except Exception as exc:  # noqa: BLE001 - collected for the assertion
        errors.append(f"writer {tag}: {exc!r}")


def _reader(db, stop, errors, reads):
    try:
        with ConversationStore.open(db) as store:
            while not stop.is_set():
                recent = store.recent(20)
                assert [m.id for m in recent] == sorted(m.id for m in recent)
                store.search("stele", limit=5)
                # A long read transaction must not block the writers (WAL).
                store.conn.execute("BEGIN")
                n = store.conn.execute("SELECT count(*) FROM messages").fetchone()[0]
                time.sleep(0.001)
                assert store.conn.execute("SELECT count(*) FROM messages").fetchone()[0] == n
                store.conn.execute("COMMIT")
                reads.append(n)
    except Exception as exc:  # noqa: BLE001
        errors.append(f"reader: {exc!r}")


def test_reader_and_writers_never_see_database_is_locked(tmp_path):
    db = tmp_path / "memory.sqlite3"
    ConversationStore.open(db).close()
    errors, reads, stop = [], [], threading.Event()
    reader = threading.Thread(target=_reader, args=(db, stop, errors, reads))
    writers = [threading.Thread(target=_writer, args=(db, 60, errors, tag)) for tag in "ab"]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    stop.set()
    reader.join(10)
    assert errors == []
    assert len(reads) > 5 and reads == sorted(reads)  # readers saw the count only grow
    with ConversationStore.open(db) as store:
        assert store.count("messages") == 2 * 2 * 60
        assert store.integrity_check() == "ok"


def test_one_store_shared_by_threads(store):
    errors = []

    def work(tag):
        try:
            for i in range(40):
                store.add_message("user", f"{tag} {i}")
                store.recent(5)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(t,)) for t in "xyz"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and store.count("messages") == 120
