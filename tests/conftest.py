"""Shared fixtures: a real tokenizer and tiny real models (see tests/tiny.py), real speech
models from pip packages, and a private PulseAudio server with two null sinks standing in for a
microphone ("mic") and a loudspeaker ("speaker").

PortAudio reaches PulseAudio through the ALSA pulse plugin (libasound2-plugins): its
"default" device is the server's default sink/source, which the fixture sets to `speaker`
and `mic.monitor`. A test plays a WAV into `mic` with paplay and records `speaker.monitor`
with parec.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import tiny  # noqa: E402
from speech_helpers import ENGLISH_SENTENCE, PulseAudio  # noqa: E402


@pytest.fixture(scope="session")
def tokenizer():
    return tiny.train_tokenizer()


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory, tokenizer):
    """A randomly initialised tiny model folder (valid format, meaningless replies)."""
    import torch

    from companion.model import TribalTransformer

    torch.manual_seed(0)
    model = TribalTransformer(tiny.tiny_config(tokenizer))
    return tiny.save_tiny(tmp_path_factory.mktemp("random_model"), model, tokenizer)


@pytest.fixture(scope="session")
def memorised_model_dir(tmp_path_factory, tokenizer):
    """A tiny model trained to answer tiny.MEMORISED_CHATS with the right tribe."""
    model = tiny.train_memorised(tokenizer)
    return tiny.save_tiny(tmp_path_factory.mktemp("memorised_model"), model, tokenizer)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user config; the model cache is shared per run."""
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(tmp_path_factory.getbasetemp() / "config"))
    cache = os.environ.get("COMPANION_TEST_CACHE_DIR")
    if cache:
        monkeypatch.setenv("COMPANION_CACHE_DIR", cache)


@pytest.fixture(scope="session")
def transcriber_base():
    from companion.speech.stt import SttConfig, Transcriber

    return Transcriber.load(SttConfig(model="base"))


@pytest.fixture(scope="session")
def transcriber_tiny():
    from companion.speech.stt import SttConfig, Transcriber

    return Transcriber.load(SttConfig(model="tiny.en"))


@pytest.fixture(scope="session")
def lumin_wav(tmp_path_factory) -> Path:
    """A Piper (Lumin voice) recording of ENGLISH_SENTENCE, made once per session."""
    from companion.speech.audio import concat, write_wav
    from companion.speech.tts import speak
    from companion.speech.voices import VoiceProfile

    audio = concat(speak(ENGLISH_SENTENCE, VoiceProfile.named("lumin", user_dir=Path("/nonexistent"))))
    return write_wav(tmp_path_factory.mktemp("wav") / "lumin.wav", audio.samples, audio.sample_rate)


@pytest.fixture(scope="module")
def pulse(tmp_path_factory):
    """A private PulseAudio server, made PortAudio's default input and output.

    One per test module: the window's tests leave the server's streams in a state (grown
    latency after underruns) that made the next module's barge-in timing flaky.
    """
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        pytest.skip("pulseaudio is not installed (apt-get install pulseaudio pulseaudio-utils "
                    "libasound2-plugins libportaudio2; ./setup.sh --dev does)")
    server = PulseAudio(Path(tmp_path_factory.mktemp("pulse")))
    server.start()
    saved = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = server.env["PULSE_SERVER"]
    from companion.speech.devices import refresh

    refresh()  # PortAudio scanned devices at import, maybe before the server existed
    yield server
    server.stop()
    if saved is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = saved
    refresh()
