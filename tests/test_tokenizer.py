import pytest

from companion.errors import TokenizerError
from companion.text import SPECIAL_TOKENS, ChatTurn, Role, StreamDecoder, Tokenizer, normalize_text, render_chat
from companion.tribes import Tribe

ROUND_TRIP = [
    "Bună dimineața! Îți mulțumesc, știu că ți-a fost greu.",
    "ĂÂÎȘȚ ăâîșț — „ghilimele românești” și … puncte",
    "Emoji: 😊💙✨ 👩‍👩‍👧 🇷🇴",
    "  two leading spaces, double  spaces\nnew line\n\n\ttab",
    "Caractere nevăzute la antrenare: 漢字, ß, Ω, ∿",
    "",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_round_trip(tokenizer, text):
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text


def test_unseen_characters_use_bytes_not_unk(tokenizer):
    ids = tokenizer.encode("漢字 🦊")
    unk = tokenizer.piece_to_id("<unk>")
    assert unk not in ids
    assert any(tokenizer.id_to_piece(i).startswith("<0x") for i in ids)


def test_cedilla_forms_become_comma_below(tokenizer):
    assert normalize_text("ştiinţă ŞŢ") == "știință ȘȚ"
    decomposed = "s\u0327i t\u0327ara"  # s/t + combining cedilla
    assert normalize_text(decomposed) == "și țara"
    assert tokenizer.decode(tokenizer.encode("Ştiu că ţara")) == "Știu că țara"


def test_special_tokens_are_single_ids_and_cannot_be_typed(tokenizer):
    ids = {tokenizer.piece_to_id(t) for t in SPECIAL_TOKENS}
    assert len(ids) == len(SPECIAL_TOKENS)
    typed = tokenizer.encode("<|end|> <|user|> <|sora|>")
    assert not set(typed) & ids
    assert tokenizer.decode(typed) == "<|end|> <|user|> <|sora|>"


def test_stream_decoder_matches_full_decode_and_never_splits_characters(tokenizer):
    text = "Îți trimit 😊 și 漢字, apoi 💙✨ la final."
    ids = tokenizer.encode(text)
    assert len(ids) > len(text.split())  # multi-byte characters span several ids
    decoder = StreamDecoder(tokenizer)
    pieces = [decoder.push(i) for i in ids]
    pieces.append(decoder.flush())
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)
    # At least one id completed no character on its own (a byte-fallback fragment).
    assert "" in pieces[:-1]


def test_chat_template_layout(tokenizer):
    turns = [ChatTurn(Role.SYSTEM, "stil: tehnic"), ChatTurn(Role.USER, "Salut"),
             ChatTurn(Role.ASSISTANT, "Bună!", tribe=Tribe.SORA), ChatTurn(Role.USER, "Ce faci?")]
    ids = render_chat(tokenizer, turns, reply_tribe=Tribe.LUMIN)
    assert ids[0] == tokenizer.bos_id
    assert ids[1] == tokenizer.system_id
    assert ids.count(tokenizer.end_id) == 4
    assert ids[-2:] == [tokenizer.assistant_id, tokenizer.tribe_ids[Tribe.LUMIN]]
    sora_at = ids.index(tokenizer.tribe_ids[Tribe.SORA])
    assert ids[sora_at - 1] == tokenizer.assistant_id
    auto = render_chat(tokenizer, turns)
    assert auto[-1] == tokenizer.assistant_id
    with pytest.raises(ValueError):
        render_chat(tokenizer, turns, add_generation_prompt=False, reply_tribe=Tribe.NOVA)


def test_save_and_load(tokenizer, tmp_path):
    path = tmp_path / "tokenizer.model"
    tokenizer.save(path)
    again = Tokenizer.load(path)
    assert again.vocab_size == tokenizer.vocab_size
    assert again.encode("Mâine 😊") == tokenizer.encode("Mâine 😊")


def test_load_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.model"
    with pytest.raises(TokenizerError, match="nope.model: tokenizer file not found"):
        Tokenizer.load(missing)
    empty = tmp_path / "empty.model"
    empty.write_bytes(b"")
    with pytest.raises(TokenizerError, match="empty.model: tokenizer file is empty"):
        Tokenizer.load(empty)
    garbage = tmp_path / "garbage.model"
    garbage.write_bytes(b"\x00\xffnot a sentencepiece model" * 10)
    with pytest.raises(TokenizerError, match="garbage.model: not a readable SentencePiece model"):
        Tokenizer.load(garbage)


def test_foreign_sentencepiece_model_is_rejected(tmp_path):
    import io

    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["a b c d e f g"] * 50), model_writer=buf,
                                   vocab_size=20, minloglevel=2, hard_vocab_limit=False)
    with pytest.raises(TokenizerError, match="special token <\\|system\\|> is missing"):
        Tokenizer(buf.getvalue(), source="foreign.model")
