"""The three tribes, the α mixing weights over them, and the voice policy α → tribe."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Tribe(str, Enum):
    """A persona. The order is the order of α everywhere: (nova, sora, lumin)."""

    NOVA = "nova"
    SORA = "sora"
    LUMIN = "lumin"

    @property
    def index(self) -> int:
        return TRIBE_ORDER.index(self)

    @classmethod
    def parse(cls, name: str) -> Tribe:
        """Tribe from a name, case-insensitive; a clear error for anything else."""
        from companion.errors import CompanionError

        try:
            return cls(name.strip().lower())
        except ValueError:
            names = ", ".join(t.value for t in TRIBE_ORDER)
            raise CompanionError(f"unknown tribe {name!r}: use one of {names}") from None


TRIBE_ORDER: tuple[Tribe, ...] = (Tribe.NOVA, Tribe.SORA, Tribe.LUMIN)


@dataclass(frozen=True)
class Alpha:
    """Mixing weights over the tribes, as the model's context detector outputs them."""

    nova: float
    sora: float
    lumin: float

    @classmethod
    def from_sequence(cls, values) -> Alpha:
        nova, sora, lumin = (float(v) for v in values)
        return cls(nova, sora, lumin)

    @classmethod
    def uniform(cls) -> Alpha:
        return cls(1 / 3, 1 / 3, 1 / 3)

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.nova, self.sora, self.lumin)

    def __getitem__(self, tribe: Tribe) -> float:
        return getattr(self, tribe.value)

    def dominant(self) -> Tribe:
        values = self.as_tuple()
        return TRIBE_ORDER[max(range(3), key=values.__getitem__)]

    def entropy(self) -> float:
        """Shannon entropy in nats (0 = one tribe certain, ln 3 = undecided)."""
        return -sum(p * math.log(p) for p in self.as_tuple() if p > 0)


@dataclass(frozen=True)
class VoicePolicy:
    """Seed rule: α_sora > threshold → Sora, α_lumin > threshold → Lumin, otherwise NOVA.

    A locked persona overrides α.
    """

    threshold: float = 0.7
    lock: Tribe | None = None

    def choose(self, alpha: Alpha) -> Tribe:
        if self.lock is not None:
            return self.lock
        if alpha.sora > self.threshold:
            return Tribe.SORA
        if alpha.lumin > self.threshold:
            return Tribe.LUMIN
        return Tribe.NOVA
