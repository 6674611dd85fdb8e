"""`companion models list|use VERSION|rollback`: which fine-tuned version answers."""

from __future__ import annotations

import json


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("action", choices=["list", "use", "rollback"])
    p.add_argument("version", nargs="?", help="with use: the version name from `models list`")
    p.add_argument("--models-dir", help="default: <user data dir>/models")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from companion.errors import CompanionError
    from companion.versions import ModelVersions

    versions = ModelVersions(args.models_dir)
    if args.action == "use":
        if not args.version:
            raise CompanionError("models use needs a VERSION (see `companion models list`)")
        chosen = versions.use(args.version)
        print(f"now using {chosen.name}")
        return 0
    if args.action == "rollback":
        chosen = versions.rollback()
        print(f"rolled back to {chosen.name}")
        return 0
    listed = versions.list()
    if args.json:
        print(json.dumps({"current": str(versions.current_path()),
                          "versions": [{"name": v.name, "path": str(v.path), "current": v.current} for v in listed]}))
        return 0
    if not listed:
        print(f"no fine-tuned versions in {versions.root}; using {versions.current_path()}")
    for v in listed:
        print(f"{'*' if v.current else ' '} {v.name}  {v.path}")
    return 0
