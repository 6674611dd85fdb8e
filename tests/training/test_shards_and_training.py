import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tiny
from companion.errors import CompanionError
from companion.model.checkpoint import load_checkpoint
from companion.training.corpus import Record
from companion.training.shards import ShardSet, list_shards, write_shard
from companion.training.train import TrainConfig, Trainer
from companion.text import ChatTurn, Role
from companion.tribes import Tribe

ROOT = Path(__file__).resolve().parents[2]


def records(n=40):
    out = []
    for i in range(n):
        tribe = (Tribe.SORA, Tribe.NOVA, Tribe.LUMIN)[i % 3]
        user, reply, _ = tiny.MEMORISED_CHATS[i % 3]
        out.append(Record(tribe, turns=(ChatTurn(Role.USER, f"{user} {i}"), ChatTurn(Role.ASSISTANT, reply, tribe))))
    return out


def tiny_train(corpus, out, steps: int, eval_every: int, *extra: str) -> list[str]:
    """`companion train` arguments for a tiny model on corpus, two samples of 32 tokens a step."""
    return ["train", "--corpus", str(corpus), "--out", str(out), "--preset", "tiny", "--vocab", "400",
            "--steps", str(steps), "--eval-every", str(eval_every), "--eval-batches", "1", "--batch-size", "2",
            "--seq-len", "32", "--device", "cpu", "--no-progress", *extra]


def test_a_single_shard_splits_into_train_and_validation(tmp_path, tokenizer):
    info = write_shard(records(), tokenizer, tmp_path, "only", val_fraction=0.1)
    assert 0 < info.split < info.tokens
    assert (tmp_path / "only.bin").stat().st_size == 2 * info.tokens
    data = ShardSet(list_shards(tmp_path, tokenizer))
    assert data.tokens("train") == info.split and data.tokens("val") == info.tokens - info.split
    x, y, labels = data.sample(4, 32, np.random.default_rng(0))
    assert x.shape == y.shape == labels.shape == (4, 32)
    assert (x[:, 1:] == y[:, :-1]).all()  # y is x shifted by one
    assert set(np.unique(labels)) <= {0, 1, 2}
    val = list(data.validation_batches(8, 32))
    assert val and all((b[1] != -100).any() for b in val)
    # Training windows never reach into the validation tail.
    raw = np.fromfile(tmp_path / "only.bin", dtype=np.uint16)
    assert raw[info.split :].size == data.tokens("val")


def test_labels_follow_each_records_tribe(tmp_path, tokenizer):
    recs = records(3)
    info = write_shard(recs, tokenizer, tmp_path, "three", val_fraction=0.0)
    lengths = [len(tiny.chat_example(tokenizer, r.turns[0].text, r.turns[1].text, r.tribe)[0]) for r in recs]
    labels = info.labels(0, info.tokens)
    expected = np.concatenate([np.full(n, r.tribe.index) for n, r in zip(lengths, recs)])
    assert (labels == expected).all()


def test_adding_a_shard_needs_nothing_else_and_a_bad_one_is_named(tmp_path, tokenizer):
    write_shard(records(10), tokenizer, tmp_path, "base")
    write_shard(records(6), tokenizer, tmp_path, "extra knowledge")
    assert [s.name for s in list_shards(tmp_path, tokenizer)] == ["base", "extra_knowledge"]
    (tmp_path / "extra_knowledge.bin").write_bytes(b"\x00\x00")
    with pytest.raises(CompanionError, match="extra_knowledge.bin has 1 tokens, its sidecar says"):
        list_shards(tmp_path, tokenizer)
    other = tiny.train_tokenizer(vocab_size=400)
    with pytest.raises(CompanionError, match="tokenised with another tokenizer"):
        list_shards(tmp_path, other)


def make_trainer(tmp_path, tokenizer, **overrides):
    shard_dir = tmp_path / "shards"
    if not shard_dir.exists():
        write_shard(records(), tokenizer, shard_dir, "s")
    cfg = TrainConfig(**{**dict(batch_size=4, max_steps=12, warmup_steps=2, eval_every=4, eval_batches=2,
                                patience=0, lr=3e-3, min_lr=3e-4, device="cpu", log_every=1), **overrides})
    data = ShardSet(list_shards(shard_dir, tokenizer))
    return Trainer(tiny.tiny_config(tokenizer, max_seq_len=48), tokenizer, data, tmp_path / "run", cfg)


def losses_of(run_dir):
    import csv

    with open(run_dir / "log.csv") as fh:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(fh)]


def test_resume_continues_the_loss_curve_exactly(tmp_path, tokenizer):
    torch.set_num_threads(1)  # bit-for-bit comparable runs
    straight = make_trainer(tmp_path / "a", tokenizer)
    straight.fit()
    first = make_trainer(tmp_path / "b", tokenizer)
    first.fit(stop_at_step=10)  # interrupted at step 10; its state was last saved at step 8
    resumed = make_trainer(tmp_path / "b", tokenizer)
    assert resumed.resume()
    assert resumed.step == 8
    assert [s for s, _ in losses_of(tmp_path / "b" / "run")] == list(range(1, 9))  # lost steps dropped
    mid = make_trainer(tmp_path / "c", tokenizer)
    mid.fit(stop_at_step=8)
    opt_a, opt_b = mid.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    assert torch.equal(opt_a[0]["exp_avg"], opt_b[0]["exp_avg"])
    resumed.fit()
    a, b = losses_of(tmp_path / "a" / "run"), losses_of(tmp_path / "b" / "run")
    assert [s for s, _ in b] == list(range(1, 13))
    np.testing.assert_allclose([l for _, l in b], [l for _, l in a], rtol=1e-5)


def test_a_kill_between_the_state_folders_two_renames_loses_nothing(tmp_path, tokenizer):
    """Saving the state renames train_state to train_state.old, then the new one in place; a
    kill between the two must not lose the last saved state (it used to delete first)."""
    first = make_trainer(tmp_path, tokenizer)
    first.fit(stop_at_step=10)  # state saved at step 8
    run = tmp_path / "run"
    os.replace(run / "train_state", run / "train_state.old")  # the kill, between the renames
    os.replace(run / "best", run / "best.old")
    resumed = make_trainer(tmp_path, tokenizer)
    assert resumed.resume() and resumed.step == 8
    assert (run / "best" / "model.safetensors").is_file() and not (run / "best.old").exists()
    resumed.fit()
    assert (run / "train_state" / "progress.json").is_file() and not (run / "train_state.old").exists()


def test_training_learns_saves_the_best_model_and_stops_early(tmp_path, tokenizer):
    trainer = make_trainer(tmp_path, tokenizer, max_steps=60, eval_every=5)
    result = trainer.fit()
    curve = losses_of(tmp_path / "run")
    assert curve[-1][1] < curve[0][1] - 1.0  # it really learns
    best = load_checkpoint(tmp_path / "run" / "best")
    assert best.metadata["val_loss"] == pytest.approx(result.best_val_loss)
    assert set(best.metadata["loss_per_tribe"]) <= {"nova", "sora", "lumin"}
    # Early stopping: with lr=0 nothing improves after the first evaluation.
    stuck = make_trainer(tmp_path / "stuck", tokenizer, lr=0.0, min_lr=0.0, warmup_steps=0, max_steps=100,
                         eval_every=2, patience=2)
    res = stuck.fit()
    assert res.stopped_early and res.steps == 6


def test_cuda_request_without_gpu_is_explained(tmp_path, tokenizer):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(CompanionError, match="no CUDA GPU is available"):
        make_trainer(tmp_path, tokenizer, device="cuda")


@pytest.mark.slow
def test_ddp_with_two_gloo_processes_runs_a_step(tmp_path, tokenizer):
    corpus = tmp_path / "corpus.jsonl"
    from companion.training.corpus import write_jsonl

    write_jsonl(records(30), corpus)
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "companion", *tiny_train(corpus, out, 2, 1, "--warmup", "1")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2
    # Both ranks' tokens are counted: 2 steps × 2 ranks × batch 2 × up to 32 targets.
    assert summary["tokens_seen"] > 2 * 2 * 32
    assert (out / "best" / "model.safetensors").is_file()
    # A new model's context detector judges each exchange from its first step.
    from companion.model.checkpoint import load_checkpoint

    best = load_checkpoint(out / "best")
    assert best.config.detector_reset_id == best.tokenizer.user_id


@pytest.mark.slow
def test_killed_training_resumes_where_its_state_was_saved(tmp_path):
    import signal
    import time

    corpus = tmp_path / "corpus.jsonl"
    from companion.training.corpus import write_jsonl

    write_jsonl(records(30), corpus)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "companion", *tiny_train(corpus, out, 3000, 20, "--patience", "0")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (out / "train_state" / "progress.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = json.loads((out / "train_state" / "progress.json").read_text())["step"]
    assert saved >= 20
    again = subprocess.run([*cmd[:cmd.index("3000")], str(saved + 20), *cmd[cmd.index("3000") + 1:]],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resumed at step {saved}" in again.stderr
    steps = [s for s, _ in losses_of(out)]
    assert steps == sorted(set(steps)) and steps[-1] == saved + 20  # no gap, no repeated step


def test_train_with_knowledge_ships_the_training_exchanges_and_shows_them_in_the_shards(tmp_path):
    from companion.memory.knowledge import Knowledge
    from companion.text.tokenizer import Tokenizer
    from companion.training.corpus import read_jsonl, write_jsonl

    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(records(60), corpus)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "companion", *tiny_train(corpus, out, 1, 1, "--warmup", "1", "--knowledge")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    knowledge = Knowledge.in_folder(out / "best")
    heldout = {r.turns[0].text for r in read_jsonl(out / "best" / "heldout.jsonl").records}
    assert heldout and len(knowledge) == 60 - len(heldout)
    assert not heldout & {e.user for e in knowledge.exchanges}  # held-out dialogues stay unseen
    # Most training dialogues are led by a system turn of memories, as the app will show them.
    tokenizer = Tokenizer.load(out / "tokenizer.model")
    ids = np.concatenate([np.fromfile(p, dtype=np.uint16) for p in (out / "shards").glob("*.bin")])
    assert (ids == tokenizer.system_id).sum() >= 0.6 * len(knowledge)
    assert "Amintiri / Memories:" in tokenizer.decode([int(i) for i in ids[:2000]])
