"""`companion chat --speak`: the reply is spoken sentence by sentence into the virtual speaker."""

import os
import subprocess
import sys

import pytest

import tiny
from speech_helpers import wer


@pytest.mark.slow
def test_chat_speaks_the_reply_in_its_tribes_voice(pulse, transcriber_base, memorised_model_dir, tmp_path):
    question, reply, tribe = tiny.MEMORISED_CHATS[1]  # Lumin: English, Piper voice
    with pulse.record_speaker() as capture:
        cli = subprocess.run(
            [sys.executable, "-m", "companion", "chat", "--model", str(memorised_model_dir),
             "--db", str(tmp_path / "c.sqlite3"), "--text", question, "--temperature", "0", "--max-tokens", "40", "--speak"],
            env={**os.environ}, capture_output=True, text=True, timeout=180)
    assert cli.returncode == 0, cli.stderr
    assert reply in cli.stdout and f"[{tribe.value}" in cli.stdout
    heard = transcriber_base.transcribe(capture.audio, language="en")
    print(f"chat --speak → speaker → base: WER {wer(reply, heard.text):.2%}: {heard.text!r}")
    assert wer(reply, heard.text) <= 0.2


def test_speak_without_output_device_is_a_clear_error(memorised_model_dir, tmp_path):
    cli = subprocess.run(
        [sys.executable, "-m", "companion", "chat", "--model", str(memorised_model_dir),
         "--db", str(tmp_path / "c.sqlite3"), "--text", "Salut", "--speak", "--output-device", "no such speaker"],
        capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2
    assert "companion:" in cli.stderr and "no such speaker" in cli.stderr
    assert "Traceback" not in cli.stderr
