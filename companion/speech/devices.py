"""Audio devices as PortAudio (through sounddevice) sees them: listing, choice by name, refresh.

PortAudio scans devices once when it starts; `refresh()` restarts it so a headset plugged in
(or a PulseAudio server started) after the app came up becomes visible.
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.errors import CompanionError


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    hostapi: str
    max_inputs: int
    max_outputs: int
    default_rate: float
    default_input: bool = False
    default_output: bool = False


def sounddevice():
    """The sounddevice module, or a CompanionError when PortAudio is missing."""
    try:
        import sounddevice as sd
    except OSError as exc:  # raised at import when libportaudio is absent
        raise CompanionError(
            f"audio is unavailable ({exc}): install the Debian package libportaudio2 "
            "(./setup.sh does) — text mode still works") from None
    return sd


def refresh() -> None:
    """Re-scan devices (PortAudio only scans when it starts). Open streams must be closed."""
    sd = sounddevice()
    sd._terminate()
    sd._initialize()


def list_devices() -> list[AudioDevice]:
    sd = sounddevice()
    hostapis = sd.query_hostapis()
    try:
        default_in, default_out = sd.default.device
    except Exception:  # pragma: no cover - sounddevice returns -1 rather than raising
        default_in = default_out = -1
    devices = []
    for i, d in enumerate(sd.query_devices()):
        devices.append(AudioDevice(
            index=i, name=d["name"], hostapi=hostapis[d["hostapi"]]["name"],
            max_inputs=int(d["max_input_channels"]), max_outputs=int(d["max_output_channels"]),
            default_rate=float(d["default_samplerate"]),
            default_input=(i == default_in), default_output=(i == default_out)))
    return devices


def find_device(name: str | int | None, kind: str) -> AudioDevice | None:
    """The device for `name` ("input" or "output"): an index, an exact or a partial name.

    None means the system default, and gives None back when there is no such device at all.
    """
    want_in = kind == "input"
    devices = [d for d in list_devices() if (d.max_inputs if want_in else d.max_outputs) > 0]
    if name is None or name == "":
        for d in devices:
            if d.default_input if want_in else d.default_output:
                return d
        return devices[0] if devices else None
    if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
        for d in devices:
            if d.index == int(name):
                return d
    else:
        exact = [d for d in devices if d.name.lower() == name.lower()]
        partial = [d for d in devices if name.lower() in d.name.lower()]
        if exact or len(partial) == 1:
            return (exact or partial)[0]
        if len(partial) > 1:
            names = "; ".join(d.name for d in partial)
            raise CompanionError(f"audio {kind} device {name!r} is ambiguous: it matches {names}")
    names = "; ".join(f"{d.index}: {d.name}" for d in devices) or "none"
    raise CompanionError(
        f"no audio {kind} device matches {name!r}; available: {names} (see `companion devices`)")
