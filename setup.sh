#!/usr/bin/env bash
# Sets up NOVA companion in .venv at the repository root.
#   ./setup.sh          runtime: Debian packages + the app with its default extras
#   ./setup.sh --dev    also what the test suite needs
set -euo pipefail
cd "$(dirname "$0")"

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

# One package per line; '#' starts a comment (whole line or after the name).
read_list() { sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$1" | grep -v '^$' || true; }

debs=$(read_list packaging/debian-packages.txt)
if [ "$dev" = 1 ]; then debs="$debs $(read_list packaging/debian-packages-dev.txt)"; fi
debs=$(echo $debs)
if [ -n "$debs" ] && command -v apt-get >/dev/null 2>&1; then
  missing=$(for p in $debs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
  if [ -n "$missing" ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "setup.sh: installing Debian packages: $(echo $missing)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
  fi
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --disable-pip-version-check -q)
# The CPU-only torch wheel first, so no later resolver step reaches for a CUDA build.
if [ -d /opt/wheels ]; then pip+=(--find-links /opt/wheels); fi
"${pip[@]}" "torch==2.13.0"
extras="app,speech,memory,training"
if [ "$dev" = 1 ]; then extras="$extras,dev"; fi
"${pip[@]}" -e ".[$extras]"
echo "setup.sh: ready (.venv)"
