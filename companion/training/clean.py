"""Exact and near-duplicate removal, and the corpus statistics the model card reports."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from datasketch import MinHash, MinHashLSH

from companion.training.corpus import Record
from companion.tribes import Tribe

_WORD = re.compile(r"\w+", re.UNICODE)


def record_key(record: Record) -> str:
    """Case-, punctuation- and whitespace-insensitive content of a record."""
    return " ".join(_WORD.findall(" ".join(record.texts()).casefold()))


@dataclass
class DedupReport:
    kept: list[Record] = field(default_factory=list)
    exact: list[tuple[str, str]] = field(default_factory=list)  # (dropped origin, kept origin)
    near: list[tuple[str, str]] = field(default_factory=list)


def deduplicate(records: Iterable[Record], threshold: float = 0.85, num_perm: int = 64) -> DedupReport:
    """Drop exact duplicates and near-duplicates (Jaccard of word 3-shingles >= threshold).

    MinHash LSH (datasketch) keeps this near-linear; a pairwise comparison of 10⁴ records
    would be 10⁸ set intersections.
    """
    report = DedupReport()
    seen: dict[str, str] = {}
    origins: dict[int, str] = {}
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for i, record in enumerate(records):
        key = record_key(record)
        if key in seen:
            report.exact.append((record.origin, seen[key]))
            continue
        words = key.split()
        shingles = {" ".join(words[j : j + 3]) for j in range(max(1, len(words) - 2))}
        mh = MinHash(num_perm=num_perm, seed=1)
        mh.update_batch([s.encode() for s in shingles])
        # Short texts are compared exactly only: 3-shingles of 4 words say little.
        if len(words) >= 8:
            similar = lsh.query(mh)
            if similar:
                report.near.append((record.origin, origins[similar[0]]))
                continue
            lsh.insert(i, mh)  # keys must be unique; origins may repeat (one file line, many records)
            origins[i] = record.origin
        seen[key] = record.origin or str(i)
        report.kept.append(record)
    return report


def distinct_ngram_ratio(texts: Iterable[str], n: int = 4) -> float:
    """Distinct word n-grams / all word n-grams (lower-cased words); 1.0 = nothing repeats."""
    counts: Counter = Counter()
    for text in texts:
        words = _WORD.findall(text.casefold())
        counts.update(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    total = sum(counts.values())
    return len(counts) / total if total else 0.0


def corpus_stats(records: Iterable[Record]) -> dict[str, dict]:
    """Per tribe: records, characters, UTF-8 bytes, distinct-4-gram ratio."""
    by_tribe: dict[Tribe, list[Record]] = {}
    for r in records:
        by_tribe.setdefault(r.tribe, []).append(r)
    stats = {}
    for tribe, items in by_tribe.items():
        texts = [t for r in items for t in r.texts()]
        stats[tribe.value] = {
            "records": len(items),
            "chars": sum(len(t) for t in texts),
            "bytes": sum(len(t.encode()) for t in texts),
            "distinct_4gram_ratio": round(distinct_ngram_ratio(texts), 4),
        }
    return stats
