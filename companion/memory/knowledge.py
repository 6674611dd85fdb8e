"""Knowledge: question-and-answer exchanges, searchable, for retrieval-augmented replies.

A model folder may carry knowledge.jsonl: every question and answer of a corpus's dialogues
(never of a held-out one; companion/training/augment.py), one {"tribe", "user", "reply"}
object a line (`companion knowledge`, or `companion train --knowledge`); the corpus need not
be the one the weights learnt from. The companion searches it for the exchange nearest the
user's words and puts it in the system turn under "Amintiri / Memories", one line each:
"• question → Speaker: answer" — where `train --knowledge` put them too. Decoding
then copies from the answers of the tribe that speaks (companion/model/copy.py): the LunaGPT
seed's RAG, and Arianna's knowledge added without retraining the base.

Search: SQLite FTS5 (stdlib, in memory) over content-word stems, ranked by bm25 over the
question and the shown answer alike (WEIGHTS). Stems (5-letter prefixes of content words,
diacritics folded) because FTS5 has no Romanian stemmer: "fierbe"/"fierbere" must meet, and
so must "inimă" typed as "inima". With a tribe, that tribe's exchanges come first: decoding
copies only from the answers of the tribe that speaks. Where even the nearest is far
(memory/unsure.py), recall shows the tribe's "I do not know this" instead.

What a person reads is measured by benchmarks/bench_relevance.py: the held-out questions'
candidate answers judged on, near or off topic (benchmarks/data/relevance_labels.jsonl).
benchmarks/bench_retrieval.py measures the rule: the topic match of the answer of the answering
tribe that the memory lines show (models/default's 9,756 exchanges). The rule until 29 Nov
2026 (two memories of any tribe, question 2 : answer 1, no folding, 240 characters shown of an
answer indexed whole): 0.660 on the held-out questions, 0.669 leave-one-out, and 26 of 249
held-out questions had no answer of their tribe to copy; this one (one memory, its first
whole sentences within ANSWER_CHARS shown and indexed): 0.692 / 0.731, 3 of 249.
TF-IDF cosine and character n-grams scored within 0.01 of bm25, the model's own hidden states
as embeddings 0.60 (and a minute to embed). That topic match counts the question's words in the
copied answer, on topic or not ("masă" in a reply on wheel balancing scored 0.97 for a question
on mass and weight), so it rewarded weighting the answer's words; read, it did not hold.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from companion.errors import CompanionError
from companion.memory.context import ANSWER_CHARS, MEMORIES, QUESTION_CHARS, content_words
from companion.memory.unsure import near_enough, unsure_reply
from companion.speech.text import split_sentences

KNOWLEDGE_FILE = "knowledge.jsonl"


def content_stems(text: str) -> set[str]:
    """Content words (no stopwords, 4+ letters) cut to 5 letters, so "fierbe"/"fierbere" meet."""
    return {w[:5] for w in content_words(text) if len(w) >= 4}


@lru_cache(maxsize=1 << 16)  # stems repeat: this halved loading 26,680 exchanges
def fold(text: str) -> str:
    """Without diacritics: many people type Romanian without them ("inima" for "inimă")."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


# Short words in capitals (QR, PDF, GPS, ABS, USB, RAM, SMS, TVA) and capitalised short parts
# joined by hyphens (Wi-Fi, in "Wi-Fi-ul"): too short to be content words, yet often what a
# question is about ("E periculos să scanez coduri QR?"; "Cum funcționează Wi-Fi-ul?" had only
# "funcționează" to search by and found what a mathematical function is).
ACRONYM = re.compile(r"\b[A-ZĂÂÎȘȚ][A-ZĂÂÎȘȚ0-9]{1,3}\b|\b[A-Z][a-z]{0,2}(?:-[A-Z][a-z]{0,2})+")


def search_stems(text: str) -> list[str]:
    """The stems the knowledge is indexed and searched by: content stems and acronyms,
    diacritics folded."""
    return sorted({fold(s) for s in content_stems(text)}
                  | {fold(a.replace("-", "").lower()) for a in ACRONYM.findall(text)})


def clip(text: str, limit: int) -> str:
    """At most limit characters, cut at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(",;:") + "…"


def clip_answer(text: str, limit: int) -> str:
    """At most limit characters of an answer: its first whole sentences where they fill at
    least a third of it (so copying it ends where a sentence does, then the reply may end),
    else cut at a word with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    shown = ""
    for sentence in split_sentences(text):
        if len(shown) + 1 + len(sentence) > limit:
            break
        shown = f"{shown} {sentence}".strip()
    return shown if len(shown) >= limit // 3 else clip(text, limit)


REPLY_MARK = " → "
SPEAKERS = {"nova": "NOVA", "sora": "Sora", "lumin": "Lumin"}  # who answered, as a memory line names them
_TRIBE_OF = {name + ": ": tribe for tribe, name in SPEAKERS.items()}


def replies_in(system_text: str) -> list[tuple[str | None, str, bool]]:
    """(tribe or None, reply, whole) of each memory line in a system turn (what
    Exchange.memory_line wrote): what decoding may copy, whose answer it was, and whether it
    ends where a sentence does (not cut with "…"), so a reply copying it may end there too."""
    out = []
    for line in system_text.splitlines():
        if line.startswith("• ") and REPLY_MARK in line:
            shown = line.split(REPLY_MARK, 1)[1]
            reply, whole = shown.removesuffix("…"), not shown.endswith("…")
            prefix = next((p for p in _TRIBE_OF if reply.startswith(p)), None)
            out.append((_TRIBE_OF[prefix], reply[len(prefix):], whole) if prefix else (None, reply, whole))
    return out


@dataclass(frozen=True)
class Exchange:
    tribe: str  # who answered: nova / sora / lumin
    user: str
    reply: str

    def memory_line(self, answer_chars: int = ANSWER_CHARS) -> str:
        answer = clip_answer(self.reply, answer_chars)
        if self.tribe in SPEAKERS:
            answer = f"{SPEAKERS[self.tribe]}: {answer}"
        return f"• {clip(self.user, min(QUESTION_CHARS, answer_chars // 2))}{REPLY_MARK}{answer}"


@dataclass(frozen=True)
class Recall:
    """What the knowledge shows beside a turn."""

    exchanges: list[Exchange]  # the nearest, or the tribe's "I do not know this" (unsure)
    unsure: bool = False  # nothing near enough: exchanges holds the tribe's words for that


# bm25's column weights, question : answer. Alike: read, the answers ranked first by 1 : 2 (the
# rule until 1 Dec 2026, chosen by the word-overlap topic match) were on or near topic for 31 of
# 69 NOVA and 33 of 79 Sora held-out questions, by 1 : 1 for 33 and 42
# (benchmarks/bench_relevance.py); the word-overlap proxy favoured the answer's words because it
# counts the question's words found in the answer, on topic or not.
WEIGHTS = "1.0, 1.0"


class Knowledge:
    """Exchanges searchable by content words. Index i is the i-th exchange given."""

    def __init__(self, exchanges: Iterable[Exchange], shown_chars: int = ANSWER_CHARS):
        """shown_chars: how much of an answer is indexed — what a memory line shows of it, as
        decoding can copy only that (a match further on found answers it could not reach)."""
        self.exchanges = list(exchanges)
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("CREATE VIRTUAL TABLE k USING fts5(user, reply, tribe UNINDEXED)")
        self.db.executemany(
            "INSERT INTO k(rowid, user, reply, tribe) VALUES (?, ?, ?, ?)",
            ((i, " ".join(search_stems(e.user)), " ".join(search_stems(clip_answer(e.reply, shown_chars))), e.tribe)
             for i, e in enumerate(self.exchanges)))

    def __len__(self) -> int:
        return len(self.exchanges)

    def scored(self, text: str, limit: int = 2, exclude: int | Iterable[int] | None = None,
               tribe: str | None = None) -> list[tuple[Exchange, float]]:
        """(exchange, score) nearest text, best first; score: bm25 with its sign turned, so
        higher is nearer (memory/unsure.py sets how near is near enough). exclude: indices never
        to return (the dialogue's own); tribe: that tribe's exchanges first, the others only
        where it has too few."""
        return self._nearest(search_stems(text[:2000]), limit, exclude, tribe)

    def _nearest(self, stems: list[str], limit: int, exclude: int | Iterable[int] | None,
                 tribe: str | None) -> list[tuple[Exchange, float]]:
        if not stems or limit <= 0:
            return []
        query = " OR ".join(f'"{s}"' for s in stems)
        excluded = [exclude] if isinstance(exclude, int) else list(exclude or ())
        rows = self.db.execute(
            f"SELECT rowid, bm25(k, {WEIGHTS}) AS s FROM k WHERE k MATCH ? "
            f"AND rowid NOT IN ({', '.join('?' * len(excluded))}) "
            "ORDER BY (tribe IS NOT ?), s LIMIT ?",
            (query, *excluded, tribe, limit)).fetchall()
        return [(self.exchanges[i], -score) for i, score in rows]

    def search(self, text: str, limit: int = 2, exclude: int | Iterable[int] | None = None,
               tribe: str | None = None) -> list[Exchange]:
        """The exchanges nearest text, best first (see scored)."""
        return [e for e, _ in self.scored(text, limit, exclude, tribe)]

    def recall(self, text: str, limit: int = MEMORIES, *, tribe: str | None = None,
               exclude: int | Iterable[int] | None = None, admit_unknown: bool = True) -> Recall:
        """What to show beside a turn answered by tribe: its nearest exchanges, or, where even
        the tribe's nearest is not near enough (memory/unsure.py), the tribe's own "I do not
        know this" in their place. A text with no word to search by shows nothing."""
        stems = search_stems(text[:2000])
        found = self._nearest(stems, limit, exclude, tribe)
        floor = near_enough(tribe, len(self), len(stems)) if admit_unknown else 0.0
        if floor > 0:
            best = next((score for e, score in found if e.tribe == tribe), None)
            if best is None or best < floor:
                return Recall([Exchange(tribe, text, unsure_reply(tribe, text))], unsure=True)
        return Recall([e for e, _ in found])

    def memory_lines(self, text: str, limit: int = MEMORIES, *, exclude: int | Iterable[int] | None = None,
                     tribe: str | None = None, answer_chars: int = ANSWER_CHARS) -> list[str]:
        """The nearest exchanges as the system turn shows them (training's memories: no "I do
        not know", see recall)."""
        return [e.memory_line(answer_chars) for e in self.search(text, limit, exclude=exclude, tribe=tribe)]

    def save(self, path: str | Path) -> None:
        path = Path(path)
        tmp = path.with_suffix(".partial")
        with tmp.open("w", encoding="utf-8") as f:
            for e in self.exchanges:
                f.write(json.dumps(asdict(e), ensure_ascii=False) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> Knowledge:
        """Read knowledge.jsonl; a broken line is a clear error naming file and line."""
        path = Path(path)
        exchanges = []
        try:
            with path.open(encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        data = json.loads(line)
                        exchanges.append(Exchange(str(data["tribe"]), str(data["user"]), str(data["reply"])))
                    except (ValueError, KeyError, TypeError) as e:
                        raise CompanionError(f"{path}:{n}: not a knowledge exchange ({e})") from None
        except OSError as e:
            raise CompanionError(f"cannot read knowledge {path}: {e}") from None
        except UnicodeDecodeError:
            raise CompanionError(f"{path} is not UTF-8 text: not a knowledge file") from None
        return cls(exchanges)

    @classmethod
    def in_folder(cls, folder: str | Path) -> Knowledge | None:
        """The knowledge a model folder carries, or None when it carries none."""
        path = Path(folder) / KNOWLEDGE_FILE
        return cls.load(path) if path.is_file() else None


def knowledge_for(model_dir: str | Path | None) -> tuple[Knowledge | None, str | None]:
    """(the model folder's knowledge or None, a note when its file is broken): the app answers
    without knowledge rather than not at all."""
    if model_dir is None:
        return None, None
    try:
        return Knowledge.in_folder(model_dir), None
    except CompanionError as exc:
        return None, f"answering without the model's knowledge: {exc}"
