"""MODEL_CARD.md from what a model folder knows about itself and an evaluation report."""

from __future__ import annotations

import json
from pathlib import Path

from companion.training.evaluate import EvalReport


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_card(model_dir: Path, report: EvalReport, params: int) -> str:
    config = _load(model_dir / "config.json")
    training = _load(model_dir / "training.json")
    corpus = _load(model_dir / "corpus_stats.json")
    shape = config.get("model", {})
    meta = config.get("metadata", {})
    lines = [
        f"# Model card: {model_dir.name}",
        "",
        "A tribal transformer of NOVA companion: next-token language model plus α over the tribes",
        "(NOVA, Sora, Lumin) that picks the voice.",
        "",
        "## Shape",
        "",
        f"- parameters: {params:,}",
        "- " + ", ".join(f"{k}={shape[k]}" for k in ("vocab_size", "dim", "n_layers", "n_heads", "max_seq_len",
                                                        "tribe_dim", "detector_dim") if k in shape),
        "",
        "## Training",
        "",
        f"- steps: {training.get('steps', meta.get('step', '?'))}, tokens seen: {training.get('tokens_seen', '?'):,}"
        if isinstance(training.get("tokens_seen"), int) else f"- steps: {meta.get('step', '?')}",
        f"- training time: {training.get('seconds', '?')} s; train/validation tokens: "
        f"{training.get('train_tokens', '?')} / {training.get('val_tokens', '?')}",
        f"- best validation loss (LM + λ·tribe): {training.get('best_val_loss', meta.get('val_loss', '?'))}",
        f"- settings: {json.dumps(meta.get('train_config', {}))}",
    ]
    detector = meta.get("detector") or training.get("detector")
    if detector:
        lines.append(
            f"- detector stage (the context detector alone, user turn and reply start weighted up, tribes "
            f"balanced): best epoch {detector['best_epoch']} of {detector['epochs']}, {detector['seconds']} s; "
            f"α right at reply start on its {detector['val_dialogues']} validation dialogues (mean over tribes) "
            f"{detector['val_accuracy_before']} → {detector['val_accuracy']}")
    if training.get("command"):
        lines += ["", "Reproduce it (a CPU run; `--device cuda` on a GPU):", "", "```bash",
                  training["command"], "```"]
    lines += [
        "",
        "## Data per tribe",
        "",
        "| tribe | records | characters | distinct 4-gram ratio |",
        "| --- | --- | --- | --- |",
    ]
    for tribe, s in corpus.get("per_tribe", {}).items():
        lines.append(f"| {tribe} | {s['records']} | {s['chars']:,} | {s['distinct_4gram_ratio']} |")
    if corpus:
        lines += ["", f"Sources: {', '.join(corpus.get('sources', []))}; removed {corpus.get('exact_duplicates', 0)} "
                  f"exact and {corpus.get('near_duplicates', 0)} near duplicates; {corpus.get('bad_records', 0)} bad "
                  "records reported."]
    lines += [
        "",
        "## Evaluation (`companion eval`)",
        "",
        f"- α accuracy (which tribe should answer a held-out user turn): **{report.alpha_accuracy}** "
        f"{report.alpha_accuracy_per_tribe}",
        f"- real-word ratio (Hunspell ro_RO / en_US or training vocabulary), sampled as the app samples, "
        f"with the word guard: **{report.real_word_ratio}** {report.real_word_ratio_per_tribe}; without the "
        f"guard ({'copying still on' if report.knowledge_exchanges else 'the network alone'}): "
        f"{report.real_word_ratio_unguarded}",
        f"- held-out loss per tribe: {report.heldout_loss} ({report.heldout_records} records)",
    ]
    if report.topic_match is not None:
        lines.append(f"- topic match (is a sample closer in content words to its own held-out answer than to the "
                     f"tribe's other answers? 0.5 is chance, 1.0 always): **{report.topic_match}** "
                     f"{report.topic_match_per_tribe}")
    if report.knowledge_exchanges:
        lines.append(f"- knowledge: {report.knowledge_exchanges:,} exchanges (knowledge.jsonl, none of them "
                     "held out); every prompt showed the model the nearest one of the tribe α picks, as the app "
                     "does — listed under each sample; made by `companion knowledge --model DIR --corpus ...` "
                     "(any corpus: knowledge needs no training) or `companion train --knowledge`")
        if report.unsure_samples:
            lines.append(f"- where even the nearest exchange is far (companion/memory/unsure.py), the prompt showed "
                         f"the tribe's \"I do not know\" instead, and the sample says so: "
                         f"{report.unsure_samples} of {len(report.samples) // max(len(report.unsure_samples), 1)} "
                         "samples a tribe")
    if report.unknown_words:
        lines.append(f"- words not found: {', '.join(report.unknown_words[:30])}")
    if report.sampling:
        s = report.sampling
        focus = (f"question weight {s['question_weight']} (context-aware decoding, as the app)"
                 if s.get("question_weight") else "no question weight")
        if s.get("copy_weight") and report.knowledge_exchanges:
            focus += f", knowledge copying {s['copy_weight']} (as the app)"
        lines.append(f"- samples drawn with temperature {s['temperature']}, top-k {s['top_k']}, top-p {s['top_p']}, "
                     f"at most {s['max_tokens']} tokens, seed {s['seed']} (+ the sample's index), {focus}")
    if report.alpha_misses:
        lines += ["", "## Held-out turns α gave to another tribe", "",
                  "| label | α chose | user turn |", "| --- | --- | --- |"]
        lines += [f"| {m['tribe']} | {m['chosen']} | {m['prompt'][:200].replace('|', '/').replace(chr(10), ' ')} |"
                  for m in report.alpha_misses]
    lines += ["", "## Sample replies", ""]
    lines += _samples(report.samples)
    if report.message_samples:
        lines += ["## Sample replies to other messages", "",
                  "The first messages of each tribe in `companion eval --messages FILE`, sampled the same way; "
                  "no reference answer to score them against, so read them.", ""]
        lines += _samples(report.message_samples)
    return "\n".join(lines) + "\n"


def _samples(samples) -> list[str]:
    lines = []
    for s in samples:
        topic = f", topic match {s.topic}" if s.topic is not None else ""
        unsure = ", nothing near in the knowledge: says so" if s.unsure else ""
        lines += [f"**{s.tribe}** (voice chosen: {s.chosen}, α {s.alpha}{topic}{unsure})", "",
                  f"> {s.prompt}", "", f"{s.reply or '(empty)'}", ""]
        if s.memories:
            lines += ["<details><summary>memories shown</summary>", "",
                      *[f"- {m[2:] if m.startswith('• ') else m}" for m in s.memories], "", "</details>", ""]
    return lines
