"""The desktop app end to end: key up → first reply audio, and GUI event-loop stalls per turn.

Runs the real window offscreen against a private PulseAudio server (null sinks as microphone
and speaker, as in the tests): each question is synthesised, played into the virtual mic while
the talk key is held, and the turn is timed until the reply's first samples reach the speaker.
A 5 ms QTimer measures the longest gap of the GUI thread during each turn.

    .venv/bin/python benchmarks/bench_app.py [--model models/default] [--turns 4]

Prints one JSON object. Needs pulseaudio, pulseaudio-utils, libasound2-plugins (setup.sh --dev).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "app"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

QUESTIONS = [  # (text, persona whose voice asks it): English through Piper, Romanian through espeak
    ("What should I cook tonight?", "lumin"),
    ("Cum funcționează un router?", "nova"),
    ("How do I sleep better?", "lumin"),
    ("Mi-e dor de casă.", "sora"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "default"))
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--stt", default="base", help="speech model: base or tiny.en")
    args = ap.parse_args()

    import numpy as np
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from app_helpers import StallMeter
    from speech_helpers import PulseAudio
    from companion.speech.audio import concat, write_wav
    from companion.speech.tts import speak
    from companion.speech.voices import VoiceProfile

    tmp = Path(tempfile.mkdtemp(prefix="bench-app-"))
    os.environ["COMPANION_CONFIG_DIR"] = str(tmp / "config")
    pulse = PulseAudio(tmp / "pulse")
    pulse.start()
    os.environ["PULSE_SERVER"] = pulse.env["PULSE_SERVER"]
    wavs = []
    for i, (text, voice) in enumerate(QUESTIONS[: args.turns] * (1 + args.turns // len(QUESTIONS))):
        audio = concat(speak(text, VoiceProfile.named(voice, user_dir=tmp / "none")))
        pad = np.zeros(int(audio.sample_rate * 0.2), np.float32)
        wavs.append((text, write_wav(tmp / f"q{i}.wav", np.concatenate([pad, audio.samples, pad]),
                                     audio.sample_rate)))
    wavs = wavs[: args.turns]

    app = QApplication.instance() or QApplication(["bench-app"])
    from companion.app.window import MainWindow

    settings = tmp / "settings.json"
    settings.write_text(json.dumps({"stt_model": args.stt, "max_tokens": 60, "seed": 1}))
    started = time.perf_counter()
    window = MainWindow(settings, args.model, tmp / "conversations.sqlite3")
    window.show()

    def run_until(predicate, timeout, must=True):
        deadline = time.monotonic() + timeout
        loop, timer = QEventLoop(), QTimer()
        timer.setInterval(5)
        timer.timeout.connect(lambda: (predicate() or time.monotonic() > deadline) and loop.quit())
        timer.start()
        loop.exec()
        timer.stop()
        if must and not predicate():
            raise SystemExit(f"bench_app: timed out after {timeout} s")

    run_until(lambda: window.loaded and window.speech_status, 300)
    ready_ms = (time.perf_counter() - started) * 1000
    if not window.speech_status.get("listening"):
        raise SystemExit(f"bench_app: speech is not available: {window.speech_status}")

    stalls = StallMeter()
    stalls.start()
    ended: list[dict] = []
    window.worker.playback_done.connect(ended.append)
    turns = []
    for text, wav in wavs:
        before = len(ended)
        window.talk.press()
        done = threading.Event()
        threading.Thread(target=lambda: (pulse.play_into_mic(wav), done.set()), daemon=True).start()
        run_until(done.is_set, 30)
        run_until(lambda: False, 0.15, must=False)  # the last blocks reach the recorder
        stalls.restart()
        window.talk.release()
        run_until(lambda: len(ended) > before, 120)
        info = ended[-1]
        timings = dict(window.last_timings)
        turns.append({"asked": text, "heard": window.conversation.bubbles[-2].text.text()
                      if len(window.conversation.bubbles) >= 2 else "",
                      "reply_tribe": window.meter.chosen, "stt_ms": timings.get("stt_ms"),
                      "first_token_ms": timings.get("first_token_ms"),
                      "end_to_audio_ms": info.get("end_to_audio_ms"),
                      "max_stall_ms": round(stalls.worst_ms, 1) if stalls.gaps else None})
    stalls.stop()
    window.close()
    pulse.stop()
    e2a = [t["end_to_audio_ms"] for t in turns if t["end_to_audio_ms"]]
    print(json.dumps({
        "model": args.model, "stt_model": args.stt, "cpu_count": os.cpu_count(),
        "start_to_ready_ms": round(ready_ms), "turns": turns,
        "end_to_audio_ms_median": round(statistics.median(e2a), 1) if e2a else None,
        "max_stall_ms": max((t["max_stall_ms"] or 0) for t in turns),
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
