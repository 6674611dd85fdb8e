"""When the knowledge holds nothing near the user's words, the companion says so.

The companion answers by copying the nearest answer it knows (memory/knowledge.py,
model/copy.py). For a question the knowledge has no answer to, that nearest answer is about
something else, and copied it reads as a fluent, confident, wrong reply: "Ce diferență e între
masă și greutate?" got the balancing of car wheels. Read (benchmarks/bench_relevance.py: the
held-out questions of models/default, and 120 everyday questions written apart from the
knowledge; candidate answers judged on, near or off topic), the answer the search ranked first
in the knowledge of 30 Nov was off topic for 37 of 69 held-out NOVA questions, 37 of 79 Sora
ones and 33 of 120 everyday ones, and the lowest bm25 scores were mostly those. Below
NEAR_ENOUGH the tribe's own words for "I do not know this" (NOVA: ask again, more precisely;
Sora: I am listening, tell me more) are shown instead, and decoding copies them as it copies
any answer.

Lumin's threshold is 0 (never): its knowledge is mostly chit-chat, whose short lines score low
whatever their fit; a threshold that caught off-topic Lumin replies lost as many good ones.
"""

from __future__ import annotations

import zlib

# The nearest exchange's bm25 score (SQLite FTS5, question and answer weighted alike; higher is
# nearer) below which a tribe says it does not know; a question of fewer than FULL_WORDS words
# to search by can only score lower, so its floor is that share of it ("Cum funcționează un
# laser?" found "Ce e un laser?" at 9.3). Chosen on the knowledge of 30 Nov (24,849
# exchanges), models/default's held-out questions: NOVA held back 19 of 69, whose nearest
# answers were judged 17 off topic, 2 near, 0 on (a floor of 11 for any length: 25, of them 3
# near, 1 on; 12: 33, 7 near, 2 on); Sora 28 of 79: 17 off, 11 near (another story's reply whose
# details clash with the user's), 0 on. With today's (27,206, benchmarks/bench_relevance.py):
# NOVA holds back 10 of 69 held-out questions (10 off) and 5 of 120 everyday ones (4 off,
# 1 near); Sora 24 of 79 held-out stories (17 off, 6 near, 1 on) and 24 of 80 everyday messages
# (13 off, 7 near, 4 on); of the reworded known questions whose own answer the search finds
# (benchmarks/data/paraphrases.jsonl), 2 of 49 NOVA and 1 of 35 Sora. Lumin: see the module's
# docstring.
NEAR_ENOUGH = {"nova": 11.0, "sora": 14.0, "lumin": 0.0}
FULL_WORDS = 3
# bm25's scores grow with the number of exchanges (a word's rarity is measured among them): the
# floors above hold for a knowledge about as large as models/default's (24,849 exchanges). A
# smaller one (a user's own texts) never says it does not know rather than always.
CALIBRATED_FROM = 5000

UNSURE = {
    "nova": (
        "Nu găsesc în ce știu un răspuns sigur la întrebarea asta și nu vreau să inventez unul. "
        "Poți s-o formulezi altfel sau mai precis?",
        "Despre asta n-am învățat destul ca să-ți răspund corect. Dacă îmi spui mai precis ce te "
        "interesează, caut din nou.",
        "Nu știu sigur. Ce știu eu e puțin și stă doar pe calculatorul tău, iar aici n-am găsit "
        "nimic potrivit. Întreabă-mă altfel, te rog.",
    ),
    "sora": (
        "Te ascult. Povestește-mi mai mult, dacă vrei.",
        "Mi-ar plăcea să înțeleg mai bine ce trăiești. Cum e pentru tine, acum?",
        "Sunt aici și te ascult. Ce simți acum, când îmi spui asta?",
    ),
    "lumin": (
        "I don't know enough about that to give you a good answer. Could you put it another way?",
        "I'm not sure, and I'd rather not guess. Tell me a bit more?",
    ),
}


def near_enough(tribe: str | None, exchanges: int, words: int = FULL_WORDS) -> float:
    """The score a tribe's nearest exchange needs to be copied, in a knowledge of that many
    exchanges, for a question of that many words to search by (0: any will do)."""
    if exchanges < CALIBRATED_FROM:
        return 0.0
    return NEAR_ENOUGH.get(tribe or "", 0.0) * min(1.0, words / FULL_WORDS)


def unsure_reply(tribe: str, text: str) -> str:
    """The tribe's "I do not know this" for text: one of its lines, the same for the same words
    (a retry or a test sees the same), varied across questions."""
    lines = UNSURE[tribe]
    return lines[zlib.crc32(text.encode("utf-8")) % len(lines)]
