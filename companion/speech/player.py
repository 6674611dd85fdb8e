"""Playback of TTS audio chunks as they arrive, with stop() for barge-in.

One output stream stays open for the player's life, playing silence between utterances:
reopening a PortAudio stream per utterance is slow, and through the ALSA → PulseAudio plugin
a stream reopened after an abort was measured to underflow and lose most of its audio.
Chunks are resampled (soxr) to the device rate in a feeder thread, so synthesis of the next
sentence overlaps playback of this one. stop() empties the queue, so the next 10 ms block is
silence; what remains is the device's own buffer (`latency_s`).

Why 150 ms of device buffer and not PortAudio's "low" (~20 ms): the callback is Python, so it
needs the GIL, and in the app the worker, Qt and TTS threads hold it. Measured on 2 cores with
two GIL-busy threads beside a 3-utterance playback (benchmarks/bench_player.py, PulseAudio
null sink through the ALSA pulse plugin): 0.02 s (PortAudio's "low") → 823 underflows and
1.4 s of 9.7 s audio lost — the plugin answers an underrun by reconnecting its stream,
dropping what PulseAudio still held, while the player reported "done" (the desktop app's lost
sentences); 0.1 s → 39 underflows; 0.15 s → 0; 0.2 s → 0. Barge-in then takes about the
buffer (stop_ms 172 ms at 0.15 s). On Linux's default output open_player() prefers
pulse_player.PulsePlayer, which has neither problem.
Flushing the device on stop (abort() + start()) was tried: through the pulse plugin it
shifted and cut the following utterances, so stop() lets the buffer play out instead.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from companion.errors import CompanionError
from companion.speech.audio import AudioChunk, resample
from companion.speech.devices import find_device, sounddevice


@dataclass(frozen=True)
class PlaybackResult:
    """How a playback ended: "done" (all audio played), "stopped" or "error"."""

    reason: str
    played_seconds: float
    first_audio_ms: float  # from play() until the first samples are audible (device buffer included)
    stop_ms: float = 0.0   # from stop() until the device has played its last sample
    error: str = ""
    first_audio_at: float = 0.0  # time.perf_counter() of the first audible samples (0: none)
    underflows: int = 0    # device buffer ran dry (audio may have been dropped by the driver)


def open_player(device: str | int | None = None,
                on_finished: Callable[[PlaybackResult], None] | None = None):
    """The player for `device`: on Linux the default output goes straight to the PulseAudio
    (or PipeWire) server when one answers (no GIL-bound callback; barge-in flushes the server),
    otherwise — a named device, another OS, no server — the PortAudio Player.
    COMPANION_AUDIO_BACKEND=portaudio forces PortAudio."""
    from companion.speech.pulse_player import PULSE_DEFAULT_NAMES, PulsePlayer

    default = device is None or str(device).strip().lower() in PULSE_DEFAULT_NAMES
    if (default and sys.platform.startswith("linux")
            and os.environ.get("COMPANION_AUDIO_BACKEND", "").lower() != "portaudio"):
        try:
            return PulsePlayer(on_finished=on_finished)
        except CompanionError:
            pass  # no server (or no pasimple): PortAudio reaches ALSA directly
    return Player(device, on_finished=on_finished)


class _Playback:
    """What both players share: an utterance id, a queue of samples filled by a feeder thread
    (synthesis runs there, ahead of playback), and the end-of-playback report. Subclasses set
    rate, _cond, _queue, _utterance, _feeding, _stop_called, _error, _done, _result and
    _stop_wait_s."""

    def wait(self, timeout: float | None = None) -> PlaybackResult | None:
        """Block until playback really ended (the last sample was played)."""
        self._done.wait(timeout)
        return self._result

    @property
    def playing(self) -> bool:
        return not self._done.is_set()

    def play_blocking(self, chunks: Iterable[AudioChunk]) -> PlaybackResult:
        self.play(chunks)
        return self.wait()

    def stop(self) -> float:
        """Silence playback now (barge-in); returns ms until the last sample was played.

        Waits for the end report (up to `_stop_wait_s`): a later play() must not start before."""
        with self._cond:
            if self._done.is_set():
                return 0.0
            self._stop_called = time.perf_counter()
            self._queue.clear()
            self._feeding = False
            utterance = self._utterance
            self._cond.notify_all()
        self._done.wait(self._stop_wait_s)
        result = self._result
        return result.stop_ms if result and self._utterance == utterance else 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _feed(self, chunks: Iterable[AudioChunk], utterance: int) -> None:
        error = ""
        try:
            for chunk in chunks:
                samples = resample(chunk.samples, chunk.sample_rate, self.rate)
                with self._cond:
                    if utterance != self._utterance or not self._feeding:
                        return  # stopped or replaced: drop the rest
                    self._queue.append(np.ascontiguousarray(samples, dtype=np.float32))
                    self._cond.notify_all()
        except Exception as exc:  # a TTS failure must end playback, not hang it
            error = str(exc)
        finally:
            with self._cond:
                if utterance == self._utterance:
                    self._error = self._error or error
                    self._feeding = False
                    self._cond.notify_all()


class Player(_Playback):
    """Plays one utterance at a time on an output device (None = system default)."""

    backend = "portaudio"

    def __init__(self, device: str | int | None = None, block_ms: float = 10.0,
                 on_finished: Callable[[PlaybackResult], None] | None = None,
                 latency_s: float = 0.15):
        self.device = find_device(device, "output")
        if self.device is None:
            raise CompanionError("no audio output device: speech cannot be played "
                                 "(use --out FILE.wav to write it to a file)")
        self.rate = int(self.device.default_rate)
        self.block = max(64, int(self.rate * block_ms / 1000))
        self.latency_s = latency_s
        self._stop_wait_s = latency_s + 2.0  # what the device holds still plays after stop()
        self.on_finished = on_finished
        self._stream = None
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[np.ndarray] = deque()
        self._offset = 0
        self._utterance = 0          # id of the utterance now playing (0: none)
        self._feeding = False
        self._finishing = False
        self._done = threading.Event()
        self._done.set()
        self._result: PlaybackResult | None = None

    # --- public -------------------------------------------------------------------------------
    def play(self, chunks: Iterable[AudioChunk]) -> None:
        """Start playing; returns at once. Call wait() to block until it really ended."""
        self.stop()
        self._ensure_stream()
        with self._cond:
            self._utterance += 1
            self._queue.clear()
            self._offset = 0
            self._feeding = True
            self._frames = 0
            self._start = time.perf_counter()
            self._first_audio = None
            self._stop_called = 0.0
            self._error = ""
            self._underflows = 0
            self._result = None
            self._finishing = False
            self._done.clear()
            utterance = self._utterance
        threading.Thread(target=self._feed, args=(chunks, utterance), daemon=True,
                         name="player-feed").start()

    @property
    def name(self) -> str:
        return self.device.name

    def close(self) -> None:
        """Stop and release the device."""
        self.stop()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.close()

    # --- audio thread (the feeder is _Playback._feed) --------------------------------------
    def _ensure_stream(self) -> None:
        if self._stream is not None and self._stream.active:
            return
        sd = sounddevice()
        try:
            self._stream = sd.OutputStream(
                device=self.device.index, samplerate=self.rate, channels=1, dtype="float32",
                blocksize=self.block, latency=self.latency_s, callback=self._callback)
            self._stream.start()
        except sd.PortAudioError as exc:
            self._stream = None
            raise CompanionError(f"cannot play on {self.device.name!r}: {exc}") from None

    def _callback(self, outdata, frames, time_info, status) -> None:
        out = outdata[:, 0]
        filled = 0
        with self._cond:
            while filled < frames and self._queue:
                head = self._queue[0]
                take = min(frames - filled, len(head) - self._offset)
                out[filled:filled + take] = head[self._offset:self._offset + take]
                filled += take
                self._offset += take
                if self._offset >= len(head):
                    self._queue.popleft()
                    self._offset = 0
            out[filled:] = 0.0
            if self._done.is_set() or self._finishing:
                return
            if status.output_underflow:
                self._underflows += 1
            now = time.perf_counter()
            # These samples reach the speaker after what the device still holds (PortAudio's
            # estimate of its output buffer).
            ahead = max(0.0, min(time_info.outputBufferDacTime - time_info.currentTime, 2.0))
            if filled and self._first_audio is None:
                self._first_audio = now + ahead
            self._frames += filled
            if self._feeding or self._queue:
                return
            self._finishing = True
            audible_until = now + ahead + filled / self.rate
            utterance = self._utterance
        threading.Timer(max(0.0, audible_until - time.perf_counter()), self._report,
                        args=(utterance, audible_until)).start()

    def _report(self, utterance: int, audible_until: float) -> None:
        with self._cond:
            if utterance != self._utterance:
                return  # a later play() took over; its own report will come
            reason = "stopped" if self._stop_called else ("error" if self._error else "done")
            first = (self._first_audio - self._start) * 1000 if self._first_audio else 0.0
            stop_ms = (audible_until - self._stop_called) * 1000 if self._stop_called else 0.0
            self._result = PlaybackResult(reason, self._frames / self.rate, first, stop_ms,
                                          self._error, self._first_audio or 0.0, self._underflows)
            self._done.set()
        if self.on_finished:
            self.on_finished(self._result)
