"""`companion history | export | star | rate` against a real database file."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from companion.cli import main
from companion.memory import ConversationStore
from companion.tribes import Alpha, Tribe


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "chat.sqlite3"
    with ConversationStore.open(path) as store:
        store.add_message("user", "Ce culoare are cerul marțian?")
        store.add_message("assistant", "Ziua e roșiatic, la apus albastru.", tribe=Tribe.NOVA,
                          alpha=Alpha(0.7, 0.2, 0.1))
        store.add_message("user", "And on Earth?")
        store.add_message("assistant", "Blue, because of Rayleigh scattering.", tribe=Tribe.LUMIN,
                          alpha=Alpha(0.1, 0.1, 0.8))
    return path


def test_history_lists_and_searches(db, capsys):
    assert main(["history", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "── episode 1 ──" in out and "#2" in out and "nova" in out and "α=(0.70, 0.20, 0.10)" in out
    assert main(["history", "--db", str(db), "--search", "martian marțian"]) == 0
    assert main(["history", "--db", str(db), "--search", "martian"]) == 0  # diacritics ignored
    out = capsys.readouterr().out
    assert out.count("Ce culoare") == 2 and "Rayleigh" not in out
    assert main(["history", "--db", str(db), "--search", "nimic-de-găsit"]) == 0
    assert "no messages match" in capsys.readouterr().out


def test_star_rate_then_history_shows_them_and_export_filters(db, tmp_path, capsys):
    assert main(["star", "4", "--db", str(db), "--note", "clar"]) == 0
    assert main(["rate", "4", "5", "--db", str(db)]) == 0
    assert main(["rate", "2", "1", "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["history", "--db", str(db), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["id"], r["starred"], r["rating"]) for r in rows] == [
        (1, False, None), (2, False, 1), (3, False, None), (4, True, 5)]
    out = tmp_path / "good.jsonl"
    assert main(["export", "--db", str(db), "--out", str(out), "--min-rating", "4"]) == 0
    assert "exported 1 replies" in capsys.readouterr().out
    (record,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["tribe"] == "lumin" and record["rating"] == 5


@pytest.mark.parametrize("argv, complaint", [
    (["rate", "4", "9"], "1 to 5"),
    (["rate", "99", "3"], "no message 99"),
    (["star", "99"], "no message 99"),
    (["export", "--out", "x.jsonl", "--since", "yesterday"], "YYYY-MM-DD"),
])
def test_user_errors_exit_2_with_a_message(db, capsys, argv, complaint):
    assert main([*argv, "--db", str(db)]) == 2
    assert complaint in capsys.readouterr().err


def test_missing_database_is_not_created_by_reading(tmp_path, capsys):
    missing = tmp_path / "none.sqlite3"
    assert main(["history", "--db", str(missing)]) == 2
    assert "no conversation database" in capsys.readouterr().err
    assert not missing.exists()


def test_entry_point_runs_as_a_program(db):
    done = subprocess.run([sys.executable, "-m", "companion", "history", "--db", str(db)],
                          capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert "Rayleigh" in done.stdout
