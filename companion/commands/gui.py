"""`companion gui`: the desktop window (also what `companion` with no subcommand opens)."""

from __future__ import annotations

from pathlib import Path


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--model", metavar="DIR", type=Path, default=None,
                   help="model folder (default: the one in Settings, else the current version)")
    p.add_argument("--db", metavar="PATH", type=Path, default=None,
                   help="conversation database (default: in the data folder from Settings)")
    p.add_argument("--settings", metavar="PATH", type=Path, default=None,
                   help="settings file (default: settings.json in the user config folder)")
    p.add_argument("--screenshot", metavar="PATH", type=Path, default=None,
                   help="save a PNG of the window once the model has loaded")
    p.add_argument("--quit-when-ready", action="store_true",
                   help="exit once the model has loaded (after --screenshot): 0 if it loaded, 1 if not")
    p.add_argument("--self-test", action="store_true",
                   help="check every part (model, speech recognition, each voice, memory, Qt), print "
                        "a JSON report and exit 0, or 1 naming the failed parts")
    p.set_defaults(func=run)


def run(args) -> int:
    from companion.errors import CompanionError

    if args.self_test:
        import sys

        from companion.selftest import run_self_test

        report = run_self_test(args.model)
        print(report.to_json())
        if not report.ok:
            print(f"companion: self-test failed: {', '.join(report.failed)}", file=sys.stderr)
        return 0 if report.ok else 1

    try:
        from companion.app.main import run as run_app
    except ImportError as exc:
        raise CompanionError(f"the desktop app needs PySide6 ({exc}): install it with "
                             f"`pip install 'nova-companion[app]'`, or use `companion chat`") from None
    return run_app(args.model, args.db, args.settings, args.screenshot, args.quit_when_ready)
