"""`companion say / listen / devices` end to end (files; the audio-device paths are in
test_audio_devices.py)."""

import json

import pytest
from speech_helpers import ENGLISH_SENTENCE, wer

from companion.cli import main
from companion.speech.audio import read_wav


@pytest.mark.slow
def test_say_to_a_file_then_listen_to_it(tmp_path, capsys):
    out = tmp_path / "lumin.wav"
    assert main(["say", ENGLISH_SENTENCE, "--voice", "lumin", "--out", str(out)]) == 0
    audio, rate = read_wav(out)
    assert rate == 22050 and len(audio) / rate > 2
    capsys.readouterr()
    assert main(["listen", "--file", str(out), "--model", "tiny.en", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "ok" and wer(ENGLISH_SENTENCE, result["text"]) <= 0.15
    assert main(["listen", "--file", str(out), "--model", "tiny.en"]) == 0
    assert wer(ENGLISH_SENTENCE, capsys.readouterr().out) <= 0.15


def test_say_romanian_voices_to_files(tmp_path):
    for voice in ("sora", "nova"):
        assert main(["say", "Bună, am 3 întrebări.", "--voice", voice, "--out", str(tmp_path / f"{voice}.wav")]) == 0
        assert read_wav(tmp_path / f"{voice}.wav")[0].size > 0


@pytest.mark.parametrize("argv, message", [
    (["say", "hi", "--voice", "bob"], "unknown voice 'bob': use one of lumin, nova, sora"),
    (["listen", "--file", "/nonexistent/x.wav"], "audio file /nonexistent/x.wav not found"),
    (["listen", "--seconds", "0"], "--seconds must be more than 0"),
])
def test_cli_errors_are_messages_not_tracebacks(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_listen_with_a_bad_model_folder(tmp_path, capsys):
    wav = tmp_path / "s.wav"
    from companion.speech.audio import write_wav
    import numpy as np

    write_wav(wav, np.zeros(1600, np.float32), 16000)
    assert main(["listen", "--file", str(wav), "--model", str(tmp_path / "nope")]) == 2
    assert "neither a built-in model (base, tiny.en) nor an existing folder" in capsys.readouterr().err


def test_devices_json(capsys):
    assert main(["devices", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"devices", "problem"}
