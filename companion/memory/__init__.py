"""Conversation memory: the endless session in SQLite (seed 003), its export and import."""

from companion.memory.records import (
    Episode,
    Feedback,
    KnowledgeBin,
    Message,
    SearchHit,
    Snapshot,
    StoreConfig,
    TurnMetrics,
)
from companion.memory.store import ConversationStore, default_db_path

__all__ = [
    "ConversationStore",
    "Episode",
    "Feedback",
    "KnowledgeBin",
    "Message",
    "SearchHit",
    "Snapshot",
    "StoreConfig",
    "TurnMetrics",
    "default_db_path",
]
