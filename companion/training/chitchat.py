"""English chat from the `chitchat-dataset` pip package (MIT), as Lumin dialogues."""

from __future__ import annotations

import json
from collections.abc import Iterator

from companion.errors import CompanionError
from companion.text.template import ChatTurn, Role
from companion.training.corpus import Record, clean_text
from companion.tribes import Tribe


def chitchat_records(limit: int | None = None, max_turns: int = 8) -> Iterator[Record]:
    """Each conversation → dialogues of up to max_turns messages, speaker 1 as the user.

    Consecutive messages of one speaker are joined, so turns always alternate.
    """
    try:
        import chitchat_dataset
    except ImportError:
        raise CompanionError("chitchat-dataset is not installed: pip install chitchat-dataset") from None
    with open(chitchat_dataset._PATH, encoding="utf-8") as fh:
        data = json.load(fh)
    produced = 0
    for conv_id, conv in data.items():
        messages = []
        for group in conv.get("messages", []):
            text = clean_text(" ".join(u.get("text", "") for u in group))
            sender = group[0].get("sender") if group else None
            if not text:
                continue
            if messages and messages[-1][0] == sender:
                messages[-1] = (sender, messages[-1][1] + " " + text)
            else:
                messages.append((sender, text))
        for start in range(0, len(messages) - 1, max_turns):
            chunk = messages[start : start + max_turns]
            if len(chunk) < 2:
                continue
            first = chunk[0][0]
            turns = tuple(
                ChatTurn(Role.USER, text) if sender == first else ChatTurn(Role.ASSISTANT, text, Tribe.LUMIN)
                for sender, text in chunk
            )
            yield Record(Tribe.LUMIN, turns=turns, topic="chitchat", origin=f"chitchat-dataset:{conv_id}#{start}")
            produced += 1
            if limit is not None and produced >= limit:
                return
