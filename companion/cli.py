"""Command line: `companion SUBCOMMAND ...` (no subcommand opens the desktop window).

Each subcommand lives in its own module under companion.commands, exposing
register(subparsers) that adds its parser and sets `func(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from companion import __version__
from companion.errors import CompanionError

# (name, module under companion.commands, help)
COMMANDS: list[tuple[str, str, str]] = [
    ("gui", "gui", "open the desktop window (default)"),
    ("chat", "chat", "talk in the terminal (text, optionally spoken)"),
    ("generate", "generate", "continue a prompt or answer one message with a model folder"),
    ("say", "speech", "speak a text with a persona's voice"),
    ("listen", "speech", "transcribe the microphone or a WAV file"),
    ("devices", "speech", "list audio input and output devices"),
    ("train", "train", "train a tribal transformer on a corpus"),
    ("detector", "detector", "retrain who answers (the context detector) on labelled dialogues"),
    ("knowledge", "knowledge", "give a model the exchanges of a corpus to retrieve from (no training)"),
    ("eval", "eval", "evaluate a model folder (α accuracy, real-word ratio, loss)"),
    ("finetune", "finetune", "fine-tune the model on your own conversations"),
    ("history", "memory", "show or search the conversation history"),
    ("export", "memory", "export conversations to the training corpus format"),
    ("star", "memory", "keep a reply as a snapshot"),
    ("rate", "memory", "rate a reply 1..5"),
    ("models", "models", "list, use or roll back model versions"),
    ("install-desktop", "desktop", "add the app to the desktop menu"),
    ("doctor", "doctor", "check the installation and print what was found"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="companion",
        description="NOVA companion: a private, offline voice companion (Sora, Lumin, NOVA).",
    )
    parser.add_argument("--version", action="version", version=f"companion {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in COMMANDS:
        importlib.import_module(f"companion.commands.{module}").register(sub, name, help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["gui", *argv]
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CompanionError as exc:
        print(f"companion: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main_gui() -> int:
    return main(["gui", *sys.argv[1:]])
