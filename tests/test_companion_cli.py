"""`companion chat` one-shot and REPL on the tiny random model with a real database."""

import subprocess
import sys
from pathlib import Path

from companion.cli import main
from companion.memory import ConversationStore

ROOT = Path(__file__).parents[1]


def test_one_shot_prints_reply_tribe_alpha_and_stores_both(random_model_dir, tmp_path, capsys):
    db = tmp_path / "chat.sqlite3"
    code = main(["chat", "--db", str(db), "--model", str(random_model_dir), "--text",
                 "Salut! Ce faci azi?", "--seed", "1", "--max-tokens", "16"])
    assert code == 0
    out = capsys.readouterr().out
    assert "α nova=" in out and any(t in out for t in ("[nova", "[sora", "[lumin"))
    with ConversationStore.open(db) as store:
        roles = [m.role for m in store.recent()]
        assert roles[0] == "user" and store.recent()[0].text == "Salut! Ce faci azi?"
        if "no reply" not in out:
            assert roles == ["user", "assistant"]


def test_repl_with_commands(random_model_dir, tmp_path):
    db = tmp_path / "chat.sqlite3"
    script = "Bună!\n/star\n/rate 4\n/new\n/rate x\nCe mai faci?\n/quit\n"
    done = subprocess.run(
        [sys.executable, "-m", "companion", "chat", "--db", str(db), "--model",
         str(random_model_dir), "--seed", "2", "--max-tokens", "12"],
        input=script, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[episode 2 started]" in done.stdout
    assert "number from 1 to 5" in done.stderr
    with ConversationStore.open(db) as store:
        users = [m.text for m in store.recent(10) if m.role == "user"]
        assert users == ["Bună!", "Ce mai faci?"]
        assert len(store.episodes()) == 2


def test_missing_model_is_a_clear_error_with_or_without_speech(tmp_path, capsys):
    assert main(["chat", "--db", str(tmp_path / "c.db"), "--model", str(tmp_path / "nope"),
                 "--text", "hi"]) == 2
    assert "no model folder" in capsys.readouterr().err
    # --speak works now (tests/speech/test_chat_speak.py); the model is checked first.
    assert main(["chat", "--db", str(tmp_path / "c.db"), "--model", str(tmp_path / "nope"),
                 "--speak", "--text", "hi"]) == 2
    assert "no model folder" in capsys.readouterr().err
