"""The PyInstaller bundle: its size (and what dominates it) and cold start to window.

    packaging/build.sh && .venv/bin/python benchmarks/bench_bundle.py [--bundle dist/nova-companion]
        [--runs 3] [--top 12] [--drop-caches]

Cold start: from spawning `nova-companion gui --screenshot … --quit-when-ready` (offscreen Qt,
a fresh HOME each run) to the window being shown, and to the model being ready, read from the
JSON line the app prints. "Cold" is the process; the OS file cache is warm after the first run,
so the first run is reported apart; with --drop-caches (root) the page cache is emptied before
it, so it is a disk-cold start too. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tree_size(path: Path) -> int:
    if path.is_file() or path.is_symlink():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def breakdown(bundle: Path, top: int) -> list[dict]:
    """Sizes of the top-level entries of _internal (a package, a data folder or a library)."""
    internal = bundle / "_internal"
    rows = [(p.name, tree_size(p)) for p in internal.iterdir()]
    rows.sort(key=lambda r: -r[1])
    return [{"name": n, "mb": round(s / 2**20, 1)} for n, s in rows[:top]]


def clean_env(home: Path) -> dict:
    """No venv, no PYTHONPATH: only what a desktop session has."""
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(home / "run")}


def cold_start(bundle: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        home = Path(tmp)
        (home / "run").mkdir(mode=0o700)
        shot = home / "window.png"
        started = time.time()
        out = subprocess.run([str(bundle / "nova-companion"), "gui", "--screenshot", str(shot),
                              "--quit-when-ready"], env=clean_env(home), capture_output=True,
                             text=True, timeout=600)
        ended = time.time()
    line = next((ln for ln in out.stderr.splitlines() if ln.startswith("{")), None)
    if out.returncode != 0 or line is None:
        raise SystemExit(f"the bundle did not start (exit {out.returncode}):\n{out.stderr[-2000:]}")
    info = json.loads(line)
    return {"to_window_ms": round((info["window_shown_unix"] - started) * 1000, 1),
            "to_ready_ms": round((info["ready_unix"] - started) * 1000, 1),
            "in_process_window_ms": info["window_shown_ms"], "model_load_ms": info["model_load_ms"],
            "exit_s": round(ended - started, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=ROOT / "dist" / "nova-companion")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--drop-caches", action="store_true",
                    help="empty the OS page cache before the first run (needs root)")
    args = ap.parse_args()
    if not (args.bundle / "nova-companion").is_file():
        print(f"no bundle at {args.bundle}: run packaging/build.sh first", file=sys.stderr)
        return 2
    dropped = False
    if args.drop_caches:
        os.sync()
        try:
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
            dropped = True
        except OSError as exc:
            print(f"cannot drop the page cache ({exc}): the first run is process-cold only",
                  file=sys.stderr)
    runs = [cold_start(args.bundle) for _ in range(args.runs)]
    warm = runs[1:] or runs
    print(json.dumps({
        "bundle": str(args.bundle),
        "size_mb": round(tree_size(args.bundle) / 2**20, 1),
        "files": sum(1 for p in args.bundle.rglob("*") if p.is_file()),
        "largest": breakdown(args.bundle, args.top),
        "first_run": runs[0], "first_run_disk_cold": dropped,
        "to_window_ms_median": statistics.median(r["to_window_ms"] for r in warm),
        "to_ready_ms_median": statistics.median(r["to_ready_ms"] for r in warm),
        "runs": runs, "cpus": os.cpu_count(),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
