"""The detector stage: the context detector alone learns which tribe answers a user turn."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tiny
from companion.errors import CompanionError
from companion.model import TribalTransformer
from companion.model.checkpoint import load_checkpoint
from companion.text import ChatTurn, Role
from companion.training.corpus import Record, read_jsonl, write_jsonl
from companion.training.detector import (DetectorConfig, examples_of, reply_start_accuracy, split_heldout,
                                         train_detector)
from companion.tribes import Tribe

ROOT = Path(__file__).resolve().parents[2]
USERS = {Tribe.SORA: "Mi-e dor de mare și de bunica", Tribe.NOVA: "Ce este un procesor și cum lucrează",
         Tribe.LUMIN: "What time is it in London"}


def dialogues(n: int = 60) -> list[Record]:
    out = []
    for i in range(n):
        user, reply, _ = tiny.MEMORISED_CHATS[i % 3]
        tribe = tiny.MEMORISED_CHATS[i % 3][2]
        out.append(Record(tribe, turns=(ChatTurn(Role.USER, f"{USERS[tribe]} {i}?"),
                                        ChatTurn(Role.ASSISTANT, f"{reply} {i}", tribe))))
    return out


def model_for(tokenizer, seed=0) -> TribalTransformer:
    torch.manual_seed(seed)
    return TribalTransformer(tiny.tiny_config(tokenizer, detector_reset_id=tokenizer.user_id))


def test_the_user_turn_and_the_reply_start_weigh_more_and_every_reply_start_is_checked(tokenizer):
    record = Record(Tribe.SORA, turns=(ChatTurn(Role.USER, "Bună"), ChatTurn(Role.ASSISTANT, "Bună seara", Tribe.SORA),
                                       ChatTurn(Role.USER, "Mi-e dor"), ChatTurn(Role.ASSISTANT, "Știu", Tribe.SORA)))
    plain = Record(Tribe.NOVA, text="Un text fără întrebare.")
    [example] = examples_of([record, plain], tokenizer, 128, decision_weight=4.0)
    ids = example.ids
    starts = [i for i, t in enumerate(ids) if t == tokenizer.assistant_id]
    assert example.reply_starts == starts and len(starts) == 2
    users = [i for i, t in enumerate(ids) if t == tokenizer.user_id]
    for user, start in zip(users, starts):
        assert all(example.weights[i] == 4.0 for i in range(user, start + 1))  # user turn → reply start
    replies = [i for i in range(len(ids)) if not any(u <= i <= s for u, s in zip(users, starts))]
    assert replies and all(example.weights[i] == 1.0 for i in replies)
    assert example.tribe == 1  # (nova, sora, lumin)


def test_only_the_detector_learns_and_then_picks_the_right_tribe(tokenizer):
    model = model_for(tokenizer)
    records = dialogues()
    examples = examples_of(records, tokenizer, 128, 5.0)
    before_params = {k: v.clone() for k, v in model.state_dict().items()}
    before = reply_start_accuracy(model, examples)
    result = train_detector(model, tokenizer, records,
                            DetectorConfig(epochs=30, lr=1e-2, batch_size=8, patience=30, val_fraction=0.2))
    after = reply_start_accuracy(model, examples)
    assert before < 0.8 and after == 1.0, (before, after)
    assert result.val_accuracy == 1.0 and result.val_accuracy > result.val_accuracy_before
    assert result.train_dialogues + result.val_dialogues == len(records)
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before_params[k])}
    assert changed and all(k.startswith("context_detector.") for k in changed), sorted(changed)[:5]
    assert all(p.requires_grad for p in model.parameters())  # usable for training afterwards


def test_one_tribe_cannot_teach_a_choice(tokenizer):
    only_sora = [r for r in dialogues() if r.tribe is Tribe.SORA]
    with pytest.raises(CompanionError, match="at least two tribes"):
        train_detector(model_for(tokenizer), tokenizer, only_sora, DetectorConfig(epochs=1))


def test_a_heldout_dialogue_stays_out_even_after_its_user_turn_was_rewritten():
    records = dialogues(6)
    old = records[2]
    rewritten = Record(old.tribe, turns=(ChatTurn(Role.USER, "Altă formulare, cu un dor în ea?"), old.turns[1]))
    corpus = records[:2] + [rewritten] + records[3:]
    train, heldout = split_heldout(corpus, [old])
    assert rewritten not in train and len(train) == 5
    assert heldout == [rewritten]  # evaluated as the corpus words it now


def test_detector_command_retrains_a_model_folder_and_keeps_its_heldout_out(tmp_path, tokenizer):
    model_dir = tiny.save_tiny(tmp_path / "model", model_for(tokenizer), tokenizer)
    records = dialogues()
    write_jsonl(records[:1], model_dir / "heldout.jsonl")
    (model_dir / "vocabulary.txt").write_text("mare\n", encoding="utf-8")
    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(records, corpus)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "companion", "detector", "--model", str(model_dir), "--corpus",
                           str(corpus), "--out", str(out), "--detector-epochs", "60", "--detector-lr", "1e-2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["train_dialogues"] + report["val_dialogues"] == len(records) - 1
    assert "1 held-out dialogues kept out of training" in done.stderr
    checkpoint = load_checkpoint(out)  # manifest and weights verified
    assert checkpoint.metadata["detector"]["best_epoch"] == report["best_epoch"]
    assert reply_start_accuracy(checkpoint.model, examples_of(records, tokenizer, 128, 5.0)) > 0.9
    assert [r.to_json() for r in read_jsonl(out / "heldout.jsonl").records] == [records[0].to_json()]
    assert (out / "vocabulary.txt").read_text(encoding="utf-8") == "mare\n"


def test_detector_command_explains_a_missing_model(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(dialogues(6), corpus)
    done = subprocess.run([sys.executable, "-m", "companion", "detector", "--model", str(tmp_path / "nothing"),
                           "--corpus", str(corpus), "--out", str(tmp_path / "out")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "nothing" in done.stderr and "Traceback" not in done.stderr


def test_train_runs_the_detector_stage_after_the_language_model(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(dialogues(), corpus)
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "companion", "train", "--corpus", str(corpus), "--out", str(out),
                           "--preset", "tiny", "--vocab", "400", "--steps", "4", "--eval-every", "2",
                           "--eval-batches", "1", "--batch-size", "2", "--seq-len", "64", "--device", "cpu",
                           "--no-progress", "--detector-epochs", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    facts = json.loads((out / "best" / "training.json").read_text())
    assert facts["detector"]["epochs"] >= 1 and "--detector-epochs 2" in facts["command"]
    assert load_checkpoint(out / "best").metadata["detector"] == facts["detector"]
    shutil.rmtree(out)
