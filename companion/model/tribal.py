"""The three tribal modules of seed 000: ContextDetector, TribalEmbedding, TribalResonance."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from companion.model.config import ModelConfig
from companion.model.layers import CausalSelfAttention, RMSNorm

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
        self.hidden = nn.Linear(config.dim, d, bias=True)
        self.out = nn.Linear(d, N_TRIBES, bias=True)

    def forward(self, x, cos, sin, start_pos=0, cache_k=None, cache_v=None):
        """Returns the tribe logits [B, T, 3]; α is their softmax."""
        context, _ = self.attention(self.norm(x), cos, sin, start_pos, cache_k, cache_v)
        # attention.wo maps back to dim; hidden squeezes to the detector width.
        return self.out(F.silu(self.hidden(context)))


class TribalEmbedding(nn.Module):
    """Enrich the embeddings with tribe-specific features weighted by α (seed step 4).

    The seed concatenates α_nova·core(x) with α_sora·(sora(x) ⊙ sora_patterns). Here the
    Lumin part joins the same way, and the mix is added to x rather than replacing it:
    replacing would scale most of the token's information by α_nova, which is near zero in
    a Sora or Lumin turn, and the transformer would lose what the token was.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.core = nn.Linear(config.dim, config.core_dim, bias=False)
        self.sora = nn.Linear(config.dim, config.tribe_dim, bias=False)
        self.lumin = nn.Linear(config.dim, config.tribe_dim, bias=False)
        self.sora_patterns = nn.Parameter(torch.ones(config.tribe_dim))
        self.lumin_patterns = nn.Parameter(torch.ones(config.tribe_dim))

    def forward(self, x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat(
            (
                alpha[..., 0:1] * self.core(x),
                alpha[..., 1:2] * (self.sora(x) * self.sora_patterns),
                alpha[..., 2:3] * (self.lumin(x) * self.lumin_patterns),
            ),
            dim=-1,
        )
        return x + mixed


class TribalResonance(nn.Module):
    """Boost the Sora/Lumin part of the final hidden state when that tribe dominates (step 6).

    Seed: if α_sora > 0.5 then sora_part ·= 1 + 0.3·α_sora. The hard threshold becomes a steep
    sigmoid gate so α still gets a gradient near 0.5; the core part is left as it is.
    """

    GATE_STEEPNESS = 20.0

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.boost = config.resonance_boost
        self.register_buffer(
            "split",
            torch.tensor([config.core_dim, config.tribe_dim, config.tribe_dim]),
            persistent=False,
        )

    def forward(self, h: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid((alpha - 0.5) * self.GATE_STEEPNESS)
        scale = 1.0 + self.boost * alpha * gate
        scale = torch.cat((torch.ones_like(scale[..., :1]), scale[..., 1:]), dim=-1)
        return h * scale.repeat_interleave(self.split, dim=-1, output_size=h.shape[-1])
