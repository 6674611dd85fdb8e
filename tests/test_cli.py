import json
import subprocess
import sys
from pathlib import Path

import tiny

ROOT = Path(__file__).resolve().parent.parent


def run(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "companion", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_help_lists_every_subcommand():
    out = run("--help")
    assert out.returncode == 0
    for name in ("gui", "chat", "generate", "say", "listen", "train", "finetune", "export", "doctor"):
        assert name in out.stdout


def test_generate_answers_with_tribe_and_alpha(memorised_model_dir):
    user, reply, tribe = tiny.MEMORISED_CHATS[0]
    out = run("generate", "--model", str(memorised_model_dir), "--text", user, "--temperature", "0", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["text"] == reply
    assert result["tribe"] == tribe.value
    assert result["alpha"][tribe.value] > 0.7
    assert result["stop_reason"] == "end_of_turn"


def test_generate_streams_text_and_reports_on_stderr(memorised_model_dir):
    user, reply, _ = tiny.MEMORISED_CHATS[1]
    out = run("generate", "--model", str(memorised_model_dir), "--text", user, "--temperature", "0")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == reply
    assert "lumin" in out.stderr and "tok/s" in out.stderr


def test_broken_model_folder_gives_a_clear_message(tmp_path):
    out = run("generate", "--model", str(tmp_path / "missing"), "--text", "Salut")
    assert out.returncode == 2
    assert "companion: model folder" in out.stderr and "not found" in out.stderr
    assert "Traceback" not in out.stderr


def test_doctor_json():
    out = run("doctor", "--json")
    assert out.returncode == 0
    report = json.loads(out.stdout)
    assert report["packages"]["torch"].startswith("2.13.0")
    if sys.platform.startswith("linux"):  # the speech extra's PulseAudio binding
        assert report["packages"]["pasimple"]


def test_benchmark_prints_json():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_generate.py"), "--dim", "64", "--layers", "2",
         "--heads", "4", "--vocab", "500", "--seq-len", "64", "--prompt", "8", "--tokens", "20", "--repeat", "1"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["tok_per_s"] > 0 and result["params"] > 0 and result["prompt_ms"] > 0
    assert result["tokens"] == 20
    assert "float32" in result["tok_per_s_by_head_precision"]
