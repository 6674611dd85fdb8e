"""NOVA companion: a private, offline voice companion with its own tribal transformer."""

from companion.errors import CompanionError
from companion.tribes import Alpha, Tribe, VoicePolicy

__version__ = "0.1.0"

__all__ = ["Alpha", "CompanionError", "Tribe", "VoicePolicy", "__version__"]
