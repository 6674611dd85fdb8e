import pytest
import torch

import tiny
from companion.errors import CompanionError
from companion.generation import SamplingConfig, load_generator
from companion.model import TribalTransformer
from companion.model.generate import TorchGenerator, contrast, decode_steps, resolve_head_dtype, sample_next
from companion.text import ChatTurn, Role
from companion.text.template import render_chat
from companion.tribes import Tribe, VoicePolicy


@pytest.fixture(scope="module")
def random_generator(random_model_dir):
    return TorchGenerator.load(random_model_dir, head_precision="float32")


@pytest.fixture(scope="module")
def memorised(memorised_model_dir):
    return load_generator(memorised_model_dir)


def test_greedy_decoding_with_cache_equals_recomputing_everything(random_generator):
    model = random_generator.model
    prompt = [random_generator.tokenizer.bos_id, *random_generator.tokenizer.encode("Bună, ce faci azi?")]
    steps = list(decode_steps(model, prompt, SamplingConfig(temperature=0, repetition_penalty=1.0, max_tokens=20)))
    ids = list(prompt)
    with torch.inference_mode():
        for step in steps:
            full = model(torch.tensor([ids]))
            assert step.token_id == int(full.logits[0, -1].argmax())
            torch.testing.assert_close(step.alpha, full.alpha[0, -1], atol=1e-5, rtol=0)
            ids.append(step.token_id)


def test_seed_makes_sampling_reproducible(random_generator):
    prompt = [1, *random_generator.tokenizer.encode("Salut")]
    cfg = SamplingConfig(temperature=1.0, top_k=None, top_p=None, max_tokens=30, seed=1234)
    run = lambda c: [s.token_id for s in decode_steps(random_generator.model, prompt, c)]  # noqa: E731
    assert run(cfg) == run(cfg)
    assert run(cfg) != run(cfg.with_(seed=4321))


def test_top_k_never_emits_a_token_outside_the_k_best():
    logits = torch.linspace(-1, 1, 100)  # token 99 best, 98 second, ...
    rng = torch.Generator().manual_seed(0)
    cfg = SamplingConfig(temperature=5.0, top_k=3, top_p=None, repetition_penalty=1.0)
    seen = {sample_next(logits, torch.empty(0, dtype=torch.long), cfg, rng) for _ in range(500)}
    assert seen == {97, 98, 99}


def test_top_p_keeps_only_the_nucleus():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log()
    rng = torch.Generator().manual_seed(0)
    cfg = SamplingConfig(temperature=1.0, top_k=None, top_p=0.7, repetition_penalty=1.0)
    seen = [sample_next(logits, torch.empty(0, dtype=torch.long), cfg, rng) for _ in range(500)]
    assert set(seen) == {0, 1}  # 0.5 + 0.3 reaches 0.7; 2 and 3 are outside
    # top_k and top_p together: k=3 then the nucleus inside those
    both = cfg.with_(top_k=3, top_p=0.55)
    assert {sample_next(logits, torch.empty(0, dtype=torch.long), both, rng) for _ in range(300)} == {0, 1}


def test_repetition_penalty_and_banned_tokens():
    logits = torch.tensor([2.0, 1.9, -1.0, 0.5])
    rng = torch.Generator()
    greedy = SamplingConfig(temperature=0, repetition_penalty=1.0)
    assert sample_next(logits, torch.tensor([0]), greedy, rng) == 0
    penalised = greedy.with_(repetition_penalty=1.3)
    assert sample_next(logits, torch.tensor([0]), penalised, rng) == 1
    assert sample_next(logits, torch.empty(0, dtype=torch.long), greedy, rng, banned=torch.tensor([0, 1])) == 3


def test_memorised_chats_answer_in_their_tribe_and_stop_at_end_of_turn(memorised):
    for user, reply, tribe in tiny.MEMORISED_CHATS:
        pieces = list(memorised.chat([ChatTurn(Role.USER, user)], SamplingConfig(temperature=0)))
        last = pieces[-1]
        assert last.done and last.stop_reason == "end_of_turn"
        assert all(not p.done for p in pieces[:-1])
        assert "".join(p.text for p in pieces) == reply
        assert len(pieces) > 3  # streamed, not one lump
        assert last.alpha.dominant() is tribe
        assert VoicePolicy().choose(last.alpha) is tribe
        assert sum(last.alpha.as_tuple()) == pytest.approx(1.0, abs=1e-5)


def test_locked_tribe_conditions_generation(memorised):
    """The tribe tag in the prompt steers the reply: Lumin's tag makes the English answer."""
    turns = [ChatTurn(Role.USER, "What time is it?")]
    locked = list(memorised.chat(turns, SamplingConfig(temperature=0), reply_tribe=Tribe.LUMIN))
    assert "".join(p.text for p in locked) == "It is almost midnight. Time to rest."


def test_without_a_lock_the_reply_opens_with_the_tag_of_the_tribe_alpha_picks(random_generator):
    """α chooses the persona: the first token is α's tribe tag, never a sampled one."""
    from companion.text import render_chat
    from companion.tribes import TRIBE_ORDER

    tok = random_generator.tokenizer
    tags = [tok.tribe_ids[t] for t in TRIBE_ORDER]
    model = random_generator.model
    for text in ("Mi-e dor de mare.", "What time is it?", "Ce este un procesor?"):
        prompt = render_chat(tok, [ChatTurn(Role.USER, text)])
        with torch.inference_mode():
            alpha = model(torch.tensor([prompt]), last_only=True).alpha[0, -1]
        expected = tags[int(alpha.argmax())]
        for seed in range(5):
            steps = decode_steps(model, prompt, SamplingConfig(max_tokens=2, seed=seed), tags=tags)
            assert next(steps).token_id == expected
        # Free sampling from the random model does not open with that tag on its own.
        free = {next(decode_steps(model, prompt, SamplingConfig(max_tokens=1, seed=seed))).token_id
                for seed in range(5)}
        assert free != {expected}


def test_stop_strings_cut_the_reply_and_are_never_emitted(memorised):
    turns = [ChatTurn(Role.USER, "What time is it?")]
    pieces = list(memorised.chat(turns, SamplingConfig(temperature=0, stop=("Time to",))))
    assert pieces[-1].stop_reason == "stop_string"
    assert "".join(p.text for p in pieces) == "It is almost midnight. "
    assert not any("Time" in p.text for p in pieces)


def test_max_tokens_and_context_limits(random_generator, memorised):
    turns = [ChatTurn(Role.USER, "Ce este un procesor?")]
    pieces = list(memorised.chat(turns, SamplingConfig(temperature=0, max_tokens=3)))
    assert pieces[-1].stop_reason == "max_tokens" and pieces[-1].tokens == 3
    ctx = random_generator.max_context
    long_prompt = [1] * (ctx - 5)
    cfg = SamplingConfig(temperature=1.0, max_tokens=50, seed=0)
    # Random weights rarely emit an end marker; ban nothing but make the context the limit.
    last = list(random_generator.generate_ids(long_prompt, cfg))[-1]
    assert last.stop_reason in ("context_full", "end_of_turn")
    if last.stop_reason == "context_full":
        assert last.tokens == 5
    with pytest.raises(CompanionError, match="context holds"):
        list(random_generator.generate_ids([1] * ctx, cfg))
    with pytest.raises(CompanionError, match="empty prompt"):
        list(random_generator.generate_ids([], cfg))


def test_bad_sampling_settings_are_explained():
    with pytest.raises(CompanionError, match="top_p must be in"):
        SamplingConfig(top_p=1.5)
    with pytest.raises(CompanionError, match="temperature must be >= 0"):
        SamplingConfig(temperature=-1)
    with pytest.raises(CompanionError, match="question_weight must be in"):
        SamplingConfig(question_weight=-0.5)


def test_head_precision_choice():
    assert resolve_head_dtype("float32") is None
    assert resolve_head_dtype("bfloat16") is torch.bfloat16
    assert resolve_head_dtype("auto") in (None, torch.bfloat16)
    assert resolve_head_dtype("auto", head_bytes=4 * 2**20) is None  # small heads stay fp32
    with pytest.raises(CompanionError, match="unknown head precision"):
        resolve_head_dtype("int3")


def test_generator_refuses_mismatched_tokenizer(tokenizer):
    model = TribalTransformer(tiny.tiny_config(tokenizer, vocab_size=tokenizer.vocab_size + 1))
    with pytest.raises(CompanionError, match="do not belong together"):
        TorchGenerator(model, tokenizer)


def test_context_aware_decoding_favours_what_the_question_adds():
    # Under the prompt p token 0 (a stock phrase) leads, token 1 is what the question made likely;
    # without the question (q) token 1 is rare. Token 2 is far likelier with the question than
    # without, but implausible under p (below a tenth of the best): it must never be taken.
    p = torch.tensor([0.55, 0.40, 0.05]).log()
    q = torch.tensor([0.90, 0.05, 1e-6]).log()
    assert int(contrast(p, q, 0.0).argmax()) == 0
    mixed = contrast(p, q, 1.0)
    assert int(mixed.argmax()) == 1
    assert mixed[2] < mixed[:2].min() - 1000  # out of reach of sampling
    p = torch.tensor([0.5, 0.02, 0.04, 0.44]).log()
    q = torch.tensor([0.4, 0.3, 0.01, 0.29]).log()
    mixed = contrast(p, q, 2.0)
    # Below the plausible ones, the implausible keep the model's own order (the guard's fallback).
    assert mixed[2] > mixed[1] and max(mixed[1], mixed[2]) < min(mixed[0], mixed[3])


def test_context_aware_decoding_with_caches_equals_recomputing_both_prompts(tokenizer):
    # The small random model of the fixtures says token 472 whatever it reads; weights ×4 make
    # its replies depend on the prompt, so a contrast can change them.
    torch.manual_seed(0)
    model = TribalTransformer(tiny.tiny_config(tokenizer)).eval()
    with torch.no_grad():
        for weight in model.parameters():
            weight.mul_(4)
    tok = tokenizer
    prompt = [tok.bos_id, *tok.encode("De ce e cerul albastru?")]
    other = [tok.bos_id, *tok.encode("Salut")]
    greedy = SamplingConfig(temperature=0, repetition_penalty=1.0, max_tokens=20, question_weight=2.0)
    run = lambda contrast_ids: [s.token_id for s in decode_steps(model, prompt, greedy, contrast_ids=contrast_ids)]  # noqa: E731
    assert run(prompt) == run(None)  # (1 + β) log p − β log p = log p
    assert run(other) != run(None)
    ids, alt = list(prompt), list(other)
    with torch.inference_mode():
        for token in run(other):
            full, without = model(torch.tensor([ids])).logits[0, -1], model(torch.tensor([alt])).logits[0, -1]
            assert token == int(contrast(full, without, 2.0).argmax())
            ids.append(token)
            alt.append(token)


def test_the_contrast_is_the_prompt_without_the_last_question(memorised):
    tok = memorised.tokenizer
    turns = [ChatTurn(Role.USER, "Salut!"), ChatTurn(Role.ASSISTANT, "Bună.", Tribe.SORA),
             ChatTurn(Role.USER, "Ce mai faci?")]
    assert memorised.without_question(render_chat(tok, turns)) == render_chat(tok, turns[:2])
    assert memorised.without_question(render_chat(tok, [])) is None


def test_memorised_answers_survive_context_aware_decoding(memorised):
    """The plausibility limit keeps a reply the model is sure of, however strong the weight."""
    for user, reply, _ in tiny.MEMORISED_CHATS:
        for weight in (0.0, 2.0, 5.0):
            pieces = memorised.chat([ChatTurn(Role.USER, user)], SamplingConfig(temperature=0, question_weight=weight))
            assert "".join(p.text for p in pieces) == reply
