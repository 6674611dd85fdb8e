"""Text: normalisation, the SentencePiece tokenizer, streaming decode and the chat template."""

from companion.text.normalize import normalize_text
from companion.text.template import ChatTurn, Role, render_chat
from companion.text.tokenizer import SPECIAL_TOKENS, StreamDecoder, Tokenizer

__all__ = [
    "SPECIAL_TOKENS",
    "ChatTurn",
    "Role",
    "StreamDecoder",
    "Tokenizer",
    "normalize_text",
    "render_chat",
]
