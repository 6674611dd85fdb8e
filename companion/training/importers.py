"""Import a folder of .txt, .md, .jsonl and .csv files into corpus records.

The tribe of a file comes from, in order: a front-matter line at its top (`tribe: sora`, also
inside a `---` block), a folder on its path named sora / lumin / nova, or the default given
by the caller. A file whose tribe cannot be told is a Problem, not a guess.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from companion.text.template import ChatTurn, Role
from companion.training.corpus import Problem, ReadResult, Record, clean_text, read_jsonl
from companion.tribes import TRIBE_ORDER, Tribe

SUFFIXES = (".txt", ".md", ".jsonl", ".csv")
_FRONT_MATTER = re.compile(r"^\s*tribe\s*:\s*(\w+)\s*$", re.IGNORECASE)
_TRIBE_NAMES = {t.value: t for t in TRIBE_ORDER}


def tribe_from_path(path: Path, root: Path) -> Tribe | None:
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:
        parts = path.parts[:-1]
    for part in reversed(parts):
        if part.lower() in _TRIBE_NAMES:
            return _TRIBE_NAMES[part.lower()]
    return None


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(tribe name from a `tribe:` line at the top, or None; the text without that header)."""
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":
        for i, line in enumerate(lines[1:], start=1):
            if line.strip() == "---":
                tribe = next((m.group(1) for m in map(_FRONT_MATTER.match, lines[1:i]) if m), None)
                return tribe, "\n".join(lines[i + 1 :])
        return None, text
    if lines and (m := _FRONT_MATTER.match(lines[0])):
        return m.group(1), "\n".join(lines[1:])
    return None, text


def _decode(path: Path, result: ReadResult) -> str | None:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        result.problems.append(Problem(str(path), line, f"not UTF-8 (byte {exc.start}); save the file as UTF-8"))
    except OSError as exc:
        result.problems.append(Problem(str(path), 0, f"cannot read file ({exc.strerror})"))
    return None


def import_text_file(path: Path, tribe: Tribe | None) -> ReadResult:
    """Plain text / markdown: one record per paragraph (blank-line separated)."""
    result = ReadResult()
    text = _decode(path, result)
    if text is None:
        return result
    header_tribe, body = split_front_matter(text)
    if header_tribe is not None:
        if header_tribe.lower() not in _TRIBE_NAMES:
            result.problems.append(Problem(str(path), 1, f"unknown tribe {header_tribe!r} in front matter"))
            return result
        tribe = _TRIBE_NAMES[header_tribe.lower()]
    if tribe is None:
        result.problems.append(Problem(str(path), 1, "no tribe: add a 'tribe: sora|lumin|nova' first line "
                                                     "or put the file in a folder named after the tribe"))
        return result
    offset = text.count("\n") - body.count("\n")
    line_no, paragraph, start = offset, [], offset + 1
    for line in body.splitlines() + [""]:
        line_no += 1
        if path.suffix == ".md":
            line = re.sub(r"^\s{0,3}(#{1,6}\s+|[-*+]\s+|>\s?)", "", line)
        if line.strip():
            if not paragraph:
                start = line_no
            paragraph.append(line)
        elif paragraph:
            cleaned = clean_text("\n".join(paragraph))
            if cleaned:
                result.records.append(Record(tribe, text=cleaned, origin=f"{path}:{start}"))
            paragraph = []
    return result


def import_csv_file(path: Path, tribe: Tribe | None) -> ReadResult:
    """CSV with a header: columns user + assistant (a one-exchange dialogue) or text; optional tribe."""
    result = ReadResult()
    text = _decode(path, result)
    if text is None:
        return result
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if not ({"user", "assistant"} <= columns or "text" in columns):
        result.problems.append(Problem(str(path), 1, "the header needs columns user,assistant or text"))
        return result
    for row in reader:
        line = reader.line_num
        row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        row_tribe = tribe
        if row.get("tribe", "").strip():
            name = row["tribe"].strip().lower()
            if name not in _TRIBE_NAMES:
                result.problems.append(Problem(str(path), line, f"unknown tribe {row['tribe']!r}"))
                continue
            row_tribe = _TRIBE_NAMES[name]
        if row_tribe is None:
            result.problems.append(Problem(str(path), line, "no tribe for this row (column tribe, folder or default)"))
            continue
        if "text" in columns and row.get("text", "").strip():
            result.records.append(Record(row_tribe, text=clean_text(row["text"]), origin=f"{path}:{line}"))
        elif row.get("user", "").strip() and row.get("assistant", "").strip():
            turns = (ChatTurn(Role.USER, clean_text(row["user"])),
                     ChatTurn(Role.ASSISTANT, clean_text(row["assistant"]), row_tribe))
            result.records.append(Record(row_tribe, turns=turns, origin=f"{path}:{line}"))
        else:
            result.problems.append(Problem(str(path), line, "empty row"))
    return result


def import_file(path: Path, tribe: Tribe | None = None) -> ReadResult:
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    if path.suffix == ".csv":
        return import_csv_file(path, tribe)
    return import_text_file(path, tribe)


def import_folder(root: str | Path, default_tribe: Tribe | None = None) -> ReadResult:
    """Every supported file under root (sorted, recursive) → records and problems."""
    root = Path(root)
    result = ReadResult()
    if root.is_file():
        result.extend(import_file(root, default_tribe))
        return result
    if not root.is_dir():
        result.problems.append(Problem(str(root), 0, "no such file or folder"))
        return result
    for path in sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
        result.extend(import_file(path, tribe_from_path(path, root) or default_tribe))
    return result
