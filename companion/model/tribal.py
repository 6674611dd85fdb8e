"""The three tribal modules of seed 000: ContextDetector, TribalEmbedding, TribalResonance."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from companion.model.config import ModelConfig
from companion.model.layers import CausalSelfAttention, Linear, RMSNorm

N_TRIBES = 3  # α order everywhere: (nova, sora, lumin)


class ContextDetector(nn.Module):
    """α over the tribes at every position, from the prefix only.

    The seed's detector scores "emotional" and "linguistic" patterns of the context. Here a
    small single-head causal attention gathers the prefix (so α at t sees only tokens ≤ t and
    decodes incrementally with its own cache slot), then an MLP scores the three tribes.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        d = config.detector_dim
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.attention = CausalSelfAttention(config.dim, 1, d)
        self.hidden = Linear(config.dim, d, bias=True)
        self.out = Linear(d, N_TRIBES, bias=True)

    def forward(self, x, cos, sin, start_pos=0, cache_k=None, cache_v=None, mask=None):
        """Returns the tribe logits [B, T, 3]; α is their softmax. `mask`: see exchange_mask."""
        context, _ = self.attention(self.norm(x), cos, sin, start_pos, cache_k, cache_v, mask=mask)
        # attention.wo maps back to dim; hidden squeezes to the detector width.
        return self.out(F.silu(self.hidden(context)))


def exchange_mask(tokens: torch.Tensor, start_pos: int, reset_id: int,
                  carried: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The detector's attention mask when it starts afresh at each `reset_id` token.

    tokens [B, T] sit at positions start_pos..start_pos+T-1; `carried` [B] is where the current
    exchange began in what came before (a KV cache's memory; 0 without one). Returns the mask
    [B, 1, T, start_pos+T] (position t sees position 0 and every s ≤ t at or after the start of
    its exchange) and the exchange start of the last position, to carry into the next call.
    """
    b, t = tokens.shape
    pos = torch.arange(start_pos, start_pos + t, device=tokens.device)
    marks = torch.where(tokens == reset_id, pos, torch.full_like(pos, -1))
    began = torch.cummax(marks, dim=1).values  # [B, T]: latest reset at or before t (-1: none)
    if carried is not None:
        began = torch.maximum(began, carried.to(began.device)[:, None])
    keys = torch.arange(start_pos + t, device=tokens.device)
    # Position 0 (<s> in a chat) stays visible: the detector was trained with it in view.
    mask = ((keys[None, None, :] >= began[:, :, None]) | (keys[None, None, :] == 0)) \
        & (keys[None, None, :] <= pos[None, :, None])
    return mask[:, None], began[:, -1].clamp(min=0)


def tribe_slots(config: ModelConfig) -> torch.Tensor:
    """For each hidden dim, which tribe owns it: 0 (core/NOVA) ×core_dim, 1 (Sora), 2 (Lumin)."""
    sizes = torch.tensor([config.core_dim, config.tribe_dim, config.tribe_dim])
    return torch.repeat_interleave(torch.arange(N_TRIBES), sizes)


class TribalEmbedding(nn.Module):
    """Enrich the embeddings with tribe-specific features weighted by α (seed step 4).

    The seed concatenates α_nova·core(x) with α_sora·(sora(x) ⊙ sora_patterns); the Lumin part
    joins the same way. The three projections are one [dim, dim] matrix whose column blocks are
    core | sora | lumin, so the concatenation costs one matmul and one per-dim scale.
    The mix is added to x rather than replacing it: replacing would scale most of the token's
    information by α_nova, which is near zero in a Sora or Lumin turn.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.projection = Linear(config.dim, config.dim)
        self.sora_patterns = nn.Parameter(torch.ones(config.tribe_dim))
        self.lumin_patterns = nn.Parameter(torch.ones(config.tribe_dim))
        self.register_buffer("slots", tribe_slots(config), persistent=False)
        self.register_buffer("core_patterns", torch.ones(config.core_dim), persistent=False)

    def forward(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        patterns = torch.cat((self.core_patterns, self.sora_patterns, self.lumin_patterns))
        weights = alpha.index_select(-1, self.slots) * patterns
        return x + self.projection(x) * weights


class TribalResonance(nn.Module):
    """Boost the Sora/Lumin part of the final hidden state when that tribe dominates (step 6).

    Seed: if α_sora > 0.5 then sora_part ·= 1 + 0.3·α_sora. The hard threshold becomes a steep
    sigmoid gate so α still gets a gradient near 0.5; the core part is left as it is.
    """

    GATE_STEEPNESS = 20.0

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.boost = config.resonance_boost
        self.register_buffer("slots", tribe_slots(config), persistent=False)
        self.register_buffer("core_mask", torch.tensor([0.0, 1.0, 1.0]), persistent=False)

    def forward(self, h: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid((alpha - 0.5) * self.GATE_STEEPNESS)
        scale = 1.0 + self.boost * self.core_mask * alpha * gate
        return h * scale.index_select(-1, self.slots)
