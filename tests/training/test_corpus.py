import json

from companion.training.clean import corpus_stats, deduplicate, distinct_ngram_ratio
from companion.training.corpus import read_jsonl, write_jsonl
from companion.training.importers import import_folder
from companion.tribes import Tribe

GOOD = {"tribe": "sora", "turns": [{"role": "user", "text": "Bună"}, {"role": "assistant", "text": "Bună, suflet drag."}]}


def write_lines(path, lines):
    path.write_bytes(b"\n".join(line if isinstance(line, bytes) else line.encode() for line in lines))


def test_jsonl_bad_records_are_reported_with_file_and_line(tmp_path):
    path = tmp_path / "c.jsonl"
    write_lines(path, [
        json.dumps(GOOD),
        "{broken json",
        json.dumps({"tribe": "pirate", "text": "arr"}),
        json.dumps({"tribe": "nova"}),
        json.dumps({"tribe": "nova", "text": "a", "turns": []}),
        json.dumps({"tribe": "lumin", "turns": [{"role": "user", "text": "only a user"}]}),
        b"\xff\xfe not utf-8",
        "",
        json.dumps({"tribe": "nova", "text": "Ş şi Ţ ţ  cu   spații", "rating": 4}),
    ])
    result = read_jsonl(path)
    assert [r.tribe for r in result.records] == [Tribe.SORA, Tribe.NOVA]
    assert result.records[1].text == "Ș și Ț ț cu spații"  # cleaned: comma-below, whitespace
    found = {p.line: p.message for p in result.problems}
    assert set(found) == {2, 3, 4, 5, 6, 7}
    assert "invalid JSON" in found[2]
    assert "unknown tribe 'pirate'" in found[3]
    assert 'missing "tribe"' not in found[4] and "exactly one of" in found[4]
    assert "at least one assistant turn" in found[6]
    assert "not UTF-8" in found[7]
    assert all(str(p).startswith(f"{path}:") for p in result.problems)


def test_folder_import_takes_tribe_from_folder_or_front_matter(tmp_path):
    (tmp_path / "sora").mkdir()
    (tmp_path / "sora" / "poeme.txt").write_text("Prima strofă,\ncu două rânduri.\n\nA doua strofă.\n", encoding="utf-8")
    (tmp_path / "note.md").write_text("---\ntribe: nova\n---\n# Titlu\n\nUn paragraf tehnic.\n", encoding="utf-8")
    (tmp_path / "fara_trib.txt").write_text("Nimeni nu știe cine vorbește.\n", encoding="utf-8")
    (tmp_path / "qa.csv").write_text("user,assistant,tribe\nHi,Hello there.,lumin\nSalut,,nova\nX,Y,pirate\n",
                                     encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("tribe: nova\nca\xeele".encode("latin-1"))
    result = import_folder(tmp_path)
    texts = {(r.tribe, r.text or r.turns[-1].text) for r in result.records}
    assert (Tribe.SORA, "Prima strofă,\ncu două rânduri.") in texts
    assert (Tribe.SORA, "A doua strofă.") in texts
    assert (Tribe.NOVA, "Titlu") in texts and (Tribe.NOVA, "Un paragraf tehnic.") in texts
    assert (Tribe.LUMIN, "Hello there.") in texts
    problems = [str(p) for p in result.problems]
    assert any("fara_trib.txt:1: no tribe" in p for p in problems)
    assert any("qa.csv:3: empty row" in p for p in problems)
    assert any("qa.csv:4: unknown tribe 'pirate'" in p for p in problems)
    assert any("latin1.txt:2: not UTF-8" in p for p in problems)
    # Origins point back to file:line for every kept record.
    assert all(":" in r.origin for r in result.records)


def test_exact_and_near_duplicates_are_removed_and_reported(tmp_path):
    base = "Astăzi am învățat cum funcționează memoria cache a unui procesor modern și de ce contează"
    records = [
        {"tribe": "nova", "text": base},
        {"tribe": "nova", "text": base.upper() + "!!"},  # exact after case/punctuation folding
        {"tribe": "nova", "text": base + " mult"},  # near duplicate
        {"tribe": "nova", "text": "Un subiect complet diferit despre grădini, flori și albine harnice vara"},
    ]
    path = tmp_path / "d.jsonl"
    write_lines(path, [json.dumps(r, ensure_ascii=False) for r in records])
    report = deduplicate(read_jsonl(path).records)
    assert len(report.kept) == 2
    assert [d for d, _ in report.exact] == [f"{path}:2"]
    assert [d for d, _ in report.near] == [f"{path}:3"]


def test_distinct_ngram_ratio_and_stats(tmp_path):
    assert distinct_ngram_ratio(["a b c d e"]) == 1.0
    assert distinct_ngram_ratio(["a b c d a b c d"]) == 4 / 5
    records = read_jsonl(write_and_path(tmp_path)).records
    stats = corpus_stats(records)
    assert stats["sora"]["records"] == 1 and stats["sora"]["bytes"] > stats["sora"]["chars"] - 1


def write_and_path(tmp_path):
    path = tmp_path / "w.jsonl"
    write_jsonl(read_jsonl_from(GOOD, tmp_path), path)
    return path


def read_jsonl_from(data, tmp_path):
    p = tmp_path / "src.jsonl"
    p.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return read_jsonl(p).records


def test_records_sharing_an_origin_are_deduplicated_without_error():
    from companion.training.corpus import Record

    a = Record(Tribe.LUMIN, text="one two three four five six seven eight nine ten", origin="chat:1")
    b = Record(Tribe.LUMIN, text="eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen", origin="chat:1")
    c = Record(Tribe.LUMIN, text="one two three four five six seven eight nine ten eleven", origin="chat:2")
    report = deduplicate([a, b, c])
    assert report.kept == [a, b]
    assert report.near == [("chat:2", "chat:1")]


def test_tribe_balance_weights_equalise_tribes():
    from companion.commands.train import tribe_balance_weights
    from companion.training.corpus import Record

    big = [Record(Tribe.LUMIN, text="x" * 900)]
    small = [Record(Tribe.SORA, text="y" * 100)]
    also_sora = [Record(Tribe.SORA, text="z" * 200)]
    w = tribe_balance_weights([("chat", big), ("sora_a", small), ("sora_b", also_sora)])
    assert w["chat"] == 1.0
    assert w["sora_a"] == w["sora_b"] == 3.0  # 900 / (100 + 200)
    # sampled mass per tribe: lumin 900·1, sora (100 + 200)·3 — equal
    assert 900 * w["chat"] == 100 * w["sora_a"] + 200 * w["sora_b"]


def test_heldout_takes_enough_of_every_tribe_and_is_reproducible():
    from companion.commands.train import choose_heldout
    from companion.text import ChatTurn, Role
    from companion.training.corpus import Record

    def dialogues(tribe, n):
        return [Record(tribe, turns=(ChatTurn(Role.USER, f"q{i}"), ChatTurn(Role.ASSISTANT, f"a{i}", tribe)))
                for i in range(n)]

    records = dialogues(Tribe.LUMIN, 5000) + dialogues(Tribe.SORA, 140) + dialogues(Tribe.NOVA, 9)
    held = choose_heldout(records, seed=1)
    counts = {t: sum(r.tribe is t for r in held) for t in Tribe}
    assert counts == {Tribe.LUMIN: 100, Tribe.SORA: 20, Tribe.NOVA: 0}
    assert [r.turns[0].text for r in held] == [r.turns[0].text for r in choose_heldout(records, seed=1)]
