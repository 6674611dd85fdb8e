"""Text for speech: what a TTS engine should read aloud, cut into sentences as they stream in.

A chat reply is written for the eye (markdown, emoji, links, *stage directions*, digits);
read aloud verbatim it sounds broken, so it is cleaned first. Sentences are cut as the
generator streams text, so speech can start before the reply is complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from companion.errors import CompanionError

LANGUAGES = ("ro", "en")

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.S)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.I)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_QUOTE = re.compile(r"^\s{0,3}>\s?", re.M)
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+", re.M)
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$", re.M)
_BOLD = re.compile(r"(\*\*|__)(.+?)\1", re.S)
# A single-asterisk span is an aside ("*smiles*"), not emphasis: it is not meant to be read.
_ASIDE = re.compile(r"(?<![\w*])\*(?!\s)[^*\n]+?(?<!\s)\*(?![\w*])")
_UNDERSCORE_EM = re.compile(r"(?<!\w)_(?!\s)([^_\n]+?)(?<!\s)_(?!\w)")
_STRIKE = re.compile(r"~~(.+?)~~", re.S)
_EMOJI = re.compile(
    "["
    "\U0001F000-\U0001FAFF"  # pictographs, emoticons, transport, symbols & pictographs ext.
    "\U00002600-\U000027BF"  # misc symbols, dingbats
    "\U00002B00-\U00002BFF"  # arrows, stars
    "\U0001F1E6-\U0001F1FF"  # flags
    "\U0000FE0E\U0000FE0F\U0000200D\U000020E3"  # variation selectors, ZWJ, keycap
    "\U000E0020-\U000E007F"  # tag characters (subdivision flags)
    "]+"
)
_SPACES = re.compile(r"[ \t\u00a0]+")


def clean_for_speech(text: str, language: str = "en") -> str:
    """Return `text` as it should be spoken: no markup, emoji, URLs or asides; numbers as words."""
    language = _check_language(language)
    text = _CODE_BLOCK.sub(" ", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _RULE.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _QUOTE.sub("", text)
    text = _BULLET.sub("", text)
    text = _BOLD.sub(r"\2", text)
    text = _ASIDE.sub(" ", text)
    text = _UNDERSCORE_EM.sub(r"\1", text)
    text = _STRIKE.sub(r"\1", text)
    text = _EMOJI.sub(" ", text)
    text = text.replace("*", " ").replace("#", " ")
    text = numbers_to_words(text, language)
    # Line breaks in a reply are visual; a list item without a period still ends a thought.
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    out = []
    for i, line in enumerate(lines):
        if i < len(lines) - 1 and not re.search(r"[.!?…:;,”\"»)]$", line):
            line += "."
        out.append(line)
    text = " ".join(out)
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r"\(\s*\)", "", text)
    return _SPACES.sub(" ", text).strip()


_NUMBER = {
    # digits with optional thousands groups and an optional decimal part, optional sign and %
    "en": re.compile(r"(?<![\w.,])([-−]?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(\s?%)?(?![\w])"),
    "ro": re.compile(r"(?<![\w.,])([-−]?)(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d+))?(\s?%)?(?![\w])"),
}
_POINT = {"en": "point", "ro": "virgulă"}
_PERCENT = {"en": "percent", "ro": "la sută"}


def numbers_to_words(text: str, language: str = "en") -> str:
    """Spell out numbers with num2words: "3,5%" → "trei virgulă cinci la sută" in Romanian.

    Thousands separators and the decimal mark follow the language (1,000.5 en; 1.000,5 ro).
    Digits glued to letters (mp3) are left to the engine.
    """
    from num2words import num2words

    language = _check_language(language)

    def spell(match: re.Match) -> str:
        sign, whole, frac, pct = match.groups()
        whole = whole.replace(",", "").replace(".", "")
        words = num2words(int(whole), lang=language)
        if frac:
            # Digit by digit after the point ("3.14" → "three point one four"), as people read it
            # unless the fraction is short enough to be read as a number.
            if len(frac) <= 2 and not frac.startswith("0"):
                words += f" {_POINT[language]} " + num2words(int(frac), lang=language)
            else:
                words += f" {_POINT[language]} " + " ".join(
                    num2words(int(d), lang=language) for d in frac)
        if sign:
            words = ("minus " if language == "en" else "minus ") + words
        if pct:
            words += " " + _PERCENT[language]
        return words

    return _NUMBER[language].sub(spell, text)


def _check_language(language: str) -> str:
    lang = (language or "").lower().split("-")[0].split("_")[0]
    if lang not in LANGUAGES:
        raise CompanionError(
            f"no speech text rules for language {language!r}: use one of {', '.join(LANGUAGES)}")
    return lang


# --- sentence splitting --------------------------------------------------------------------

ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc e.g i.e a.m p.m no fig approx dept est inc ltd co
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun
    dl dna dra dnul dnei d-l d-na d-ra nr str bd bld ap sc et jud mun tel pag cap art alin lit
    ș.a ş.a ș.a.m.d ş.a.m.d î.e.n d.hr d.c a.c ian febr aug sept oct nov dec etc.""".split()
)
_OPENERS = "„“\"«(['‘"
_CLOSERS = "”\"»)]’'"
_END = re.compile(r"([.!?…]+)([" + re.escape(_CLOSERS) + r"]*)(\s+)")
_CLAUSE = re.compile(r"[,;:—–]\s+")


@dataclass
class SentenceSplitter:
    """Cut streamed text into sentences: `feed(piece)` returns the sentences now complete.

    A boundary is a run of . ! ? … (plus closing quotes) followed by space and a capital,
    digit or opening quote; abbreviations, initials, decimals and lowercase after an ellipsis
    do not end a sentence. With `early_first`, the first sentence may be cut at a clause
    break once it has `first_min_words`, so the TTS gets a short piece to start speaking.
    """

    early_first: bool = False
    first_min_words: int = 3
    first_max_words: int = 12
    _buffer: str = field(default="", repr=False)
    _emitted: int = field(default=0, repr=False)

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        out: list[str] = []
        while True:
            cut = self._next_cut(final=False)
            if cut is None:
                break
            out.append(self._take(cut))
        return [s for s in out if s]

    def flush(self) -> list[str]:
        """The rest of the text (end of the reply), split as far as it goes."""
        out: list[str] = []
        while True:
            cut = self._next_cut(final=True)
            if cut is None:
                break
            out.append(self._take(cut))
        rest = self._buffer.strip()
        self._buffer = ""
        if rest:
            out.append(rest)
            self._emitted += 1
        return [s for s in out if s]

    def _take(self, cut: int) -> str:
        sentence, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:].lstrip()
        if sentence:
            self._emitted += 1
        return sentence

    def _next_cut(self, final: bool) -> int | None:
        text = self._buffer
        cut = None
        for m in _END.finditer(text):
            if m.end() >= len(text):
                break  # the character after the space decides; wait for more text
            if self._is_boundary(text, m):
                cut = m.start(3)
                break
        if self.early_first and self._emitted == 0:
            early = self._early_cut(text)
            if early is not None and (cut is None or early < cut):
                return early
        return cut

    def _is_boundary(self, text: str, m: re.Match) -> bool:
        punct = m.group(1)
        nxt = text[m.end()]
        starts_sentence = nxt.isupper() or nxt.isdigit() or nxt in _OPENERS or nxt in "-—–"
        if not starts_sentence:
            return False  # "... and then", "„Ce faci?” a întrebat", "e.g. this"
        if punct == "." and not m.group(2):
            word = re.search(r"(\S+)$", text[: m.start()])
            token = word.group(1).lstrip(_OPENERS).lower() if word else ""
            if token in ABBREVIATIONS or token.rstrip(".") in ABBREVIATIONS:
                return False
            if len(token) == 1 and token.isalpha():
                return False  # an initial: "J. R. R. Tolkien"
        return True

    def _early_cut(self, text: str) -> int | None:
        for m in _CLAUSE.finditer(text):
            if len(text[: m.start()].split()) >= self.first_min_words:
                return m.end()
        words = list(re.finditer(r"\S+\s+", text))
        if len(words) > self.first_max_words:
            return words[self.first_max_words - 1].end()
        return None


def split_sentences(text: str, early_first: bool = False) -> list[str]:
    """Split a whole text into sentences (the streaming splitter fed once and flushed)."""
    splitter = SentenceSplitter(early_first=early_first)
    return splitter.feed(text) + splitter.flush()
