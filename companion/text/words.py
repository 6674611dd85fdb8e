"""The word guard: sampling may only spell words the model was trained on (or the user used).

A small model trained on a small corpus glues sub-word pieces into words that do not exist
("emisămare", "pentruul"; the Arianna seed's "surfive"). Measured on models/default with 24
sampled replies per tribe: 4–5 % of the words it wrote were in neither the Hunspell dictionary
nor its training text. The guard checks each sampled token against the word it extends: a
token that would finish a word no one has written, or start a spelling that no known word
begins with, is drawn again from the rest of the distribution. The check is a few set lookups
for the token drawn. Measured (benchmarks/bench_word_guard.py, 24 held-out prompts, 2 cores):
the first draw is refused for 5.6 % of tokens; 423 vs 428 tokens/s; words in the training
vocabulary 99.2 % instead of 94.3 %.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Iterable

from companion.text.tokenizer import Tokenizer

# A word: letters, joined by a hyphen or apostrophe ("s-a", "într-un", "don't"); the guard and
# the evaluation's real-word count (companion/training/evaluate.py) both read words this way.
WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)
_JOINERS = "-'’"


class Lexicon:
    """Known words (casefolded) and every prefix of them, for the guard's lookups."""

    def __init__(self, words: Iterable[str] = ()):
        self.words: set[str] = set()
        self.prefixes: set[str] = set()
        self.leads: set[int] = set()  # first UTF-8 bytes of the letters its words use
        self.add(words)

    def add(self, words: Iterable[str]) -> None:
        for word in words:
            word = unicodedata.normalize("NFC", word).casefold()
            if not word or word in self.words:
                continue
            self.words.add(word)
            self.leads.update(ch.encode("utf-8")[0] for ch in word)
            for end in range(1, len(word) + 1):
                self.prefixes.add(word[:end])

    def add_text(self, text: str) -> None:
        self.add(WORD.findall(text))

    def __len__(self) -> int:
        return len(self.words)


class WordGuard:
    """Follows the word being written and judges the next token against the lexicon.

    `allows(token)` asks: would this token finish an unknown word, or continue the current
    word into a spelling no known word starts with? `allows_end()` asks the same of ending the
    reply here; `push(token)` records the token taken. Byte-fallback pieces are judged by the
    character they spell once it is whole, and must spell whole UTF-8 characters.
    """

    def __init__(self, surfaces: list[str | int | None], lexicon: Lexicon, extra: Lexicon | None = None):
        self.lexicons = (lexicon,) if extra is None else (lexicon, extra)
        self.partial = ""  # letters (and joiners) of the word being written, casefolded
        self.pending = b""  # the first bytes of a character spelled by byte pieces
        self.wrote = False  # has the reply any text yet (a tribe tag may only open it)
        # For benchmarks: tokens taken, and how many of them the first draw was refused.
        self.steps = self.first_refused = 0
        self._first = True
        self._surface = surfaces

    def _text(self, token: int) -> tuple[bool, str, bytes]:
        """(is the token well-formed here, the text it completes, the bytes still pending)."""
        value = self._surface[token] if 0 <= token < len(self._surface) else None
        if value is None:  # a special piece (a tribe tag): only before the reply's first text
            return not self.pending and not self.wrote, "", b""
        if isinstance(value, str):
            return not self.pending, value, b""
        if bool(self.pending) != (0x80 <= value < 0xC0):
            return False, "", self.pending  # a continuation byte must follow a lead, and only then
        data = self.pending + bytes([value])
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
        except UnicodeDecodeError:  # e.g. an overlong or surrogate sequence
            return False, "", self.pending
        return True, text, b"" if text else data

    def _advance(self, text: str) -> tuple[list[str], str]:
        """(the words text completes, the new partial word)."""
        done: list[str] = []
        partial = self.partial
        for ch in text:
            if ch.isalpha():
                partial += ch.casefold()
            elif ch in _JOINERS and partial and partial[-1] not in _JOINERS:
                partial += ch
            else:  # a space, digit or punctuation ends the word
                if partial:
                    done.append(partial)
                partial = ""
        return done, partial

    def _known(self, word: str) -> bool:
        word = word.rstrip(_JOINERS)
        return any(word in lexicon.words for lexicon in self.lexicons)

    def _begins(self, partial: str) -> bool:
        return any(partial in lexicon.prefixes for lexicon in self.lexicons)  # "s-" begins "s-a"

    def allows(self, token: int) -> bool:
        allowed = self._allows(token)
        if self._first:
            self.first_refused += not allowed
            self._first = False
        return allowed

    def _allows(self, token: int) -> bool:
        well_formed, text, pending = self._text(token)
        if not well_formed:
            return False
        if pending and len(pending) == 1:
            return self._lead_has_a_way(pending[0])
        return self._text_allowed(text)

    def allows_last(self, token: int) -> bool:
        """As allows(), for the last token the reply has room for: it must leave no half word."""
        if not self.allows(token):
            return False
        well_formed, text, pending = self._text(token)
        _, partial = self._advance(text)
        return not pending and (not partial or self._known(partial))

    def well_formed(self, token: int) -> bool:
        """Does the token keep the text valid UTF-8 (whatever word it spells)?"""
        return self._text(token)[0]

    def _text_allowed(self, text: str) -> bool:
        done, partial = self._advance(text)
        if not all(self._known(word) for word in done):
            return False  # it would finish a word nobody wrote
        return not partial or self._begins(partial)

    def recovers(self, token: int) -> bool:
        """Second choice when nothing is allowed (the word in progress is already unknown):
        a well-formed token that ends that word and begins nothing unknown."""
        well_formed, text, pending = self._text(token)
        if not well_formed or pending:
            return False
        done, partial = self._advance(text)
        return bool(done) and (not partial or self._begins(partial))

    def _lead_has_a_way(self, lead: int) -> bool:
        """A lead byte is taken only if some character it can begin is allowed here: a
        two-byte lead tries its 64 endings; a longer one only where a word may end and only
        if the known words use letters that start with it."""
        if _utf8_tail(lead) == 1:
            return any(self._text_allowed(bytes([lead, tail]).decode("utf-8", "replace"))
                       for tail in range(0x80, 0xC0))
        return (not self.partial or self._known(self.partial)) and any(lead in x.leads for x in self.lexicons)

    def allows_end(self) -> bool:
        """May the reply end here (no half character, no unknown word in progress)?"""
        return not self.pending and (not self.partial or self._known(self.partial))

    def push(self, token: int) -> None:
        self.steps += 1
        self._first = True
        well_formed, text, pending = self._text(token)
        if not well_formed:  # taken anyway (nothing else was possible): start afresh after it
            self.partial, self.pending = "", b""
            return
        self.pending = pending
        self.wrote = self.wrote or bool(text or pending)
        _, self.partial = self._advance(text)  # a special piece (a tribe tag) adds no text


def _utf8_tail(lead: int) -> int:
    """How many continuation bytes a UTF-8 lead byte announces (0 for ASCII)."""
    return 1 if 0xC0 <= lead < 0xE0 else 2 if 0xE0 <= lead < 0xF0 else 3 if 0xF0 <= lead < 0xF8 else 0


def token_surfaces(tokenizer: Tokenizer) -> list[str | int | None]:
    """What each token adds: its text (SentencePiece's ▁ as a space), the byte of a byte-fallback
    piece (<0xC8>), or None for special pieces."""
    out: list[str | int | None] = []
    for i in range(tokenizer.vocab_size):
        piece = tokenizer.id_to_piece(i)
        if i in tokenizer.special_ids:
            out.append(None)
        elif re.fullmatch(r"<0x[0-9A-F]{2}>", piece):
            out.append(int(piece[3:5], 16))
        elif piece.startswith("<") and piece.endswith(">"):
            out.append(None)
        else:
            out.append(piece.replace("▁", " "))
    return out
