"""Helpers for the speech tests: reference sentences, WER, a private PulseAudio server."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np

from companion.selftest import word_error_rate as wer  # noqa: F401 - the tests' WER
from companion.speech.audio import STT_RATE

ENGLISH_SENTENCE = ("The quick brown fox jumps over the lazy dog near the old mill. "
                    "Tomorrow we will walk along the river and count the boats.")
ROMANIAN_SENTENCE = "Bună ziua, astăzi este o zi frumoasă și mergem la munte."


class PulseAudio:
    """A running private PulseAudio server with `mic` and `speaker` null sinks."""

    def __init__(self, root: Path):
        self.root = root
        self.socket = root / "native"
        self.env = {**os.environ, "PULSE_SERVER": f"unix:{self.socket}",
                    "HOME": str(root / "home"), "XDG_RUNTIME_DIR": str(root / "run")}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        for d in ("home", "run"):
            (self.root / d).mkdir(mode=0o700, parents=True, exist_ok=True)
        # -n: no default.pa (no hardware probing, no D-Bus); as root it warns but runs in
        # per-user mode. It runs in the foreground so the fixture owns and ends its process.
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
             "--use-pid-file=no", "--system=false", "--log-target=stderr", "--log-level=error",
             "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
             "-L", "module-null-sink sink_name=mic rate=16000 channels=1",
             "-L", "module-null-sink sink_name=speaker rate=48000 channels=1"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=open(self.root / "pulse.log", "wb"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {(self.root / 'pulse.log').read_text()}")
            if self.pactl("info", check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("pulseaudio did not come up within 15 s")
        self.pactl("set-default-sink", "speaker")
        self.pactl("set-default-source", "mic.monitor")
        self._keep_speaker_monitor_running()

    def _keep_speaker_monitor_running(self) -> None:
        """A null sink with no low-latency client renders in blocks of up to ~2 s, so a parec
        started then got its first bytes 0-1.9 s late (measured) and captures lost their start.
        One low-latency reader for the server's life keeps the monitor live."""
        keep = self.root / "keeper.raw"
        self.keeper = subprocess.Popen(
            ["parec", "-d", "speaker.monitor", "--raw", "--format=u8", "--channels=1",
             "--rate=1000", "--latency-msec=10"], env=self.env, stdout=open(keep, "wb"),
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while keep.stat().st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True,
                              check=check, timeout=10)

    def play_into_mic(self, wav: Path) -> None:
        """Play a WAV file into the virtual microphone; returns when it has been played."""
        subprocess.run(["paplay", "-d", "mic", "--latency-msec=20", str(wav)], env=self.env,
                       check=True, timeout=60)

    def record_speaker(self) -> SpeakerCapture:
        return SpeakerCapture(self)

    def stop(self) -> None:
        keeper = getattr(self, "keeper", None)
        if keeper is not None and keeper.poll() is None:
            keeper.terminate()
            keeper.wait(5)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class SpeakerCapture:
    """Records what the app plays (the speaker sink's monitor) as float32 16 kHz mono."""

    def __init__(self, pulse: PulseAudio):
        self.pulse = pulse

    def __enter__(self) -> SpeakerCapture:
        self.out = open(self.pulse.root / f"capture-{time.monotonic_ns()}.raw", "w+b")
        self.proc = subprocess.Popen(
            ["parec", "-d", "speaker.monitor", "--raw", "--format=float32le", "--channels=1",
             f"--rate={STT_RATE}", "--latency-msec=10"], env=self.pulse.env, stdout=self.out)
        time.sleep(0.3)  # let parec connect before the app starts playing
        self.started = time.perf_counter()
        return self

    def audio_so_far(self) -> np.ndarray:
        """What parec has written until now (the capture goes on)."""
        with open(self.out.name, "rb") as f:
            data = f.read()
        return np.frombuffer(data[: len(data) // 4 * 4], np.float32)

    def samples_so_far(self) -> int:
        """How many samples parec has written: the capture's clock, read at a wall-clock moment."""
        return os.fstat(self.out.fileno()).st_size // 4

    def __exit__(self, *exc) -> None:
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.wait(5)
        self.out.seek(0)
        data = self.out.read()
        self.out.close()
        self.audio = np.frombuffer(data[: len(data) // 4 * 4], np.float32).copy()
