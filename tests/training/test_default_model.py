"""The shipped default model (models/default): it loads, verifies, and still meets the bar.

A regression guard for what the model card claims and issue 3 asks: α picks the tribe of at
least 95 % of the held-out user turns, and at least 97 % of the words in replies sampled as the
app samples them (with the word guard) are real. Without the guard the network alone spells
about 95 % real words (the card says it); that figure is held to 0.90 here so a model that
learnt to spell worse does not hide behind the guard.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.training.corpus import read_jsonl

DEFAULT = Path(__file__).resolve().parents[2] / "models" / "default"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generator():
    from companion.model.generate import TorchGenerator

    if not (DEFAULT / "manifest.json").is_file():
        pytest.fail("models/default is missing: the app ships a trained model (MODEL_CARD.md says how "
                    "to reproduce it)")
    return TorchGenerator.load(DEFAULT)  # verifies every file against the manifest


def test_the_default_model_picks_tribes_and_speaks_real_words(generator):
    from companion.training.evaluate import evaluate_model

    heldout = read_jsonl(DEFAULT / "heldout.jsonl")
    assert not heldout.problems
    vocabulary = (DEFAULT / "vocabulary.txt").read_text(encoding="utf-8").split()
    report = evaluate_model(generator, heldout.records, vocabulary=vocabulary, samples_per_tribe=4)
    print(f"\nα accuracy {report.alpha_accuracy} {report.alpha_accuracy_per_tribe}; "
          f"real-word ratio {report.real_word_ratio} {report.real_word_ratio_per_tribe}, "
          f"without the guard {report.real_word_ratio_unguarded}")
    assert report.alpha_accuracy >= 0.95
    assert report.real_word_ratio >= 0.97
    assert report.real_word_ratio_unguarded >= 0.90
    assert set(report.heldout_loss) == {"nova", "sora", "lumin"}


def test_the_default_models_knowledge_leaves_its_heldout_out_and_keeps_the_bar(generator):
    """As the app answers: the knowledge in the system turn and copying on. α still picks the
    tribe (the detector judges the user's turn), and no held-out question finds its own answer."""
    from companion.memory.knowledge import Knowledge
    from companion.training.augment import exchange_of
    from companion.training.evaluate import evaluate_model

    knowledge = Knowledge.in_folder(DEFAULT)
    assert knowledge is not None and len(knowledge) > 8000
    heldout = read_jsonl(DEFAULT / "heldout.jsonl").records
    assert not {exchange_of(r) for r in heldout} & set(knowledge.exchanges)
    vocabulary = (DEFAULT / "vocabulary.txt").read_text(encoding="utf-8").split()
    report = evaluate_model(generator, heldout, vocabulary=vocabulary, samples_per_tribe=3, knowledge=knowledge)
    assert report.alpha_accuracy >= 0.95
    assert report.real_word_ratio >= 0.97
    assert sum(bool(s.memories) for s in report.samples) >= 6  # most prompts were shown memories


def test_the_model_card_matches_the_shipped_folder():
    card = (DEFAULT / "MODEL_CARD.md").read_text(encoding="utf-8")
    for needed in ("α accuracy", "real-word ratio", "held-out loss per tribe", "Sample replies",
                   "companion train", "parameters"):
        assert needed in card, needed


def test_a_romanian_question_after_an_english_exchange_gets_a_romanian_persona(generator):
    """α judges each exchange (detector_reset_id): with the whole context in view, one English
    exchange made α choose Lumin for every Romanian question after it."""
    from companion.text.template import ChatTurn, Role

    english = [ChatTurn(Role.USER, "What should I cook tonight?"),
               ChatTurn(Role.ASSISTANT, "Try a simple pasta with garlic and olive oil.")]
    for question, tribe in [("Cum funcționează un router?", "nova"), ("Mi-e dor de casă.", "sora")]:
        alpha = generator.reply_alpha([*english, ChatTurn(Role.USER, question)])
        assert alpha.dominant().value == tribe, (question, alpha)


def test_the_default_companion_answers_what_it_knows_and_says_when_it_does_not(tmp_path):
    """As the app answers (Companion, the app's sampling): a question its knowledge holds,
    reworded and typed without diacritics, gets that answer; a held-out question whose nearest
    exchange shares only words gets NOVA's "I do not know", copied whole, and says so."""
    from companion.companion import Companion, CompanionConfig
    from companion.generation import SamplingConfig
    from companion.memory.unsure import UNSURE

    companion = Companion.load(DEFAULT, tmp_path / "c.sqlite3", CompanionConfig(sampling=SamplingConfig(seed=5)))
    try:
        known = list(companion.respond("de ce e apa marii sarata?"))[-1]  # "De ce e apa mării sărată?"
        assert not known.unsure and known.tribe.value == "nova"
        assert known.reply.text.startswith("Apa mării e sărată pentru că râurile aduc")
        # Held out (never in the knowledge); its nearest answer is on cleaning silver ("atingă").
        far = list(companion.respond("Cum îmi stabilesc obiective pe care chiar să le ating?"))[-1]
        assert far.unsure and far.knowledge == () and far.tribe.value == "nova"
        assert far.reply.text in UNSURE["nova"]
    finally:
        companion.store.close()
