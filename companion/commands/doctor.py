"""`companion doctor`: what is installed and which model folder would be used."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys

OPTIONAL = ("torch", "sentencepiece", "safetensors", "numpy", "PySide6-Essentials",
            "faster-whisper", "piper-tts", "espeakng-loader", "sounddevice", "pasimple", "sqlite-utils")


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from companion import __version__

    report = {
        "companion": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {},
    }
    for dist in OPTIONAL:
        try:
            report["packages"][dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            report["packages"][dist] = None
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"companion {report['companion']} on Python {report['python']} ({report['platform']})")
        for dist, version in report["packages"].items():
            print(f"  {dist:20s} {version or 'not installed'}")
    return 0
