"""Companion.respond_audio with real speech: Piper speaks, faster-whisper listens, the model answers."""

import numpy as np
import pytest

import tiny
from companion.companion import Companion, CompanionConfig, Heard, Notice, TurnDone
from companion.generation import SamplingConfig
from companion.speech.stt import SttConfig, Transcriber
from companion.speech.tts import speak
from companion.speech.voices import VoiceProfile
from companion.tribes import Tribe


@pytest.fixture(scope="module")
def transcriber():
    return Transcriber.load(SttConfig(model="tiny.en"))


def synthesise(text: str) -> tuple[np.ndarray, int]:
    chunks = list(speak(text, VoiceProfile.named("lumin")))
    return np.concatenate([c.samples for c in chunks]), chunks[0].sample_rate


@pytest.mark.slow
def test_a_spoken_question_is_heard_answered_and_timed(tmp_path, memorised_model_dir, transcriber):
    question, reply, tribe = tiny.MEMORISED_CHATS[1]  # "What time is it?" → Lumin
    audio, rate = synthesise(question)
    config = CompanionConfig(sampling=SamplingConfig(temperature=0, max_tokens=40))
    companion = Companion.load(memorised_model_dir, tmp_path / "c.sqlite3", config)
    events = list(companion.respond_audio(audio, rate, transcriber))
    heard = next(e for e in events if isinstance(e, Heard))
    assert heard.text.strip().rstrip("?").lower() == "what time is it"
    assert heard.stt_ms > 0
    done = [e for e in events if isinstance(e, TurnDone)][-1]
    assert done.tribe is Tribe.LUMIN
    assert done.metrics.stt_ms == heard.stt_ms
    stored = {m.role: m for m in companion.store.recent(2)}
    assert stored["user"].text == heard.text  # what was heard is what was stored
    assert stored["assistant"].text == done.reply.text
    companion.store.close()


def test_silence_is_not_a_turn(tmp_path, random_model_dir, transcriber):
    companion = Companion.load(random_model_dir, tmp_path / "c.sqlite3")
    events = list(companion.respond_audio(np.zeros(16000, dtype=np.float32), 16000, transcriber))
    assert [type(e) for e in events] == [Notice]
    assert "heard nothing" in events[0].text
    assert companion.store.count() == 0  # nothing stored
    empty = list(companion.respond_audio(np.zeros(0, dtype=np.float32), 16000, transcriber))
    assert "empty" in empty[-1].text
    companion.store.close()
