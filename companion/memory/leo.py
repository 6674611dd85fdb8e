"""The post-filter (the InnerArianna seed's "leo layer"): is a raw reply worth saying?

Scores a reply for emptiness, repetition and unknown words. The Companion re-samples a reply
that fails (up to K tries, then keeps the best) and cuts a reply that turns degenerate after
its good sentences were already released.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
HUNSPELL_DIRS = (Path("/usr/share/hunspell"), Path("/usr/share/myspell"))


def fold(word: str) -> str:
    """Lowercase without diacritics, as the FTS index stores terms ("Inimă" → "inima")."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(text)


@dataclass(frozen=True)
class FilterConfig:
    max_repetition: float = 0.5  # share of repeated word trigrams (or of the commonest word)
    max_unknown: float = 0.5  # share of words missing from the lexicon
    max_garbled: float = 0.05  # share of U+FFFD / control characters (broken byte sequences)
    min_lexicon_words: int = 300  # below this the lexicon says too little to judge words


@dataclass(frozen=True)
class ReplyScore:
    quality: float  # 0 (degenerate) .. 1
    ok: bool
    repetition: float
    unknown: float | None  # None when the lexicon is too small to judge
    reason: str | None  # why it failed: "empty" | "garbled" | "repetition" | "unknown words"


class Lexicon:
    """Known words, folded. Grows with the conversation: every stored word becomes known."""

    def __init__(self, known: Iterable[str] = ()):
        self._known = {fold(w) for w in known if w}

    def __len__(self) -> int:
        return len(self._known)

    def __contains__(self, word: str) -> bool:
        return fold(word) in self._known

    def add_text(self, text: str) -> None:
        self._known.update(fold(w) for w in words(text))

    @classmethod
    def from_store(cls, store) -> Lexicon:
        """Every term in the conversation's FTS index (already folded by its tokenizer)."""
        lexicon = cls()
        with store._read() as conn:
            conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.messages_vocab "
                         "USING fts5vocab(main, messages_fts, row)")
            lexicon._known.update(row[0] for row in conn.execute("SELECT term FROM messages_vocab"))
        return lexicon

    def add_word_list(self, path: str | Path) -> None:
        """A plain word list or a Hunspell .dic (first line a count, then word/FLAGS)."""
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                word = line.split("/", 1)[0].strip()
                if word and not word.isdigit():
                    self._known.add(fold(word))

    def add_installed_dictionaries(self, languages: Iterable[str] = ("ro_RO", "en_US")) -> None:
        for folder in HUNSPELL_DIRS:
            for lang in languages:
                dic = folder / f"{lang}.dic"
                if dic.is_file():
                    self.add_word_list(dic)


def repetition(ws: list[str]) -> float:
    """Share of repeated word trigrams, or the commonest word's share, whichever is worse."""
    if len(ws) < 4:
        return 0.0
    folded = [fold(w) for w in ws]
    top = Counter(folded).most_common(1)[0][1] / len(folded) if len(folded) >= 8 else 0.0
    grams = list(zip(folded, folded[1:], folded[2:]))
    repeated = 1 - len(set(grams)) / len(grams)
    return max(repeated, top)


class PostFilter:
    def __init__(self, lexicon: Lexicon | None = None, config: FilterConfig = FilterConfig()):
        self.lexicon = lexicon if lexicon is not None else Lexicon()
        self.config = config

    def score(self, text: str) -> ReplyScore:
        ws = words(text)
        if not ws:
            return ReplyScore(0.0, False, 0.0, None, "empty")
        garbled = sum(1 for c in text if c == "\ufffd" or (ord(c) < 32 and c not in "\n\t"))
        garbled /= max(1, len(text))
        rep = repetition(ws)
        unknown = None
        if len(self.lexicon) >= self.config.min_lexicon_words:
            unknown = sum(1 for w in ws if w not in self.lexicon) / len(ws)
        quality = (1 - rep) * (1 - (unknown or 0.0)) * (1 - min(1.0, 4 * garbled))
        quality *= min(1.0, 0.5 + len(ws) / 10)
        reason = None
        if garbled > self.config.max_garbled:
            reason = "garbled"
        elif rep > self.config.max_repetition:
            reason = "repetition"
        elif unknown is not None and unknown > self.config.max_unknown:
            reason = "unknown words"
        return ReplyScore(round(quality, 4), reason is None, round(rep, 4),
                          None if unknown is None else round(unknown, 4), reason)
