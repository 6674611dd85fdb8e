"""The knowledge of a corpus, and retrieval-augmented training with it.

build_knowledge: the questions and answers of a corpus's dialogues (the first exchange and,
for NOVA and Lumin, each later reply to a user turn), never one of a held-out dialogue: what
`companion knowledge` writes beside a model (knowledge.jsonl) for the app to retrieve and copy
from. The later exchanges are mostly self-contained ("Și grindina?" → how hail forms).

with_memories (`companion train --knowledge`): each dialogue led by a system turn with its
nearest other exchanges, as "memories", in the hope that the model learns to take from them
what fits. Measured on the default corpus, a 7 M model at 660 of 1,300 steps had not (its reply
loss was the same with, without and with another question's memories); decoding copies instead
(companion/model/copy.py).

- The record's own exchanges are never among its memories (it would teach copying the answer).
- Retrieval is over every tribe, as in the app: the memories may be another tribe's, and the
  detector (which starts afresh at each user turn) judges the user's words, not the memories.
- Some records get no memories (share_without), because the app finds none for many inputs.
- The style line the app puts first is drawn at random, so the model learns it carries nothing
  about the tribe.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Iterator, Sequence

from companion.memory.context import STYLES, system_text
from companion.memory.knowledge import Exchange, Knowledge
from companion.text.template import ChatTurn, Role
from companion.training.corpus import Record


def exchange_of(record: Record) -> Exchange | None:
    """The record's first reply and the user turn just before it (None for plain text)."""
    for i, turn in enumerate(record.turns):
        if turn.role is Role.ASSISTANT:
            users = [t.text for t in record.turns[:i] if t.role is Role.USER]
            return Exchange(record.tribe.value, users[-1], turn.text) if users else None
    return None


# Whose later replies join the knowledge. NOVA's and Lumin's follow-ups stand on their own
# ("Și grindina?" → how hail forms); Sora's answer the story told before them, and copied
# to someone else's words they misled: with them, "Iubitul meu e pe un vas, plecat șase luni."
# got "Țipetele zilnice nu sunt normale…" and "El întârzie mereu zece minute…" got driving
# advice, though the topic-match proxy rose (Sora 0.746 → 0.826, 24 samples): read, not scored.
LATER_TRIBES = frozenset({"nova", "lumin"})


def exchanges_of(record: Record) -> list[Exchange]:
    """The record's first exchange (exchange_of), then, for LATER_TRIBES, every later reply
    with the user turn just before it."""
    first = exchange_of(record)
    if first is None or record.tribe.value not in LATER_TRIBES:
        return [first] if first else []
    turns = record.turns
    start = next(i for i, t in enumerate(turns) if t.role is Role.ASSISTANT)
    return [first] + [Exchange(record.tribe.value, turns[i - 1].text, turns[i].text)
                      for i in range(start + 1, len(turns))
                      if turns[i].role is Role.ASSISTANT and turns[i - 1].role is Role.USER]


def build_knowledge(records: Iterable[Record],
                    heldout: Iterable[Record] = ()) -> tuple[Knowledge, dict[int, tuple[int, ...]]]:
    """(the knowledge of the records' dialogues, id(record) → the indices of its exchanges
    there). A dialogue that opens as a held-out one does (the same dialogue, or another starting
    the same way) stays out whole, so companion eval never shows a held-out question its own
    answer; an exchange said twice is kept once."""
    unseen = {exchange_of(r) for r in heldout}
    index: dict[Exchange, int] = {}
    index_of: dict[int, tuple[int, ...]] = {}
    for record in records:
        own = exchanges_of(record)
        if not own or own[0] in unseen:
            continue
        index_of[id(record)] = tuple(index.setdefault(e, len(index)) for e in own if e not in unseen)
    return Knowledge(index), index_of


def with_memories(records: Sequence[Record], knowledge: Knowledge, index_of: dict[int, tuple[int, ...]], *,
                  seed: int, share_without: float = 0.15) -> Iterator[Record]:
    """The records, dialogues led by a system turn: a random style line and their memories."""
    rng = random.Random(seed)
    headers = list(STYLES.values())
    for record in records:
        exchange = exchange_of(record)
        if exchange is None or rng.random() < share_without:
            yield record
            continue
        lines = knowledge.memory_lines(exchange.user, exclude=index_of.get(id(record)))
        system = ChatTurn(Role.SYSTEM, system_text(rng.choice(headers), lines))
        yield dataclasses.replace(record, turns=(system, *record.turns))
