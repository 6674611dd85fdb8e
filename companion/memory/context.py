"""The context builder: persona tag + recent turns in the token budget + retrieved memory."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from companion.memory.records import Message
from companion.memory.store import ConversationStore
from companion.text.template import ChatTurn, Role
from companion.tribes import Tribe

if TYPE_CHECKING:
    from companion.memory.knowledge import Exchange, Knowledge

# Per-turn template overhead: role marker, optional tribe tag, end marker.
TURN_OVERHEAD = 3
PROMPT_OVERHEAD = 3  # <s> + <|assistant|> [+ tribe tag]

STYLES = {
    # LunaGPT seed: the same companion in three registers.
    "casual": "Stil: relaxat, cald, pe scurt. / Style: relaxed, warm, short.",
    "technical": "Stil: tehnic, precis, cu pași clari. / Style: technical, precise, step by step.",
    "formal": "Stil: politicos, formal, complet. / Style: polite, formal, complete.",
}

_STOP = set("""
a al ale am ai are as au ca ce cu cum da de din el ea ei eu fi in la le lor mai ma mi ne nu o
pe pentru sa se si sunt ta te tu un una unei unui va vor ce care cand unde iar dar ori
the and for are was were you your yours with this that what when where who why how have has
had not but can could would should will just about from into than then them they their our
is am be been its it's i'm i've don't does did do of to in on at by an or as so if me my we
""".split())


# Exchanges of the model's knowledge shown for a turn, in training and in the app. One: with
# two, decoding often copied the second, less near one (topic match 0.690 with two, 0.705 with
# one, 70 held-out prompts a tribe; the model alone does not read them, companion/model/copy.py).
MEMORIES = 1
SNIPPET_CHARS = 240  # of a memory from the conversation store
# Of a knowledge answer shown (and copied from; its question gets QUESTION_CHARS): 320, not
# 240, because decoding can only copy what is shown (benchmarks/bench_retrieval.py).
ANSWER_CHARS = 320
QUESTION_CHARS = 120


@dataclass(frozen=True)
class ContextConfig:
    recent_messages: int = 16  # at most this many earlier messages, newest kept first
    retrieved: int = 3  # older messages found by FTS
    snapshots: int = 2  # starred replies
    snippet_chars: int = SNIPPET_CHARS
    memory_share: float = 0.3  # of the budget left after the user turn, for memory snippets
    knowledge: int = MEMORIES  # exchanges from the model's knowledge (memory/knowledge.py), as in training
    knowledge_share: float = 0.6  # of the budget left after the memories, for those exchanges
    answer_chars: int = ANSWER_CHARS  # of each exchange's answer shown
    # Where the knowledge has nothing near, say so in the tribe's words rather than copy an
    # answer to something else (memory/unsure.py).
    admit_unknown: bool = True


@dataclass(frozen=True)
class Context:
    turns: list[ChatTurn]
    prompt_tokens: int
    retrieved: list[Message]
    user_truncated_from: int | None  # original length in characters when the input was cut
    knowledge: list[Exchange] = field(default_factory=list)  # the model's exchanges it was shown
    unsure: bool = False  # nothing near in the knowledge: it was shown the tribe's "I do not know"


def system_text(header: str, memory_lines: list[str]) -> str:
    """The system turn: the style line, then the memories (training writes the same shape)."""
    if not memory_lines:
        return header
    return header + "\nAmintiri / Memories:\n" + "\n".join(memory_lines)


def content_words(text: str) -> Iterator[str]:
    """The words worth searching for, in order: no stopwords, no short words, no numbers."""
    for word in re.findall(r"\w+", text.lower()):
        if len(word) >= 3 and word not in _STOP and not word.isdigit():
            yield word


def keywords(text: str, limit: int = 12) -> str:
    """The first limit content words, each once."""
    return " ".join(list(dict.fromkeys(content_words(text)))[:limit])


class ContextBuilder:
    def __init__(self, store: ConversationStore, count_tokens, max_context: int,
                 config: ContextConfig = ContextConfig(), knowledge: Knowledge | None = None):
        self.store = store
        self.count_tokens = count_tokens
        self.max_context = max_context
        self.config = config
        self.knowledge = knowledge

    @property
    def shows_knowledge(self) -> bool:
        """Whether turns show exchanges of the model's knowledge."""
        return self.knowledge is not None and self.config.knowledge > 0

    def _cost(self, text: str) -> int:
        return self.count_tokens(text) + TURN_OVERHEAD

    def fit_user_text(self, text: str, budget: int) -> tuple[str, bool]:
        """Cut text to budget tokens, keeping its end (where the question usually is)."""
        if self._cost(text) <= budget:
            return text, False
        lo, hi = 0, len(text)  # binary search on how many trailing characters fit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._cost("…" + text[-mid:]) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return "…" + text[-lo:] if lo else "", True

    def build(self, user: Message, reply_budget: int, style: str = "casual",
              persona: Tribe | None = None, answering: Tribe | None = None) -> Context:
        """Turns for the generator: system (persona, style, memory), recent turns, the user.
        answering: the tribe that will answer (the persona, else α's pick), whose exchanges of
        the knowledge come first — decoding copies only from its answers."""
        budget = self.max_context - reply_budget - PROMPT_OVERHEAD
        header = STYLES.get(style, STYLES["casual"])
        budget -= self._cost(header)
        user_text, cut = self.fit_user_text(user.text, max(budget // 2, 8))
        budget -= self._cost(user_text)

        recent = self.store.recent(self.config.recent_messages, before_id=user.id)
        recent_ids = {m.id for m in recent}
        memory_lines: list[str] = []
        retrieved: list[Message] = []
        memory_budget = own_share = int(budget * self.config.memory_share)

        def add_memory(line: str) -> bool:
            nonlocal memory_budget
            cost = self.count_tokens("\n" + line)
            if cost > memory_budget:
                return False
            memory_lines.append(line)
            memory_budget -= cost
            return True

        for snap in self.store.snapshots(limit=self.config.snapshots):
            if snap.message_id not in recent_ids:
                add_memory("★ " + snap.text[: self.config.snippet_chars])
        query = keywords(user.text[:2000])
        oldest_recent = min(recent_ids, default=user.id)
        if query:
            hits = self.store.search(query, any_word=True, prefix=True,
                                     before_id=oldest_recent, limit=self.config.retrieved)
            for hit in hits:
                if add_memory("• " + hit.message.text[: self.config.snippet_chars]):
                    retrieved.append(hit.message)
        known: list[Exchange] = []
        unsure = False
        if self.shows_knowledge:
            # Decoding copies from the answer shown here (companion/model/copy.py); the model
            # itself was measured not to read it (models/default/MODEL_CARD.md).
            memory_budget += int((budget - own_share) * self.config.knowledge_share)
            tribe = persona or answering
            recall = self.knowledge.recall(user.text, self.config.knowledge, tribe=tribe.value if tribe else None,
                                           admit_unknown=self.config.admit_unknown)
            for exchange in recall.exchanges:
                if not add_memory(exchange.memory_line(self.config.answer_chars)):
                    break
                if recall.unsure:
                    unsure = True
                else:
                    known.append(exchange)
        system = system_text(header, memory_lines)
        budget = self.max_context - reply_budget - PROMPT_OVERHEAD \
            - self._cost(system) - self._cost(user_text)

        history: list[ChatTurn] = []
        for message in reversed(recent):  # newest first, so the oldest are dropped
            cost = self._cost(message.text)
            if cost > budget:
                break
            budget -= cost
            role = Role(message.role)
            history.append(ChatTurn(role, message.text,
                                    message.tribe if role is Role.ASSISTANT else None))
        history.reverse()
        turns = [ChatTurn(Role.SYSTEM, system, persona), *history,
                 ChatTurn(Role.USER, user_text)]
        used = self.max_context - reply_budget - budget
        return Context(turns, used, retrieved, len(user.text) if cut else None, known, unsure)
