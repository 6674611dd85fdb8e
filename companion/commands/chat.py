"""`companion chat`: talk to the companion in the terminal; every turn goes into memory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from companion.errors import CompanionError

HELP = "commands: /new (new episode), /star (keep the last reply), /rate N, /quit"


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--db", metavar="PATH", type=Path, default=None,
                   help="conversation database (default: in the user data folder)")
    p.add_argument("--model", metavar="DIR", type=Path, default=None,
                   help="model folder (default: the current fine-tuned version, else models/default)")
    p.add_argument("--models-dir", metavar="DIR", type=Path, default=None,
                   help="published versions to follow (default: <user data dir>/models); "
                        "a newly published one is picked up on the next turn")
    p.add_argument("--text", help="say this once, print the reply, and exit")
    p.add_argument("--style", choices=["casual", "technical", "formal"], default="casual")
    p.add_argument("--persona", choices=["nova", "sora", "lumin"],
                   help="lock the persona (default: α decides)")
    p.add_argument("--seed", type=int, default=None, help="make the replies reproducible")
    p.add_argument("--max-tokens", type=int, default=200)
    p.add_argument("--temperature", type=float, default=0.8, help="0 = always the most likely word")
    p.add_argument("--speak", action="store_true", help="also speak the replies aloud")
    p.add_argument("--output-device", help="with --speak: output device name (default: the system's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from companion.companion import Companion, CompanionConfig
    from companion.generation import SamplingConfig
    from companion.tribes import Tribe
    from companion.versions import ModelVersions

    # An explicit --model is used as is; otherwise follow the published versions (hot reload).
    versions = None if args.model else ModelVersions(args.models_dir)
    model = args.model or versions.current_path()
    if not model.exists():
        raise CompanionError(f"no model folder at {model}: pass --model DIR "
                             f"(a folder written by `companion train`)")
    config = CompanionConfig(
        style=args.style,
        persona_lock=Tribe.parse(args.persona) if args.persona else None,
        sampling=SamplingConfig(seed=args.seed, max_tokens=args.max_tokens, temperature=args.temperature),
    )
    speaker = None  # after the model check: a missing model is the first thing to fix
    if args.speak:
        from companion.speech.player import open_player
        from companion.speech.speaker import ReplySpeaker

        speaker = ReplySpeaker(open_player(args.output_device))
    companion = Companion.load(model, args.db, config, versions=versions)
    try:
        if args.text is not None:
            _turn(companion, args.text, speaker)
            if speaker is not None:
                speaker.wait(120)
            return 0
        print(f"NOVA companion — memory in {companion.store.path}. {HELP}", file=sys.stderr)
        return _repl(companion, speaker)
    finally:
        companion.store.close()


def _turn(companion, text: str, speaker=None):
    from companion.companion import Notice, ReplyPiece, Retry, Sentence, TurnDone, VoiceChosen

    done = None
    if speaker is not None:
        speaker.stop()  # a new question interrupts the previous answer (barge-in)
    for event in companion.respond(text):
        if speaker is not None and isinstance(event, VoiceChosen):
            speaker.begin(event.tribe)
        elif speaker is not None and isinstance(event, Sentence):
            speaker.sentence(event.text)
        if isinstance(event, ReplyPiece):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, Notice):
            print(f"[{event.text}]", file=sys.stderr)
        elif isinstance(event, Retry):
            print(f"[re-sampling: try {event.attempt} was {event.reason}]", file=sys.stderr)
        elif isinstance(event, TurnDone):
            done = event
    if speaker is not None:
        speaker.end()
    a = done.alpha
    reply_id = f"#{done.reply.id}" if done.reply else "no reply"
    print(f"\n[{done.tribe.value}  α nova={a.nova:.2f} sora={a.sora:.2f} lumin={a.lumin:.2f}  "
          f"{reply_id}, {done.metrics.tokens} tokens, {done.metrics.total_ms:.0f} ms]")
    return done


def _repl(companion, speaker=None) -> int:
    last = None
    while True:
        try:
            line = input("> ")
        except EOFError:
            print()
            return 0
        line = line.strip()
        if not line:
            continue
        try:
            if line in ("/quit", "/exit"):
                return 0
            if line == "/new":
                episode = companion.store.new_episode()
                print(f"[episode {episode.id} started]")
            elif line == "/star" or line.startswith("/rate"):
                if last is None or last.reply is None:
                    print("[no reply to mark yet]")
                elif line == "/star":
                    companion.store.star(last.reply.id)
                    print(f"[starred #{last.reply.id}]")
                else:
                    rating = line.split()[1] if len(line.split()) > 1 else ""
                    if not rating.isdigit():
                        raise CompanionError("write /rate followed by a number from 1 to 5")
                    companion.store.rate(last.reply.id, int(rating))
                    print(f"[rated #{last.reply.id}: {rating}/5]")
            elif line.startswith("/"):
                print(f"[{HELP}]")
            else:
                last = _turn(companion, line, speaker)
        except CompanionError as exc:
            print(f"companion: {exc}", file=sys.stderr)
