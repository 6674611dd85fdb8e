"""setup.sh reads its Debian package lists the way apt-get needs them.

A comment after a package name once reached apt-get as words ("Unable to locate package #")
and CI failed before any test ran; these tests run setup.sh's own `read_list` on the shipped
lists.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LISTS = ["packaging/debian-packages.txt", "packaging/debian-packages-dev.txt"]
# Debian policy 5.6.1: lower case letters, digits, + - . ; at least two characters.
DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def read_list(path: Path, tmp_path: Path) -> list[str]:
    """Runs the `read_list` function defined in setup.sh on `path`."""
    func = next(line for line in (ROOT / "setup.sh").read_text().splitlines()
                if line.startswith("read_list()"))
    out = subprocess.run(["bash", "-c", f'{func}\nread_list "$1"', "bash", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def test_comments_and_blank_lines_are_not_package_names(tmp_path):
    sample = tmp_path / "pkgs.txt"
    sample.write_text("# a header\n\nfoo\n  bar-1.0  # why bar\nbaz+x#no space\n\t# indented\n")
    assert read_list(sample, tmp_path) == ["foo", "bar-1.0", "baz+x"]


@pytest.mark.parametrize("name", LISTS)
def test_every_listed_package_is_a_debian_name(name, tmp_path):
    pkgs = read_list(ROOT / name, tmp_path)
    assert pkgs, f"{name} lists no packages"
    bad = [p for p in pkgs if not DEB_NAME.match(p)]
    assert not bad, f"{name}: not Debian package names: {bad}"


@pytest.mark.skipif(shutil.which("apt-cache") is None, reason="not a Debian system")
@pytest.mark.parametrize("name", LISTS)
def test_apt_knows_every_listed_package(name, tmp_path):
    pkgs = read_list(ROOT / name, tmp_path)
    res = subprocess.run(["apt-cache", "policy", *pkgs], capture_output=True, text=True)
    unknown = [p for p in pkgs if f"\n{p}:" not in "\n" + res.stdout]
    assert not unknown, f"{name}: apt-cache does not know {unknown}"
