"""The model's knowledge: exchanges searched by content-word stems (real SQLite FTS5)."""

import pytest

from companion.errors import CompanionError
from companion.memory.knowledge import (
    KNOWLEDGE_FILE,
    Exchange,
    Knowledge,
    Recall,
    clip,
    knowledge_for,
    replies_in,
    search_stems,
)
from companion.memory.unsure import UNSURE, near_enough
from knowledge_helpers import FAR_QUESTION, LASER, WHEELS, large_knowledge

EXCHANGES = [
    Exchange("nova", "Cum fierbe apa la munte?", "La altitudine presiunea e mai mică, deci apa fierbe sub 100 de grade."),
    Exchange("sora", "Mi-e dor de bunica mea.", "Dorul de bunica e o căldură care rămâne, ca pâinea din cuptorul ei."),
    Exchange("lumin", "How do I bake bread at home?", "Flour, water, salt and yeast; knead, wait, bake hot."),
    Exchange("nova", "De ce fierberea durează mai mult la munte?", "Pentru că apa fierbe la o temperatură mai joasă."),
]


def test_the_nearest_exchange_is_found_through_inflected_forms():
    knowledge = Knowledge(EXCHANGES)
    # "fierbere" meets "fierbe" (stems), "munte" meets "munte"; bread/bunica share nothing.
    hits = knowledge.search("Cât timp fierbe un ou la munte?", limit=2)
    assert set(hits) == {EXCHANGES[0], EXCHANGES[3]}
    assert knowledge.search("I want to bake some bread", limit=1) == [EXCHANGES[2]]
    assert knowledge.search("bunica", limit=3) == [EXCHANGES[1]]


def test_words_typed_without_diacritics_find_the_same_exchanges():
    knowledge = Knowledge(EXCHANGES)
    # "căldură" is indexed as "caldu": typed as "caldura" (no diacritics) it still meets.
    assert knowledge.search("o caldura care ramane", limit=1) == [EXCHANGES[1]]
    assert knowledge.search("o căldură care rămâne", limit=1) == [EXCHANGES[1]]


def test_the_answering_tribes_exchanges_come_first():
    peak = Exchange("sora", "Muntele mă liniștește.", "Sus pe munte timpul are răbdarea lui.")
    knowledge = Knowledge([*EXCHANGES, peak])
    question = "De ce fierbe apa la munte?"
    assert knowledge.search(question, limit=1)[0].tribe == "nova"  # both NOVA ones share more words
    assert knowledge.search(question, limit=1, tribe="sora") == [peak]
    # The tribe's exchanges first, then the others that match; none that share no word.
    first, *rest = knowledge.search(question, limit=5, tribe="sora")
    assert first == peak and set(rest) == {EXCHANGES[0], EXCHANGES[3]}
    *best, last = knowledge.search(question, limit=3, tribe="lumin")  # Lumin has none: best first
    assert set(best) == {EXCHANGES[0], EXCHANGES[3]} and last == peak


def test_an_excluded_exchange_is_never_returned_and_stopwords_find_nothing():
    knowledge = Knowledge(EXCHANGES)
    assert EXCHANGES[0] not in knowledge.search(EXCHANGES[0].user, limit=4, exclude=0)
    assert knowledge.search(EXCHANGES[0].user, limit=1, exclude=0) == [EXCHANGES[3]]
    assert knowledge.search("și de la cu pe", limit=3) == []
    assert knowledge.search('"OR" NEAR( * fierbe', limit=1)  # FTS syntax in user text is only words


def test_memory_lines_clip_long_text_at_a_word():
    long = Exchange("sora", "întrebare " * 30, "cuvânt " * 100)
    line = long.memory_line(60)
    question, answer = line[2:].split(" → ")
    assert line.startswith("• ") and answer.startswith("Sora: ")
    assert len(question) <= 31 and len(answer) <= 61 + len("Sora: ")
    assert answer.endswith("cuvânt…")
    assert clip("scurt", 60) == "scurt"
    assert Knowledge([long]).memory_lines("întrebare", 1, answer_chars=60) == [line]


def test_the_replies_in_a_system_turn_are_read_back_with_whose_they_were():
    lines = [e.memory_line() for e in EXCHANGES[:3]]
    system = "Stil: relaxat.\nAmintiri / Memories:\n" + "\n".join(lines) + "\n• o amintire a ta, fără răspuns\n• Ce? → Așa."
    assert replies_in(system) == [("nova", EXCHANGES[0].reply, True), ("sora", EXCHANGES[1].reply, True),
                                  ("lumin", EXCHANGES[2].reply, True), (None, "Așa.", True)]
    cut = Exchange("nova", "De ce?", "cuvânt " * 100).memory_line(60)
    assert replies_in(cut) == [("nova", cut.split("NOVA: ")[1].removesuffix("…"), False)]


def test_a_long_answer_is_shown_as_its_first_whole_sentences():
    first = "Apa fierbe la o temperatură mai joasă pe munte, pentru că presiunea aerului e mai mică."
    answer = f"{first} La 2.000 de metri fierbe pe la 93 de grade. " + "Mai multe detalii. " * 20
    shown = Exchange("nova", "De ce?", answer).memory_line(140).split("NOVA: ")[1]
    assert shown == f"{first} La 2.000 de metri fierbe pe la 93 de grade."
    # A first sentence longer than a third of the room: cut at a word, with an ellipsis.
    assert Exchange("nova", "De ce?", first).memory_line(60).endswith("…")


def test_knowledge_round_trips_and_a_broken_file_is_named(tmp_path):
    Knowledge(EXCHANGES).save(tmp_path / KNOWLEDGE_FILE)
    assert Knowledge.in_folder(tmp_path).exchanges == EXCHANGES
    assert knowledge_for(tmp_path / "nowhere") == (None, None)
    path = tmp_path / KNOWLEDGE_FILE
    path.write_text(path.read_text(encoding="utf-8").splitlines()[0] + '\n{"tribe": "sora"}\n', encoding="utf-8")
    with pytest.raises(CompanionError, match=r"knowledge.jsonl:2: not a knowledge exchange"):
        Knowledge.load(path)
    knowledge, note = knowledge_for(tmp_path)
    assert knowledge is None and "answering without the model's knowledge" in note and "jsonl:2" in note
    path.write_bytes(b"\xff\xfe\x00broken")
    with pytest.raises(CompanionError, match="not UTF-8"):
        Knowledge.load(path)



def test_a_question_nothing_is_near_gets_the_tribes_i_do_not_know():
    knowledge = large_knowledge(WHEELS, LASER)
    # Shares two words with an answer about something else: says it does not know.
    far = knowledge.recall(FAR_QUESTION, tribe="nova")
    assert far.unsure and len(far.exchanges) == 1
    assert far.exchanges[0].tribe == "nova" and far.exchanges[0].reply in UNSURE["nova"]
    assert far.exchanges[0].user == FAR_QUESTION
    # The same words, the same line; Sora answers in her own.
    assert knowledge.recall(FAR_QUESTION, tribe="nova") == far
    assert knowledge.recall(FAR_QUESTION, tribe="sora").exchanges[0].reply in UNSURE["sora"]
    # Reworded, but about the laser: the laser's answer.
    near = knowledge.recall("cum functioneaza un laser?", tribe="nova")
    assert not near.unsure and near.exchanges == [LASER]
    # Asked to answer anyway (the setting off), the nearest, however far.
    assert knowledge.recall(FAR_QUESTION, tribe="nova", admit_unknown=False).exchanges == [WHEELS]


def test_lumin_small_knowledges_and_wordless_turns_never_say_they_do_not_know():
    knowledge = large_knowledge(Exchange("lumin", "Do you like rainy days?", "Rain is cosy with tea."))
    assert near_enough("lumin", len(knowledge)) == 0.0
    assert not knowledge.recall("Any idea about quantum gravity?", tribe="lumin").unsure
    assert not knowledge.recall(FAR_QUESTION, tribe=None).unsure  # no tribe: nothing to say it in
    assert knowledge.recall("și de la cu pe", tribe="nova") == Recall([])  # no word to search by
    # A knowledge far smaller than the floors were measured on (a user's own texts) copies the nearest.
    small = Knowledge(EXCHANGES)
    assert near_enough("nova", len(small)) == 0.0
    assert small.recall("Ce presiune e la altitudine?", tribe="nova") == Recall([EXCHANGES[0]])


def test_short_words_in_capitals_are_searched_too():
    """"QR" is too short for a content word, yet it is what the question is about."""
    qr = Exchange("nova", "Poate fi periculos să scanez un cod QR?", "Codul te poate duce pe un site fals.")
    meteo = Exchange("nova", "Ce înseamnă codul galben de vreme rea?", "Un cod periculos: fenomene de intensitate mare.")
    knowledge = Knowledge([meteo, qr])
    assert knowledge.search("E periculos să scanez coduri QR?", limit=1) == [qr]
    assert knowledge.search("Ce e un QR?", limit=2) == [qr]  # nothing else says QR
    assert knowledge.search("Cum îmi schimb PIN-ul?", limit=1) == []
    # "Wi-Fi-ul": parts too short to be words, searched joined; "funcționează" alone is not it.
    wifi = Exchange("nova", "De ce e lent Wi-Fi-ul?", "Routerul e prea departe sau canalul e aglomerat.")
    maths = Exchange("nova", "Ce e o funcție?", "O funcție asociază fiecărei intrări o ieșire; funcționează ca o regulă.")
    common = [Exchange("nova", f"Cum funcționează {thing}?", f"{thing.capitalize()} funcționează simplu.")
              for thing in ("frigiderul", "centrala", "ceasul", "becul")]  # "funcționează" is common
    assert Knowledge([maths, wifi, *common]).search("Cum funcționează Wi-Fi-ul?", limit=1) == [wifi]
    assert "wifi" in search_stems("Wi-Fi") and "sa" not in search_stems("s-a stricat")
