"""The tribal transformer, read top to bottom: cache, feed-forward, block, model.

tokens → embedding → ContextDetector (α) → TribalEmbedding → N pre-norm blocks (RMSNorm,
rotary causal attention, SwiGLU) → final norm → TribalResonance → head tied to the embedding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from companion.model.config import ModelConfig
from companion.model.layers import CausalSelfAttention, Linear, RMSNorm, TiedEmbedding, rope_tables
from companion.model.tribal import ContextDetector, TribalEmbedding, TribalResonance, exchange_mask


@dataclass
class ModelOutput:
    logits: torch.Tensor  # [B, T, vocab] (T = 1 with last_only)
    alpha: torch.Tensor  # [B, T, 3] mixing weights (nova, sora, lumin), rows sum to 1
    alpha_logits: torch.Tensor  # [B, T, 3] before the softmax, for the tribe loss
    attentions: list[torch.Tensor] | None = None  # per layer [B, H, T, S], on request


class KVCache:
    """Preallocated keys and values for every layer and the context detector.

    Preallocation keeps decoding free of per-token allocations and concatenations.
    """

    def __init__(self, config: ModelConfig, batch_size: int = 1, max_len: int | None = None,
                 device=None, dtype=torch.float32):
        self.max_len = max_len or config.max_seq_len
        shape = (config.n_layers, batch_size, config.n_heads, self.max_len, config.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        dshape = (batch_size, 1, self.max_len, config.detector_dim)
        self.detector_k = torch.zeros(dshape, device=device, dtype=dtype)
        self.detector_v = torch.zeros(dshape, device=device, dtype=dtype)
        self.detector_from = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.length = 0

    def reset(self) -> None:
        self.length = 0
        self.detector_from.zero_()


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) ⊙ w3 x), with w1 and w3 fused into one matmul."""

    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.w13 = Linear(dim, 2 * hidden, bias=False)
        self.w2 = Linear(hidden, dim, bias=False)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w13(x).chunk(2, dim=-1)
        out = self.w2(F.silu(gate) * up)
        return F.dropout(out, self.dropout) if self.training and self.dropout else out


class Block(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.attention_norm = RMSNorm(config.dim, config.norm_eps)
        self.attention = CausalSelfAttention(config.dim, config.n_heads, config.head_dim, config.dropout)
        self.ffn_norm = RMSNorm(config.dim, config.norm_eps)
        self.feed_forward = FeedForward(config.dim, config.ffn_dim, config.dropout)

    def forward(self, x, cos, sin, start_pos=0, cache_k=None, cache_v=None, return_weights=False):
        attended, weights = self.attention(
            self.attention_norm(x), cos, sin, start_pos, cache_k, cache_v, return_weights
        )
        h = x + attended
        return h + self.feed_forward(self.ffn_norm(h)), weights


class TribalTransformer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.tok_embeddings = TiedEmbedding(config.vocab_size, config.dim)
        self.context_detector = ContextDetector(config)
        self.tribal_embedding = TribalEmbedding(config)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.tribal_resonance = TribalResonance(config)
        # The output head is tok_embeddings itself (tied): tok_embeddings.logits(h).

        cos, sin = rope_tables(config.head_dim, config.max_seq_len, config.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        dcos, dsin = rope_tables(config.detector_dim, config.max_seq_len, config.rope_theta)
        self.register_buffer("detector_cos", dcos, persistent=False)
        self.register_buffer("detector_sin", dsin, persistent=False)

        # Linear and TiedEmbedding start at N(0, 0.02); the residual projections are scaled
        # down with depth (GPT-2 / llama2.c) so the residual stream starts near identity.
        residual_std = 0.02 / math.sqrt(2 * config.n_layers)
        for name, param in self.named_parameters():
            if name.endswith(("attention.wo.weight", "feed_forward.w2.weight")):
                nn.init.normal_(param, mean=0.0, std=residual_std)

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> TribalTransformer:
        """Load a checkpoint folder (weights + config), verifying its manifest."""
        from companion.model.checkpoint import load_checkpoint

        return load_checkpoint(folder, device=device).model

    def use_head_precision(self, dtype: torch.dtype | None) -> None:
        """Decode with the output head in dtype (e.g. torch.bfloat16); None: full precision."""
        self.tok_embeddings.use_head_copy(dtype)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def detector_logits(self, x: torch.Tensor, tokens: torch.Tensor, start: int = 0,
                        cache: KVCache | None = None) -> torch.Tensor:
        """The context detector's tribe logits [B, T, 3] for the embeddings x of tokens placed
        at start (α is their softmax); it judges each exchange on its own (detector_reset_id)."""
        end = start + tokens.shape[1]
        mask = None
        if self.config.detector_reset_id is not None:
            mask, began = exchange_mask(tokens, start, self.config.detector_reset_id,
                                        cache.detector_from if cache is not None else None)
            if cache is not None:
                cache.detector_from = began
        return self.context_detector(
            x, self.detector_cos[start:end], self.detector_sin[start:end], start,
            cache.detector_k if cache is not None else None,
            cache.detector_v if cache is not None else None,
            mask=mask,
        )

    def forward(
        self,
        tokens: torch.Tensor,
        *,
        cache: KVCache | None = None,
        last_only: bool = False,
        return_attention: bool = False,
    ) -> ModelOutput:
        """tokens [B, T] → logits and α at every position (only the last with last_only).

        With a cache, tokens continue the cached sequence and the cache advances by T.
        """
        _, t = tokens.shape
        start = cache.length if cache is not None else 0
        end = start + t
        if end > self.config.max_seq_len:
            raise ValueError(f"sequence of {end} tokens exceeds max_seq_len={self.config.max_seq_len}")
        cos, sin = self.rope_cos[start:end], self.rope_sin[start:end]

        x = self.tok_embeddings(tokens)
        if self.training and self.config.dropout:
            x = F.dropout(x, self.config.dropout)
        alpha_logits = self.detector_logits(x, tokens, start, cache)
        alpha = alpha_logits.softmax(dim=-1)
        x = self.tribal_embedding(x, alpha)

        attentions = [] if return_attention else None
        for i, layer in enumerate(self.layers):
            x, weights = layer(
                x, cos, sin, start,
                cache.k[i] if cache is not None else None,
                cache.v[i] if cache is not None else None,
                return_attention,
            )
            if attentions is not None:
                attentions.append(weights)
        if cache is not None:
            cache.length = end

        if last_only:
            x, alpha, alpha_logits = x[:, -1:], alpha[:, -1:], alpha_logits[:, -1:]
        h = self.tribal_resonance(self.norm(x), alpha)
        logits = self.tok_embeddings.logits(h)
        return ModelOutput(logits, alpha, alpha_logits, attentions)
