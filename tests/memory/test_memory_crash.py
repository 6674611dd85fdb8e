"""Crash safety: SIGKILL a writer mid-turn 20 times; every committed message survives."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from companion.memory import ConversationStore

WRITER = Path(__file__).with_name("_crash_writer.py")
RUNS = 20


def _kill_run(db: Path, run: int, mode: str, rng: random.Random) -> tuple[list[tuple], str | None]:
    """Start a writer, kill it, return the commits it reported and the marker it was committing."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    child = subprocess.Popen([sys.executable, str(WRITER), str(db), str(run), mode],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    committed, in_flight = [], None
    want = rng.randint(1, 6)
    deadline = time.monotonic() + 20
    try:
        for line in child.stdout:
            kind, *rest = line.split()
            if kind == "COMMITTING":
                in_flight = rest[0]
                break
            committed.append((kind, int(rest[0]), rest[1]))
            if mode == "random" and len(committed) >= want:
                # Let it run into the next turn for a random moment, then kill it there.
                time.sleep(rng.uniform(0, 0.004))
                break
            assert time.monotonic() < deadline, "writer made no progress"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL, child.stderr.read()
    return committed, in_flight


def test_sigkill_mid_turn_keeps_every_committed_message(tmp_path):
    db = tmp_path / "memory.sqlite3"
    rng = random.Random(1234)
    committed, lost_markers = [], []
    started = time.monotonic()
    for run in range(RUNS):
        mode = "commit" if run % 2 else "random"
        got, in_flight = _kill_run(db, run, mode, rng)
        committed += got
        if mode == "commit":
            assert in_flight == f"run{run}turn2", "the commit-mode kill did not land mid-commit"
            lost_markers.append(in_flight)
    elapsed = time.monotonic() - started

    with ConversationStore.open(db) as store:
        assert store.integrity_check() == "ok"
        # The FTS index is an external-content table kept by triggers: it must match too.
        store.conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        for kind, message_id, marker in committed:
            message = store.get_message(message_id)
            assert message.text.startswith(f"{marker} {'user' if kind == 'U' else 'reply'} ")
            if kind == "A":
                # The reply and its metrics are one transaction: never one without the other.
                assert store.metrics_for(message_id) is not None
        for marker in lost_markers:
            # The reply killed just before COMMIT is not there, not even in part.
            assert store.search(f"{marker} reply") == []
            assert store.search(f"{marker} user") != []
        orphans = store.conn.execute(
            "SELECT count(*) FROM messages m WHERE role = 'assistant' "
            "AND NOT EXISTS (SELECT 1 FROM metrics WHERE message_id = m.id)").fetchone()[0]
        assert orphans == 0
        assert store.count("messages") >= len(committed)
        # The store still takes writes after all those crashes.
        assert store.add_message("user", "still here").id > max(c[1] for c in committed)
    assert len(committed) >= RUNS
    print(f"{RUNS} kills, {len(committed)} committed messages checked, {elapsed:.1f}s")
