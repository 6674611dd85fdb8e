"""SentencePiece tokenizer with byte fallback and the companion's special tokens."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

from companion.errors import TokenizerError
from companion.text.normalize import normalize_text
from companion.tribes import TRIBE_ORDER, Tribe

# Control symbols are never produced by encoding text, so a user typing "<|end|>" cannot
# forge a turn boundary; they are inserted by id through the chat template only.
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|nova|>",
    "<|sora|>",
    "<|lumin|>",
    "<|end|>",
)
PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
DEFAULT_VOCAB_SIZE = 4096


class Tokenizer:
    """Wraps a SentencePiece model; every text is normalised (NFC, comma-below ș ț) first."""

    def __init__(self, model_proto: bytes, source: str = "<memory>"):
        self.source = source
        self._proto = model_proto
        self._sp = spm.SentencePieceProcessor()
        try:
            self._sp.LoadFromSerializedProto(model_proto)
        except Exception as exc:  # sentencepiece raises RuntimeError/OSError with C++ text
            raise TokenizerError(
                f"{source}: not a readable SentencePiece model ({exc}). "
                "Replace the file with the tokenizer.model the model was trained with."
            ) from None
        ids = {}
        for piece in SPECIAL_TOKENS + (PAD, BOS):
            pid = self._sp.PieceToId(piece)
            if self._sp.IdToPiece(pid) != piece:
                raise TokenizerError(
                    f"{source}: special token {piece} is missing; this tokenizer was not trained "
                    "by NOVA companion. Use the tokenizer.model that belongs to the model folder."
                )
            ids[piece] = pid
        self.pad_id = ids[PAD]
        self.bos_id = ids[BOS]
        self.system_id = ids["<|system|>"]
        self.user_id = ids["<|user|>"]
        self.assistant_id = ids["<|assistant|>"]
        self.end_id = ids["<|end|>"]
        self.tribe_ids: dict[Tribe, int] = {t: ids[f"<|{t.value}|>"] for t in TRIBE_ORDER}
        self.special_ids = frozenset(ids.values()) | {self._sp.unk_id(), self._sp.eos_id()}

    # -- construction -------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        """Load a tokenizer.model file."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise TokenizerError(f"{path}: tokenizer file not found.") from None
        except OSError as exc:
            raise TokenizerError(f"{path}: cannot read tokenizer ({exc.strerror}).") from None
        if not data:
            raise TokenizerError(f"{path}: tokenizer file is empty; restore it from the model folder.")
        return cls(data, source=str(path))

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = DEFAULT_VOCAB_SIZE,
        *,
        max_sentences: int = 2_000_000,
        threads: int = 2,
    ) -> Tokenizer:
        """Train a BPE SentencePiece model on texts (each text is split into lines).

        byte_fallback makes every input encodable (unknown characters become UTF-8 byte
        pieces); identity normalisation plus our own normalize_text keeps decode(encode(x))
        equal to normalize_text(x), whitespace included.
        """

        def lines() -> Iterable[str]:
            for text in texts:
                for line in normalize_text(text).splitlines():
                    if line.strip():
                        yield line

        buffer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines()),
                model_writer=buffer,
                vocab_size=vocab_size,
                model_type="bpe",
                byte_fallback=True,
                character_coverage=0.9995,
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                split_digits=True,
                allow_whitespace_only_pieces=True,
                unk_id=0,
                bos_id=1,
                eos_id=2,
                pad_id=3,
                control_symbols=list(SPECIAL_TOKENS),
                user_defined_symbols=["\n"],
                input_sentence_size=max_sentences,
                shuffle_input_sentence=True,
                hard_vocab_limit=False,
                num_threads=threads,
                minloglevel=2,
            )
        except RuntimeError as exc:
            raise TokenizerError(f"tokenizer training failed: {exc}") from None
        return cls(buffer.getvalue(), source="<trained>")

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self._proto)

    @property
    def model_proto(self) -> bytes:
        return self._proto

    # -- use ----------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self._sp.GetPieceSize()

    def encode(self, text: str) -> list[int]:
        """Text → ids. Special-token strings inside text stay plain text."""
        return self._sp.EncodeAsIds(normalize_text(text))

    def decode(self, ids: Sequence[int]) -> str:
        """Ids → text; special tokens decode to nothing, incomplete UTF-8 to U+FFFD."""
        return self._sp.DecodeIds([int(i) for i in ids])

    def id_to_piece(self, token_id: int) -> str:
        return self._sp.IdToPiece(int(token_id))

    def piece_to_id(self, piece: str) -> int:
        return self._sp.PieceToId(piece)


class StreamDecoder:
    """Turns ids arriving one by one into text pieces that are never split mid-character.

    Decoding one id at a time is wrong for SentencePiece: byte-fallback pieces of one
    character arrive separately, and a piece's leading "▁" depends on what comes before
    (the Arianna seed's NumPy decode bug). So we decode a short window of accumulated ids
    and emit only the new suffix once it no longer ends in an incomplete character.
    """

    # Ids kept before the read point so the window decodes with the right leading space.
    CONTEXT = 6

    def __init__(self, tokenizer: Tokenizer):
        self._tok = tokenizer
        self._ids: list[int] = []
        self._prefix_offset = 0  # start of the decoding window
        self._read_offset = 0  # ids before this were already emitted

    def push(self, token_id: int) -> str:
        """Add one id; return the text it completes ("" while a character is incomplete)."""
        self._ids.append(int(token_id))
        prefix_text = self._tok.decode(self._ids[self._prefix_offset : self._read_offset])
        full_text = self._tok.decode(self._ids[self._prefix_offset :])
        if full_text.endswith("\ufffd") or len(full_text) <= len(prefix_text):
            return ""
        if not full_text.startswith(prefix_text):
            # Only happens when the window start changes the decoding; re-anchor safely.
            prefix_text = ""
        new_text = full_text[len(prefix_text) :]
        self._read_offset = len(self._ids)
        self._prefix_offset = max(0, self._read_offset - self.CONTEXT)
        return new_text

    def flush(self) -> str:
        """Text of any trailing ids that never completed a character (as U+FFFD)."""
        prefix_text = self._tok.decode(self._ids[self._prefix_offset : self._read_offset])
        full_text = self._tok.decode(self._ids[self._prefix_offset :])
        self._read_offset = len(self._ids)
        return full_text[len(prefix_text) :] if full_text.startswith(prefix_text) else ""
