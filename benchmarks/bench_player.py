"""Playback under GIL load: backend and buffer size vs underflows, lost audio, barge-in time.

The PortAudio Player's callback is Python; in the app other threads hold the GIL. The
PulseAudio player (pulse_player.py) writes from a thread instead and flushes on stop. For each
PortAudio buffer size, and for the PulseAudio player, this plays three utterances (three 1 s tones with 0.8 s synthesis gaps) while `--busy` threads
run pure-Python loops, records the virtual speaker (PulseAudio null sink monitor, as in the
tests) and counts what was audible; then it starts a fourth and stops it after 0.5 s (barge-in).
All run side by side in one process, on one PulseAudio server.

    .venv/bin/python benchmarks/bench_player.py [--latency 0.02 0.1 0.15 0.2] [--busy 2]

Prints one JSON object. Needs pulseaudio, pulseaudio-utils, libasound2-plugins (setup.sh --dev).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

TONE_S, GAP_S, UTTERANCES, BARGE_AFTER_S = 1.0, 0.8, 3, 0.5


def tone(seconds: float, freq: float):
    import numpy as np

    from companion.speech.audio import AudioChunk

    t = np.arange(int(22050 * seconds)) / 22050
    return AudioChunk((0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 22050)


def utterance():
    """Three sentences with synthesis gaps between them, like ReplySpeaker's stream."""
    for i in range(3):
        yield tone(TONE_S, 300 + 100 * i)
        time.sleep(GAP_S)


def audible_seconds(audio, rate: int = 16000) -> float:
    import numpy as np

    win = rate // 100
    frames = audio[: len(audio) // win * win].reshape(-1, win)
    return float((np.sqrt(np.mean(frames ** 2, axis=1)) > 0.05).sum() * win / rate)


def run_one(pulse, latency: float | None) -> dict:
    """One backend: the PortAudio Player with `latency` s of device buffer, or (None) the
    PulseAudio player."""
    from companion.speech.player import Player
    from companion.speech.pulse_player import PulsePlayer

    results = []
    player = PulsePlayer() if latency is None else Player(None, latency_s=latency)
    with player:
        player.play([tone(0.2, 440)])
        player.wait(5)  # the stream is open and warm, as in the app
        with pulse.record_speaker() as cap:
            for _ in range(UTTERANCES):
                player.play(utterance())
                results.append(player.wait(15))
            player.play(utterance())
            time.sleep(BARGE_AFTER_S)
            stop_ms = player.stop()
    expected = UTTERANCES * 3 * TONE_S + BARGE_AFTER_S
    heard = audible_seconds(cap.audio)
    return {"backend": player.backend, "latency": latency if latency is not None else player.buffer_s,
            "underflows": sum(r.underflows for r in results if r),
            "audible_s": round(heard, 2), "expected_s": expected,
            "lost_s": round(max(0.0, expected - heard), 2),
            "first_audio_ms": [round(r.first_audio_ms, 1) for r in results if r],
            "all_done": all(r and r.reason == "done" for r in results),
            "barge_in_stop_ms": round(stop_ms, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", nargs="+", type=float, default=[0.02, 0.1, 0.15, 0.2],
                    help="device buffer sizes in seconds (0.02 is what PortAudio's 'low' gave)")
    ap.add_argument("--busy", type=int, default=2, help="GIL-busy threads beside playback")
    args = ap.parse_args()

    from speech_helpers import PulseAudio

    from companion.speech.devices import refresh

    tmp = Path(tempfile.mkdtemp(prefix="bench-player-"))
    pulse = PulseAudio(tmp)
    pulse.start()
    os.environ["PULSE_SERVER"] = pulse.env["PULSE_SERVER"]
    refresh()
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            _ = [i * i for i in range(20000)]

    for _ in range(args.busy):
        threading.Thread(target=busy, daemon=True).start()
    try:
        rows = [run_one(pulse, v) for v in [*args.latency, None]]
    finally:
        stop.set()
        pulse.stop()
    print(json.dumps({"busy_threads": args.busy, "cpus": os.cpu_count(), "runs": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
