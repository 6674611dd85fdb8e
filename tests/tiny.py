"""Small real models for tests: a tokenizer trained on tests/data and tiny tribal transformers.

Nothing here is mocked: the tokenizer is a real SentencePiece model, the transformer a real
TribalTransformer, trained for a few seconds where a test needs learned behaviour.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from companion.model import ModelConfig, TribalTransformer
from companion.model.checkpoint import save_checkpoint
from companion.text import ChatTurn, Role, Tokenizer, render_chat
from companion.tribes import Tribe

DATA = Path(__file__).parent / "data"


def sample_texts() -> list[str]:
    return (DATA / "sample_corpus.txt").read_text(encoding="utf-8").splitlines()


def train_tokenizer(vocab_size: int = 512) -> Tokenizer:
    return Tokenizer.train(sample_texts(), vocab_size=vocab_size)


def tiny_config(tokenizer: Tokenizer, **overrides) -> ModelConfig:
    base = dict(vocab_size=tokenizer.vocab_size, dim=64, n_layers=2, n_heads=4, tribe_dim=12,
                detector_dim=16, max_seq_len=128)
    base.update(overrides)
    return ModelConfig(**base)


# Three short chats, one per tribe; a tiny model memorises them within a few hundred steps.
MEMORISED_CHATS: list[tuple[str, str, Tribe]] = [
    ("Mi-e dor de mare.", "Și marea te așteaptă, cu valuri calde.", Tribe.SORA),
    # Lumin's answer is one Whisper base hears from every Piper synthesis (the voice adds noise,
    # so each differs): 0 of 90 misheard; "It is late. Get some sleep." was misheard 7 of 30
    # ("It is light, it's some sleep."), which made the spoken-reply checks fail ~10 % in CI.
    ("What time is it?", "It is almost midnight. Time to rest.", Tribe.LUMIN),
    ("Ce este un procesor?", "Un procesor execută instrucțiuni.", Tribe.NOVA),
]


def chat_example(tokenizer: Tokenizer, user: str, reply: str, tribe: Tribe) -> tuple[list[int], list[int]]:
    """(ids, tribe label per position) of one user turn and the tribe's reply."""
    ids = render_chat(
        tokenizer,
        [ChatTurn(Role.USER, user), ChatTurn(Role.ASSISTANT, reply, tribe=tribe)],
        add_generation_prompt=False,
    )
    return ids, [tribe.index] * len(ids)


def train_memorised(tokenizer: Tokenizer, steps: int = 300, seed: int = 0) -> TribalTransformer:
    """Train a tiny model until it reproduces MEMORISED_CHATS and their tribes (a few seconds)."""
    torch.manual_seed(seed)
    model = TribalTransformer(tiny_config(tokenizer))
    examples = [chat_example(tokenizer, *c) for c in MEMORISED_CHATS]
    width = max(len(ids) for ids, _ in examples)
    pad = tokenizer.pad_id
    tokens = torch.full((len(examples), width), pad, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    for row, (ids, tribes) in enumerate(examples):
        tokens[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(ids)] = torch.tensor(tribes)
    inputs, targets = tokens[:, :-1], tokens[:, 1:].masked_fill(tokens[:, 1:] == pad, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        out = model(inputs)
        loss = F.cross_entropy(out.logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        loss = loss + F.cross_entropy(out.alpha_logits.flatten(0, 1), labels[:, :-1].flatten(), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def save_tiny(folder: Path, model: TribalTransformer, tokenizer: Tokenizer) -> Path:
    return save_checkpoint(model, tokenizer, folder, metadata={"purpose": "test"})
