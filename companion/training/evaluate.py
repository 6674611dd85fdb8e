"""`companion eval`: α accuracy, real-word ratio, held-out loss per tribe, sample replies.

- alpha_accuracy: for held-out labelled dialogues, α at the point where the assistant's reply
  would start (user turn + <|assistant|>) must pick the labelled tribe: which tribe should answer.
- real_word_ratio: share of generated words found in the Hunspell dictionary of the reply's
  language (Debian hunspell-ro / hunspell-en-us, read with spylls) or in the training
  vocabulary. The Arianna seed's failure mode was invented words like "surfive". Replies are
  sampled as the app samples them, with the word guard (companion/text/words.py);
  real_word_ratio_unguarded is the same measure without it: what the network alone spells.
- heldout_loss: next-token loss on held-out records, per tribe.
- With a model that carries knowledge (knowledge.jsonl, `companion train --knowledge`), every
  prompt is built as the app builds a first message: a system turn with the style line and the
  nearest training exchanges (or, with nothing near, the tribe's "I do not know",
  companion/memory/unsure.py), then the user's turn; α and samples are both measured on that.
- topic_match: is a sampled reply about what was asked? Each sample is compared with every
  held-out reference reply of its tribe (the corpus's own first answers) by shared content-word
  stems, weighted by rarity; the score is the share of the other references that are less like
  the sample than its own reference. 0.5 is chance (a reply about nothing in particular), 1.0
  every reply is closest to the answer it stands in for. A proxy for "on topic" that a reader's
  judgement still has to confirm: it counts the question's words found in the reply, on topic
  or not, so a copied answer to another question that shares them scores high (an answer on
  wheel balancing, 0.97, for a question on mass and weight). What readers judged is in
  benchmarks/bench_relevance.py.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from companion.errors import CompanionError
from companion.memory.context import STYLES, system_text
from companion.memory.knowledge import Knowledge, content_stems
from companion.generation import SamplingConfig
from companion.model.generate import TorchGenerator
from companion.text.template import ChatTurn, Role, render_chat
from companion.text.words import WORD
from companion.training.corpus import Record
from companion.training.shards import record_ids
from companion.tribes import TRIBE_ORDER, Tribe, VoicePolicy

HUNSPELL_DIRS = (Path("/usr/share/hunspell"), Path("/usr/share/myspell/dicts"))
LANGUAGE_OF = {Tribe.SORA: "ro_RO", Tribe.NOVA: "ro_RO", Tribe.LUMIN: "en_US"}


@dataclass
class Sample:
    tribe: str  # the labelled tribe of the prompt
    prompt: str
    reply: str
    chosen: str  # the voice α chose, as the app does: when the reply's first words arrive
    alpha: dict[str, float]
    reference: str = ""  # the corpus's own first reply to the prompt
    topic: float | None = None  # topic_match of this reply (see the module docstring)
    memories: list[str] = field(default_factory=list)  # the knowledge lines the prompt showed
    unsure: bool = False  # the knowledge held nothing near: the memory was the tribe's "I do not know"


@dataclass
class EvalReport:
    alpha_accuracy: float
    alpha_accuracy_per_tribe: dict[str, float]
    real_word_ratio: float
    real_word_ratio_per_tribe: dict[str, float]
    real_word_ratio_unguarded: float  # the same replies sampled without the word guard
    unknown_words: list[str]
    heldout_loss: dict[str, float]
    heldout_records: int
    samples: list[Sample] = field(default_factory=list)
    topic_match: float | None = None  # mean over the samples; 0.5 is chance
    topic_match_per_tribe: dict[str, float] = field(default_factory=dict)
    sampling: dict = field(default_factory=dict)  # how the samples were drawn
    # Every held-out user turn α gives to another tribe than its label: what to read (a label
    # the words do not carry, or the detector's real mistake) before training again.
    alpha_misses: list[dict] = field(default_factory=list)
    knowledge_exchanges: int = 0  # how many exchanges the prompts could be shown (0: no knowledge)
    # Samples whose prompt the knowledge had nothing near, so the tribe said it does not know
    # (companion/memory/unsure.py); they count in topic_match at their word match, mostly low.
    unsure_samples: dict[str, int] = field(default_factory=dict)
    # Replies to messages given apart from the held-out set (everyday ones): read, not scored.
    message_samples: list[Sample] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=4)
def load_dictionary(name: str):
    """A Hunspell dictionary by name (e.g. ro_RO) from the system folders, or None."""
    from spylls.hunspell import Dictionary

    for folder in HUNSPELL_DIRS:
        if (folder / f"{name}.dic").is_file() and (folder / f"{name}.aff").is_file():
            return Dictionary.from_files(str(folder / name))
    return None


def words_of(text: str) -> list[str]:
    return WORD.findall(text)


class WordChecker:
    """Is a word real? Hunspell (with affix rules, so inflected Romanian forms count) or vocab."""

    def __init__(self, language: str, vocabulary: Iterable[str] = ()):
        self.dictionary = load_dictionary(language)
        if self.dictionary is None:
            raise CompanionError(
                f"no Hunspell dictionary {language} in {', '.join(map(str, HUNSPELL_DIRS))}: "
                f"install Debian's hunspell-{'ro' if language.startswith('ro') else 'en-us'}"
            )
        self.vocabulary = {w.casefold() for w in vocabulary}

    def known(self, word: str) -> bool:
        if word.casefold() in self.vocabulary:
            return True
        return any(self.dictionary.lookup(w) for w in {word, word.lower(), word.capitalize()})

    def check(self, text: str) -> tuple[int, list[str]]:
        """(how many of the text's words are known, the unknown ones in order)."""
        words = words_of(text)
        unknown = [w for w in words if not self.known(w)]
        return len(words) - len(unknown), unknown


class TopicMatcher:
    """topic_match against fixed references: their stems and idf are worked out once, then
    match(reply, own) is the share of references[j], j != own, less like the reply than
    references[own] (ties count half). Likeness: cosine of the stem sets weighted by idf."""

    def __init__(self, references: Sequence[str]):
        if len(references) < 2:
            raise ValueError("topic_match needs at least two references")
        self.stems = [content_stems(r) for r in references]
        df = Counter(s for ref in self.stems for s in ref)
        self.idf = {s: math.log(len(references) / n) + 1.0 for s, n in df.items()}
        self.norms = [math.sqrt(sum(self.idf[s] ** 2 for s in ref)) for ref in self.stems]

    def match(self, reply: str, own: int) -> float:
        mine = content_stems(reply) & self.idf.keys()
        norm = math.sqrt(sum(self.idf[s] ** 2 for s in mine))
        scores = [sum(self.idf[s] ** 2 for s in mine & ref) / (norm * ref_norm) if mine and ref else 0.0
                  for ref, ref_norm in zip(self.stems, self.norms)]
        others = scores[:own] + scores[own + 1:]
        return sum(1.0 if o < scores[own] else 0.5 if o == scores[own] else 0.0 for o in others) / len(others)


def first_reply(record: Record) -> str:
    return next((t.text for t in record.turns if t.role is Role.ASSISTANT), "")


def prompt_turns(record: Record) -> list[ChatTurn] | None:
    """The turns before the first assistant reply (None for plain text records)."""
    if not record.turns:
        return None
    first = next(i for i, t in enumerate(record.turns) if t.role is Role.ASSISTANT)
    return list(record.turns[:first]) or None


def with_knowledge(generator: TorchGenerator, turns: list[ChatTurn], knowledge: Knowledge | None,
                   reply_tokens: int, admit_unknown: bool = True) -> tuple[list[ChatTurn], list[str], bool]:
    """(the turns as the app sends a first message, the memory lines shown, whether they are the
    tribe's "I do not know"): the style line and what Knowledge.recall shows for the tribe α
    picks (companion.Companion.respond), within the room a reply of reply_tokens leaves;
    without knowledge, the turns."""
    if knowledge is None:
        return turns, [], False
    tribe = generator.reply_alpha(turns).dominant().value
    recall = knowledge.recall(turns[-1].text, tribe=tribe, admit_unknown=admit_unknown)
    lines = [e.memory_line() for e in recall.exchanges]
    while True:
        shown = [ChatTurn(Role.SYSTEM, system_text(STYLES["casual"], lines)), *turns]
        if not lines or len(render_chat(generator.tokenizer, shown)) + reply_tokens <= generator.max_context:
            return shown, lines, recall.unsure and bool(lines)
        lines = lines[:-1]


def heldout_loss(generator: TorchGenerator, records: Sequence[Record]) -> dict[str, float]:
    model, tok = generator.model, generator.tokenizer
    sums = {t: 0.0 for t in TRIBE_ORDER}
    counts = {t: 0 for t in TRIBE_ORDER}
    with torch.inference_mode():
        for record in records:
            ids = record_ids(tok, record)[: model.config.max_seq_len + 1]
            if len(ids) < 2:
                continue
            x = torch.tensor([ids[:-1]])
            y = torch.tensor(ids[1:])
            loss = F.cross_entropy(model(x).logits[0], y, reduction="sum")
            sums[record.tribe] += float(loss)
            counts[record.tribe] += len(ids) - 1
    return {t.value: round(sums[t] / counts[t], 4) for t in TRIBE_ORDER if counts[t]}


def _sample_replies(generator: TorchGenerator, heldout: Sequence[Record], sampling: SamplingConfig,
                    per_tribe: int, checkers: dict, knowledge: Knowledge | None,
                    admit_unknown: bool = True) -> tuple[list[Sample], dict, dict, list[str]]:
    """Replies to the first held-out prompts of each tribe: (samples, known, seen, unknown words)."""
    samples: list[Sample] = []
    known = {t: 0 for t in TRIBE_ORDER}
    seen = {t: 0 for t in TRIBE_ORDER}
    unknown: list[str] = []
    for tribe in TRIBE_ORDER:
        dialogues = [r for r in heldout if r.tribe is tribe and prompt_turns(r)]
        references = [first_reply(r) for r in dialogues]
        topics = TopicMatcher(references) if len(references) > 1 else None
        for i, record in enumerate(dialogues[:per_tribe]):
            sample = _sample(generator, tribe, prompt_turns(record), sampling.with_(seed=(sampling.seed or 0) + i),
                             knowledge, admit_unknown)
            good, bad = checkers[LANGUAGE_OF[tribe]].check(sample.reply)
            known[tribe] += good
            seen[tribe] += good + len(bad)
            unknown += bad
            sample.reference = references[i]
            sample.topic = round(topics.match(sample.reply, i), 4) if topics else None
            samples.append(sample)
    return samples, known, seen, unknown


def _sample(generator: TorchGenerator, tribe: Tribe, turns: list[ChatTurn], sampling: SamplingConfig,
            knowledge: Knowledge | None, admit_unknown: bool) -> Sample:
    """One reply to turns, its prompt built as the app builds a first message."""
    shown, lines, unsure = with_knowledge(generator, turns, knowledge, sampling.max_tokens, admit_unknown)
    pieces = list(generator.chat(shown, sampling))
    reply = "".join(p.text for p in pieces).strip()
    # The app picks the voice when the first words arrive (companion.Companion.turn).
    alpha = next((p.alpha for p in pieces if p.text.strip()), pieces[-1].alpha)
    return Sample(tribe.value, turns[-1].text, reply, VoicePolicy().choose(alpha).value,
                  {t.value: round(alpha[t], 4) for t in TRIBE_ORDER}, memories=lines, unsure=unsure)


def sample_messages(generator: TorchGenerator, messages: Sequence[tuple[Tribe, str]], sampling: SamplingConfig,
                    per_tribe: int, knowledge: Knowledge | None = None, admit_unknown: bool = True) -> list[Sample]:
    """Replies to the first per_tribe messages of each tribe (label, text) — everyday ones, say
    (benchmarks/data/everyday_questions.jsonl) — sampled as the held-out samples are."""
    samples = []
    for tribe in TRIBE_ORDER:
        texts = [text for label, text in messages if label is tribe][:per_tribe]
        samples += [_sample(generator, tribe, [ChatTurn(Role.USER, text)], sampling.with_(seed=(sampling.seed or 0) + i),
                            knowledge, admit_unknown) for i, text in enumerate(texts)]
    return samples


# How the samples are drawn (the app's settings, a little cooler and shorter, reproducible).
EVAL_SAMPLING = SamplingConfig(temperature=0.7, top_k=40, top_p=0.9, max_tokens=80, seed=7)


def evaluate_model(
    generator: TorchGenerator,
    heldout: Sequence[Record],
    *,
    vocabulary: Iterable[str] = (),
    samples_per_tribe: int = 8,
    sampling: SamplingConfig | None = None,
    knowledge: Knowledge | None = None,
    admit_unknown: bool = True,
    messages: Sequence[tuple[Tribe, str]] = (),
) -> EvalReport:
    sampling = sampling or EVAL_SAMPLING
    vocabulary = list(vocabulary)
    checkers = {lang: WordChecker(lang, vocabulary) for lang in sorted(set(LANGUAGE_OF.values()))}
    # α accuracy over every held-out dialogue.
    right = {t: 0 for t in TRIBE_ORDER}
    total = {t: 0 for t in TRIBE_ORDER}
    misses: list[dict] = []
    for record in heldout:
        turns = prompt_turns(record)
        if turns is None:
            continue
        shown, _, _ = with_knowledge(generator, turns, knowledge, sampling.max_tokens, admit_unknown)
        alpha = generator.reply_alpha(shown)
        chosen = alpha.dominant()
        total[record.tribe] += 1
        right[record.tribe] += int(chosen is record.tribe)
        if chosen is not record.tribe:
            misses.append({"tribe": record.tribe.value, "chosen": chosen.value, "prompt": turns[-1].text,
                           "alpha": {t.value: round(alpha[t], 4) for t in TRIBE_ORDER}})
    if not sum(total.values()):
        raise CompanionError("the held-out set has no dialogues: α accuracy needs user turns with a tribe label")
    # Samples: replies to held-out prompts, α decides the voice, words are checked — sampled
    # as the app samples (word guard on), and once more without the guard: the model's own.
    samples, known, seen, unknown = _sample_replies(generator, heldout, sampling, samples_per_tribe, checkers,
                                                    knowledge, admit_unknown)
    _, raw_known, raw_seen, _ = _sample_replies(generator, heldout, sampling.with_(word_guard=False),
                                                samples_per_tribe, checkers, knowledge, admit_unknown)
    n_seen = sum(seen.values())
    topics = {t.value: [s.topic for s in samples if s.tribe == t.value and s.topic is not None] for t in TRIBE_ORDER}
    all_topics = [x for v in topics.values() for x in v]
    return EvalReport(
        alpha_accuracy=round(sum(right.values()) / sum(total.values()), 4),
        alpha_accuracy_per_tribe={t.value: round(right[t] / total[t], 4) for t in TRIBE_ORDER if total[t]},
        real_word_ratio=round(sum(known.values()) / n_seen, 4) if n_seen else 0.0,
        real_word_ratio_per_tribe={t.value: round(known[t] / seen[t], 4) for t in TRIBE_ORDER if seen[t]},
        real_word_ratio_unguarded=round(sum(raw_known.values()) / sum(raw_seen.values()), 4)
        if sum(raw_seen.values()) else 0.0,
        unknown_words=sorted(set(unknown))[:50],
        heldout_loss=heldout_loss(generator, heldout),
        heldout_records=len(heldout),
        samples=samples,
        topic_match=round(sum(all_topics) / len(all_topics), 4) if all_topics else None,
        topic_match_per_tribe={t: round(sum(v) / len(v), 4) for t, v in topics.items() if v},
        sampling={k: getattr(sampling, k) for k in ("temperature", "top_k", "top_p", "max_tokens", "seed",
                                                   "repetition_penalty", "question_weight", "copy_weight")},
        alpha_misses=misses,
        knowledge_exchanges=len(knowledge) if knowledge is not None else 0,
        unsure_samples={t.value: sum(s.unsure for s in samples if s.tribe == t.value) for t in TRIBE_ORDER}
        if knowledge is not None else {},
        message_samples=sample_messages(generator, messages, sampling, samples_per_tribe, knowledge, admit_unknown),
    )
