"""The Companion turn pipeline: store, context with retrieved memory, post-filter, voice.

A scripted generator (a real implementation of the Generator protocol that replays given
replies) makes the post-filter cases exact; the tiny random model checks the real path.
"""

from collections.abc import Iterator

import pytest

from companion.companion import (
    Companion,
    CompanionConfig,
    Notice,
    ReplyPiece,
    Retry,
    Sentence,
    TurnDone,
    UserStored,
    VoiceChosen,
)
from companion.generation import Piece, SamplingConfig
from companion.memory import ConversationStore, StoreConfig
from companion.memory.leo import Lexicon
from companion.text.template import Role
from companion.tribes import Alpha, Tribe

SORA = Alpha(0.05, 0.9, 0.05)


class ScriptedGenerator:
    """Replays one scripted reply per call, word by word; counts a token per 4 characters."""

    def __init__(self, replies, alpha=SORA, max_context=512):
        self.replies = list(replies)
        self.alpha = alpha
        self.max_context = max_context
        self.calls = []  # (turns, reply_tribe) of every call

    def count_tokens(self, text: str) -> int:
        return (len(text) + 3) // 4

    def reply_alpha(self, turns) -> Alpha:
        return self.alpha

    def chat(self, turns, sampling, reply_tribe=None) -> Iterator[Piece]:
        self.calls.append((list(turns), reply_tribe))
        prompt = sum(self.count_tokens(t.text) + 3 for t in turns) + 3
        assert prompt + sampling.max_tokens <= self.max_context, "context over budget"
        text = self.replies.pop(0)
        parts = text.split(" ")
        for i, part in enumerate(parts):
            yield Piece(part + (" " if i < len(parts) - 1 else ""), self.alpha, i + 1)
        yield Piece("", self.alpha, len(parts), done=True, stop_reason="end_of_turn")


def _events(companion, text):
    return list(companion.respond(text))


def _of(events, kind):
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture
def store(tmp_path):
    with ConversationStore.open(tmp_path / "m.db") as s:
        yield s


def test_a_turn_streams_sentences_picks_the_voice_and_stores_both(store):
    gen = ScriptedGenerator(["Marea e liniștită azi. Hai să mergem pe plajă!"])
    companion = Companion(gen, store, lexicon=Lexicon())
    events = _events(companion, "Cum e marea?")
    assert isinstance(events[0], UserStored)
    assert [s.text for s in _of(events, Sentence)] == ["Marea e liniștită azi.",
                                                        "Hai să mergem pe plajă!"]
    assert "".join(p.text for p in _of(events, ReplyPiece)) == \
        "Marea e liniștită azi. Hai să mergem pe plajă!"
    (voice,) = _of(events, VoiceChosen)
    assert voice.tribe is Tribe.SORA  # α_sora 0.9 > 0.7
    assert events.index(voice) < events.index(_of(events, Sentence)[0])  # voice before speech
    done = events[-1]
    assert isinstance(done, TurnDone) and done.metrics.tries == 1
    stored = store.recent(2)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].tribe is Tribe.SORA and stored[1].alpha == SORA
    metrics = store.metrics_for(stored[1].id)
    assert metrics.tokens == 9 and metrics.total_ms > 0 and metrics.entropy == pytest.approx(
        SORA.entropy(), abs=1e-4)


def test_a_degenerate_reply_is_resampled(store):
    gen = ScriptedGenerator(["da da da da da da da da da da da da.",
                             "Sigur, îți explic pe scurt cum merge."])
    events = _events(Companion(gen, store, lexicon=Lexicon()), "Explică-mi ceva.")
    (retry,) = _of(events, Retry)
    assert retry.attempt == 1 and retry.reason == "repetition"
    assert events[-1].reply.text == "Sigur, îți explic pe scurt cum merge."
    assert events[-1].metrics.tries == 2
    assert store.metrics_for(events[-1].reply.id).tries == 2
    # Nothing of the rejected try reached the listener.
    assert all("da da" not in p.text for p in _of(events, ReplyPiece))


def test_empty_then_good(store):
    gen = ScriptedGenerator(["", "Sunt aici."])
    events = _events(Companion(gen, store, lexicon=Lexicon()), "Ești acolo?")
    assert [r.reason for r in _of(events, Retry)] == ["empty"]
    assert events[-1].reply.text == "Sunt aici."


def test_a_reply_that_degenerates_later_is_cut_after_its_good_sentences(store):
    gen = ScriptedGenerator(["Bună întrebare. Răspunsul e simplu. "
                             "Apa apa apa apa apa apa apa apa apa apa apa apa apa apa."])
    events = _events(Companion(gen, store, lexicon=Lexicon()), "Ce e apa?")
    assert events[-1].reply.text == "Bună întrebare. Răspunsul e simplu."
    assert events[-1].stop_reason == "post_filter" and _of(events, Retry) == []


def test_when_every_try_fails_the_best_is_kept(store):
    gen = ScriptedGenerator(["nu nu nu nu nu nu nu nu nu.", "hm hm hm hm hm da hm hm hm.",
                             "la la la la la la la la la."])
    events = _events(Companion(gen, store, CompanionConfig(max_tries=3), Lexicon()), "Cântă.")
    assert len(_of(events, Retry)) == 3
    assert events[-1].reply.text == "hm hm hm hm hm da hm hm hm."  # least repetitive
    assert events[-1].metrics.tries == 3


def test_nothing_usable_is_said_and_not_stored(store):
    gen = ScriptedGenerator(["", "", ""])
    events = _events(Companion(gen, store, lexicon=Lexicon()), "Alo?")
    assert events[-1].reply is None and _of(events, Notice)
    assert [m.role for m in store.recent()] == ["user"]


def test_unknown_words_are_rejected_with_a_lexicon(store):
    lexicon = Lexicon(f"cuvant{i}" for i in range(400))
    lexicon.add_text("the sea is calm today and so am I")
    gen = ScriptedGenerator(["Surfive glorpish blenting vorbax.", "The sea is calm today."])
    events = _events(Companion(gen, store, lexicon=lexicon), "sea?")
    assert [r.reason for r in _of(events, Retry)] == ["unknown words"]
    assert events[-1].reply.text == "The sea is calm today."


def test_persona_lock_overrides_alpha_and_conditions_generation(store):
    gen = ScriptedGenerator(["Un procesor execută instrucțiuni."])
    config = CompanionConfig(persona_lock=Tribe.NOVA)
    events = _events(Companion(gen, store, config, Lexicon()), "Ce e un procesor?")
    assert _of(events, VoiceChosen)[0].tribe is Tribe.NOVA
    turns, reply_tribe = gen.calls[0]
    assert reply_tribe is Tribe.NOVA and turns[0].role is Role.SYSTEM and turns[0].tribe is Tribe.NOVA


@pytest.mark.parametrize("style, word", [("technical", "technical"), ("formal", "formal"),
                                         ("casual", "relaxed")])
def test_style_conditions_the_prompt(store, style, word):
    gen = ScriptedGenerator(["Bine."])
    _events(Companion(gen, store, CompanionConfig(style=style), Lexicon()), "Salut")
    assert word in gen.calls[0][0][0].text


def test_an_older_fact_is_retrieved_by_fts_into_the_context(tmp_path):
    clock = [1_700_000_000.0]
    with ConversationStore.open(tmp_path / "m.db", StoreConfig(), lambda: clock[0]) as store:
        fact = store.add_message("user", "Bicicleta mea veche era verde, cu sonerie de alamă.")
        for i in range(30):
            store.add_message("user" if i % 2 == 0 else "assistant", f"vorbim despre vreme {i}")
        clock[0] += 86_400
        gen = ScriptedGenerator(["Era verde."], max_context=400)
        companion = Companion(gen, store, CompanionConfig(sampling=SamplingConfig(max_tokens=64)),
                              Lexicon())
        events = _events(companion, "Ce culoare avea bicicleta mea?")
        turns = gen.calls[0][0]
        recent_texts = [t.text for t in turns[1:-1]]
        assert fact.text not in recent_texts  # too old for the recent window ...
        assert fact.text in turns[0].text  # ... but retrieved into the system turn
        assert events[-1].retrieved_ids == (fact.id,)
        assert turns[-1].text == "Ce culoare avea bicicleta mea?"


def test_starred_snapshots_join_the_context(store):
    old = store.add_message("assistant", "Lumina dimineții e un început.", tribe=Tribe.SORA)
    store.star(old.id)
    for i in range(20):
        store.add_message("user", f"altceva {i}")
    gen = ScriptedGenerator(["Da."])
    _events(Companion(gen, store, CompanionConfig(context=__import__(
        "companion.memory.context", fromlist=["ContextConfig"]).ContextConfig(recent_messages=4)),
        Lexicon()), "Salut")
    assert "★ Lumina dimineții e un început." in gen.calls[0][0][0].text


def test_a_huge_message_is_cut_to_the_budget_and_the_user_is_told(store):
    text = "început " + "ploaie " * 14_000 + "Care e întrebarea mea?"
    gen = ScriptedGenerator(["Întrebarea e la final."], max_context=256)
    events = _events(Companion(gen, store, CompanionConfig(sampling=SamplingConfig(max_tokens=64)),
                               Lexicon()), text)
    (notice,) = _of(events, Notice)
    assert f"{len(text):,} characters" in notice.text
    user_turn = gen.calls[0][0][-1]
    assert user_turn.text.endswith("Care e întrebarea mea?") and len(user_turn.text) < 1000
    assert store.get_message(events[0].message.id).text == text  # kept whole in memory


def test_the_tiny_random_model_answers_and_everything_is_stored(random_model_dir, tmp_path):
    config = CompanionConfig(sampling=SamplingConfig(seed=3, max_tokens=24))
    companion = Companion.load(random_model_dir, tmp_path / "m.db", config)
    try:
        for text in ["Bună! Ce mai faci?", "x" * 100_000]:
            events = _events(companion, text)
            done = events[-1]
            assert isinstance(done, TurnDone)
            assert done.metrics.prompt_tokens + 24 <= companion.generator.max_context
            assert 1 <= done.metrics.tries <= config.max_tries
            if done.reply is not None:  # a random model may say nothing usable three times
                assert companion.store.metrics_for(done.reply.id).gen_ms > 0
                assert done.reply.alpha is not None and done.reply.tribe is not None
        assert _of(events, Notice)  # the 100,000-character message was cut, and we were told
        assert companion.store.integrity_check() == "ok"
    finally:
        companion.store.close()


def test_the_models_knowledge_joins_the_system_turn_within_the_budget(store):
    from companion.memory.knowledge import Exchange, Knowledge

    knowledge = Knowledge([Exchange("nova", "Cum fierbe apa la munte?", "Sub 100 de grade, presiunea e mică."),
                           Exchange("sora", "Mi-e dor de bunica.", "Dorul e o căldură.")])
    gen = ScriptedGenerator(["Apa fierbe mai repede."])
    config = CompanionConfig(sampling=SamplingConfig(max_tokens=64))
    _events(Companion(gen, store, config, Lexicon(), knowledge=knowledge), "De ce fierbe apa altfel pe munte?")
    system = gen.calls[0][0][0]
    assert system.role is Role.SYSTEM
    assert "Amintiri / Memories:\n• Cum fierbe apa la munte? → NOVA: Sub 100 de grade, presiunea e mică." in system.text
    assert "bunica" not in system.text
    # No room left beside the reply: the turn goes without it (ScriptedGenerator checks the budget).
    small = ScriptedGenerator(["Da."], max_context=80)
    _events(Companion(small, store, config, Lexicon(), knowledge=knowledge), "Fierbe apa pe munte?")
    assert "Amintiri" not in small.calls[0][0][0].text


def test_the_knowledge_shown_is_the_answering_tribes_first(store):
    """α picks Sora for this question, so Sora's exchange heads the memories even though NOVA's
    shares more words: decoding copies only from the answers of the tribe that speaks."""
    from companion.memory.knowledge import Exchange, Knowledge

    knowledge = Knowledge([Exchange("nova", "Cum fierbe apa la munte?", "La munte apa fierbe sub 100 de grade."),
                           Exchange("sora", "Muntele mă liniștește.", "Sus pe munte timpul are răbdarea lui.")])
    config = CompanionConfig(sampling=SamplingConfig(max_tokens=64))
    for alpha, first in [(SORA, "Sora:"), (Alpha(0.9, 0.05, 0.05), "NOVA:")]:
        gen = ScriptedGenerator(["Apa fierbe."], alpha=alpha)
        _events(Companion(gen, store, config, Lexicon(), knowledge=knowledge), "Cum fierbe apa la munte?")
        memories = gen.calls[0][0][0].text.split("Amintiri / Memories:\n")[1].splitlines()
        assert memories[0].split(" → ")[1].startswith(first), memories
    locked = ScriptedGenerator(["Apa fierbe."], alpha=SORA)
    _events(Companion(locked, store, CompanionConfig(sampling=SamplingConfig(max_tokens=64),
                                                     persona_lock=Tribe.NOVA), Lexicon(), knowledge=knowledge),
            "Cum fierbe apa la munte?")
    assert "→ NOVA:" in locked.calls[0][0][0].text.split("Memories:\n")[1].splitlines()[0]


def test_with_nothing_near_in_the_knowledge_the_reply_says_so_unless_asked_not_to(store):
    """A question whose nearest exchange shares only words: the system turn shows NOVA's "I do
    not know" (copied by decoding as any answer), TurnDone says so, nothing counts as a source.
    With the setting off (reconfigure, as the settings dialog applies it) the nearest is shown."""
    from companion.memory.context import ContextConfig
    from companion.memory.unsure import UNSURE
    from knowledge_helpers import FAR_QUESTION, LASER, WHEELS, large_knowledge

    knowledge = large_knowledge(WHEELS, LASER)
    gen = ScriptedGenerator(["Nu știu.", "Roțile.", "Laserul."], alpha=Alpha(0.9, 0.05, 0.05))
    companion = Companion(gen, store, CompanionConfig(sampling=SamplingConfig(max_tokens=64)), Lexicon(),
                          knowledge=knowledge)
    done = _events(companion, FAR_QUESTION)[-1]
    memory = gen.calls[0][0][0].text.split("Amintiri / Memories:\n")[1]
    assert memory.split(" → NOVA: ")[1] in UNSURE["nova"]
    assert isinstance(done, TurnDone) and done.unsure and done.knowledge == ()
    companion.reconfigure(CompanionConfig(sampling=SamplingConfig(max_tokens=64),
                                          context=ContextConfig(admit_unknown=False)))
    done = _events(companion, FAR_QUESTION)[-1]
    assert "→ NOVA: Roțile sunt neechilibrate" in gen.calls[1][0][0].text
    assert not done.unsure and done.knowledge == (WHEELS,)
    companion.reconfigure(CompanionConfig(sampling=SamplingConfig(max_tokens=64)))
    done = _events(companion, "cum functioneaza un laser?")[-1]
    assert not done.unsure and done.knowledge == (LASER,)


def test_a_broken_knowledge_file_is_said_once_and_the_model_still_answers(random_model_dir, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(random_model_dir, model)
    (model / "knowledge.jsonl").write_text("{not json\n", encoding="utf-8")
    companion = Companion.load(model, tmp_path / "m.db", CompanionConfig(sampling=SamplingConfig(seed=3, max_tokens=8)))
    try:
        events = _events(companion, "Bună!")
        notes = [n.text for n in _of(events, Notice)]
        assert any("answering without the model's knowledge" in n and "knowledge.jsonl:1" in n for n in notes)
        assert isinstance(events[-1], TurnDone)
        assert not any("knowledge" in n.text for n in _of(_events(companion, "Și acum?"), Notice))
    finally:
        companion.store.close()
