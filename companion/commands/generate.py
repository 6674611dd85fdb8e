"""`companion generate`: stream a reply (or a raw continuation) from a model folder."""

from __future__ import annotations

import json
import sys
import time


def register(sub, name: str, help_text: str) -> None:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("--model", required=True, help="model folder (model.safetensors, config.json, ...)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="a user message: the model answers it as one chat turn")
    what.add_argument("--prompt", help="raw text to continue, without the chat template")
    p.add_argument("--tribe", choices=["nova", "sora", "lumin"], help="lock the persona (default: α decides)")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=40)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--repetition-penalty", type=float, default=1.1)
    p.add_argument("--max-tokens", type=int, default=200)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--no-word-guard", action="store_true",
                   help="let the model spell any word, also ones it invents (default: only words of its "
                        "training text and of the prompt)")
    p.add_argument("--question-weight", type=float, default=None,
                   help="context-aware decoding: how strongly the question steers each word "
                        "(0 = off; default: the app's, 2)")
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    p.add_argument("--head-precision", choices=["auto", "float32", "bfloat16"], default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end instead of streaming")
    p.set_defaults(func=run)


def run(args) -> int:
    from companion.generation import SamplingConfig, load_generator
    from companion.text.template import ChatTurn, Role
    from companion.tribes import Tribe, VoicePolicy

    sampling = SamplingConfig(
        temperature=args.temperature, top_k=args.top_k or None, top_p=args.top_p,
        repetition_penalty=args.repetition_penalty, max_tokens=args.max_tokens,
        seed=args.seed, stop=tuple(args.stop), word_guard=not args.no_word_guard,
        **({} if args.question_weight is None else {"question_weight": args.question_weight}),
    )
    generator = load_generator(args.model)
    if args.head_precision != "auto":
        from companion.model.generate import TorchGenerator

        generator = TorchGenerator(generator.model, generator.tokenizer, head_precision=args.head_precision)
    lock = Tribe.parse(args.tribe) if args.tribe else None
    t0 = time.perf_counter()
    if args.text is not None:
        stream = generator.chat([ChatTurn(Role.USER, args.text)], sampling, reply_tribe=lock)
    else:
        prompt = [generator.tokenizer.bos_id, *generator.tokenizer.encode(args.prompt)]
        stream = generator.generate_ids(prompt, sampling)
    parts, first_ms, last = [], None, None
    for piece in stream:
        if piece.text and first_ms is None:
            first_ms = (time.perf_counter() - t0) * 1000
        parts.append(piece.text)
        if not args.json:
            sys.stdout.write(piece.text)
            sys.stdout.flush()
        last = piece
    elapsed = time.perf_counter() - t0
    tribe = VoicePolicy(lock=lock).choose(last.alpha)
    result = {
        "text": "".join(parts),
        "tribe": tribe.value,
        "alpha": dict(zip(("nova", "sora", "lumin"), (round(a, 4) for a in last.alpha.as_tuple()))),
        "tokens": last.tokens,
        "stop_reason": last.stop_reason,
        "first_token_ms": round(first_ms, 1) if first_ms is not None else None,
        "tok_per_s": round(last.tokens / elapsed, 1) if elapsed > 0 else None,
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        a = result["alpha"]
        print(f"\n[{tribe.value}  α nova={a['nova']:.2f} sora={a['sora']:.2f} lumin={a['lumin']:.2f}  "
              f"{result['tokens']} tokens, {result['tok_per_s']} tok/s, {result['stop_reason']}]",
              file=sys.stderr)
    return 0
