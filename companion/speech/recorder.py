"""Push-to-talk capture: an input stream kept open, with a pre-roll ring buffer.

The stream stays open while the app runs, so pressing the key costs nothing and the first
syllable, often spoken a moment before the key goes down, is kept from the ring buffer
(~300 ms). stop() returns float32 mono at 16 kHz, resampled with soxr if the device runs at
another rate. Without any input device the recorder is in "text" mode instead of failing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from companion.errors import CompanionError
from companion.speech.audio import STT_RATE, resample
from companion.speech.devices import find_device, refresh, sounddevice

CLOSED, READY, RECORDING, TEXT_MODE, ERROR = "closed", "ready", "recording", "text", "error"


class Recorder:
    """States: closed → ready ⇄ recording; "text" when no input device, "error" when it failed.

    `on_level(dbfs)` is called from the audio thread about every block (for a meter): keep it
    cheap and hand the value to the GUI thread rather than touching widgets there.
    """

    def __init__(self, device: str | int | None = None, preroll_ms: float = 300.0,
                 block_ms: float = 20.0, on_level: Callable[[float], None] | None = None,
                 stall_s: float = 1.0, start_timeout_s: float = 5.0):
        self.device_name = device
        self.preroll_ms = preroll_ms
        self.block_ms = block_ms
        self.on_level = on_level
        self.stall_s = stall_s  # no audio for this long while recording: the device is gone
        self.start_timeout_s = start_timeout_s
        self.state = CLOSED
        self.reason = ""
        self.device = None
        self.rate = STT_RATE
        self._stream = None
        self._lock = threading.Lock()
        self._ring: deque[np.ndarray] = deque()
        self._ring_frames = 0
        self._take: list[np.ndarray] = []
        self._last_block = 0.0
        self.overflows = 0

    # --- lifecycle ----------------------------------------------------------------------------
    def open(self) -> str:
        """Open the input stream; returns the state ("ready", or "text" with `reason`)."""
        self.close()
        try:
            sd = sounddevice()
            self.device = find_device(self.device_name, "input")
        except CompanionError as exc:
            if self.device_name is not None and "matches" in str(exc):
                raise
            return self._text_mode(str(exc))
        if self.device is None:
            return self._text_mode("no audio input device found")
        # Ask for 16 kHz directly; a device that refuses it runs at its own rate and we resample.
        for rate in (STT_RATE, int(self.device.default_rate)):
            try:
                stream = sd.InputStream(
                    device=self.device.index, samplerate=rate, channels=1, dtype="float32",
                    blocksize=int(rate * self.block_ms / 1000), callback=self._callback)
                stream.start()
            except sd.PortAudioError as exc:
                error = exc
                continue
            self._stream, self.rate = stream, rate
            self._last_block = 0.0
            # "ready" means audio flows: PulseAudio can take a second or two to deliver the
            # first block, and a take started before that would miss its beginning.
            deadline = time.monotonic() + self.start_timeout_s
            while self._last_block == 0.0 and time.monotonic() < deadline:
                time.sleep(0.01)
            if self._last_block == 0.0:
                self.close()
                self.state = ERROR
                self.reason = (f"the input device {self.device.name!r} opened but delivers no "
                               f"audio within {self.start_timeout_s:g} s")
                raise CompanionError(self.reason + ": check it in `companion devices` or pick another")
            self.state, self.reason = READY, ""
            return self.state
        self.state, self.reason = ERROR, f"cannot open {self.device.name!r}: {error}"
        raise CompanionError(self.reason + " (check that no other program holds it)")

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # pragma: no cover - the device may already be gone
                pass
        if self.state in (READY, RECORDING):
            self.state = CLOSED

    def recover(self) -> str:
        """After an error (device unplugged): re-scan devices and reopen. Returns the state."""
        self.close()
        refresh()
        return self.open()

    def __enter__(self) -> Recorder:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- push to talk -------------------------------------------------------------------------
    def start(self) -> None:
        """Key down: begin a take, starting with the pre-roll already buffered."""
        if self.state == TEXT_MODE:
            raise CompanionError(f"no microphone: {self.reason}")
        if self.state != READY:
            raise CompanionError(f"the recorder is not ready ({self.state}): {self.reason or 'open it first'}")
        with self._lock:
            self._take = list(self._ring)
            self.state = RECORDING

    def stop(self) -> np.ndarray:
        """Key up: the take as float32 mono at 16 kHz (pre-roll included)."""
        if self.state != RECORDING:
            raise CompanionError("stop() without start(): press the talk key first")
        stalled = time.monotonic() - self._last_block > self.stall_s
        active = self._stream is not None and self._stream.active
        with self._lock:
            take, self._take = self._take, []
            self.state = READY
        if stalled or not active:
            self.state = ERROR
            self.reason = (f"the input device {self.device.name!r} stopped delivering audio "
                           "(unplugged?)")
            raise CompanionError(self.reason + ": plug it back in; the recorder reconnects "
                                 "with recover()")
        audio = np.concatenate(take) if take else np.zeros(0, np.float32)
        return resample(audio, self.rate, STT_RATE)

    def record(self, seconds: float) -> np.ndarray:
        """A fixed-length take (for `companion listen --seconds N`)."""
        self.start()
        time.sleep(seconds)
        return self.stop()

    @property
    def preroll_seconds(self) -> float:
        """How much audio from before start() a take holds now."""
        return self._ring_frames / float(self.rate)

    # --- audio thread -------------------------------------------------------------------------
    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        block = indata[:, 0].copy()
        self._last_block = time.monotonic()
        limit = int(self.rate * self.preroll_ms / 1000)
        with self._lock:
            self._ring.append(block)
            self._ring_frames += len(block)
            while self._ring and self._ring_frames - len(self._ring[0]) >= limit:
                self._ring_frames -= len(self._ring.popleft())
            if self.state == RECORDING:
                self._take.append(block)
        if self.on_level is not None:
            rms = float(np.sqrt(np.mean(block * block))) if len(block) else 0.0
            self.on_level(20 * np.log10(max(rms, 1e-10)))

    def _text_mode(self, reason: str) -> str:
        self.state, self.reason = TEXT_MODE, reason
        return self.state
