"""The tribal transformer (torch lives here and in companion.training only)."""

from companion.model.config import PRESETS, ModelConfig
from companion.model.transformer import KVCache, ModelOutput, TribalTransformer

__all__ = ["PRESETS", "KVCache", "ModelConfig", "ModelOutput", "TribalTransformer"]
