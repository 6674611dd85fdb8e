"""Speech speed: STT on a 3 s clip (base, tiny.en), TTS time-to-first-chunk and real-time
factor per voice profile, recorder pre-roll. Prints one JSON object.

    .venv/bin/python benchmarks/bench_speech.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from companion.errors import CompanionError
from companion.speech.audio import STT_RATE, concat, resample
from companion.speech.stt import SttConfig, Transcriber
from companion.speech.tts import engine_for, speak
from companion.speech.voices import PROFILE_NAMES, VoiceProfile

REPLY = {
    "en": "Sure, I can help with that. The meeting moved to Thursday at 10, so you have two more "
          "days to finish the slides. Do you want me to remind you tomorrow?",
    "ro": "Sigur, te pot ajuta. Întâlnirea s-a mutat joi la ora 10, așa că mai ai două zile "
          "pentru prezentare. Vrei să-ți amintesc mâine?",
}


def clip_3s() -> np.ndarray:
    lumin = VoiceProfile.named("lumin")
    audio = concat(speak("Please remind me to call my sister tomorrow morning.", lumin))
    samples = resample(audio.samples, audio.sample_rate, STT_RATE)[: 3 * STT_RATE]
    return np.pad(samples, (0, 3 * STT_RATE - len(samples)))


def bench_stt(runs: int) -> dict:
    clip, out = clip_3s(), {}
    for model in ("base", "tiny.en"):
        t = Transcriber.load(SttConfig(model=model))
        t.transcribe(clip)  # warm-up
        times = [t.transcribe(clip).transcribe_ms for _ in range(runs)]
        out[model] = {"ms_3s_clip": round(statistics.median(times), 1),
                      "load_ms": round(t.load_ms, 1), "text": t.transcribe(clip).text}
    return out


def bench_tts(runs: int) -> dict:
    out = {}
    for name in PROFILE_NAMES:
        profile = VoiceProfile.named(name)
        load = time.perf_counter()
        engine_for(profile)
        load_ms = (time.perf_counter() - load) * 1000
        firsts, rtfs = [], []
        for _ in range(runs):
            start, first, chunks = time.perf_counter(), None, []
            for chunk in speak(REPLY[profile.language], profile):
                first = first or time.perf_counter() - start
                chunks.append(chunk)
            total = time.perf_counter() - start
            firsts.append(first * 1000)
            rtfs.append(total / concat(chunks).seconds)
        out[name] = {"engine": profile.engine, "load_ms": round(load_ms, 1),
                     "first_chunk_ms": round(statistics.median(firsts), 1),
                     "rtf": round(statistics.median(rtfs), 4)}
    return out


def bench_recorder() -> dict:
    from companion.speech.recorder import TEXT_MODE, Recorder

    recorder = Recorder()
    try:
        if recorder.open() == TEXT_MODE:
            return {"preroll_ms_configured": recorder.preroll_ms, "preroll_ms": None,
                    "note": recorder.reason}
        time.sleep(recorder.preroll_ms / 1000 + 0.2)
        return {"preroll_ms_configured": recorder.preroll_ms, "device": recorder.device.name,
                "preroll_ms": round(recorder.preroll_seconds * 1000, 1)}
    except CompanionError as exc:
        return {"preroll_ms_configured": recorder.preroll_ms, "preroll_ms": None, "note": str(exc)}
    finally:
        recorder.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tts = bench_tts(args.runs)  # first, so each voice's load time is really measured
    print(json.dumps({"stt": bench_stt(args.runs), "tts": tts, "recorder": bench_recorder()},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
