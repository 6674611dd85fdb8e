"""The corpus in the repository: corpus/<tribe>/ (what models/default was trained on) and
corpus/next/<tribe>/ (written for the next default). Every file reads without a problem, every
record belongs to its folder's tribe, Romanian uses comma-below ș ț, nothing is duplicated
(exactly or nearly, across both folders of a tribe), and each tribe's text is varied (issue 3:
distinct-4-gram ratio >= 0.6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.training.clean import deduplicate, distinct_ngram_ratio
from companion.training.importers import import_folder

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
TRIBES = ("sora", "nova", "lumin")


@pytest.fixture(scope="module", params=TRIBES)
def tribe_records(request):
    tribe = request.param
    records = []
    for folder in (CORPUS / tribe, CORPUS / "next" / tribe):
        result = import_folder(folder)
        assert not result.problems, result.problems[:3]
        assert result.records, f"{folder} is empty"
        records += result.records
    return tribe, records


def test_every_record_is_its_folders_tribe_and_nothing_repeats(tribe_records):
    tribe, records = tribe_records
    assert {r.tribe.value for r in records} == {tribe}
    report = deduplicate(records)
    assert not report.exact, report.exact[:3]
    assert not report.near, report.near[:3]
    assert distinct_ngram_ratio(t for r in records for t in r.texts()) >= 0.6


def test_romanian_files_use_comma_below_letters():
    for path in sorted(CORPUS.rglob("*.jsonl")):
        text = path.read_text(encoding="utf-8")
        assert not set("şţŞŢ") & set(text), f"{path} has cedilla ş/ţ (the comma-below ș/ț is right)"


def test_sources_name_every_folder():
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    for folder in (*(f"`{t}/`" for t in TRIBES), "`next/`"):
        assert folder in sources, folder
