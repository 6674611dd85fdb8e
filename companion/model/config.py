"""ModelConfig: the shape of a tribal transformer, stored as JSON beside its weights."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 4096
    dim: int = 288
    n_layers: int = 6
    n_heads: int = 6
    max_seq_len: int = 512
    hidden_dim: int | None = None  # SwiGLU width; None → llama rule (8/3·dim, rounded up)
    multiple_of: int = 32
    tribe_dim: int = 48  # width of each of the Sora and Lumin parts; core = dim − 2·tribe_dim
    detector_dim: int = 64  # width of the context detector's attention
    resonance_boost: float = 0.3  # seed: a dominant tribe's part is boosted by up to +30 %
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    dropout: float = 0.0
    # The token (the tokenizer's <|user|>) where the context detector starts afresh: α judges
    # each exchange (a user turn and its reply) on its own, so an English exchange earlier in
    # the context does not decide the persona for a Romanian question. None: the whole prefix
    # (models trained before this field).
    detector_reset_id: int | None = None

    def __post_init__(self):
        problems = []
        if self.vocab_size < 16:
            problems.append(f"vocab_size={self.vocab_size} is too small")
        if self.dim % self.n_heads:
            problems.append(f"dim={self.dim} is not divisible by n_heads={self.n_heads}")
        elif (self.dim // self.n_heads) % 2:
            problems.append("dim / n_heads must be even for rotary embeddings")
        if self.detector_dim % 2:
            problems.append("detector_dim must be even for rotary embeddings")
        if not 0 < 2 * self.tribe_dim < self.dim:
            problems.append(f"2·tribe_dim={2 * self.tribe_dim} must be between 0 and dim={self.dim}")
        if self.detector_reset_id is not None and not 0 <= self.detector_reset_id < self.vocab_size:
            problems.append(f"detector_reset_id={self.detector_reset_id} is not a token id")
        if self.n_layers < 1 or self.max_seq_len < 2:
            problems.append("n_layers must be >= 1 and max_seq_len >= 2")
        if problems:
            raise ValueError("invalid model config: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def core_dim(self) -> int:
        return self.dim - 2 * self.tribe_dim

    @property
    def ffn_dim(self) -> int:
        if self.hidden_dim is not None:
            return self.hidden_dim
        hidden = int(2 * (4 * self.dim) / 3)
        return self.multiple_of * ((hidden + self.multiple_of - 1) // self.multiple_of)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Build from JSON data; unknown keys are an error (a config from another program)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**data)


PRESETS: dict[str, ModelConfig] = {
    # Small enough to train in minutes on a 2-core CPU; used by tests and quick experiments.
    "tiny": ModelConfig(dim=64, n_layers=2, n_heads=4, tribe_dim=12, detector_dim=16, max_seq_len=256),
    # llama2.c "stories15M"-like shape; the default companion size.
    "small": ModelConfig(dim=288, n_layers=6, n_heads=6, tribe_dim=48, detector_dim=64, max_seq_len=512),
    "base": ModelConfig(dim=512, n_layers=8, n_heads=8, tribe_dim=64, detector_dim=64, max_seq_len=1024),
}
