"""Corpus, knowledge shards and the training loop (torch lives here and in companion.model)."""
