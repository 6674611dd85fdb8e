"""Shared fixtures: a real tokenizer and tiny real models (see tests/tiny.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import tiny  # noqa: E402


@pytest.fixture(scope="session")
def tokenizer():
    return tiny.train_tokenizer()


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory, tokenizer):
    """A randomly initialised tiny model folder (valid format, meaningless replies)."""
    import torch

    from companion.model import TribalTransformer

    torch.manual_seed(0)
    model = TribalTransformer(tiny.tiny_config(tokenizer))
    return tiny.save_tiny(tmp_path_factory.mktemp("random_model"), model, tokenizer)


@pytest.fixture(scope="session")
def memorised_model_dir(tmp_path_factory, tokenizer):
    """A tiny model trained to answer tiny.MEMORISED_CHATS with the right tribe."""
    model = tiny.train_memorised(tokenizer)
    return tiny.save_tiny(tmp_path_factory.mktemp("memorised_model"), model, tokenizer)
