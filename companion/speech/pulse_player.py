"""Playback straight to PulseAudio (or PipeWire's pulse server): no audio callback in Python.

The PortAudio Player feeds the device from a Python callback, which needs the GIL every 10 ms;
through the ALSA pulse plugin a late callback is an underrun, and the plugin answers it by
reconnecting its stream, dropping what the server still held (benchmarks/bench_player.py:
823 underflows and 1.4 s of 9.7 s lost with two GIL-busy threads). Here a writer thread hands
10 ms blocks to the server with pa_simple_write (GIL released while it blocks) and the server
keeps `buffer_s` queued: a late writer is at worst a gap, never lost audio. Barge-in flushes
the server's queue (pa_simple_flush), so stop() is silent within a block, whatever the buffer —
which is why it can be 0.4 s: a writer starved of CPU on a loaded 2-core machine (a full test
run beside a pip install) once left a gap inside a word that Whisper then misheard. And a writer
that fell behind refills the server in one write, not block by block: handing over 10 ms per
turn, a writer that got the GIL only now and then restarted the dry stream 10 ms at a time
(bench_player.py --busy 4 on 2 cores: 29-36 underflows in 9.5 s → 0-2; barge-in 10-31 ms).

The `pasimple` package (ctypes over libpulse-simple, MIT) is the binding; it is Linux-only and
needs a running server, so `open_player` falls back to the PortAudio Player without one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

import numpy as np

from companion.errors import CompanionError
from companion.speech.audio import AudioChunk
from companion.speech.player import PlaybackResult, _Playback

# PortAudio device names that mean "the sound server's default output" on Linux.
PULSE_DEFAULT_NAMES = ("", "default", "pulse", "pipewire")  # not "sysdefault": the bare card


class PulsePlayer(_Playback):
    """Plays one utterance at a time on PulseAudio's default sink; same API as Player."""

    backend = "pulseaudio"

    def __init__(self, on_finished: Callable[[PlaybackResult], None] | None = None,
                 rate: int = 48000, buffer_s: float = 0.4, block_ms: float = 10.0,
                 server: str | None = None):
        self.rate = rate
        self.block = max(64, int(rate * block_ms / 1000))
        self.buffer_s = buffer_s
        self.on_finished = on_finished
        self._server = server
        self._pa = self._connect()
        self._broken = False  # the server went away; the next play() connects again
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[np.ndarray] = deque()
        self._offset = 0
        self._utterance = 0
        self._feeding = False
        self._stop_wait_s = 2.0  # stop() flushes the server: the report follows at once
        self._stop_called = 0.0
        self._closed = False
        self._done = threading.Event()
        self._done.set()
        self._result: PlaybackResult | None = None
        self._writer = threading.Thread(target=self._write_loop, daemon=True, name="pulse-writer")
        self._writer.start()

    def _connect(self):
        try:
            import pasimple
        except ImportError as exc:
            raise CompanionError(f"PulseAudio playback needs the pasimple package ({exc})") from None
        block_bytes = self.block * 4
        try:
            return pasimple.PaSimple(
                pasimple.PA_STREAM_PLAYBACK, pasimple.PA_SAMPLE_FLOAT32LE, 1, self.rate,
                app_name="NOVA companion", stream_name="voice", server_name=self._server,
                tlength=int(self.rate * self.buffer_s) * 4, prebuf=block_bytes, minreq=block_bytes)
        except (pasimple.PaSimpleError, OSError) as exc:
            raise CompanionError(f"no PulseAudio server to play on ({exc})") from None

    # --- public -------------------------------------------------------------------------------
    def play(self, chunks: Iterable[AudioChunk]) -> None:
        """Start playing; returns at once. Call wait() to block until it really ended.

        After the sound server went away this connects again first (CompanionError if it is
        still not there)."""
        self.stop()
        if self._broken:
            old, self._pa = self._pa, None
            if old is not None:
                old.close()
            self._pa = self._connect()
            self._broken = False
        with self._cond:
            if self._closed:
                raise CompanionError("the player is closed")
            self._utterance += 1
            self._queue.clear()
            self._offset = 0
            self._feeding = True
            self._frames = 0
            self._underflows = 0
            self._start = time.perf_counter()
            self._first_audio = 0.0
            self._runs_dry_at = 0.0
            self._stop_called = 0.0
            self._error = ""
            self._result = None
            self._done.clear()
            utterance = self._utterance
            self._cond.notify_all()
        threading.Thread(target=self._feed, args=(chunks, utterance), daemon=True,
                         name="pulse-feed").start()

    @property
    def name(self) -> str:
        return "PulseAudio default output"

    def close(self) -> None:
        """Stop and release the server connection."""
        self.stop()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._writer.join(2.0)
        if self._pa is not None:
            self._pa.close()

    # --- writer (the feeder is _Playback._feed) -------------------------------------------------
    def _next_block(self) -> np.ndarray | None:
        """The next write, from the queue (caller holds the lock).

        One block while the server holds half of `buffer_s` or more (the write blocks until
        there is room, so a stop() is handled within a block); below that, after a start or
        when the writer fell behind, enough to fill it to half at once. One block per turn made
        a writer that gets the GIL only now and then (a busy app on 2 cores) refill a dry
        stream 10 ms at a time, stuttering into the next words (measured: module notes)."""
        if not self._queue:
            return None
        queued_s = max(0.0, self._runs_dry_at - time.perf_counter()) if self._frames else 0.0
        want = max(self.block, int((self.buffer_s / 2 - queued_s) * self.rate))
        parts = []
        while want > 0 and self._queue:
            head = self._queue[0]
            part = head[self._offset:self._offset + want]
            parts.append(part)
            want -= len(part)
            self._offset += len(part)
            if self._offset >= len(head):
                self._queue.popleft()
                self._offset = 0
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _has_work(self) -> bool:
        """An utterance is playing and there is a stop, samples, or the end to handle
        (caller holds the lock)."""
        return not self._done.is_set() and bool(self._stop_called or self._queue or not self._feeding)

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._has_work():
                    self._cond.wait()
                if self._closed:
                    return
                utterance = self._utterance
                if self._stop_called:
                    action, block = "stop", None
                else:
                    block = self._next_block()
                    action = "write" if block is not None else "drain"
            try:
                if action == "write":
                    self._write(block)
                elif action == "stop":
                    self._pa.flush()
                    self._finish(utterance, time.perf_counter() + self._latency_s())
                else:
                    self._drain(utterance)
            except Exception as exc:  # the server went away: end this utterance with the reason
                with self._cond:
                    self._error = f"the sound server stopped playing ({exc})"
                    self._broken = True
                self._finish(utterance, time.perf_counter())

    def _write(self, block: np.ndarray) -> None:
        now = time.perf_counter()
        if self._frames and now > self._runs_dry_at + 0.005:
            self._underflows += 1  # the server ran out while this utterance played: a gap
        self._pa.write(block.tobytes())  # blocks (GIL released) while the server's queue is full
        self._frames += len(block)
        self._runs_dry_at = max(now, self._runs_dry_at) + len(block) / self.rate
        if not self._first_audio:
            self._first_audio = time.perf_counter() + self._latency_s() - len(block) / self.rate

    def _drain(self, utterance: int) -> None:
        """All written: wait, waking for a stop(), until the server has played it."""
        audible_until = time.perf_counter() + self._latency_s()
        with self._cond:
            while True:
                if utterance != self._utterance or self._stop_called or self._queue or self._feeding:
                    return  # the write loop handles what changed
                left = audible_until - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(left)
        self._finish(utterance, audible_until)

    def _latency_s(self) -> float:
        return self._pa.get_latency() / 1e6

    def _finish(self, utterance: int, audible_until: float) -> None:
        with self._cond:
            if utterance != self._utterance or self._done.is_set():
                return
            self._queue.clear()
            stopped = bool(self._stop_called)
            reason = "stopped" if stopped else ("error" if self._error else "done")
            first = (self._first_audio - self._start) * 1000 if self._first_audio else 0.0
            stop_ms = (audible_until - self._stop_called) * 1000 if stopped else 0.0
            self._result = PlaybackResult(reason, self._frames / self.rate, max(0.0, first),
                                          max(0.0, stop_ms), self._error, self._first_audio,
                                          self._underflows)
            self._done.set()
        if self.on_finished:
            self.on_finished(self._result)
