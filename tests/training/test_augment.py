"""Retrieval-augmented training records: memories lead each dialogue, never its own answer."""

from companion.memory.context import STYLES
from companion.text.template import ChatTurn, Role
from companion.training.augment import build_knowledge, exchange_of, exchanges_of, with_memories
from companion.training.corpus import Record
from companion.tribes import Tribe


def dialogue(tribe, user, reply):
    return Record(tribe, turns=(ChatTurn(Role.USER, user), ChatTurn(Role.ASSISTANT, reply, tribe)))


RECORDS = [
    dialogue(Tribe.NOVA, "Cum fierbe apa la munte?", "Apa fierbe sub 100 de grade la altitudine."),
    dialogue(Tribe.NOVA, "De ce fierberea durează la munte?", "Presiunea aerului e mai mică sus."),
    dialogue(Tribe.SORA, "Mi-e dor de bunica.", "Dorul e o căldură care rămâne."),
    Record(Tribe.SORA, text="Un text simplu despre bunica și munte."),
]


def test_each_dialogue_is_shown_its_nearest_other_exchange_never_its_own():
    knowledge, index_of = build_knowledge(RECORDS)
    assert len(knowledge) == 3  # the plain text has no exchange
    out = list(with_memories(RECORDS, knowledge, index_of, seed=1, share_without=0.0))
    assert out[3] == RECORDS[3]
    for record, augmented in zip(RECORDS[:3], out[:3]):
        system, *rest = augmented.turns
        assert system.role is Role.SYSTEM and tuple(rest) == record.turns
        assert system.text.split("\n")[0] in STYLES.values()
        assert record.turns[1].text not in system.text
    # The two questions about boiling water meet each other; bunica meets nothing.
    assert "Presiunea aerului" in out[0].turns[0].text and "Apa fierbe sub 100" in out[1].turns[0].text
    assert "Amintiri" not in out[2].turns[0].text


def test_a_share_of_records_keeps_no_system_turn_and_the_draw_repeats_with_the_seed():
    knowledge, index_of = build_knowledge(RECORDS)
    assert list(with_memories(RECORDS, knowledge, index_of, seed=1, share_without=1.0)) == RECORDS
    many = RECORDS[:3] * 40
    knowledge, index_of = build_knowledge(many)
    first = list(with_memories(many, knowledge, index_of, seed=5, share_without=0.25))
    assert first == list(with_memories(many, knowledge, index_of, seed=5, share_without=0.25))
    bare = sum(r.turns[0].role is Role.USER for r in first)
    assert 10 <= bare <= 50  # about a quarter of 120


def test_exchange_of_takes_the_first_question_and_answer():
    record = Record(Tribe.LUMIN, turns=(ChatTurn(Role.USER, "hi"), ChatTurn(Role.USER, "bread?"),
                                        ChatTurn(Role.ASSISTANT, "flour", Tribe.LUMIN),
                                        ChatTurn(Role.USER, "and?"), ChatTurn(Role.ASSISTANT, "bake", Tribe.LUMIN)))
    assert exchange_of(record).user == "bread?" and exchange_of(record).reply == "flour"
    assert exchange_of(Record(Tribe.SORA, text="x")) is None


def test_the_knowledge_command_gives_a_model_its_corpus_but_not_its_heldout(tmp_path, random_model_dir):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from companion.memory.knowledge import Knowledge
    from companion.training.corpus import write_jsonl

    root = Path(__file__).resolve().parents[2]
    model = tmp_path / "model"
    shutil.copytree(random_model_dir, model)
    write_jsonl(RECORDS[1:2], model / "heldout.jsonl")
    write_jsonl(RECORDS, tmp_path / "corpus.jsonl")
    cmd = [sys.executable, "-m", "companion", "knowledge", "--model", str(model), "--corpus", str(tmp_path / "corpus.jsonl")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "2 exchanges" in proc.stderr and "1 held-out dialogues left out" in proc.stderr
    assert [e.user for e in Knowledge.in_folder(model).exchanges] == [RECORDS[0].turns[0].text, RECORDS[2].turns[0].text]
    proc = subprocess.run([*cmd[:5], str(tmp_path / "nowhere"), *cmd[6:]], capture_output=True, text=True,
                          timeout=120, cwd=root)
    assert proc.returncode != 0 and "is not a model folder" in proc.stderr


def test_the_knowledge_holds_later_exchanges_too_but_no_held_out_dialogue():
    talk = Record(Tribe.NOVA, turns=(
        ChatTurn(Role.USER, "Cum se formează ploaia?"), ChatTurn(Role.ASSISTANT, "Vaporii se condensează în nori.", Tribe.NOVA),
        ChatTurn(Role.USER, "Și grindina?"), ChatTurn(Role.ASSISTANT, "Curenții urcă picăturile până îngheață.", Tribe.NOVA),
        ChatTurn(Role.USER, "Mulțumesc!"), ChatTurn(Role.ASSISTANT, "Cu drag!", Tribe.NOVA)))
    assert [e.user for e in exchanges_of(talk)] == ["Cum se formează ploaia?", "Și grindina?", "Mulțumesc!"]
    # Sora's later replies answer the story before them: only her first exchange is kept.
    story = Record(Tribe.SORA, turns=(*dialogue(Tribe.SORA, "Mi-e dor.", "De cine?").turns,
                                      ChatTurn(Role.USER, "De el."), ChatTurn(Role.ASSISTANT, "Spune-mi.", Tribe.SORA)))
    assert [e.reply for e in exchanges_of(story)] == ["De cine?"]
    # "Mulțumesc!" → "Cu drag!" twice is kept once; a held-out dialogue stays out whole, and so
    # does any dialogue that opens the same way.
    thanks = dialogue(Tribe.NOVA, "Mulțumesc!", "Cu drag!")
    knowledge, index_of = build_knowledge([talk, thanks, *RECORDS], heldout=[RECORDS[0]])
    assert len(knowledge) == 3 + 2  # talk's three, then RECORDS[1] and [2]; thanks was talk's
    assert index_of[id(talk)] == (0, 1, 2) and index_of[id(thanks)] == (2,)
    assert id(RECORDS[0]) not in index_of
    assert not {exchange_of(RECORDS[0])} & set(knowledge.exchanges)
    # A dialogue is never shown its own later answers either.
    (augmented,) = with_memories([talk], knowledge, index_of, seed=1, share_without=0.0)
    assert "Curenții urcă" not in augmented.turns[0].text and "Vaporii" not in augmented.turns[0].text
