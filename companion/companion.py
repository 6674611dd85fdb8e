"""Companion: one turn of the pipeline (DESIGN.md), text in → events out, stored in memory.

respond(text) stores the user's message, builds the context (persona tag + recent turns in the
token budget + FTS-retrieved memories + starred snapshots), streams the model's reply through
the post-filter, picks the voice from α, and stores the reply with its metrics. The caller
(CLI, GUI worker, tests) only consumes the events; it never calls the model itself.

Streaming and re-sampling meet at sentence granularity: generated text is held until a
sentence is complete and the reply so far passes the post-filter, then released (ReplyPiece +
Sentence). A try that fails before anything was released is re-sampled (up to max_tries, then
the best one is used); a reply that turns degenerate later is cut after its last good sentence.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol
from dataclasses import dataclass, field
from pathlib import Path

from companion.errors import CompanionError
from companion.generation import Generator, SamplingConfig, load_generator
from companion.memory.context import STYLES, ContextBuilder, ContextConfig
from companion.memory.knowledge import Exchange, Knowledge, knowledge_for
from companion.memory.leo import FilterConfig, Lexicon, PostFilter, ReplyScore
from companion.memory.records import Message, TurnMetrics
from companion.memory.store import ConversationStore
from companion.speech.text import SentenceSplitter
from companion.text.template import ChatTurn, Role
from companion.tribes import Alpha, Tribe, VoicePolicy
from companion.versions import ModelVersions


@dataclass(frozen=True)
class CompanionConfig:
    style: str = "casual"  # technical | casual | formal (LunaGPT seed)
    persona_lock: Tribe | None = None  # fixes the voice and conditions generation
    voice_threshold: float = 0.7
    sampling: SamplingConfig = SamplingConfig()
    max_tries: int = 3  # post-filter: re-sample a degenerate reply up to this many times
    context: ContextConfig = ContextConfig()
    filter: FilterConfig = FilterConfig()

    def __post_init__(self):
        if self.style not in STYLES:
            raise CompanionError(f"unknown style {self.style!r}: use one of {', '.join(STYLES)}")
        if self.max_tries < 1:
            raise CompanionError("max_tries must be at least 1")


# -- events ------------------------------------------------------------------------------

@dataclass(frozen=True)
class UserStored:
    message: Message


@dataclass(frozen=True)
class Notice:
    """Something the user should be told (input cut to fit the context, no answer, ...)."""

    text: str


@dataclass(frozen=True)
class Retry:
    attempt: int  # the try that was rejected, from 1
    reason: str
    text: str  # what it had produced


@dataclass(frozen=True)
class VoiceChosen:
    alpha: Alpha
    tribe: Tribe


@dataclass(frozen=True)
class ReplyPiece:
    text: str


@dataclass(frozen=True)
class Sentence:
    """A complete sentence of the reply: where TTS may start speaking."""

    text: str
    index: int


@dataclass(frozen=True)
class TurnDone:
    reply: Message | None  # None when the model produced nothing usable
    tribe: Tribe
    alpha: Alpha
    metrics: TurnMetrics
    score: ReplyScore
    stop_reason: str | None
    retrieved_ids: tuple[int, ...] = field(default=())
    knowledge: tuple[Exchange, ...] = ()  # the model's exchanges the prompt showed it
    unsure: bool = False  # its knowledge held nothing near: it was shown its "I do not know"


@dataclass(frozen=True)
class Heard:
    """What speech recognition made of the user's recording."""

    text: str
    language: str
    stt_ms: float


class SpeechRecognizer(Protocol):
    """What respond_audio needs (companion.speech.stt.Transcriber has it)."""

    def transcribe(self, audio, sample_rate: int = 16000, language: str | None = None): ...


# Forced recognition language when a persona is locked; Auto lets Whisper detect it.
LOCKED_LANGUAGE = {Tribe.SORA: "ro", Tribe.NOVA: "ro", Tribe.LUMIN: "en"}

Event = UserStored | Notice | Heard | Retry | VoiceChosen | ReplyPiece | Sentence | TurnDone


@dataclass
class _Try:
    text: str = ""
    released: str = ""
    sentences: list[str] = field(default_factory=list)
    alpha: Alpha = field(default_factory=Alpha.uniform)
    tokens: int = 0
    stop_reason: str | None = None
    first_piece_s: float | None = None
    cut: bool = False


class Companion:
    """The turn pipeline over a generator and a conversation store."""

    def __init__(self, generator: Generator, store: ConversationStore,
                 config: CompanionConfig = CompanionConfig(), lexicon: Lexicon | None = None,
                 versions: ModelVersions | None = None, model_path: str | Path | None = None,
                 knowledge: Knowledge | None = None):
        """knowledge: the exchanges shown beside each turn; by default the model folder's."""
        self.generator = generator
        self.store = store
        # Hot reload: between turns, a newly published version replaces the generator.
        self.versions = versions
        self.model_path = Path(model_path) if model_path is not None else None
        self._rejected: set[Path] = set()
        self.config = config
        if lexicon is None:
            lexicon = Lexicon.from_store(store)
            lexicon.add_installed_dictionaries()
        self.filter = PostFilter(lexicon, config.filter)
        self.policy = VoicePolicy(config.voice_threshold, config.persona_lock)
        self._notes: list[str] = []  # said at the next turn
        if knowledge is None:
            knowledge, note = knowledge_for(self.model_path)
            self._notes += [note] if note else []
        self.context = ContextBuilder(store, generator.count_tokens, generator.max_context,
                                      config.context, knowledge)

    def reconfigure(self, config: CompanionConfig) -> None:
        """Answer by config from the next turn on (what the settings dialog changed)."""
        self.config = config
        self.policy = VoicePolicy(config.voice_threshold, config.persona_lock)
        self.context.config = config.context

    @classmethod
    def load(cls, model_dir: str | Path, db: str | Path | None = None,
             config: CompanionConfig = CompanionConfig(), versions: ModelVersions | None = None) -> Companion:
        return cls(load_generator(model_dir), ConversationStore.open(db), config,
                   versions=versions, model_path=model_dir)

    def _maybe_reload(self) -> Iterator[Event]:
        """Swap in a newly published model version; a broken one is refused and noted once."""
        if self.versions is None:
            return
        try:
            path = self.versions.current_path()
        except CompanionError as exc:
            yield Notice(f"cannot read the model versions: {exc}")
            return
        if path == self.model_path or path in self._rejected:
            return
        try:
            generator = load_generator(path)
        except CompanionError as exc:
            self._rejected.add(path)
            yield Notice(f"the new model version {path.name} was not loaded ({exc}); "
                         f"still answering with {self.model_path.name if self.model_path else 'the old model'}")
            return
        knowledge, note = knowledge_for(path)
        self.generator = generator
        self.model_path = path
        self.context = ContextBuilder(self.store, generator.count_tokens, generator.max_context,
                                      self.config.context, knowledge)
        yield Notice(f"now answering with model version {path.name}")
        if note:
            yield Notice(note)

    def respond_audio(self, audio, sample_rate: int, recognizer: SpeechRecognizer) -> Iterator[Event]:
        """One spoken turn: speech recognition first, then respond() with its text.

        Empty or silent recordings end the turn with a Notice and store nothing.
        """
        lock = self.config.persona_lock
        transcript = recognizer.transcribe(audio, sample_rate, LOCKED_LANGUAGE.get(lock) if lock else None)
        for warning in getattr(transcript, "warnings", ()):
            yield Notice(warning)
        if transcript.status != "ok" or not transcript.text.strip():
            yield Notice("I heard nothing: hold the talk key while you speak, a little closer to the microphone"
                         if transcript.status == "silent" else "the recording was empty: nothing to answer")
            return
        yield Heard(transcript.text, transcript.language, round(transcript.transcribe_ms, 2))
        yield from self.respond(transcript.text, stt_ms=round(transcript.transcribe_ms, 2))

    def respond(self, text: str, stt_ms: float | None = None) -> Iterator[Event]:
        """One turn: store the user's text, answer it, store the answer. Yields events."""
        while self._notes:
            yield Notice(self._notes.pop(0))
        yield from self._maybe_reload()
        started = time.perf_counter()
        user = self.store.add_message("user", text)
        self.filter.lexicon.add_text(user.text)
        yield UserStored(user)
        sampling = self.config.sampling
        if sampling.max_tokens >= self.generator.max_context - 16:
            sampling = sampling.with_(max_tokens=max(16, self.generator.max_context // 2))
        context = self.context.build(user, sampling.max_tokens, self.config.style,
                                     self.config.persona_lock, self._answering(user.text))
        if context.user_truncated_from is not None:
            yield Notice(f"your message has {context.user_truncated_from:,} characters, more than "
                         f"the model's context holds: it answered the last part only (the whole "
                         f"message is kept in memory)")
        for turn in context.turns:
            self.filter.lexicon.add_text(turn.text)

        gen_started = time.perf_counter()
        best: tuple[ReplyScore, _Try] | None = None
        chosen: _Try | None = None
        voice: Tribe | None = None
        tries = 0
        for attempt in range(1, self.config.max_tries + 1):
            tries = attempt
            if sampling.seed is not None and attempt > 1:
                sampling = sampling.with_(seed=sampling.seed + 1)  # a new draw, still reproducible
            state = _Try()
            for event in self._run_try(context.turns, sampling, state):
                if voice is None and isinstance(event, (ReplyPiece, Sentence)):
                    voice = self.policy.choose(state.alpha)
                    yield VoiceChosen(state.alpha, voice)
                yield event
            score = self.filter.score(state.released or state.text)
            if state.released:
                chosen = state
                break
            if best is None or score.quality > best[0].quality:
                best = (score, state)
            yield Retry(attempt, self._why(state), state.text)
        if chosen is None and best is not None and best[0].reason != "empty":
            chosen = best[1]  # every try failed: keep the best rather than nothing
            voice = self.policy.choose(chosen.alpha)
            yield VoiceChosen(chosen.alpha, voice)
            chosen.released = chosen.text.strip()
            yield ReplyPiece(chosen.released)
            yield Sentence(chosen.released, 0)
        gen_ms = (time.perf_counter() - gen_started) * 1000

        final = chosen or (best[1] if best else _Try())
        alpha = final.alpha
        tribe = self.policy.choose(alpha) if voice is None else voice
        score = self.filter.score(final.released)
        first_s = final.first_piece_s
        metrics = TurnMetrics(
            stt_ms=stt_ms,
            first_token_ms=round((first_s - gen_started) * 1000, 2) if first_s else None,
            gen_ms=round(gen_ms, 2),
            total_ms=round((time.perf_counter() - started) * 1000, 2),
            prompt_tokens=context.prompt_tokens,
            tokens=final.tokens,
            entropy=round(alpha.entropy(), 4),
            tries=tries,
            quality=score.quality,
        )
        reply = None
        if final.released.strip():
            reply = self.store.add_message(
                "assistant", final.released.strip(), tribe=tribe, alpha=alpha,
                latency_ms=int(metrics.total_ms), metrics=metrics)
            self.filter.lexicon.add_text(reply.text)
        else:
            yield Notice(f"the model gave no usable answer after {tries} tries; "
                         f"try rephrasing, or check the model folder")
        yield TurnDone(reply, tribe, alpha, metrics, score, final.stop_reason,
                       tuple(m.id for m in context.retrieved), tuple(context.knowledge), context.unsure)

    def _answering(self, text: str) -> Tribe | None:
        """The tribe α picks for a reply to text alone, so the knowledge shows that tribe's
        exchanges. A detector that restarts at each user turn (detector_reset_id, as the
        default model's) gives the reply the same α whatever history and memories precede it."""
        if self.config.persona_lock is not None or not self.context.shows_knowledge:
            return None
        return self.generator.reply_alpha([ChatTurn(Role.USER, text[-4000:])]).dominant()

    def _why(self, state: _Try) -> str:
        return self.filter.score(state.text).reason or "degenerate"

    def _run_try(self, turns, sampling: SamplingConfig, state: _Try) -> Iterator[Event]:
        """Generate one try, releasing sentences while the reply so far passes the filter."""
        splitter = SentenceSplitter()
        reply_tribe = self.config.persona_lock
        stream = self.generator.chat(turns, sampling, reply_tribe)
        try:
            for piece in stream:
                if state.first_piece_s is None and piece.text:
                    state.first_piece_s = time.perf_counter()
                state.alpha = piece.alpha
                state.tokens = piece.tokens
                state.text += piece.text
                if piece.done:
                    state.stop_reason = piece.stop_reason
                for sentence in splitter.feed(piece.text):
                    if not (yield from self._release(state, sentence)):
                        return
            for sentence in splitter.flush():
                if not (yield from self._release(state, sentence)):
                    return
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # stop the model as soon as a try is abandoned

    def _release(self, state: _Try, sentence: str) -> Iterator[Event]:
        candidate = (state.released + " " + sentence).strip()
        if not self.filter.score(candidate).ok:
            state.cut = bool(state.released)
            if state.cut:
                state.stop_reason = "post_filter"
            return False
        piece = sentence if not state.released else " " + sentence
        state.released = candidate
        state.sentences.append(sentence)
        yield ReplyPiece(piece)
        yield Sentence(sentence, len(state.sentences) - 1)
        return True
