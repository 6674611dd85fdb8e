"""TorchGenerator: KV-cache incremental decoding of the tribal transformer.

Two layers: decode_steps() is the token loop (ids in, ids + α out; what the benchmark
measures), TorchGenerator adds the tokenizer, streaming text, stop strings and the chat
template, behind the torch-free companion.generation.Generator interface.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from companion.errors import CompanionError
from companion.generation import Piece, SamplingConfig
from companion.memory.knowledge import replies_in
from companion.model.copy import Copier, spoken_by
from companion.model.transformer import KVCache, TribalTransformer
from companion.text.template import ChatTurn, Role, render_chat
from companion.text.tokenizer import StreamDecoder, Tokenizer
from companion.text.words import Lexicon, WordGuard, token_surfaces
from companion.tribes import TRIBE_ORDER, Alpha, Tribe


@dataclass
class Step:
    token_id: int
    alpha: torch.Tensor  # [3], α at the last position fed to the model before this token


def sample_next(
    logits: torch.Tensor,
    history: torch.Tensor,
    sampling: SamplingConfig,
    rng: torch.Generator,
    banned: torch.Tensor | None = None,
    accept: Callable[[int], bool] | None = None,
    fallbacks: Sequence[Callable[[int], bool]] = (),
) -> int:
    """Pick the next id from logits [V]; history holds recent ids for the repetition penalty.

    accept (the word guard) may refuse a drawn id: it is drawn again without that id, and when
    nothing sampling allows is acceptable, the likeliest acceptable id of the whole vocabulary
    (within the first GUARD_REACH) is taken, else the likeliest that the first of `fallbacks`
    allows (the guard's second choices), else the first draw.
    """
    if sampling.repetition_penalty != 1.0 and history.numel():
        # CTRL penalty: push already-seen tokens down whatever the sign of their logit.
        seen = logits.gather(0, history)
        seen = torch.where(seen > 0, seen / sampling.repetition_penalty, seen * sampling.repetition_penalty)
        logits = logits.scatter(0, history, seen)
    if banned is not None:
        logits = logits.index_fill(0, banned, float("-inf"))
    if sampling.temperature == 0:
        return _likeliest_accepted(logits, accept) if accept is not None else int(logits.argmax())
    full = logits
    logits = logits / sampling.temperature
    if sampling.top_k is not None and sampling.top_k < logits.numel():
        logits, candidates = torch.topk(logits, sampling.top_k)  # sorted, highest first
    elif sampling.top_p is not None and sampling.top_p < 1.0:
        logits, candidates = torch.sort(logits, descending=True)
    else:
        candidates = None
    probs = logits.softmax(dim=-1)
    if sampling.top_p is not None and sampling.top_p < 1.0:
        if candidates is None:
            probs, candidates = torch.sort(probs, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
        outside = (probs.cumsum(dim=-1) - probs) >= sampling.top_p
        probs = probs.masked_fill(outside, 0.0)
    choice = int(torch.multinomial(probs, 1, generator=rng))
    token = int(candidates[choice]) if candidates is not None else choice
    if accept is None or accept(token):
        return token
    first = token
    probs = probs.clone()
    for _ in range(min(GUARD_DRAWS, probs.numel() - 1)):
        probs[choice] = 0.0
        if not float(probs.sum()) > 0.0:
            break
        choice = int(torch.multinomial(probs, 1, generator=rng))
        token = int(candidates[choice]) if candidates is not None else choice
        if accept(token):
            return token
    for judge in (accept, *fallbacks):
        token = _likeliest_accepted(full, judge)
        if judge(token):
            return token
    return first


# The word guard redraws at most this often from what top-k/top-p allow, then looks this far
# down the whole distribution for an acceptable token. Measured on models/default
# (benchmarks/bench_word_guard.py --prompts 24): 98 % of tokens are taken at the first draw
# (94 % with the default before 30 November 2026), at 434 tok/s against 442 without the guard.
GUARD_DRAWS = 16
GUARD_REACH = 512


def _likeliest_accepted(logits: torch.Tensor, accept: Callable[[int], bool]) -> int:
    order = torch.topk(logits, min(GUARD_REACH, logits.numel())).indices.tolist()
    return next((t for t in order if accept(t)), order[0])


HEAD_PRECISIONS = ("auto", "float32", "bfloat16")


# Below this size the fp32 head stays in cache and a bf16 copy gains nothing (measured:
# vocab 4096 × 288, 4.7 MB: 410 tok/s fp32 vs 401 bf16; vocab 32000, 37 MB: 258 vs 306).
BF16_HEAD_MIN_BYTES = 16 * 2**20


def resolve_head_dtype(
    precision: str, device: torch.device | str = "cpu", head_bytes: int | None = None
) -> torch.dtype | None:
    """Output-head dtype for decoding: None means the weights' own (float32).

    "auto" picks bfloat16 for a large head (head_bytes unknown counts as large) where oneDNN
    has fast bf16 kernels (AVX-512 or newer CPUs, the check torch itself uses), else float32:
    emulated bf16 would be slower than the fp32 it replaces.
    """
    if precision not in HEAD_PRECISIONS:
        raise CompanionError(f"unknown head precision {precision!r}: use one of {', '.join(HEAD_PRECISIONS)}")
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if torch.device(device).type != "cpu" or (head_bytes is not None and head_bytes < BF16_HEAD_MIN_BYTES):
        return None
    try:
        fast_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        fast_bf16 = False
    return torch.bfloat16 if fast_bf16 else None


def make_rng(seed: int | None) -> torch.Generator:
    rng = torch.Generator()
    rng.manual_seed(seed if seed is not None else secrets.randbits(63))
    return rng


@torch.inference_mode()
def decode_steps(
    model: TribalTransformer,
    prompt_ids: Sequence[int],
    sampling: SamplingConfig,
    *,
    stop_ids: Iterable[int] = (),
    banned_ids: Iterable[int] = (),
    guard: WordGuard | None = None,
    tags: Sequence[int] | None = None,
    contrast_ids: Sequence[int] | None = None,
    copy_sources: Sequence[tuple[Tribe | None, Sequence[int]]] = (),
    copy_tribe: Tribe | None = None,
) -> Iterator[Step]:
    """Yield sampled tokens one by one until a stop id, max_tokens or the context is full.

    A stop id is yielded too (so callers know why it ended) but never fed to the model. With a
    guard, only tokens that keep spelling known words are taken (companion/text/words.py).
    With tags (the tribe tag ids in α's order), the first token is not sampled: it is the tag
    of the tribe α picks at the end of the prompt, so the reply is written by the persona α
    chose (without it the model writes its own tag, and α, which reads it, follows the tag).

    With contrast_ids (the prompt without the user's question) and sampling.question_weight
    β > 0, each step decodes (1 + β)·log p(x | prompt) − β·log p(x | contrast): context-aware
    decoding (Shi et al. 2023), which favours what the question makes likelier over the
    tribe's stock phrases. Tokens below PLAUSIBLE of the likeliest one under the full prompt
    are never taken (the plausibility limit of contrastive decoding, Li et al. 2023), so the
    contrast cannot promote a token the model itself finds absurd here.

    With copy_sources ((tribe, token ids) of the memories' replies) and sampling.copy_weight
    λ > 0, each step draws from (1 − λ)·p + λ·p_copy (companion/model/copy.py), copying only
    the answers of the tribe the reply speaks for (the tag α picks, else copy_tribe: a persona
    lock) and untagged ones.
    """
    config = model.config
    n_prompt = len(prompt_ids)
    if n_prompt == 0:
        raise CompanionError("cannot generate from an empty prompt")
    if n_prompt >= config.max_seq_len:
        raise CompanionError(
            f"the prompt has {n_prompt} tokens but the model's context holds {config.max_seq_len}; "
            "shorten the conversation context"
        )
    device = model.tok_embeddings.weight.device
    total = min(config.max_seq_len, n_prompt + sampling.max_tokens)
    cache = KVCache(config, 1, total, device=device, dtype=model.tok_embeddings.weight.dtype)
    ids = torch.zeros(total, dtype=torch.long, device=device)
    ids[:n_prompt] = torch.as_tensor(list(prompt_ids), dtype=torch.long)
    stop = frozenset(int(i) for i in stop_ids)
    banned = torch.tensor(sorted(set(banned_ids)), dtype=torch.long, device=device)
    banned = banned if banned.numel() else None
    rng = make_rng(sampling.seed)
    window = sampling.repetition_window
    last = False  # the reply has room for one more token only: it may not leave half a word

    def guarded(token: int) -> bool:
        if token in stop:
            return guard.allows_end()
        return guard.allows_last(token) if last else guard.allows(token)

    accept = guarded if guard is not None else None

    out = model(ids[:n_prompt].unsqueeze(0), cache=cache, last_only=True)
    beta = sampling.question_weight if contrast_ids else 0.0
    if beta:
        c_total = min(config.max_seq_len, len(contrast_ids) + sampling.max_tokens)
        c_cache = KVCache(config, 1, c_total, device=device, dtype=model.tok_embeddings.weight.dtype)
        c_out = model(torch.as_tensor([list(contrast_ids)], device=device), cache=c_cache, last_only=True)
    n = n_prompt
    reply_start = n_prompt + (1 if tags is not None else 0)  # after the tribe tag
    copying_on = bool(sampling.copy_weight and copy_sources)
    copier = Copier(spoken_by(copy_sources, copy_tribe), sampling.copy_weight) if copying_on and tags is None else None
    for i in range(sampling.max_tokens):
        last = i == sampling.max_tokens - 1 or n + 1 >= total
        logits = out.logits[0, -1]
        if beta:
            logits = contrast(logits, c_out.logits[0, -1], beta)
        copying = copier is not None and n >= reply_start
        if copying:
            logits = copier.mix(logits, ids[reply_start:n].tolist())
        if i == 0 and tags is not None:
            chosen = int(out.alpha[0, -1].argmax())
            token = int(tags[chosen])
            if copying_on:
                copier = Copier(spoken_by(copy_sources, TRIBE_ORDER[chosen]), sampling.copy_weight)
        else:
            token = sample_next(logits, ids[max(0, n - window) : n], sampling, rng, banned, accept,
                                (guard.recovers, guard.well_formed) if guard is not None else ())
        if guard is not None:
            guard.push(token)
        if copying:
            copier.took(token)
        yield Step(token, out.alpha[0, -1])
        if token in stop or n + 1 >= total:  # prompt + reply never exceed the context
            return
        ids[n] = token
        n += 1
        # Feed the new token: a [1, 1] view of the id buffer, no new tensor per step.
        out = model(ids[n - 1 : n].unsqueeze(0), cache=cache, last_only=True)
        if beta:
            if c_cache.length + 1 >= c_total:
                beta = 0.0  # the contrast's context is full (it is never longer than the prompt's)
            else:
                c_out = model(ids[n - 1 : n].unsqueeze(0), cache=c_cache, last_only=True)


# Context-aware decoding only takes tokens at least this likely relative to the likeliest one
# under the full prompt (log 0.1).
PLAUSIBLE = math.log(0.1)
IMPLAUSIBLE = 1e4  # how far below every plausible score the others go


def contrast(logits: torch.Tensor, contrast_logits: torch.Tensor, beta: float) -> torch.Tensor:
    """(1 + β)·log p − β·log q over [V]. Implausible tokens (under p) go IMPLAUSIBLE below, in
    the order of log p: sampling never reaches them, and the word guard, when no plausible token
    spells a known word, still falls back to the model's own next choice (not to an arbitrary
    one, as −inf ties would)."""
    full = logits.float().log_softmax(-1)
    mixed = (1 + beta) * full - beta * contrast_logits.float().log_softmax(-1)
    return torch.where(full < full.max() + PLAUSIBLE, full - IMPLAUSIBLE, mixed)


class TorchGenerator:
    """The PyTorch backend of companion.generation.Generator."""

    def __init__(self, model: TribalTransformer, tokenizer: Tokenizer, head_precision: str = "auto",
                 lexicon: Lexicon | None = None):
        if tokenizer.vocab_size != model.config.vocab_size:
            raise CompanionError("tokenizer and model do not belong together (vocabulary sizes differ)")
        self.model = model.eval()
        weight = model.tok_embeddings.weight
        head_bytes = weight.numel() * weight.element_size()
        self.model.use_head_precision(resolve_head_dtype(head_precision, weight.device, head_bytes))
        self.tokenizer = tokenizer
        self.max_context = model.config.max_seq_len
        tok = tokenizer
        # A role marker means the model started the next turn: the reply is over.
        self._end_ids = frozenset({tok.end_id, tok.user_id, tok.system_id, tok.assistant_id})
        self._banned_ids = frozenset({tok.pad_id, tok.bos_id, tok.piece_to_id("<unk>"), tok.piece_to_id("</s>")})
        # The word guard's known words: the training text's (vocabulary.txt beside the weights).
        self.lexicon = lexicon if lexicon is not None and len(lexicon) else None
        self._surfaces = token_surfaces(tokenizer) if self.lexicon is not None else []

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu", head_precision: str = "auto") -> TorchGenerator:
        from companion.model.checkpoint import load_checkpoint

        ckpt = load_checkpoint(folder, device=device)
        return cls(ckpt.model, ckpt.tokenizer, head_precision=head_precision, lexicon=read_vocabulary(folder))

    def word_guard(self, prompt_ids: Sequence[int]) -> WordGuard | None:
        """A word guard for a reply to prompt_ids (None without a vocabulary). The words of the
        conversation count as known too: names, places, the user's own words."""
        if self.lexicon is None:
            return None
        context = Lexicon()
        context.add_text(self.tokenizer.decode([i for i in prompt_ids if i not in self.tokenizer.special_ids]))
        return WordGuard(self._surfaces, self.lexicon, context)

    def without_question(self, prompt_ids: Sequence[int]) -> list[int] | None:
        """prompt_ids less the last user turn (<|user|> … <|end|>): the contrast of context-aware
        decoding. None when there is no complete user turn."""
        tok = self.tokenizer
        ids = list(prompt_ids)
        start = next((i for i in range(len(ids) - 1, -1, -1) if ids[i] == tok.user_id), None)
        if start is None or tok.end_id not in ids[start:]:
            return None
        end = ids.index(tok.end_id, start)
        return ids[:start] + ids[end + 1:]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))

    def reply_alpha(self, turns: Sequence[ChatTurn]) -> Alpha:
        ids = render_chat(self.tokenizer, turns)[-self.max_context + 1:]
        tokens = torch.tensor([ids], device=self.model.tok_embeddings.weight.device)
        with torch.inference_mode():
            return Alpha.from_sequence(self.model(tokens, last_only=True).alpha[0, -1].tolist())

    def chat(
        self, turns: Sequence[ChatTurn], sampling: SamplingConfig, reply_tribe: Tribe | None = None
    ) -> Iterator[Piece]:
        # No persona lock: α at the reply start picks the tribe tag the reply opens with.
        # A memory shown whole (to a sentence's end) ends with <|end|>: a reply that copies it
        # to the end may stop there rather than go on in the model's own words.
        end = [self.tokenizer.end_id]
        sources = [(Tribe(tribe) if tribe else None, self.tokenizer.encode(reply) + (end if whole else []))
                   for t in turns if t.role is Role.SYSTEM for tribe, reply, whole in replies_in(t.text)]
        return self.generate_ids(render_chat(self.tokenizer, turns, reply_tribe=reply_tribe), sampling,
                                 tag_by_alpha=reply_tribe is None, copy_sources=sources, copy_tribe=reply_tribe)

    def generate_ids(self, prompt_ids: Sequence[int], sampling: SamplingConfig,
                     tag_by_alpha: bool = False,
                     copy_sources: Sequence[tuple[Tribe | None, Sequence[int]]] = (),
                     copy_tribe: Tribe | None = None) -> Iterator[Piece]:
        decoder = StreamDecoder(self.tokenizer)
        stops = tuple(s for s in sampling.stop if s)
        text = ""  # the reply so far
        emitted = 0  # how much of text was yielded
        generated: list[int] = []
        alpha = Alpha.uniform()
        reason = "max_tokens"
        guard = self.word_guard(prompt_ids) if sampling.word_guard else None
        tags = None
        if tag_by_alpha and prompt_ids and prompt_ids[-1] == self.tokenizer.assistant_id:
            tags = [self.tokenizer.tribe_ids[t] for t in TRIBE_ORDER]
        contrast_ids = self.without_question(prompt_ids) if sampling.question_weight else None
        steps = decode_steps(self.model, prompt_ids, sampling, stop_ids=self._end_ids,
                             banned_ids=self._banned_ids, guard=guard, tags=tags, contrast_ids=contrast_ids,
                             copy_sources=copy_sources, copy_tribe=copy_tribe)
        for step in steps:
            alpha = Alpha.from_sequence(step.alpha.tolist())
            if step.token_id in self._end_ids:
                reason = "end_of_turn"
                break
            generated.append(step.token_id)
            text += decoder.push(step.token_id)
            safe = len(text)
            if stops:
                hit = _find_stop(text, stops, emitted)
                if hit is not None:
                    text, reason = text[:hit], "stop_string"
                    break
                safe -= _held_back(text, stops)
            if safe > emitted:
                yield Piece(text[emitted:safe], alpha, len(generated))
                emitted = safe
        else:
            if len(prompt_ids) + len(generated) >= self.max_context:
                reason = "context_full"
        if reason != "stop_string":
            text += decoder.flush()
        yield Piece(
            text[emitted:], alpha, len(generated), done=True, stop_reason=reason, token_ids=tuple(generated)
        )


def read_vocabulary(folder: str | Path) -> Lexicon | None:
    """The training vocabulary beside a model's weights (one word a line), or None.

    It is data about the model, outside the manifest: a missing or unreadable file only turns
    the word guard off.
    """
    path = Path(folder) / "vocabulary.txt"
    try:
        return Lexicon(path.read_text(encoding="utf-8").split())
    except (OSError, UnicodeDecodeError):
        return None


def _find_stop(text: str, stops: tuple[str, ...], emitted: int) -> int | None:
    """Earliest start of a stop string in text (searching from just before what was emitted)."""
    hits = []
    for s in stops:
        i = text.find(s, max(0, emitted - len(s) + 1))
        if i >= 0:
            hits.append(i)
    return min(hits) if hits else None


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """Length of the longest tail of text that could still grow into a stop string."""
    longest = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:k]):
                longest = k
                break
    return longest
