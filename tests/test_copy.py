"""Copying from the model's knowledge: the copy distribution and its mix into decoding."""

import pytest
import torch

from companion.generation import SamplingConfig
from companion.model.copy import Copier
from companion.model.generate import TorchGenerator
from companion.text.template import ChatTurn, Role


def test_the_longest_matching_suffix_decides_what_may_follow():
    copier = Copier([[1, 2, 3, 4], [1, 2, 5], []], weight=0.5)
    assert copier.counts([]) == ({1: 2}, 0)  # the reply starts: the sources' first tokens
    assert copier.counts([9, 1, 2]) == ({3: 1, 5: 1}, 2)
    assert copier.counts([9, 3]) == ({4: 1}, 1)
    assert copier.counts([7]) == ({}, 0)
    # A reply that is so far a source's beginning continues it, whatever else matches.
    assert copier.counts([1]) == ({2: 2}, 1) and copier.anchored
    assert copier.counts([1, 2, 3]) == ({4: 1}, 3) and copier.anchored
    assert copier.counts([9, 3]) == ({4: 1}, 1) and not copier.anchored


def test_a_copied_position_is_not_offered_again_so_a_phrase_cannot_loop():
    copier = Copier([[1, 2, 1, 2, 3]], weight=0.5)
    assert copier.counts([9, 1]) == ({2: 2}, 1)  # the reply began elsewhere (9): every match
    copier.took(2)
    assert copier.counts([9, 1, 2]) == ({1: 1, 3: 1}, 2)
    copier.took(3)
    assert copier.counts([9, 2, 3]) == ({}, 0)
    assert copier.counts([9, 1]) == ({}, 0)  # both 2s were used
    assert copier.counts([1]) == ({}, 0)  # so was the continuation of the source's start


def test_the_mix_is_a_distribution_with_the_copy_share_given():
    logits = torch.zeros(6)
    mixed = Copier([[4, 5]], weight=0.6).mix(logits, [])  # start: the copy offers 4 alone
    p = mixed.exp()
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-5)
    assert float(p[4]) == pytest.approx(0.4 / 6 + 0.6, abs=1e-5)
    assert float(p[0]) == pytest.approx(0.4 / 6, abs=1e-5)
    half = Copier([[3, 4, 5]], weight=0.6).mix(logits, [4]).exp()  # a one-token match: λ halved
    assert float(half[5]) == pytest.approx(0.7 / 6 + 0.3, abs=1e-5)
    # The same token as the reply's first, where the source begins: no chance match, λ whole.
    anchored = Copier([[4, 5]], weight=0.6).mix(logits, [4]).exp()
    assert float(anchored[5]) == pytest.approx(0.4 / 6 + 0.6, abs=1e-5)
    assert torch.equal(Copier([[4, 5]], weight=0.6).mix(logits, [3]), logits)  # nothing matches


def test_the_generator_copies_a_memorys_reply_it_never_learnt(memorised_model_dir):
    gen = TorchGenerator.load(memorised_model_dir)
    memory = "Marea cade încet peste oraș."
    turns = [ChatTurn(Role.SYSTEM, f"Amintiri / Memories:\n• Plouă? → {memory}"), ChatTurn(Role.USER, "Mi-e dor de mare.")]
    greedy = SamplingConfig(temperature=0, max_tokens=24, question_weight=0)
    pieces = list(gen.chat(turns, greedy.with_(copy_weight=0.95)))
    alone = "".join(p.text for p in gen.chat(turns, greedy.with_(copy_weight=0))).strip()
    # The reply continues the memory from its first token to its end (a one-token match at
    # the start is no chance match), and ends there: the memory was shown whole.
    assert "".join(p.text for p in pieces).strip() == memory
    assert pieces[-1].stop_reason == "end_of_turn"
    assert "încet peste oraș" not in alone


def test_only_the_answers_of_the_tribe_that_speaks_are_copied(memorised_model_dir):
    from companion.tribes import Tribe

    gen = TorchGenerator.load(memorised_model_dir)
    system = ("Amintiri / Memories:\n• Plouă? → NOVA: Marea are doi milimetri pe oră.\n"
              "• Plouă? → Sora: Marea cade încet peste oraș.")
    turns = [ChatTurn(Role.SYSTEM, system), ChatTurn(Role.USER, "Mi-e dor de mare.")]
    greedy = SamplingConfig(temperature=0, max_tokens=24, question_weight=0, copy_weight=0.95)
    as_sora = "".join(p.text for p in gen.chat(turns, greedy, reply_tribe=Tribe.SORA))
    as_nova = "".join(p.text for p in gen.chat(turns, greedy, reply_tribe=Tribe.NOVA))
    assert "cade încet peste oraș" in as_sora and "milimetri" not in as_sora
    assert "milimetri pe oră" in as_nova and "cade încet" not in as_nova
    # Without a lock α picks the tribe (Sora, for this memorised question) and its answer is copied.
    by_alpha = list(gen.chat(turns, greedy))
    assert "cade încet peste oraș" in "".join(p.text for p in by_alpha)


def test_a_longer_match_copies_more_surely():
    """λ grows with the match: a copy under way does not stray at the app's temperature."""
    copier = Copier([[1, 2, 3, 4, 5, 6]], weight=0.85)
    shares = []
    for reply in ([], [9, 1], [9, 1, 2], [9, 1, 2, 3], [9, 1, 2, 3, 4], [1]):
        _, n = copier.counts(reply)
        shares.append(round(copier.share(n), 4))
    # start, one token by chance, two, three, four (the most), a source's own beginning
    assert shares == [0.85, 0.425, 0.85, round(1 - 0.15 ** 1.5, 4), round(1 - 0.15 ** 2, 4), 0.85]
