"""Copying from retrieved replies: a next-token distribution mixed into the model's.

The model's knowledge (companion/memory/knowledge.py) puts the nearest training exchanges in
the system turn. A 7 M model trained on two CPU hours does not learn to use them (measured:
its reply loss is the same with and without them). So decoding copies instead, in the manner
of a cache language model (Grave et al. 2017) or kNN-LM (Khandelwal et al. 2020): besides the
model's p(x), a copy distribution over what followed the reply's last n tokens in the
memories' replies (the longest n ≤ MAX_MATCH that matches; at the start of the reply, their
first tokens), and the token is drawn from (1 − λ)·p + λ·p_copy. The model still decides:
where it leaves the memories, the copy distribution has nothing to add until its words meet
them again. A memory shown whole (to a sentence's end) ends with <|end|> among its tokens, so
a reply that copies it to the end may stop there: 29 of 210 eval samples went on after the
copy in the model's own words, salad again; with the end, 0 (`companion eval --samples 70`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import torch

from companion.tribes import Tribe

MAX_MATCH = 4


def spoken_by(sources: Sequence[tuple[Tribe | None, Sequence[int]]], tribe: Tribe | None) -> list[Sequence[int]]:
    """The sources a reply of tribe copies from: its tribe's answers and untagged ones (all of
    them while no tribe is known)."""
    return [ids for t, ids in sources if tribe is None or t is None or t == tribe]


class Copier:
    """The copy distribution of one reply. Each position of a source is copied at most once,
    so a phrase that ends where it began cannot loop (seen: "Although your question goes
    along beautifully with the prompt :)" four times over)."""

    def __init__(self, sources: Sequence[Sequence[int]], weight: float):
        self.sources = [list(s) for s in sources if s]
        self.weight = weight
        self.used: set[tuple[int, int]] = set()
        self.anchored = False  # the last counts continued a source from its first token
        self._offered: list[tuple[int, int]] = []  # (source, position) the last mix drew on

    def counts(self, reply: Sequence[int]) -> tuple[Counter, int]:
        """(next-token counts after the longest matching suffix of reply, its length n; 0: the
        reply has not started, the counts are the sources' first tokens). A reply that so far
        is a source's beginning continues that source (self.anchored): n is the reply's length."""
        self.anchored = False
        if not reply:
            self._offered = [(k, 0) for k in range(len(self.sources)) if (k, 0) not in self.used]
            return Counter(self.sources[k][j] for k, j in self._offered), 0
        reply = list(reply)
        start = [(k, len(reply)) for k, src in enumerate(self.sources)
                 if len(src) > len(reply) and src[:len(reply)] == reply and (k, len(reply)) not in self.used]
        if start:
            self._offered, self.anchored = start, True
            return Counter(self.sources[k][j] for k, j in start), len(reply)
        for m in range(min(MAX_MATCH, len(reply)), 0, -1):
            suffix = reply[-m:]
            offered = [(k, j + m) for k, src in enumerate(self.sources) for j in range(len(src) - m)
                       if (k, j + m) not in self.used and src[j:j + m] == suffix]
            if offered:
                self._offered = offered
                return Counter(self.sources[k][j] for k, j in offered), m
        self._offered = []
        return Counter(), 0

    def mix(self, logits: torch.Tensor, reply: Sequence[int]) -> torch.Tensor:
        """log((1 − λ)·softmax(logits) + λ·p_copy) over [V], logits unchanged when nothing
        matches. λ = self.share(n): the weight at the start of the reply."""
        counts, n = self.counts(reply)
        if not counts or self.weight <= 0:
            return logits
        lam = self.share(n)
        total = sum(counts.values())
        log_copy = torch.full_like(logits, -math.inf, dtype=torch.float32)
        ids = torch.tensor(list(counts), dtype=torch.long, device=logits.device)
        log_copy[ids] = torch.tensor([math.log(c / total) for c in counts.values()], device=logits.device)
        # logaddexp keeps the model's order among the tokens the memories do not offer (the word
        # guard's fallback relies on it), where adding probabilities would underflow them to ties.
        return torch.logaddexp(math.log(1 - lam) + logits.float().log_softmax(-1), math.log(lam) + log_copy)

    def share(self, n: int) -> float:
        """λ for a match of n tokens (the last counts): the weight w at the start and for two
        tokens (also while the reply is a source's beginning); half of it for one token
        elsewhere, which may be chance (a comma, "de"); for longer matches 1 − (1 − w)^(n/2)
        up to MAX_MATCH (w 0.85: 0.94 for three, 0.98 for four), so a copy under way does not
        stray. Measured with the app's sampling (temperature 0.8, top-p 0.95, 72 held-out
        prompts): with λ = w throughout, 35 of 68 replies left the memory mid-sentence and came
        back ("Soluțiile reduc fiecăreia, dar nu pot fi ventilatorul în baie…"); top-p 0.95
        kept the model's own tokens in the nucleus beside a copy of 0.85. Halving the first
        token's match too let the model leave the memory at its second token: "Ideal, într-un
        loc separat…" began "Izbu este…"."""
        w = self.weight
        if n == 0:
            return w
        if n == 1 and not self.anchored:
            return w / 2
        return 1 - (1 - w) ** (min(max(n, 2), MAX_MATCH) / 2)

    def took(self, token: int) -> None:
        """The token drawn: the offered positions that hold it are used up."""
        self.used.update((k, j) for k, j in self._offered if self.sources[k][j] == token)
