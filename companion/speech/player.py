"""Playback of TTS audio chunks as they arrive, with stop() for barge-in.

Chunks are resampled (soxr) to the device's rate in a feeder thread, so synthesis of the
next sentence overlaps playback of this one. stop() aborts the PortAudio stream, which drops
what is queued in the device buffer instead of letting it drain; `wait()` returns once the
stream has really finished, and `on_finished` says whether it ended or was stopped.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from companion.errors import CompanionError
from companion.speech.audio import AudioChunk, resample
from companion.speech.devices import find_device, sounddevice

TAIL_SECONDS = 0.25


@dataclass(frozen=True)
class PlaybackResult:
    """How a playback ended: "done" (all audio played), "stopped" or "error"."""

    reason: str
    played_seconds: float
    first_audio_ms: float  # from play() to the first samples handed to the device
    stop_ms: float = 0.0   # from stop() to the stream being silenced (aborted)
    error: str = ""


class Player:
    """Plays one utterance at a time on an output device (None = system default)."""

    def __init__(self, device: str | int | None = None, block_ms: float = 10.0,
                 on_finished: Callable[[PlaybackResult], None] | None = None):
        self.device = find_device(device, "output")
        if self.device is None:
            raise CompanionError("no audio output device: speech cannot be played "
                                 "(use --out FILE.wav to write it to a file)")
        self.rate = int(self.device.default_rate)
        self.block = max(64, int(self.rate * block_ms / 1000))
        self.on_finished = on_finished
        self._stream = None
        self._done = threading.Event()
        self._done.set()
        self._result: PlaybackResult | None = None
        self._closer: threading.Thread | None = None

    # --- public -------------------------------------------------------------------------------
    def play(self, chunks: Iterable[AudioChunk]) -> None:
        """Start playing; returns at once. Call wait() to block until it really ended."""
        self.stop()
        if self._closer is not None:
            self._closer.join(2.0)  # the previous stream must be gone before a new one opens
        sd = sounddevice()
        self._queue: deque[np.ndarray] = deque()
        self._offset = 0
        self._feeding = True
        self._stopping = False
        self._frames = 0
        self._start = time.perf_counter()
        self._first_audio = None
        self._stop_called = 0.0
        self._audible_until = 0.0
        self._tail = 0
        self._error = ""
        self._done.clear()
        self._result = None
        try:
            self._stream = sd.OutputStream(
                device=self.device.index, samplerate=self.rate, channels=1, dtype="float32",
                blocksize=self.block, latency="low", callback=self._callback,
                finished_callback=self._finished)
            self._stream.start()
        except sd.PortAudioError as exc:
            self._done.set()
            raise CompanionError(f"cannot play on {self.device.name!r}: {exc}") from None
        threading.Thread(target=self._feed, args=(chunks,), daemon=True,
                         name="player-feed").start()

    def stop(self) -> float:
        """Silence playback now (barge-in); returns how many ms the stop took."""
        stream = self._stream
        if stream is None or self._done.is_set():
            return 0.0
        self._stop_called = time.perf_counter()
        self._stopping = True
        try:
            stream.abort()  # drops the device buffer instead of draining it
        except Exception:  # pragma: no cover - already closed by the audio thread
            pass
        self._done.wait(1.0)
        return self._result.stop_ms if self._result else 0.0

    def wait(self, timeout: float | None = None) -> PlaybackResult | None:
        """Block until playback really ended (the device played its last sample)."""
        self._done.wait(timeout)
        return self._result

    @property
    def playing(self) -> bool:
        return not self._done.is_set()

    def play_blocking(self, chunks: Iterable[AudioChunk]) -> PlaybackResult:
        self.play(chunks)
        return self.wait()

    # --- audio thread and feeder --------------------------------------------------------------
    def _feed(self, chunks: Iterable[AudioChunk]) -> None:
        try:
            for chunk in chunks:
                if self._stopping:
                    break
                self._queue.append(resample(chunk.samples, chunk.sample_rate, self.rate))
        except Exception as exc:  # a TTS failure must end playback, not hang it
            self._error = str(exc)
        finally:
            self._feeding = False

    def _callback(self, outdata, frames, time_info, status) -> None:
        sd = sounddevice()
        out = outdata[:, 0]
        filled = 0
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
        now = time.perf_counter()
        if filled and self._first_audio is None:
            self._first_audio = now
        if filled:
            # When the device will have played this block's last sample: PortAudio knows how
            # much is still queued downstream (PulseAudio buffers well past the callback).
            ahead = max(0.0, time_info.outputBufferDacTime - time_info.currentTime)
            self._audible_until = now + min(ahead, 2.0) + filled / self.rate
        self._frames += filled
        if self._stopping:
            raise sd.CallbackStop
        if not self._feeding and not self._queue:
            # Some backends (ALSA → PulseAudio) drop the last buffered block on stop instead
            # of draining it: trail with silence so only silence can be lost.
            self._tail += frames - filled
            if self._tail >= self.rate * TAIL_SECONDS:
                raise sd.CallbackStop

    def _finished(self) -> None:
        if not self._stopping:
            # The stream is drained, but the device may still be sounding what it holds;
            # "ended" is reported when the last sample has really been played.
            remaining = self._audible_until - time.perf_counter()
            if remaining > 0:
                threading.Timer(remaining, self._report).start()
                return
        self._report()

    def _report(self) -> None:
        reason = "stopped" if self._stopping else ("error" if self._error else "done")
        first = (self._first_audio - self._start) * 1000 if self._first_audio else 0.0
        stop_ms = (time.perf_counter() - self._stop_called) * 1000 if self._stopping else 0.0
        self._result = PlaybackResult(reason, self._frames / self.rate, first, stop_ms, self._error)
        self._done.set()
        if self.on_finished:
            self.on_finished(self._result)
        stream, self._stream = self._stream, None
        if stream is not None:  # a stream cannot be closed from its own callback thread
            self._closer = threading.Thread(target=stream.close, daemon=True)
            self._closer.start()
