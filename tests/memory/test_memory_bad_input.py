"""Bad input and hostile places: clear CompanionErrors, and nothing already stored is lost."""

import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from companion.errors import CompanionError
from companion.memory import ConversationStore
from companion.memory.corpus import import_jsonl


def _fill(store, n=5):
    return [store.add_message("user" if i % 2 == 0 else "assistant", f"mesaj {i} despre mare")
            for i in range(n)]


def _intact(store, stored):
    assert store.integrity_check() == "ok"
    assert [m.text for m in store.recent(len(stored))] == [m.text for m in stored]


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(store, text):
    stored = _fill(store)
    with pytest.raises(CompanionError, match="empty"):
        store.add_message("user", text)
    _intact(store, stored)


def test_hundred_thousand_characters_round_trip_and_are_searchable(store):
    text = ("cuvânt " * 20_000)[:99_992] + " finalul"
    assert len(text) == 100_000
    message = store.add_message("user", text)
    assert store.get_message(message.id).text == text
    assert [h.message.id for h in store.search("finalul")] == [message.id]


def test_text_over_the_limit_is_refused_with_its_length(tmp_path):
    from companion.memory import StoreConfig

    with ConversationStore.open(tmp_path / "m.db", StoreConfig(max_text_chars=1000)) as store:
        stored = _fill(store)
        with pytest.raises(CompanionError, match="1,001 characters"):
            store.add_message("user", "a" * 1001)
        _intact(store, stored)


def test_invalid_utf8_bytes_from_a_file_are_refused(store, tmp_path):
    stored = _fill(store)
    bad = tmp_path / "note.txt"
    bad.write_bytes(b"salut \xff\xfe lume")
    with pytest.raises(CompanionError, match=r"not valid UTF-8 .*0xff at offset 6"):
        store.add_message("user", bad.read_bytes())
    # The same bytes read as text the forgiving way (as argv arrives) are refused too.
    with pytest.raises(CompanionError, match="not valid UTF-8"):
        store.add_message("user", bad.read_text(encoding="utf-8", errors="surrogateescape"))
    _intact(store, stored)


def test_invalid_utf8_in_an_import_names_the_line_and_imports_nothing(store, tmp_path):
    stored = _fill(store)
    good = json.dumps({"tribe": "lumin", "turns": [{"role": "user", "text": "hi"},
                                                   {"role": "assistant", "text": "hello"}]})
    path = tmp_path / "corpus.jsonl"
    path.write_bytes((good + "\n" + good + "\n").encode() + b'{"tribe": "lumin", "turns": '
                     b'[{"role": "user", "text": "bad \xc3\x28"}]}\n')
    with pytest.raises(CompanionError, match=r"corpus.jsonl:3: not valid UTF-8.*nothing was imported"):
        import_jsonl(store, path)
    _intact(store, stored)
    assert store.count("messages") == len(stored)


def test_unknown_role_and_nul_are_refused(store):
    with pytest.raises(CompanionError, match="unknown role"):
        store.add_message("robot", "salut")
    with pytest.raises(CompanionError, match="NUL"):
        store.add_message("user", "a\x00b")


def _as_nobody(fn):
    """Run fn() in a forked child as user nobody (root ignores file permissions)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            result = fn()
        except BaseException as exc:  # report everything to the parent
            result = f"{type(exc).__name__}: {exc}"
        os.write(write, str(result).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        out = fh.read()
    os.waitpid(pid, 0)
    return out


def _try_open_and_write(path):
    def attempt():
        store = ConversationStore.open(path)
        store.add_message("user", "o scrisoare nouă")
        return "wrote"
    return attempt


@pytest.fixture
def readonly_dir():
    # Outside pytest's 0700 tmp folder, so the unprivileged child can reach it.
    folder = Path(tempfile.mkdtemp(prefix="companion-ro-"))
    os.chmod(folder, 0o755)
    yield folder
    os.chmod(folder, 0o755)
    for p in folder.iterdir():
        os.chmod(p, 0o644)
    shutil.rmtree(folder)


def _run_unprivileged(fn):
    if os.geteuid() == 0:
        return _as_nobody(fn)
    try:
        return fn()
    except BaseException as exc:
        return f"{type(exc).__name__}: {exc}"


def test_read_only_location_for_a_new_database(readonly_dir):
    os.chmod(readonly_dir, 0o555)
    result = _run_unprivileged(_try_open_and_write(readonly_dir / "memory.sqlite3"))
    assert result.startswith("CompanionError: cannot open the conversation database"), result
    assert "--db PATH" in result


def test_read_only_existing_database_keeps_its_contents(readonly_dir):
    db = readonly_dir / "memory.sqlite3"
    with ConversationStore.open(db) as store:
        stored = _fill(store)
    for p in readonly_dir.iterdir():
        os.chmod(p, 0o444)
    os.chmod(readonly_dir, 0o555)
    result = _run_unprivileged(_try_open_and_write(db))
    assert result.startswith("CompanionError: "), result
    assert "read-only" in result or "not writable" in result, result
    assert "--db PATH" in result
    os.chmod(readonly_dir, 0o755)
    for p in readonly_dir.iterdir():
        os.chmod(p, 0o644)
    with ConversationStore.open(db) as store:
        _intact(store, stored)


def test_full_database_rolls_back_the_turn_and_keeps_the_rest(store):
    """PRAGMA max_page_count makes SQLite itself report SQLITE_FULL, as on a full disk."""
    stored = _fill(store, 20)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(CompanionError, match="disk is full.*Everything stored before is kept"):
        store.add_message("user", "x " * 50_000)
    _intact(store, stored)
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.add_message("user", "again").id == stored[-1].id + 1


def _mount_tmpfs(folder: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True)
    return done.returncode == 0


def test_full_disk_on_a_tiny_filesystem(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    if not _mount_tmpfs(folder, "400k"):
        pytest.skip("needs root and permission to mount a tmpfs (covered by max_page_count test)")
    try:
        store = ConversationStore.open(folder / "memory.sqlite3")
        stored, error = [], None
        for i in range(400):
            try:
                stored.append(store.add_message("user", f"zi {i} " + "ploaie " * 1000))
            except CompanionError as exc:
                error = exc
                break
        assert error is not None, "the 400 KB file system never filled up"
        assert "disk" in str(error) and "Everything stored before is kept" in str(error)
        assert len(stored) > 3
        store.close()
        # Reopening on the still-full disk reads everything back intact.
        with ConversationStore.open(folder / "memory.sqlite3") as again:
            _intact(again, stored)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
