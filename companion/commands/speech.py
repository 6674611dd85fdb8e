"""`companion say`, `companion listen`, `companion devices`: the voice loop from the terminal."""

from __future__ import annotations

import json
import sys


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    if name == "say":
        p.add_argument("text", nargs="+", help="what to say (markdown and numbers are cleaned)")
        p.add_argument("--voice", default="lumin", help="sora, lumin or nova (default lumin)")
        p.add_argument("--out", metavar="FILE.wav", help="write a WAV file instead of playing")
        p.add_argument("--device", help="output device name or index (see `companion devices`)")
        p.set_defaults(func=run_say)
    elif name == "listen":
        src = p.add_mutually_exclusive_group()
        src.add_argument("--file", metavar="FILE.wav", help="transcribe a WAV file")
        src.add_argument("--seconds", type=float, default=5.0,
                         help="record the microphone this long (default 5)")
        p.add_argument("--language", default="auto", choices=("auto", "ro", "en"))
        p.add_argument("--model", default="base",
                       help="base, tiny.en or a faster-whisper model folder (default base)")
        p.add_argument("--device", help="input device name or index (see `companion devices`)")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(func=run_listen)
    elif name == "devices":
        p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(func=run_devices)
    else:  # pragma: no cover - cli.py only routes these three names here
        raise ValueError(f"companion.commands.speech does not handle {name!r}")


def run_say(args) -> int:
    from companion.speech.tts import speak
    from companion.speech.voices import VoiceProfile

    profile = VoiceProfile.named(args.voice)
    chunks = speak(" ".join(args.text), profile)
    if args.out:
        from companion.speech.audio import concat, write_wav

        audio = concat(chunks)
        path = write_wav(args.out, audio.samples, audio.sample_rate)
        print(f"{path} ({audio.seconds:.2f} s, {audio.sample_rate} Hz, voice {profile.name})")
        return 0
    from companion.speech.player import open_player

    with open_player(args.device) as player:
        result = player.play_blocking(chunks)
    if result.reason == "error":
        print(f"companion say: playback failed: {result.error}", file=sys.stderr)
        return 1
    return 0


def run_listen(args) -> int:
    from companion.speech.stt import SttConfig, Transcriber

    if args.file:
        from companion.speech.audio import read_wav

        audio, rate = read_wav(args.file)
    else:
        from companion.errors import CompanionError
        from companion.speech.recorder import TEXT_MODE, Recorder

        if args.seconds <= 0:
            raise CompanionError("--seconds must be more than 0")
        recorder = Recorder(args.device)
        if recorder.open() == TEXT_MODE:
            raise CompanionError(f"no microphone ({recorder.reason}); use --file FILE.wav")
        print(f"listening for {args.seconds:g} s on {recorder.device.name!r}…", file=sys.stderr)
        try:
            audio, rate = recorder.record(args.seconds), 16_000
        finally:
            recorder.close()
    transcriber = Transcriber.load(SttConfig(model=args.model, language=args.language))
    result = transcriber.transcribe(audio, rate)
    if args.json:
        print(json.dumps({"text": result.text, "language": result.language,
                          "status": result.status, "audio_s": round(result.audio_seconds, 3),
                          "transcribe_ms": round(result.transcribe_ms, 1),
                          "load_ms": round(transcriber.load_ms, 1),
                          "warnings": list(result.warnings)}, ensure_ascii=False))
    else:
        for warning in result.warnings:
            print(f"note: {warning}", file=sys.stderr)
        if result.status != "ok":
            print(f"({result.status}: no speech heard)", file=sys.stderr)
        else:
            print(result.text)
    return 0


def run_devices(args) -> int:
    from companion.errors import CompanionError
    from companion.speech.devices import list_devices

    try:
        devices = list_devices()
    except CompanionError as exc:
        devices, problem = [], str(exc)
    else:
        problem = "" if any(d.max_inputs for d in devices) else "no input device: text mode"
    if args.json:
        print(json.dumps({"devices": [d.__dict__ for d in devices], "problem": problem},
                         ensure_ascii=False))
        return 0
    if not devices:
        print(f"no audio devices found{': ' + problem if problem else ''}")
        return 0
    for d in devices:
        marks = ("<" if d.default_input else " ") + (">" if d.default_output else " ")
        print(f"{marks} {d.index:3d}  {d.name}  ({d.hostapi}, in {d.max_inputs}, "
              f"out {d.max_outputs}, {d.default_rate:g} Hz)")
    print("< default input, > default output")
    if problem:
        print(problem)
    return 0
