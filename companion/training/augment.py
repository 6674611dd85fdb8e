"""Retrieval-augmented training: each dialogue is shown with the nearest other exchanges.

A 7 M-parameter model trained for two CPU hours writes fluent words about nothing in
particular (the card's topic match was 0.56, 0.5 being chance). Put in the context, as
"memories", the training exchanges nearest the user's words, and a model trained that way
learns to take from them what fits — far easier than holding every answer in its weights.
`companion train --knowledge` writes the records so, and saves the index (knowledge.jsonl) in
the model folder; the app retrieves from it exactly as training did (companion/memory/context.py).

- The record's own exchange is never among its memories (it would teach copying the answer).
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


def build_knowledge(records: Iterable[Record], heldout: Iterable[Record] = ()) -> tuple[Knowledge, dict[int, int]]:
    """(the knowledge of the records' dialogues, id(record) → its index there). An exchange a
    held-out record also opens with (another dialogue starting the same way) stays out too, so
    companion eval never shows a held-out question its own answer."""
    unseen = {exchange_of(r) for r in heldout}
    exchanges: list[Exchange] = []
    index_of: dict[int, int] = {}
    for record in records:
        exchange = exchange_of(record)
        if exchange is not None and exchange not in unseen:
            index_of[id(record)] = len(exchanges)
            exchanges.append(exchange)
    return Knowledge(exchanges), index_of


def with_memories(records: Sequence[Record], knowledge: Knowledge, index_of: dict[int, int], *,
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
