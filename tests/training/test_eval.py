import json
import subprocess
import sys
from pathlib import Path

import pytest

import tiny
from companion.errors import CompanionError
from companion.text import ChatTurn, Role
from companion.training.corpus import Record, read_jsonl, write_jsonl
from companion.training.evaluate import TopicMatcher, WordChecker, content_stems, words_of
from companion.tribes import Tribe

ROOT = Path(__file__).resolve().parents[2]


def test_word_checker_knows_inflected_romanian_and_rejects_invented_words():
    ro = WordChecker("ro_RO")
    for word in ("inimă", "inimile", "mării", "așteaptă", "instrucțiunile", "Și"):
        assert ro.known(word), word
    for word in ("surfive", "activatives", "tetrif", "ștrumfăluț"):
        assert not ro.known(word), word
    en = WordChecker("en_US", vocabulary=["tetrif"])
    assert en.known("sleeping") and en.known("tetrif") and not en.known("surfive")
    assert words_of("Bună, ce-ți face inima? 42 de 😊 mări!") == ["Bună", "ce-ți", "face", "inima", "de", "mări"]


def test_missing_dictionary_is_explained():
    with pytest.raises(CompanionError, match="no Hunspell dictionary xx_XX"):
        WordChecker("xx_XX")


def test_eval_json_on_a_model_that_knows_its_tribes(tmp_path, memorised_model_dir):
    heldout = tmp_path / "heldout.jsonl"
    write_jsonl([Record(t, turns=(ChatTurn(Role.USER, u), ChatTurn(Role.ASSISTANT, r, t)))
                 for u, r, t in tiny.MEMORISED_CHATS], heldout)
    out = subprocess.run([sys.executable, "-m", "companion", "eval", "--model", str(memorised_model_dir),
                          "--heldout", str(heldout), "--samples", "1", "--json", "--card", str(tmp_path / "CARD.md")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["alpha_accuracy"] == 1.0
    assert set(report["heldout_loss"]) == {"nova", "sora", "lumin"}
    assert all(loss < 1.0 for loss in report["heldout_loss"].values())  # memorised
    assert len(report["samples"]) == 3
    assert report["real_word_ratio"] > 0.9
    for sample in report["samples"]:
        assert sample["chosen"] == sample["tribe"]
    card = (tmp_path / "CARD.md").read_text(encoding="utf-8")
    assert "α accuracy (which tribe should answer a held-out user turn): **1.0**" in card
    assert tiny.MEMORISED_CHATS[0][1] in card  # the sample replies are in the card
    assert report["sampling"]["question_weight"] == 2.0  # as the app samples
    assert "question weight 2.0 (context-aware decoding, as the app)" in card
    assert report["alpha_misses"] == [] and "α gave to another tribe" not in card
    # A label the words do not carry: the English time question filed as NOVA's.
    user, reply, _ = tiny.MEMORISED_CHATS[1]
    write_jsonl([*read_jsonl(heldout).records,
                 Record(Tribe.NOVA, turns=(ChatTurn(Role.USER, user), ChatTurn(Role.ASSISTANT, reply, Tribe.NOVA)))],
                heldout)
    messages = tmp_path / "messages.jsonl"  # two of Sora's, one of Lumin's: --samples 1 takes the first of each
    messages.write_text("".join(json.dumps({"tribe": t.value, "question": u}) + "\n" for u, _, t in
                                [tiny.MEMORISED_CHATS[0], ("Mi-e dor de munte.", "", Tribe.SORA), tiny.MEMORISED_CHATS[1]]),
                        encoding="utf-8")
    off = subprocess.run([sys.executable, "-m", "companion", "eval", "--model", str(memorised_model_dir),
                          "--heldout", str(heldout), "--samples", "1", "--json", "--question-weight", "0",
                          "--messages", str(messages), "--card", str(tmp_path / "CARD2.md")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert off.returncode == 0, off.stderr
    report = json.loads(off.stdout)
    assert [(s["tribe"], s["prompt"], s["chosen"]) for s in report["message_samples"]] == [
        ("sora", tiny.MEMORISED_CHATS[0][0], "sora"), ("lumin", tiny.MEMORISED_CHATS[1][0], "lumin")]
    card2 = (tmp_path / "CARD2.md").read_text(encoding="utf-8")
    others = card2.split("## Sample replies to other messages")[1]
    assert f"> {tiny.MEMORISED_CHATS[1][0]}" in others and report["message_samples"][1]["reply"] in others
    messages.write_text('{"tribe": "nova", "question": ""}\n', encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "companion", "eval", "--model", str(memorised_model_dir),
                          "--heldout", str(heldout), "--messages", str(messages)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert bad.returncode != 0 and f"{messages}:1: the message is empty" in bad.stderr
    assert report["sampling"]["question_weight"] == 0.0
    assert report["alpha_accuracy"] == 0.75
    [miss] = report["alpha_misses"]
    assert (miss["tribe"], miss["chosen"], miss["prompt"]) == ("nova", "lumin", user)
    assert max(miss["alpha"], key=miss["alpha"].get) == "lumin"
    assert f"| nova | lumin | {user} |" in card2


def test_eval_without_heldout_set_says_what_to_pass(tmp_path, random_model_dir):
    out = subprocess.run([sys.executable, "-m", "companion", "eval", "--model", str(random_model_dir)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 2
    assert "heldout.jsonl not found: pass --heldout" in out.stderr


REFERENCES = [
    "Fierbi oul trei minute în apă clocotită, apoi îl treci prin apă rece ca să se oprească fierberea.",
    "Routerul primește pachetele din internet și le trimite, prin Wi-Fi sau cablu, dispozitivului potrivit.",
    "Frunzele de jos se îngălbenesc când roșiile duc lipsă de azot sau primesc prea multă apă.",
    "Un număr prim se împarte exact doar la unu și la el însuși, de exemplu șapte sau treisprezece.",
]


def test_topic_match_ranks_a_reply_against_the_other_answers():
    assert content_stems("Fierbere, fierbi și oul") == {"fierb"}  # short words and stopwords out
    # A reply about the egg, in other words than its reference, still beats the other three answers.
    egg = "Pune oul în apă clocotită și lasă-l să fiarbă cam trei minute."
    topics = TopicMatcher(REFERENCES)
    assert topics.match(egg, 0) == 1.0
    # The same reply standing in for the router answer: the egg answer is closer, so it loses.
    assert topics.match(egg, 1) < 0.5
    # Word salad about nothing asked: no shared content words with any answer, so chance.
    assert topics.match("Valea ta cântă adesea în casă, o listă frumoasă.", 2) == 0.5
    with pytest.raises(ValueError, match="two references"):
        TopicMatcher(REFERENCES[:1])


def test_eval_shows_each_prompt_the_models_knowledge_as_the_app_does(tmp_path, memorised_model_dir):
    import shutil

    from companion.generation import SamplingConfig
    from companion.memory.knowledge import Exchange, Knowledge
    from companion.model.generate import TorchGenerator
    from companion.training.card import model_card
    from companion.training.evaluate import evaluate_model

    model = tmp_path / "model"
    shutil.copytree(memorised_model_dir, model)
    Knowledge([Exchange("sora", "Mi-e dor de mare și de vară.", "Vara te așteaptă."),
               Exchange("nova", "Un procesor nou?", "E rapid.")]).save(model / "knowledge.jsonl")
    heldout = [Record(t, turns=(ChatTurn(Role.USER, u), ChatTurn(Role.ASSISTANT, r, t))) for u, r, t in tiny.MEMORISED_CHATS]
    generator = TorchGenerator.load(model)
    sampling = SamplingConfig(temperature=0.7, top_k=40, top_p=0.9, max_tokens=16, seed=7)
    report = evaluate_model(generator, heldout, samples_per_tribe=1, sampling=sampling,
                            knowledge=Knowledge.in_folder(model))
    memories = {s.prompt: s.memories for s in report.samples}
    assert memories["Mi-e dor de mare."] == ["• Mi-e dor de mare și de vară. → Sora: Vara te așteaptă."]
    assert memories["Ce este un procesor?"] == ["• Un procesor nou? → NOVA: E rapid."]
    assert memories["What time is it?"] == []  # no content word in common
    assert report.knowledge_exchanges == 2
    card = model_card(model, report, generator.model.num_params())
    assert "- knowledge: 2 exchanges" in card and "- Mi-e dor de mare și de vară. → Sora: Vara te așteaptă." in card
    # A reply budget that leaves no room: the prompts go without memories rather than overflow.
    report = evaluate_model(generator, heldout, samples_per_tribe=1, sampling=sampling.with_(max_tokens=100),
                            knowledge=Knowledge.in_folder(model))
    assert all(s.memories == [] for s in report.samples)
