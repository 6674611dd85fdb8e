"""The sound server goes away under the open window (PipeWire/PulseAudio restarting): replies
keep coming as text, the window says why they are not spoken, nothing is lost.

A module of its own: it stops its PulseAudio server, which the other window tests need.
"""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

import tiny
from app_helpers import wait_until

pytestmark = pytest.mark.slow


def test_replies_still_come_as_text_when_the_sound_server_goes_away(pulse, open_window,
                                                                    memorised_model_dir, tmp_path):
    db = tmp_path / "conversations.sqlite3"
    window = open_window(memorised_model_dir, db=db, temperature=0, max_tokens=40,
                         stt_model="tiny.en", stt_language="en")
    wait_until(lambda: window.loaded and window.speech_status, 90, "the model and speech to load")
    assert window.speech_status["speaking"], window.speech_status
    notices, played, done = [], [], []
    window.worker.notice.connect(notices.append)
    window.worker.playback_done.connect(played.append)
    window.worker.turn_done.connect(done.append)

    pulse.stop()
    for n, (question, _, tribe) in enumerate(tiny.MEMORISED_CHATS[:2], 1):
        QTest.mouseClick(window.new_button, Qt.LeftButton)  # the tiny model knows each alone
        QTest.qWait(200)
        window.input.setPlainText(question)
        QTest.mouseClick(window.send_button, Qt.LeftButton)
        wait_until(lambda: len(done) == n, 60, f"reply {n}")
        assert done[-1]["reply"]["text"] and done[-1]["tribe"] == tribe.value, done[-1]
        if n == 1:  # its playback found the server gone
            wait_until(lambda: played, 10, "the first reply's playback to end")
            assert played[0]["reason"] == "error" and "sound server" in played[0]["error"], played
    # The second reply's playback could not start: said, and the text still came.
    assert any("not spoken" in n and "no PulseAudio server" in n for n in notices), notices
    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from messages where role = 'assistant'").fetchone()[0] == 2
