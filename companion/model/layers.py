"""Building blocks shared by the transformer and the context detector: norm, rotary, attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Linear(nn.Module):
    """y = x @ W (+ b) with W stored input-major, [in_features, out_features].

    At batch 1 every decoded token is a vector × matrix product. MKL reads an input-major
    matrix about twice as fast as nn.Linear's output-major one: measured on the 2-core CI
    machine, the 288 → 32000 head takes 1.44 ms instead of 3.02 ms, and the whole 15M model
    decodes a token in 3.7 ms instead of 6.1 ms (benchmarks/bench_generate.py).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.normal_(self.weight, mean=0.0, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x @ self.weight
        return y if self.bias is None else y + self.bias


class TiedEmbedding(nn.Module):
    """Token embedding whose matrix is also the output head, stored [dim, vocab].

    Input-major for the head's sake (see Linear); the lookup gathers columns instead of rows,
    which costs nothing measurable (3 µs per decoded token).

    For decoding, the head may read a frozen lower-precision copy (use_head_copy): at vocab
    32000 the fp32 head streams 37 MB per token from memory, a bfloat16 copy half of that
    (measured 279 vs 245 tok/s for the 15M shape). The copy is dropped when the module goes
    back to training, so it can never serve stale weights to a gradient step.
    """

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(dim, vocab_size))
        nn.init.normal_(self.weight, mean=0.0, std=0.02)
        self.head_copy: torch.Tensor | None = None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.weight.t()[tokens]

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        if self.head_copy is not None:
            return (h.to(self.head_copy.dtype) @ self.head_copy).to(h.dtype)
        return h @ self.weight

    def use_head_copy(self, dtype: torch.dtype | None) -> None:
        """Compute logits with a frozen copy of the weight in dtype (None: the weight itself)."""
        if dtype is None or dtype == self.weight.dtype:
            self.head_copy = None
        else:
            self.head_copy = self.weight.detach().to(dtype).contiguous()

    def train(self, mode: bool = True):
        if mode:
            self.head_copy = None
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs):
        self.head_copy = None  # new weights: a copy of the old ones would be stale
        super()._load_from_state_dict(*args, **kwargs)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The fused op is one kernel instead of five; at this size per-op overhead dominates.
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)


def rope_tables(head_dim: int, max_len: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables, each [max_len, head_dim // 2]."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(max_len, dtype=torch.float64), inv_freq)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x_i, x_{i+half}) of the last dim; cos/sin broadcast against x[..., :half].

    The split-halves layout (as in GPT-NeoX) needs no complex views of strided tensors.
    """
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    start_pos: int,
    *,
    dropout: float = 0.0,
    return_weights: bool = False,
    mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Causal attention of q [B,H,T,d] at positions start_pos.. over k, v [B,H,start_pos+T,d].

    `mask` (bool [B,1,T,S], True = may attend) replaces the causal mask when given.
    Returns the output [B,H,T,d] and, on request, the attention weights [B,H,T,S]
    (computed explicitly, since scaled_dot_product_attention does not expose them).
    """
    t, s = q.shape[-2], k.shape[-2]
    if return_weights:
        scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
        if mask is None:
            mask = torch.ones(t, s, dtype=torch.bool, device=q.device).tril(diagonal=start_pos)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return weights @ v, weights
    if mask is not None:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout), None
    if t == 1:  # one new token sees everything before it: no mask at all
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout), None
    if start_pos == 0:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True), None
    mask = torch.ones(t, s, dtype=torch.bool, device=q.device).tril(diagonal=start_pos)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout), None


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with rotary positions and an optional KV cache slot."""

    def __init__(self, dim: int, n_heads: int, head_dim: int, dropout: float = 0.0):
        super().__init__()
        self.n_heads, self.head_dim, self.dropout = n_heads, head_dim, dropout
        # q, k and v in one matmul: fewer kernel launches per decoded token.
        self.wqkv = Linear(dim, 3 * n_heads * head_dim)
        self.wo = Linear(n_heads * head_dim, dim)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        start_pos: int = 0,
        cache_k: torch.Tensor | None = None,
        cache_v: torch.Tensor | None = None,
        return_weights: bool = False,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, t, _ = x.shape
        qkv = self.wqkv(x).view(b, t, 3, self.n_heads, self.head_dim)
        # Rotate q and k together; cos/sin are [T, half] → broadcast as [T, 1, 1, half].
        qk = apply_rope(qkv[:, :, :2], cos[:, None, None, :], sin[:, None, None, :])
        q, k = qk.transpose(1, 3).unbind(2)  # [B, H, T, d] each
        v = qkv[:, :, 2].transpose(1, 2)
        if cache_k is not None:
            end = start_pos + t
            cache_k[:, :, start_pos:end] = k
            cache_v[:, :, start_pos:end] = v
            k, v = cache_k[:, :, :end], cache_v[:, :, :end]
        dropout = self.dropout if self.training else 0.0
        out, weights = attend(q, k, v, start_pos, dropout=dropout, return_weights=return_weights,
                              mask=mask)
        out = out.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim)
        return self.wo(out), weights
