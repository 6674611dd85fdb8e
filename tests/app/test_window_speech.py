"""Push-to-talk in the window with real audio: PulseAudio null sinks as microphone and speaker.

Nothing is mocked: the talk button and key are pressed with QTest, a Piper recording is
played into the virtual microphone, faster-whisper transcribes it, the tiny model answers,
Piper speaks the reply into the virtual speaker, and that is recorded and transcribed back.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

import tiny
from app_helpers import ARTIFACTS, wait_until
from companion.app.bubbles import MessageBubble
from speech_helpers import wer

GREEDY = dict(temperature=0, max_tokens=40, stt_model="tiny.en", stt_language="en")
QUESTION, ANSWER, TRIBE = tiny.MEMORISED_CHATS[1]  # Lumin: English in, English out

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def question_wav(tmp_path_factory):
    """The memorised Lumin question, spoken by Piper, with a little silence around it."""
    import numpy as np

    from companion.speech.audio import concat, write_wav
    from companion.speech.tts import speak
    from companion.speech.voices import VoiceProfile

    audio = concat(speak(QUESTION, VoiceProfile.named("lumin", user_dir=Path("/nonexistent"))))
    pad = np.zeros(int(audio.sample_rate * 0.3), np.float32)
    return write_wav(tmp_path_factory.mktemp("ptt") / "question.wav",
                     np.concatenate([pad, audio.samples, pad]), audio.sample_rate)


def check_spoken(capture, transcriber, reference: str, language: str = "en",
                 played: list | None = None) -> None:
    """The capture, transcribed, must say the reference (WER <= 0.3). The window's player once
    dropped whole sentences under GIL load (fixed: pulse_player.py); this is the guard. On a
    failure the capture is kept (artifacts/) and the player's own report goes in the message."""
    import numpy as np

    from companion.speech.audio import write_wav

    loud = capture.audio.size and float(np.abs(capture.audio).max()) >= 0.01
    heard = transcriber.transcribe(capture.audio, 16000, language).text if loud else ""
    if wer(reference, heard) > 0.3:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        kept = write_wav(ARTIFACTS / "speaker_capture_failed.wav", capture.audio, 16000)
        pytest.fail(f"heard {heard!r} for {reference!r} on the speaker; player reported "
                    f"{played}; capture kept in {kept}")


def users(window) -> list[MessageBubble]:
    return [b for b in window.conversation.bubbles if isinstance(b, MessageBubble) and b.role == "user"]


def replies(window) -> list[MessageBubble]:
    return [b for b in window.conversation.bubbles
            if isinstance(b, MessageBubble) and b.role == "assistant" and b.message_id is not None]


def speak_into_mic(pulse, wav, window) -> float:
    """Play the WAV into the virtual mic while the event loop runs; returns the loudest level."""
    done, loudest = threading.Event(), [-100.0]
    threading.Thread(target=lambda: (pulse.play_into_mic(wav), done.set()), daemon=True).start()

    def finished() -> bool:
        loudest[0] = max(loudest[0], window.level.dbfs)
        return done.is_set()

    wait_until(finished, 30, "the question to be played into the microphone")
    QTest.qWait(150)  # the last blocks reach the recorder
    return loudest[0]


def ready_to_talk(window) -> None:
    wait_until(lambda: window.loaded and window.speech_status, 90, "the model and speech to load")
    assert window.speech_status["listening"], window.speech_status
    assert window.talk_button.isEnabled()


def test_hold_the_talk_button_ask_aloud_and_hear_the_reply(pulse, open_window, memorised_model_dir,
                                                           question_wav, transcriber_base, tmp_path,
                                                           artifacts):
    db = tmp_path / "conversations.sqlite3"
    window = open_window(memorised_model_dir, db=db, **GREEDY)
    ready_to_talk(window)
    played = []
    window.worker.playback_done.connect(played.append)
    with pulse.record_speaker() as capture:
        QTest.mousePress(window.talk_button, Qt.LeftButton)
        # The listening state shows the moment the button goes down.
        assert window.talk_button.text().strip().startswith("Listening")
        assert window.level.isVisible() and window.worker.speech.recording
        loudest = speak_into_mic(pulse, question_wav, window)
        window.grab().save(str(artifacts / "app_listening.png"))
        QTest.mouseRelease(window.talk_button, Qt.LeftButton)
        assert not window.worker.speech.recording and not window.level.isVisible()
        wait_until(lambda: replies(window), 90, "the spoken question's reply")
        wait_until(lambda: window.last_timings.get("end_to_audio_ms"), 60, "the reply to be spoken")
        QTest.qWait(600)  # the monitor's last blocks reach the capture
    assert loudest > -40, f"the level meter never moved (loudest {loudest:.1f} dBFS)"

    heard = users(window)[0].text.text()
    assert wer(QUESTION, heard) <= 0.25, heard
    reply = replies(window)[0]
    assert reply.text.text() == ANSWER and reply.tribe == TRIBE.value
    assert window.meter.chosen == TRIBE.value
    assert max(range(3), key=lambda i: window.meter.values[i]) == TRIBE.index
    assert "heard in" in window.status_timings.text() and "voice after" in window.status_timings.text()
    end_to_audio = window.last_timings["end_to_audio_ms"]
    print(f"\nkey up → first reply audio: {end_to_audio:.0f} ms")
    assert 0 < end_to_audio < 30_000

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT role, text, tribe FROM messages ORDER BY id").fetchall()
        stt = conn.execute("SELECT stt_ms FROM metrics").fetchall()
    assert rows == [("user", heard, None), ("assistant", ANSWER, "lumin")]
    assert any(ms and ms > 0 for (ms,) in stt)
    assert window.grab().save(str(artifacts / "app_spoken_turn.png"))
    # The reply was spoken on the virtual speaker, in Lumin's (Piper) voice: transcribe it back.
    check_spoken(capture, transcriber_base, ANSWER, played=played)


def test_the_talk_key_interrupts_the_spoken_reply_and_records_a_question(
        pulse, open_window, memorised_model_dir, question_wav, tmp_path):
    import numpy as np

    window = open_window(memorised_model_dir, **GREEDY)
    ready_to_talk(window)
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window)
    ended = []
    window.worker.playback_done.connect(ended.append)

    with pulse.record_speaker() as capture:
        # A typed question; its reply is being spoken when the talk key goes down.
        window.input.setPlainText(QUESTION)
        QTest.mouseClick(window.send_button, Qt.LeftButton)
        wait_until(lambda: window.stop_button.isVisible() and capture.audio_so_far().size
                   and float(np.abs(capture.audio_so_far()).max()) > 0.05, 60,
                   "the reply to sound on the speaker")
        # A new episode, so the spoken question is asked alone (the tiny model knows it only so).
        QTest.mouseClick(window.new_button, Qt.LeftButton)
        QTest.qWait(100)
        window.conversation.setFocus()  # Space types into the text box when it has the focus
        at_key = capture.samples_so_far()
        assert window.worker.speech.player.playing, "the reply ended before the key went down"
        QTest.keyPress(window.conversation, Qt.Key_Space)
        assert window.worker.speech.recording and window.talk_button.text().strip().startswith("Listening")
        wait_until(lambda: ended, 10, "the interrupted playback to end")
        QTest.qWait(1000)
    assert ended[0]["reason"] == "stopped", ended
    # The speaker's own recording: loud before the key, silent from 100 ms after it.
    after = capture.audio[at_key + 1600:]
    before = capture.audio[max(0, at_key - 8000):at_key]
    print(f"\nbarge-in: player stop_ms {ended[0]['stop_ms']:.0f}; speaker peak after key+100 ms "
          f"{float(np.abs(after).max()):.4f} (before the key {float(np.abs(before).max()):.3f})")
    assert float(np.abs(before).max()) > 0.05, "the reply was not sounding when the key went down"
    assert float(np.abs(after).max()) < 0.01, "the reply kept sounding after the talk key went down"
    assert ended[0]["stop_ms"] < 100

    speak_into_mic(pulse, question_wav, window)
    QTest.keyRelease(window.conversation, Qt.Key_Space)
    wait_until(lambda: len(replies(window)) == 2, 90, "the reply to the spoken question")
    assert wer(QUESTION, users(window)[1].text.text()) <= 0.25
    assert replies(window)[1].tribe == TRIBE.value


def test_space_in_the_text_box_is_a_space_not_the_talk_key(pulse, open_window, memorised_model_dir):
    window = open_window(memorised_model_dir, **GREEDY)
    ready_to_talk(window)
    window.activateWindow()
    assert QTest.qWaitForWindowActive(window)
    window.input.setFocus()
    QTest.keyClicks(window.input, "a b")
    assert window.input.toPlainText() == "a b"
    assert not window.worker.speech.recording


def test_an_unknown_microphone_is_text_mode_and_typing_still_works(open_window, memorised_model_dir):
    window = open_window(memorised_model_dir, input_device="no such microphone 123", **GREEDY)
    wait_until(lambda: window.loaded and window.speech_status, 90, "the model and speech to load")
    assert not window.speech_status["listening"]
    assert not window.talk_button.isEnabled()
    assert "no such microphone 123" in window.talk_button.toolTip()
    assert window.banner.isVisible() and "Text mode" in window.banner.title.text()
    window.input.setPlainText(QUESTION)
    QTest.mouseClick(window.send_button, Qt.LeftButton)
    wait_until(lambda: replies(window), 60, "the typed question's reply")
    assert replies(window)[0].text.text() == ANSWER


def test_replay_and_test_voice_buttons_speak_on_the_speaker(pulse, open_window, memorised_model_dir,
                                                           transcriber_base):
    from companion.app.worker import VOICE_SAMPLES

    window = open_window(memorised_model_dir, **{**GREEDY, "speak_replies": False})
    ready_to_talk(window)
    ended = []
    window.worker.playback_done.connect(ended.append)
    window.input.setPlainText(QUESTION)
    QTest.mouseClick(window.send_button, Qt.LeftButton)
    wait_until(lambda: replies(window), 60, "the typed question's reply")
    QTest.qWait(500)
    assert not ended, "speak_replies is off: the reply must not be spoken by itself"

    with pulse.record_speaker() as capture:
        QTest.mouseClick(replies(window)[0].replay_button, Qt.LeftButton)
        wait_until(lambda: ended, 30, "the replayed reply")
        QTest.qWait(600)  # the monitor's last blocks reach the capture
    assert ended[0]["reason"] == "done"
    check_spoken(capture, transcriber_base, ANSWER, played=ended)

    dialog = window.open_settings()
    dialog.tabs.setCurrentIndex(2)
    lumin = dialog.voices.editors["lumin"]
    lumin.speed.setValue(1.2)  # unsaved values are what the test plays
    with pulse.record_speaker() as capture:
        QTest.mouseClick(lumin.test_button, Qt.LeftButton)
        wait_until(lambda: len(ended) == 2, 30, "the voice test")
        QTest.qWait(600)
    dialog.reject()
    check_spoken(capture, transcriber_base, VOICE_SAMPLES["lumin"])


def test_rescan_lists_devices_and_the_microphone_works_again(pulse, open_window, memorised_model_dir):
    window = open_window(memorised_model_dir, **GREEDY)
    ready_to_talk(window)
    statuses = []
    window.worker.speech_status.connect(statuses.append)
    dialog = window.open_settings()
    QTest.mouseClick(dialog.rescan, Qt.LeftButton)
    assert not dialog.rescan.isEnabled()
    wait_until(lambda: dialog.rescan.isEnabled() and statuses, 60, "the rescan and the reopened devices")
    names = [dialog.input_device.itemData(i) for i in range(dialog.input_device.count())]
    assert "" in names and len(names) >= 2, names  # System default + what PulseAudio offers
    assert statuses[-1]["listening"] and window.talk_button.isEnabled()
    dialog.reject()
