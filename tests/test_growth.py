"""Growth loop (issue 8): versions, fine-tune from rated conversations, hot reload."""

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tiny
from companion.companion import Companion, CompanionConfig, Notice, TurnDone
from companion.errors import CompanionError
from companion.generation import SamplingConfig, load_generator
from companion.memory.store import ConversationStore
from companion.model.checkpoint import save_checkpoint
from companion.text import ChatTurn, Role
from companion.training.corpus import Record
from companion.training.shards import write_shard
from companion.versions import ModelVersions

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def base_model_dir(tmp_path_factory, tokenizer):
    """A tiny model trained on its base shards (like `companion train` leaves it in best/)."""
    from companion.training.corpus import write_jsonl
    from companion.training.shards import ShardSet, list_shards
    from companion.training.train import TrainConfig, Trainer

    work = tmp_path_factory.mktemp("base_run")
    recs = [Record(t, turns=(ChatTurn(Role.USER, u), ChatTurn(Role.ASSISTANT, r, t)))
            for _ in range(12) for u, r, t in tiny.MEMORISED_CHATS]
    write_shard(recs, tokenizer, work / "shards", "base", val_fraction=0.25)
    cfg = TrainConfig(batch_size=8, max_steps=300, warmup_steps=10, lr=3e-3, min_lr=3e-4, eval_every=50,
                      eval_batches=4, patience=0, device="cpu", seed=0)
    trainer = Trainer(tiny.tiny_config(tokenizer, max_seq_len=64), tokenizer,
                      ShardSet(list_shards(work / "shards", tokenizer)), work / "run", cfg)
    trainer.fit()
    folder = work / "run" / "best"
    shutil.copytree(work / "shards", folder / "shards")
    write_jsonl(recs[:3], folder / "heldout.jsonl")
    return folder


def copy_model(src, dest):
    shutil.copytree(src, dest)
    return dest


def test_versions_publish_use_and_rollback(tmp_path, random_model_dir):
    versions = ModelVersions(tmp_path / "models", fallback=random_model_dir)
    assert versions.current_path() == random_model_dir and versions.list() == []
    staged = versions.staging_dir()
    copy_model(random_model_dir, staged / "m")
    half = versions.staging_dir()  # a half-written candidate is never listed or used
    (half / "model.safetensors").write_bytes(b"partial")
    first = versions.publish(staged / "m")
    staged2 = versions.staging_dir()
    second = versions.publish(copy_model(random_model_dir, staged2 / "m"))
    assert [v.name for v in versions.list()] == [first.name, second.name]
    assert versions.current_path() == second.path
    assert versions.rollback().name == first.name
    with pytest.raises(CompanionError, match="nothing to roll back to"):
        versions.rollback()
    assert versions.use(second.name).current
    with pytest.raises(CompanionError, match="no published model version 'nope'"):
        versions.use("nope")
    (versions.root / "CURRENT").write_text("gone\n")
    with pytest.raises(CompanionError, match="names version 'gone'"):
        versions.current_path()


def converse_and_rate(db, model_dir, prompts, rating):
    config = CompanionConfig(sampling=SamplingConfig(temperature=0, max_tokens=40))
    companion = Companion.load(model_dir, db, config)
    try:
        for prompt in prompts:
            done = [e for e in companion.respond(prompt) if isinstance(e, TurnDone)][-1]
            if done.reply is not None:
                companion.store.rate(done.reply.id, rating)
    finally:
        companion.store.close()


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.mark.slow
def test_finetune_publishes_and_a_running_companion_switches_between_turns(tmp_path, base_model_dir):
    db, models = tmp_path / "c.sqlite3", tmp_path / "models"
    converse_and_rate(db, base_model_dir, [u for u, _, _ in tiny.MEMORISED_CHATS] * 2, rating=5)

    # A companion that follows the published versions, running in another thread.
    versions = ModelVersions(models, fallback=base_model_dir)
    config = CompanionConfig(sampling=SamplingConfig(temperature=0, max_tokens=40))
    running = Companion.load(versions.current_path(), db, config, versions=versions)
    events: list = []
    ask = threading.Event()
    answered = threading.Event()

    def serve():
        for _ in range(2):
            ask.wait()
            ask.clear()
            events.extend(running.respond(tiny.MEMORISED_CHATS[1][0]))
            answered.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ask.set()
    assert answered.wait(60)
    answered.clear()
    assert running.model_path == base_model_dir

    out = run_cli("finetune", "--db", str(db), "--model", str(base_model_dir), "--models-dir", str(models),
                  "--steps", "10", "--lr", "1e-4", "--batch-size", "4", "--min-rating", "4", "--json")
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["published"] and report["dialogues"] >= 3
    new = versions.list()
    assert len(new) == 1 and new[0].current and (new[0].path / "shards").is_dir()

    ask.set()  # the next turn, in the other thread
    assert answered.wait(60)
    thread.join(10)
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert any(f"now answering with model version {new[0].name}" in n for n in notices)
    assert running.model_path == new[0].path
    last = [e for e in events if isinstance(e, TurnDone)][-1]
    assert last.reply is not None and last.reply.text  # the new version answered
    running.store.close()

    # --if-new: nothing rated since that version was made → nothing to do.
    skip = run_cli("finetune", "--db", str(db), "--models-dir", str(models), "--if-new", "3", "--json")
    assert skip.returncode == 0, skip.stderr
    assert json.loads(skip.stdout)["skipped"] is True


def test_a_corrupt_new_version_is_refused_and_the_old_one_keeps_answering(tmp_path, base_model_dir):
    models = tmp_path / "models"
    versions = ModelVersions(models, fallback=base_model_dir)
    config = CompanionConfig(sampling=SamplingConfig(temperature=0, max_tokens=40))
    companion = Companion.load(versions.current_path(), tmp_path / "c.sqlite3", config, versions=versions)
    staged = versions.staging_dir()
    bad = versions.publish(copy_model(base_model_dir, staged / "m"))
    weights = bad.path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    user = tiny.MEMORISED_CHATS[2][0]
    events = list(companion.respond(user))
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert any(f"{bad.name} was not loaded" in n and "model.safetensors was changed" in n for n in notices)
    assert companion.model_path == base_model_dir
    done = [e for e in events if isinstance(e, TurnDone)][-1]
    # The old model answered: the same reply a fresh companion on the base model gives.
    fresh = Companion.load(base_model_dir, tmp_path / "fresh.sqlite3", config)
    expected = [e for e in fresh.respond(user) if isinstance(e, TurnDone)][-1]
    fresh.store.close()
    assert done.reply is not None and expected.reply is not None
    assert done.reply.text == expected.reply.text
    # Refused once, not re-tried (and re-announced) every turn.
    again = [e for e in companion.respond(user) if isinstance(e, Notice)]
    assert not any("was not loaded" in e.text for e in again)
    companion.store.close()


@pytest.mark.slow
def test_overfitting_a_tiny_dialogue_set_is_refused(tmp_path, base_model_dir):
    db, models = tmp_path / "c.sqlite3", tmp_path / "models"
    # The user talks about something the base never saw; the replies are whatever came out.
    converse_and_rate(db, base_model_dir, ["Zorile peste Bărăgan aduc ceață și tăcere.",
                                           "Quantum gravity keeps me awake at night."], rating=5)
    out = run_cli("finetune", "--db", str(db), "--model", str(base_model_dir), "--models-dir", str(models),
                  "--steps", "150", "--lr", "3e-2", "--batch-size", "4", "--mix", "0.05", "--json")
    assert out.returncode == 4, out.stdout + out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert not report["published"]
    assert "base held-out loss rose" in report["reason"]
    assert report["after"]["base_loss"] > report["before"]["base_loss"] * 1.05
    assert ModelVersions(models).list() == []  # nothing was published
    assert not any(p.name.startswith(".staging") for p in models.iterdir()) if models.exists() else True


def test_finetune_needs_conversations(tmp_path, base_model_dir):
    ConversationStore.open(tmp_path / "empty.sqlite3").close()
    out = run_cli("finetune", "--db", str(tmp_path / "empty.sqlite3"), "--model", str(base_model_dir),
                  "--models-dir", str(tmp_path / "models"))
    assert out.returncode == 2
    assert "no conversations match" in out.stderr
