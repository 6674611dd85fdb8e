"""Audio values shared by recorder, STT, TTS and player: chunks, resampling, WAV files."""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from companion.errors import CompanionError

STT_RATE = 16_000  # what Whisper models are trained on; the recorder delivers this rate


@dataclass(frozen=True)
class AudioChunk:
    """Mono float32 samples in [-1, 1] at `sample_rate`; what TTS engines yield."""

    samples: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / float(self.sample_rate)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample mono float32 audio with soxr (a real band-limited resampler)."""
    samples = np.asarray(samples, dtype=np.float32)
    if rate_in == rate_out or samples.size == 0:
        return samples
    import soxr

    return soxr.resample(samples, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels: (frames, channels) → (frames,)."""
    samples = np.asarray(samples, dtype=np.float32)
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file as mono float32 and its sample rate.

    Only integer PCM is accepted (8/16/24/32 bit), which is what recorders and Piper write;
    anything else gets an error that says how to convert it.
    """
    path = Path(path)
    if not path.is_file():
        raise CompanionError(f"audio file {path} not found: give the path of a WAV file")
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise CompanionError(
            f"{path} is not a PCM WAV file ({exc}); convert it, e.g. "
            f"`ffmpeg -i {path.name} -ar 16000 -ac 1 out.wav`"
        ) from None
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16))
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, "<i4").astype(np.float32) / float(1 << 31)
    else:  # pragma: no cover - the wave module rejects other widths itself
        raise CompanionError(f"{path}: unsupported sample width {width} bytes")
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels)
    return to_mono(data), rate


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write mono float32 audio as 16-bit PCM WAV (what every player and STT reads)."""
    path = Path(path)
    pcm = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    pcm16 = (pcm * 32767.0).astype("<i2")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(int(sample_rate))
            wav.writeframes(pcm16.tobytes())
    except OSError as exc:
        raise CompanionError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def concat(chunks) -> AudioChunk:
    """Join chunks of one rate into one chunk (empty input gives an empty 16 kHz chunk)."""
    chunks = list(chunks)
    if not chunks:
        return AudioChunk(np.zeros(0, np.float32), STT_RATE)
    rate = chunks[0].sample_rate
    parts = [c.samples if c.sample_rate == rate else resample(c.samples, c.sample_rate, rate)
             for c in chunks]
    return AudioChunk(np.concatenate(parts).astype(np.float32, copy=False), rate)
