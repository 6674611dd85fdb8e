import pytest

from companion.memory import ConversationStore


@pytest.fixture
def store(tmp_path):
    with ConversationStore.open(tmp_path / "memory.sqlite3") as s:
        yield s
