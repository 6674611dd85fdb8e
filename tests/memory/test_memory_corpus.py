"""Export to the training-corpus JSONL (with filters) and import back."""

import json

import pytest

from companion.errors import CompanionError
from companion.memory import ConversationStore, StoreConfig
from companion.memory.corpus import ExportFilter, export_jsonl, import_jsonl
from companion.tribes import Alpha, Tribe


class Clock:
    now = 1_700_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def chat(tmp_path):
    clock = Clock()
    store = ConversationStore.open(tmp_path / "chat.db", StoreConfig(episode_gap_s=3600), clock)
    ids = {}
    store.add_message("user", "Salut! Ce faci?")
    ids["sora"] = store.add_message("assistant", "Bine, mulțumesc. Tu?", tribe=Tribe.SORA,
                                    alpha=Alpha(0.1, 0.85, 0.05)).id
    store.add_message("system", "(persona unlocked)")
    store.add_message("user", "Explain WAL mode.")
    store.add_message("user", "Briefly.")
    ids["lumin"] = store.add_message("assistant", "Writers append to a log.",
                                     alpha=Alpha(0.1, 0.1, 0.8)).id  # label from α
    ids["unlabelled"] = store.add_message("assistant", "Hmm.").id
    clock.now += 7200  # a new episode
    store.add_message("user", "Ce este un tranzistor?")
    ids["nova"] = store.add_message("assistant", "Un comutator electronic.", tribe=Tribe.NOVA).id
    store.rate(ids["sora"], 5)
    store.rate(ids["lumin"], 2)
    yield store, clock, ids
    store.close()


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_export_records_turns_labels_and_ratings(chat, tmp_path):
    store, _, ids = chat
    result = export_jsonl(store, tmp_path / "out.jsonl")
    assert (result.records, result.skipped_unlabelled) == (3, 1)
    records = _read(tmp_path / "out.jsonl")
    assert [r["tribe"] for r in records] == ["sora", "lumin", "nova"]
    assert records[0]["turns"] == [
        {"role": "user", "text": "Salut! Ce faci?"},
        {"role": "assistant", "text": "Bine, mulțumesc. Tu?", "tribe": "sora"},
    ]
    assert [t["text"] for t in records[1]["turns"]] == [
        "Explain WAL mode.", "Briefly.", "Writers append to a log."]
    assert records[0]["rating"] == 5 and "rating" not in records[2]
    assert records[1]["alpha"] == [0.1, 0.1, 0.8]
    assert "ț" in (tmp_path / "out.jsonl").read_text(encoding="utf-8")  # not \u escapes


def test_export_filters(chat, tmp_path):
    store, clock, ids = chat
    out = tmp_path / "f.jsonl"
    export_jsonl(store, out, ExportFilter(min_rating=3))
    assert [r["message_id"] for r in _read(out)] == [ids["sora"]]
    export_jsonl(store, out, ExportFilter(since=clock.now - 10))
    assert [r["message_id"] for r in _read(out)] == [ids["nova"]]
    second = store.get_message(ids["nova"]).episode_id
    export_jsonl(store, out, ExportFilter(episode_id=second))
    assert [r["message_id"] for r in _read(out)] == [ids["nova"]]
    with pytest.raises(CompanionError, match="1..5"):
        export_jsonl(store, out, ExportFilter(min_rating=9))


def test_import_round_trip_and_twice_is_idempotent(chat, tmp_path):
    store, _, _ = chat
    export_jsonl(store, tmp_path / "out.jsonl")
    with ConversationStore.open(tmp_path / "fresh.db") as fresh:
        first = import_jsonl(fresh, tmp_path / "out.jsonl")
        assert (first.records, first.messages, first.episodes) == (3, 7, 2)
        export_jsonl(fresh, tmp_path / "again.jsonl")
        again = _read(tmp_path / "again.jsonl")
        original = _read(tmp_path / "out.jsonl")
        strip = lambda r: {k: v for k, v in r.items() if k not in ("message_id", "episode")}  # noqa: E731
        assert [strip(r) for r in again] == [strip(r) for r in original]
        second = import_jsonl(fresh, tmp_path / "out.jsonl")
        assert (second.records, second.duplicates) == (0, 3)
        assert fresh.count("messages") == 7
        assert [h.message.text for h in fresh.search("tranzistor")] == ["Ce este un tranzistor?"]


@pytest.mark.parametrize("line, complaint", [
    ('{"tribe": "sora"}', "turns"),
    ('{"turns": [{"role": "cat", "text": "miau"}]}', "role"),
    ('{"turns": [{"role": "user", "text": ""}]}', "empty"),
    ('{"turns": [{"role": "assistant", "text": "x", "tribe": "elf"}]}', "unknown tribe"),
    ('{"turns": [', "not a JSON object"),
])
def test_import_rejects_bad_records_with_file_and_line(store, tmp_path, line, complaint):
    store.add_message("user", "rămâne")
    path = tmp_path / "in.jsonl"
    ok = '{"tribe": "nova", "turns": [{"role": "user", "text": "a"}]}'
    path.write_text(ok + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(CompanionError, match=f"in.jsonl:3.*{complaint}"):
        import_jsonl(store, path)
    assert [m.text for m in store.recent()] == ["rămâne"]


def test_export_to_an_unwritable_place_is_a_clear_error(store, tmp_path):
    store.add_message("user", "x")
    (tmp_path / "file").write_text("")
    with pytest.raises(CompanionError, match="cannot write the export file"):
        export_jsonl(store, tmp_path / "file" / "out.jsonl")
