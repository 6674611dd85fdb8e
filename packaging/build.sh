#!/usr/bin/env bash
# Builds the one-folder desktop bundle dist/nova-companion/ (Linux, this machine's CPU arch).
#   ./setup.sh && packaging/build.sh        then: dist/nova-companion/nova-companion --self-test
# The folder can be copied to another Linux machine (same or newer glibc) and started by
# double-clicking `nova-companion` or `NOVA companion.desktop`; `nova-companion install-desktop`
# puts it in the desktop menu. See packaging/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

py=${PYTHON:-.venv/bin/python}
if [ ! -x "$py" ]; then
  echo "build.sh: $py not found: run ./setup.sh first" >&2
  exit 2
fi
pip=("$py" -m pip install --disable-pip-version-check -q)
if [ -d /opt/wheels ]; then pip+=(--find-links /opt/wheels); fi
"${pip[@]}" "pyinstaller>=6.10,<7"

dist=${DIST:-dist}
"$py" -m PyInstaller --noconfirm --log-level WARN --distpath "$dist" \
  --workpath build/pyinstaller packaging/nova-companion.spec

bundle="$dist/nova-companion"
# A launcher inside the folder: %k is this .desktop file's own path, so it works wherever the
# folder is copied (file managers ask once to trust it); arguments after %k pass through.
launcher="$bundle/NOVA companion.desktop"
grep -v -e '^Exec=' -e '^Icon=' packaging/linux/nova-companion.desktop > "$launcher"
# Desktop Entry quoting: \\ in the file is one backslash, which escapes " and $ inside "...".
cat >> "$launcher" <<'DESKTOP'
Exec=sh -c "d=\\$(dirname \\"\\$1\\"); shift; exec \\"\\$d/nova-companion\\" \\"\\$@\\"" sh %k
Icon=nova-companion
DESKTOP
chmod +x "$launcher" "$bundle/nova-companion"
cp packaging/README.md "$bundle/README.md"
echo "build.sh: $bundle ($(du -sh "$bundle" | cut -f1))"
