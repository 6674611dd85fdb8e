"""The word guard: a sampled token may not finish or begin a word nobody wrote."""

from pathlib import Path

import pytest
import torch

import tiny
from companion.generation import SamplingConfig
from companion.model import TribalTransformer
from companion.model.generate import TorchGenerator, read_vocabulary, sample_next
from companion.text import ChatTurn, Role
from companion.text.words import WORD, Lexicon, WordGuard, token_surfaces

DEFAULT = Path(__file__).resolve().parents[1] / "models" / "default"


@pytest.fixture(scope="module")
def default_tokenizer():
    from companion.text.tokenizer import Tokenizer

    return Tokenizer.load(DEFAULT / "tokenizer.model")


def verdicts(tokenizer, lexicon, text):
    guard = WordGuard(token_surfaces(tokenizer), lexicon)
    out = []
    for token in tokenizer.encode(text):
        out.append((tokenizer.id_to_piece(token), guard.allows(token)))
        guard.push(token)
    return out, guard


def test_known_words_pass_and_invented_ones_are_stopped_where_they_go_wrong(default_tokenizer):
    lexicon = Lexicon(["este", "o", "emisie", "rapidă", "pentru", "mai", "lung", "s-a", "dus", "într-un", "oraș"])
    ok, guard = verdicts(default_tokenizer, lexicon, "Este o emisie rapidă. S-a dus într-un oraș mai lung.")
    assert all(allowed for _, allowed in ok) and guard.allows_end()
    bad, guard = verdicts(default_tokenizer, lexicon, "Este o emisămare rapidă, pentruul.")
    refused = [piece for piece, allowed in bad if not allowed]
    assert refused, bad
    # "pentru" is fine; the piece that turns it into "pentruul" is not.
    pieces = [p for p, _ in bad]
    assert ("ul", False) in bad or any(p.endswith("ul") and not a for p, a in bad), pieces


def test_a_reply_may_not_end_inside_an_unknown_word(default_tokenizer):
    lexicon = Lexicon(["mare"])
    guard = WordGuard(token_surfaces(default_tokenizer), lexicon)
    for token in default_tokenizer.encode("mare"):
        guard.push(token)
    assert guard.allows_end()
    guard = WordGuard(token_surfaces(default_tokenizer), lexicon)
    guard.push(default_tokenizer.encode("mar")[0])
    assert guard.partial == "mar" and not guard.allows_end()


def test_byte_pieces_must_spell_whole_characters(tokenizer):
    surfaces = token_surfaces(tokenizer)
    lead = next(i for i, s in enumerate(surfaces) if s == 0xC8)
    tail = next(i for i, s in enumerate(surfaces) if s == 0x99)
    guard = WordGuard(surfaces, Lexicon(["a", "și"]))
    assert not guard.allows(tail)  # a continuation byte with nothing to continue
    assert guard.allows(lead)
    guard.push(lead)
    assert not guard.allows(tokenizer.encode("a")[0]) and not guard.allows_end()  # "ș" is half written
    assert guard.allows(tail)
    guard.push(tail)
    assert guard.pending == b"" and guard.partial == "ș"
    assert not guard.allows_end()  # "ș" only begins a known word
    guard = WordGuard(surfaces, Lexicon(["ș"]))
    guard.push(lead)
    guard.push(tail)
    assert guard.partial == "ș" and guard.allows_end()
    ascii_y = next(i for i, s in enumerate(surfaces) if s == ord("y"))  # a byte piece read as its letter
    assert not WordGuard(surfaces, Lexicon(["a"])).allows(ascii_y)
    assert WordGuard(surfaces, Lexicon(["ya"])).allows(ascii_y)


def test_the_conversation_words_count_as_known():
    extra = Lexicon()
    extra.add_text("Mă cheamă Bogdănel și locuiesc în Tecuci.")
    assert {"bogdănel", "tecuci"} <= extra.words and "bogdă" in extra.prefixes
    assert WORD.findall("într-un s-a don't") == ["într-un", "s-a", "don't"]


def test_sampling_redraws_a_refused_token_and_falls_back_to_the_likeliest_accepted():
    logits = torch.tensor([5.0, 4.0, 3.0, -10.0])
    sampling = SamplingConfig(temperature=1.0, top_k=2, top_p=None)
    rng = torch.Generator().manual_seed(0)
    history = torch.zeros(0, dtype=torch.long)
    picks = {sample_next(logits, history, sampling, rng, accept=lambda t: t != 0) for _ in range(50)}
    assert picks == {1}  # token 0 is refused every time, its top-k neighbour is taken
    # Nothing top-k allows is acceptable: the likeliest acceptable token of the whole vocabulary.
    assert sample_next(logits, history, sampling, rng, accept=lambda t: t == 3) == 3
    greedy = SamplingConfig(temperature=0)
    assert sample_next(logits, history, greedy, rng, accept=lambda t: t >= 2) == 2


def test_generation_with_a_vocabulary_spells_only_its_words(tmp_path, tokenizer):
    torch.manual_seed(0)
    model = TribalTransformer(tiny.tiny_config(tokenizer))
    folder = tiny.save_tiny(tmp_path / "m", model, tokenizer)
    words = ["marea", "valuri", "calde", "te", "așteaptă", "și"]
    (folder / "vocabulary.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    guarded = TorchGenerator.load(folder)
    assert guarded.lexicon is not None and len(guarded.lexicon) == len(words)
    prompt = [ChatTurn(Role.USER, "Bună, Ilinca!")]
    free_words, kept_words = [], []
    for seed in range(6):
        for guard, sink in ((False, free_words), (True, kept_words)):
            pieces = list(guarded.chat(prompt, SamplingConfig(max_tokens=40, seed=seed, word_guard=guard)))
            found = [w.casefold() for w in WORD.findall("".join(p.text for p in pieces))]
            if pieces[-1].stop_reason == "max_tokens":
                found = found[:-1]  # cut off by the token limit: a word may stop half written
            sink.extend(found)
    allowed = set(words) | {"bună", "ilinca"}  # the conversation's words count too
    assert kept_words and set(kept_words) <= allowed, set(kept_words) - allowed
    assert set(free_words) - allowed  # the random model invents words when it is free to


def test_a_missing_or_unreadable_vocabulary_only_turns_the_guard_off(tmp_path, random_model_dir):
    assert read_vocabulary(tmp_path) is None
    (tmp_path / "vocabulary.txt").write_bytes(b"\xff\xfe\xfa")
    assert read_vocabulary(tmp_path) is None
    assert TorchGenerator.load(random_model_dir).lexicon is None
