"""Child process for the crash test: writes turns forever until the parent SIGKILLs it.

argv: DB RUN MODE. Prints "U <id> <marker>" / "A <id> <marker>" after each commit. In mode
"commit" it announces "COMMITTING <marker>" when SQLite is about to commit the reply of the
third turn and then sleeps, so the kill lands with the whole turn written but not committed.
"""

import sys
import time

from companion.memory import ConversationStore, TurnMetrics
from companion.tribes import Alpha, Tribe

db, run, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
store = ConversationStore.open(db)
state = {"marker": None, "arm": False}


def trace(statement: str) -> None:
    if state["arm"] and statement.strip().upper() == "COMMIT":
        print(f"COMMITTING {state['marker']}", flush=True)
        time.sleep(30)


store.conn.set_trace_callback(trace)
pad = "memorie " * 400  # ~3 KB per message so a transaction is not instantaneous
turn = 0
while True:
    marker = f"run{run}turn{turn}"
    state["marker"], state["arm"] = marker, False
    user = store.add_message("user", f"{marker} user {pad}")
    print(f"U {user.id} {marker}", flush=True)
    state["arm"] = mode == "commit" and turn == 2
    reply = store.add_message(
        "assistant", f"{marker} reply {pad}", tribe=Tribe.SORA, alpha=Alpha(0.1, 0.8, 0.1),
        metrics=TurnMetrics(gen_ms=12.5, tokens=40, total_ms=20.0),
    )
    print(f"A {reply.id} {marker}", flush=True)
    turn += 1
