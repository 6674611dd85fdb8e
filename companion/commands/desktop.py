"""`companion install-desktop`: add the app to the desktop menu (or --uninstall it)."""

from __future__ import annotations

import json


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text + " for the current user "
                       "(XDG applications and hicolor icon folders), pointing at this installation.")
    p.add_argument("--uninstall", action="store_true", help="remove the launcher and icons again")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from companion import desktop

    if args.uninstall:
        removed = desktop.uninstall()
        if args.json:
            print(json.dumps({"removed": [str(p) for p in removed]}))
        else:
            print(f"removed {len(removed)} files" if removed else "nothing to remove: not installed")
        return 0
    result = desktop.install()
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(f"installed {result.launcher}\n  runs: {result.exec_line}\n  icons: {len(result.icons)} sizes\n"
              "NOVA companion is in your desktop menu now (log out and in if it does not show).")
    return 0
