"""The one chat template: how turns become token ids, for training and for generation alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from companion.text.tokenizer import Tokenizer
from companion.tribes import Tribe


class Role(str, Enum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True)
class ChatTurn:
    role: Role
    text: str
    tribe: Tribe | None = None  # which persona spoke (assistant) or is asked for (system)


def _role_id(tokenizer: Tokenizer, role: Role) -> int:
    return {
        Role.SYSTEM: tokenizer.system_id,
        Role.USER: tokenizer.user_id,
        Role.ASSISTANT: tokenizer.assistant_id,
    }[role]


def render_turn(tokenizer: Tokenizer, turn: ChatTurn) -> list[int]:
    """<|role|> [<|tribe|>] text <|end|>"""
    ids = [_role_id(tokenizer, turn.role)]
    if turn.tribe is not None:
        ids.append(tokenizer.tribe_ids[turn.tribe])
    ids.extend(tokenizer.encode(turn.text))
    ids.append(tokenizer.end_id)
    return ids


def render_chat(
    tokenizer: Tokenizer,
    turns: Sequence[ChatTurn],
    *,
    add_generation_prompt: bool = True,
    reply_tribe: Tribe | None = None,
) -> list[int]:
    """<s> turn… [<|assistant|> [<|tribe|>]]

    With add_generation_prompt the ids end where the assistant's reply starts. A reply_tribe
    (persona lock) puts its tag there and so conditions generation; without one the model
    writes the tag itself, and its α decides the voice.
    """
    ids = [tokenizer.bos_id]
    for turn in turns:
        ids.extend(render_turn(tokenizer, turn))
    if add_generation_prompt:
        ids.append(tokenizer.assistant_id)
        if reply_tribe is not None:
            ids.append(tokenizer.tribe_ids[reply_tribe])
    elif reply_tribe is not None:
        raise ValueError("reply_tribe needs add_generation_prompt=True")
    return ids
