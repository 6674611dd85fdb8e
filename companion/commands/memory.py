"""`companion history | export | star | rate`: look into and curate the conversation memory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from companion.errors import CompanionError


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--db", metavar="PATH", type=Path, default=None,
                   help="conversation database (default: in the user data folder)")
    if name == "history":
        p.add_argument("--search", metavar="WORDS", help="only messages containing all these words")
        p.add_argument("--limit", type=int, default=20, help="how many messages (default 20)")
        p.add_argument("--episode", type=int, metavar="ID", help="only this episode")
        p.add_argument("--json", action="store_true", help="one JSON object per message")
        p.set_defaults(func=run_history)
    elif name == "export":
        p.add_argument("--out", metavar="FILE.jsonl", type=Path, required=True,
                       help="where to write the training-corpus JSONL")
        p.add_argument("--since", metavar="DATE", help="only replies from this date on (YYYY-MM-DD)")
        p.add_argument("--episode", type=int, metavar="ID", help="only this episode")
        p.add_argument("--min-rating", type=int, metavar="N", help="only replies rated N..5")
        p.set_defaults(func=run_export)
    elif name == "star":
        p.add_argument("message_id", type=int, metavar="MESSAGE_ID")
        p.add_argument("--note", help="why this reply is worth keeping")
        p.add_argument("--remove", action="store_true", help="unstar it")
        p.set_defaults(func=run_star)
    elif name == "rate":
        p.add_argument("message_id", type=int, metavar="MESSAGE_ID")
        p.add_argument("rating", type=int, metavar="1..5")
        p.add_argument("--note", help="what was good or bad")
        p.set_defaults(func=run_rate)
    else:
        raise ValueError(f"companion.commands.memory cannot register {name!r}")


def _open(args: argparse.Namespace, must_exist: bool):
    from companion.memory import ConversationStore, default_db_path

    path = args.db if args.db is not None else default_db_path()
    if must_exist and not Path(path).expanduser().exists():
        raise CompanionError(
            f"there is no conversation database at {path} yet: talk first (`companion chat`) "
            f"or point --db PATH at an existing one"
        )
    return ConversationStore.open(path)


def _describe(message, starred: set[int], ratings: dict[int, int], width: int = 100) -> str:
    text = " ".join(message.text.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    who = message.role
    if message.role == "assistant" and message.tribe is not None:
        who = message.tribe.value
    marks = ""
    if message.id in starred:
        marks += " ★"
    if message.id in ratings:
        marks += f" [{ratings[message.id]}/5]"
    alpha = ""
    if message.alpha is not None:
        alpha = " α=(" + ", ".join(f"{a:.2f}" for a in message.alpha.as_tuple()) + ")"
    return f"#{message.id:<6} {message.when}  {who:>9}{marks}{alpha}  {text}"


def run_history(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CompanionError("--limit must be at least 1")
    with _open(args, must_exist=True) as store:
        if args.search is not None:
            messages = [hit.message for hit in store.search(args.search, limit=args.limit)]
            messages.sort(key=lambda m: m.id)
        else:
            messages = store.recent(args.limit, episode_id=args.episode)
        starred = {s.message_id for s in store.snapshots()}
        ratings = {m.id: fb.rating for m in messages if (fb := store.feedback_for(m.id))}
    if args.json:
        for m in messages:
            print(json.dumps({
                "id": m.id, "ts": m.ts, "role": m.role, "text": m.text,
                "episode": m.episode_id, "tribe": m.tribe.value if m.tribe else None,
                "alpha": list(m.alpha.as_tuple()) if m.alpha else None,
                "starred": m.id in starred, "rating": ratings.get(m.id),
            }, ensure_ascii=False))
        return 0
    if not messages:
        print("no messages match" if args.search is not None else "no messages yet")
        return 0
    episode = None
    for m in messages:
        if m.episode_id != episode:
            episode = m.episode_id
            print(f"── episode {episode} ──")
        print(_describe(m, starred, ratings))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from companion.memory.corpus import ExportFilter, export_jsonl
    from companion.memory.records import parse_when

    filters = ExportFilter(
        since=parse_when(args.since) if args.since else None,
        episode_id=args.episode,
        min_rating=args.min_rating,
    )
    with _open(args, must_exist=True) as store:
        result = export_jsonl(store, args.out, filters)
    note = f" ({result.skipped_unlabelled} replies without a tribe left out)" \
        if result.skipped_unlabelled else ""
    print(f"exported {result.records} replies to {result.path}{note}")
    return 0


def run_star(args: argparse.Namespace) -> int:
    with _open(args, must_exist=True) as store:
        if args.remove:
            removed = store.unstar(args.message_id)
            print(f"message {args.message_id} " + ("unstarred" if removed else "was not starred"))
            return 0
        snapshot = store.star(args.message_id, args.note)
    print(f"starred message {snapshot.message_id} (snapshot {snapshot.id})")
    return 0


def run_rate(args: argparse.Namespace) -> int:
    with _open(args, must_exist=True) as store:
        feedback = store.rate(args.message_id, args.rating, args.note)
    print(f"rated message {feedback.message_id}: {feedback.rating}/5")
    return 0
