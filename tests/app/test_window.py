"""The desktop window with a real tiny model, a real SQLite file and real widgets (offscreen)."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox

import tiny
from app_helpers import StallMeter, wait_until
from companion.app.bubbles import MessageBubble
from companion.config import AppSettings

GREEDY = dict(temperature=0, max_tokens=40)


def type_and_send(window, text: str) -> None:
    window.input.setFocus()
    QTest.keyClicks(window.input, text)
    QTest.mouseClick(window.send_button, Qt.LeftButton)


def replies(window) -> list[MessageBubble]:
    return [b for b in window.conversation.bubbles
            if isinstance(b, MessageBubble) and b.role == "assistant" and b.message_id is not None]


def ask(window, text: str) -> MessageBubble:
    before = len(replies(window))
    type_and_send(window, text)
    wait_until(lambda: len(replies(window)) > before, 60, f"the reply to {text!r}")
    return replies(window)[-1]


def test_a_typed_message_gets_a_reply_in_its_tribe_stored_in_sqlite(open_window, memorised_model_dir, tmp_path, artifacts):
    db = tmp_path / "conversations.sqlite3"
    window = open_window(memorised_model_dir, db=db, **GREEDY)
    wait_until(lambda: window.loaded, 60, "the model to load")
    # No banner, or only the text-mode one (no microphone unless the PulseAudio fixture runs).
    assert not window.banner.isVisible() or window.banner.title.text() == "Text mode"
    question, answer, tribe = tiny.MEMORISED_CHATS[1]  # Lumin
    reply = ask(window, question)
    users = [b for b in window.conversation.bubbles if isinstance(b, MessageBubble) and b.role == "user"]
    assert [u.text.text() for u in users] == [question] and users[0].message_id is not None
    assert reply.text.text() == answer
    assert reply.tribe == tribe.value and reply.name.text() == "Lumin"
    assert window.meter.chosen == tribe.value
    assert max(range(3), key=lambda i: window.meter.values[i]) == tribe.index  # α points at Lumin
    assert len(window.plot.points) == 1
    assert "total" in window.status_timings.text()

    QTest.mouseClick(reply.rate_buttons[3], Qt.LeftButton)  # 4 of 5
    QTest.mouseClick(reply.star_button, Qt.LeftButton)
    wait_until(lambda: reply.rating == 4 and reply.is_starred, 10, "the rating and the star")

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT role, text, tribe, alpha_lumin FROM messages ORDER BY id").fetchall()
        feedback = conn.execute("SELECT message_id, rating FROM feedback").fetchall()
        snapshots = conn.execute("SELECT message_id FROM snapshots").fetchall()
    assert rows[0][:2] == ("user", question)
    assert rows[1][:3] == ("assistant", answer, "lumin") and rows[1][3] > 0.5
    assert feedback == [(reply.message_id, 4)] and snapshots == [(reply.message_id,)]

    # The other two tribes, each in a fresh episode so the memorised answer is asked alone.
    # Through the full pipeline (context, repetition penalty) the tiny model repeats itself
    # in the Sora line after its first words, so only that start is exact.
    for question, answer, tribe in (tiny.MEMORISED_CHATS[0], tiny.MEMORISED_CHATS[2]):
        QTest.mouseClick(window.new_button, Qt.LeftButton)
        wait_until(lambda: window.plot.points == [], 10, "the new episode")
        reply = ask(window, question)
        assert reply.text.text().startswith(answer[:20]) and reply.tribe == tribe.value
        assert window.meter.chosen == tribe.value
    window.resize(1040, 720)
    QTest.qWait(100)
    assert window.grab().save(str(artifacts / "app_conversation.png"))


def test_a_reply_says_which_of_the_models_knowledge_it_drew_on(open_window, memorised_model_dir, tmp_path):
    import shutil

    from companion.memory.knowledge import Exchange, Knowledge

    model = tmp_path / "model"
    shutil.copytree(memorised_model_dir, model)
    Knowledge([Exchange("lumin", "What time does the shop open?", "At nine."),
               Exchange("sora", "Mi-e dor de mare.", "Marea te așteaptă.")]).save(model / "knowledge.jsonl")
    # A short reply budget leaves the tiny model's 128-token context room for the memory line.
    window = open_window(model, db=tmp_path / "c.sqlite3", temperature=0, max_tokens=10)
    wait_until(lambda: window.loaded, 60, "the model to load")
    question, _, tribe = tiny.MEMORISED_CHATS[1]  # "What time is it?", Lumin's
    reply = ask(window, question)
    assert reply.tribe == tribe.value
    tip = reply.body.toolTip()
    assert tip.startswith("Drew on what it knows") and "What time does the shop open?" in tip
    assert "Mi-e dor" not in tip  # an exchange about something else is not shown, nor named


def test_a_reply_that_knew_nothing_near_says_so_on_hover(qapp):
    """The window passes TurnDone.unsure on (worker → _on_turn_done → show_sources); the tiny
    test model's 128-token context has no room for the 98 tokens of an "I do not know" line, so
    the bubble is checked alone here and the turn in tests/test_companion.py."""
    bubble = MessageBubble("assistant", "Nu știu sigur.", "nova")
    bubble.show_sources(["Ce face memoria RAM?"], unsure=True)
    assert bubble.body.toolTip().startswith("Found nothing near this in what it knows")
    assert "memoria RAM" not in bubble.body.toolTip()
    bubble.show_sources(["Ce face memoria RAM?"])
    assert bubble.body.toolTip().startswith("Drew on what it knows") and "memoria RAM" in bubble.body.toolTip()


def test_past_messages_load_on_start(open_window, memorised_model_dir, tmp_path):
    from companion.memory import ConversationStore
    from companion.tribes import Alpha, Tribe

    db = tmp_path / "history.sqlite3"
    with ConversationStore.open(db) as store:
        store.add_message("user", "Bună seara.")
        store.add_message("assistant", "Bună seara, cu drag.", tribe=Tribe.SORA, alpha=Alpha(0.1, 0.8, 0.1))
    window = open_window(memorised_model_dir, db=db, **GREEDY)
    wait_until(lambda: len(window.conversation.bubbles) == 2, 30, "the history")
    user, reply = window.conversation.bubbles
    assert (user.role, user.text.text()) == ("user", "Bună seara.")
    assert (reply.tribe, reply.text.text(), reply.name.text()) == ("sora", "Bună seara, cu drag.", "Sora")
    assert window.plot.points == [pytest.approx((0.1, 0.8, 0.1))]


def test_text_typed_while_the_model_loads_is_answered_when_it_is_ready(open_window, memorised_model_dir):
    window = open_window(memorised_model_dir, **GREEDY)
    question, answer, tribe = tiny.MEMORISED_CHATS[1]
    type_and_send(window, question)  # straight away: the model is still loading
    assert not window.loaded and window.banner.isVisible()
    wait_until(lambda: replies(window), 60, "the queued reply")
    assert (replies(window)[0].text.text(), replies(window)[0].tribe) == (answer, tribe.value)


def test_the_event_loop_never_stalls_during_a_turn(open_window, memorised_model_dir):
    # Six questions queued at once: the worker never rests between turns.
    window = open_window(memorised_model_dir, max_tokens=40, temperature=0.7, seed=1)
    # Start-up done: the model, and speech (Whisper's loader holds the GIL ~250 ms at a time,
    # which is why it opens in a thread of its own beside the model load).
    wait_until(lambda: window.loaded and window.speech_status, 60, "the model and speech to load")
    meter = StallMeter()
    done = []
    window.worker.turn_done.connect(done.append)
    meter.start()
    started = time.perf_counter()
    questions = [q for q, _, _ in tiny.MEMORISED_CHATS] * 2
    for text in questions:  # set, not typed: simulated typing would block the loop itself
        window.input.setPlainText(text)
        QTest.mouseClick(window.send_button, Qt.LeftButton)
    # Counted from here: six sends in one go (six bubbles laid out at once) are the test's own
    # doing, not a stall of the turn; the first turn has barely started by now.
    meter.restart()
    wait_until(lambda: len(done) == len(questions), 120, "six turns")
    busy_s = time.perf_counter() - started
    meter.stop()
    gaps, worst_ms = meter.gaps, meter.worst_ms
    print(f"\nevent loop during 6 turns ({busy_s * 1000:.0f} ms of generation): {len(gaps)} ticks, "
          f"max gap {worst_ms:.1f} ms (timer 5 ms)")
    # The timer really ran through the turns (a full run once finished all six in 243 ms with
    # 16 ticks, so a fixed count is no guard): at least a tick per 100 ms of generation.
    assert len(gaps) >= max(5, busy_s / 0.1)
    assert worst_ms < 100, f"the GUI thread stalled {worst_ms:.0f} ms"  # target 50; CI CPUs are shared


def test_settings_survive_a_restart(open_window, memorised_model_dir, tmp_path, artifacts, qapp):
    path = tmp_path / "settings.json"
    window = open_window(memorised_model_dir, settings_path=path)
    wait_until(lambda: window.loaded, 60, "the model to load")
    dialog = window.open_settings()
    dialog.persona.setCurrentIndex(dialog.persona.findData("lumin"))
    dialog.style.setCurrentIndex(dialog.style.findData("formal"))
    dialog.temperature.setValue(0.0)
    dialog.top_k.setValue(12)
    dialog.top_p.setValue(0.5)
    dialog.max_tokens.setValue(33)
    assert dialog.word_guard.isChecked()  # on by default
    dialog.word_guard.setChecked(False)
    assert dialog.question_weight.value() == 2.0  # the default
    dialog.question_weight.setValue(0.0)
    assert dialog.copy_weight.value() == 0.85  # the default
    dialog.copy_weight.setValue(0.0)
    assert dialog.admit_unknown.isChecked()  # on by default
    dialog.admit_unknown.setChecked(False)
    dialog.data_dir.setText(str(tmp_path / "data"))
    dialog.adjustSize()
    QTest.qWait(50)
    assert dialog.grab().save(str(artifacts / "app_settings.png"))
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.Save), Qt.LeftButton)
    assert not dialog.isVisible()
    expected = AppSettings(persona_mode="lumin", style="formal", temperature=0.0, top_k=12, top_p=0.5,
                           max_tokens=33, word_guard=False, question_weight=0.0, copy_weight=0.0,
                           admit_unknown=False, data_dir=str(tmp_path / "data"))
    assert window.settings == expected
    wait_until(lambda: window.loaded, 60, "the reload with the new data folder")
    assert window.worker.store.path == tmp_path / "data" / "conversations.sqlite3" or window.worker.db_override
    assert window.worker.companion.config.persona_lock.value == "lumin"  # applied without restart
    assert window.worker.companion.config.sampling.word_guard is False
    assert window.worker.companion.config.sampling.question_weight == 0.0
    assert window.worker.companion.config.sampling.copy_weight == 0.0
    assert window.worker.companion.context.config.admit_unknown is False
    window.close()

    again = open_window(memorised_model_dir, settings_path=path)
    assert again.settings == expected
    dialog = again.open_settings()
    assert dialog.persona.currentData() == "lumin" and dialog.max_tokens.value() == 33
    assert not dialog.word_guard.isChecked() and dialog.question_weight.text() == "off"
    assert dialog.copy_weight.text() == "off" and not dialog.admit_unknown.isChecked()
    dialog.reject()


def test_invalid_settings_are_explained_and_not_saved(open_window, memorised_model_dir, tmp_path):
    path = tmp_path / "settings.json"
    window = open_window(memorised_model_dir, settings_path=path)
    dialog = window.open_settings()
    dialog.model_dir.setText(str(tmp_path / "no such model"))
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.Save), Qt.LeftButton)
    assert dialog.isVisible() and dialog.problems.isVisible()
    assert "no such model" in dialog.problems.text() and "companion train" in dialog.problems.text()
    assert not path.exists() or "no such model" not in path.read_text()
    dialog.reject()


def test_a_settings_file_with_one_bad_value_keeps_the_other_choices(open_window, memorised_model_dir,
                                                                     tmp_path):
    """The model folder chosen in Settings was deleted since: the window opens with the person's
    other choices, the default model, and a note that says what was dropped."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"persona_mode": "lumin", "max_tokens": 33,
                                "model_dir": str(tmp_path / "deleted run")}), encoding="utf-8")
    window = open_window(memorised_model_dir, settings_path=path)
    assert (window.settings.persona_mode, window.settings.max_tokens, window.settings.model_dir) == (
        "lumin", 33, "")
    note = window.status_note.text()
    assert "deleted run" in note and "back to their defaults" in note
    wait_until(lambda: window.loaded, 60, "the model to load")
    assert window.worker.companion.config.persona_lock.value == "lumin"


def test_a_broken_model_folder_shows_a_banner_and_the_window_stays_alive(open_window, tmp_path, artifacts):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    window = open_window(broken)
    wait_until(lambda: window.banner.isVisible() and window.banner.kind == "error", 30, "the error banner")
    text = window.banner.text.text()
    assert "manifest.json" in text and "Settings" in text  # which file, and what to do
    assert window.banner.settings_button.isVisible()
    assert window.status_model.text() == "model: not loaded"
    type_and_send(window, "Hello?")  # the window still works; the message is not lost silently
    wait_until(lambda: "not sent" in window.conversation.bubbles[-1].note.text(), 10, "the not-sent mark")
    assert window.isVisible() and window.thread.isRunning()
    QTest.qWait(50)
    assert window.grab().save(str(artifacts / "app_model_error.png"))


def test_speech_and_voice_settings_survive_a_restart(open_window, memorised_model_dir, tmp_path, artifacts):
    from companion.speech.voices import VoiceProfile, user_voices_dir

    path = tmp_path / "settings.json"
    window = open_window(memorised_model_dir, settings_path=path)
    wait_until(lambda: window.loaded, 60, "the model to load")
    dialog = window.open_settings()
    dialog.tabs.setCurrentIndex(1)
    dialog.speak_replies.setChecked(False)
    dialog.ptt_key.setText("F9")
    dialog.stt_model.setCurrentIndex(dialog.stt_model.findData("tiny.en"))
    dialog.stt_language.setCurrentIndex(dialog.stt_language.findData("en"))
    dialog.adjustSize()
    QTest.qWait(50)
    assert dialog.grab().save(str(artifacts / "app_settings_speech.png"))
    dialog.tabs.setCurrentIndex(2)
    sora = dialog.voices.editors["sora"]
    assert sora.engine.currentData() == "espeak" and sora.pitch.value() == 1.1  # the shipped profile
    sora.pitch.setValue(1.25)
    sora.speed.setValue(0.9)
    QTest.qWait(50)
    assert dialog.grab().save(str(artifacts / "app_settings_voices.png"))
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.Save), Qt.LeftButton)
    assert not dialog.isVisible()
    assert (window.settings.speak_replies, window.settings.ptt_key, window.settings.stt_model,
            window.settings.stt_language) == (False, "F9", "tiny.en", "en")
    assert window.talk.key == Qt.Key_F9
    # Only what differs from the shipped profile is written to the user's override file.
    override = (user_voices_dir() / "sora.toml").read_text()
    assert "pitch = 1.25" in override and "speed = 0.9" in override and "engine" not in override
    assert VoiceProfile.named("sora").pitch == 1.25
    assert not (user_voices_dir() / "lumin.toml").exists()
    window.close()

    again = open_window(memorised_model_dir, settings_path=path)
    dialog = again.open_settings()
    assert dialog.ptt_key.text() == "F9" and not dialog.speak_replies.isChecked()
    assert dialog.stt_model.currentText() == "tiny.en" and dialog.stt_language.currentData() == "en"
    assert dialog.voices.editors["sora"].pitch.value() == 1.25
    dialog.reject()
    (user_voices_dir() / "sora.toml").unlink()


def test_bad_speech_and_voice_settings_are_explained_and_nothing_is_saved(open_window, memorised_model_dir, tmp_path):
    from companion.speech.voices import user_voices_dir

    path = tmp_path / "settings.json"
    window = open_window(memorised_model_dir, settings_path=path)
    dialog = window.open_settings()
    dialog.ptt_key.setText("NoSuchKey")
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.Save), Qt.LeftButton)
    assert dialog.isVisible() and "'NoSuchKey' is not a key name" in dialog.problems.text()
    dialog.ptt_key.setText("Space")
    dialog.stt_model.setEditText(str(tmp_path / "no whisper here"))
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.Save), Qt.LeftButton)
    assert dialog.isVisible() and "faster-whisper model folder" in dialog.problems.text()
    dialog.stt_model.setCurrentIndex(dialog.stt_model.findData("base"))
    dialog.voices.editors["lumin"].voice.setText("")
    QTest.mouseClick(dialog.buttons.button(QDialogButtonBox.Save), Qt.LeftButton)
    assert dialog.isVisible() and "lumin voice" in dialog.problems.text() and "'voice'" in dialog.problems.text()
    assert not path.exists() and not (user_voices_dir() / "lumin.toml").exists()
    dialog.reject()
