import pytest
import torch
import torch.nn.functional as F

from companion.model import PRESETS, KVCache, ModelConfig, TribalTransformer


@pytest.fixture()
def model():
    torch.manual_seed(1)
    # Default resonance/tribe sizes, a few layers: small but every module is exercised.
    config = ModelConfig(vocab_size=300, dim=64, n_layers=3, n_heads=4, tribe_dim=12, detector_dim=16,
                         max_seq_len=64)
    return TribalTransformer(config).eval()


def tokens(n, vocab=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (1, n), generator=g)


@torch.inference_mode()
def test_kv_cache_matches_full_forward(model):
    x = tokens(40)
    full = model(x)
    cache = KVCache(model.config)
    pieces = []
    # A prompt chunk, a second chunk (masked prefill at an offset), then one token at a time.
    for start, end in [(0, 17), (17, 25)] + [(i, i + 1) for i in range(25, 40)]:
        out = model(x[:, start:end], cache=cache)
        pieces.append(out)
    logits = torch.cat([p.logits for p in pieces], dim=1)
    alpha = torch.cat([p.alpha for p in pieces], dim=1)
    assert cache.length == 40
    torch.testing.assert_close(logits, full.logits, atol=1e-4, rtol=0)
    torch.testing.assert_close(alpha, full.alpha, atol=1e-5, rtol=0)


@torch.inference_mode()
def test_last_only_gives_the_last_position(model):
    x = tokens(12)
    full = model(x)
    last = model(x, last_only=True)
    assert last.logits.shape == (1, 1, 300)
    torch.testing.assert_close(last.logits[:, 0], full.logits[:, -1], atol=1e-5, rtol=0)


@torch.inference_mode()
def test_alpha_is_causal_and_a_distribution(model):
    # At initialisation α is almost uniform; sharpen the detector so differences show.
    torch.nn.init.normal_(model.context_detector.out.weight, std=2.0)
    x = tokens(30)
    y = x.clone()
    y[0, 20:] = (y[0, 20:] + 7) % 300  # change only the later tokens
    ax, ay = model(x).alpha, model(y).alpha
    assert ax.shape == (1, 30, 3)
    torch.testing.assert_close(ax.sum(-1), torch.ones(1, 30))
    assert (ax >= 0).all()
    torch.testing.assert_close(ax[:, :20], ay[:, :20], atol=0, rtol=0)
    assert not torch.allclose(ax[:, 20:], ay[:, 20:])  # later α does react


@torch.inference_mode()
def test_logits_are_causal(model):
    x = tokens(30)
    y = x.clone()
    y[0, 15] = (y[0, 15] + 1) % 300
    lx, ly = model(x).logits, model(y).logits
    torch.testing.assert_close(lx[:, :15], ly[:, :15], atol=0, rtol=0)
    assert not torch.allclose(lx[:, 15:], ly[:, 15:])


@torch.inference_mode()
def test_attention_weights_on_request(model):
    x = tokens(10)
    plain = model(x)
    out = model(x, return_attention=True)
    assert plain.attentions is None
    assert len(out.attentions) == model.config.n_layers
    w = out.attentions[0]
    assert w.shape == (1, 4, 10, 10)
    torch.testing.assert_close(w.sum(-1), torch.ones(1, 4, 10))
    assert torch.all(w.triu(diagonal=1) == 0)  # no query looks at a later key
    torch.testing.assert_close(out.logits, plain.logits, atol=1e-5, rtol=0)


def test_head_is_tied_to_the_embedding(model):
    names = [n for n, _ in model.named_parameters()]
    assert not any("output" in n or "lm_head" in n for n in names)
    x = tokens(5)
    out = model(x)
    out.logits.sum().backward()
    assert model.tok_embeddings.weight.grad is not None


def test_tribal_modules_shape_the_hidden_state(model):
    """α reaches the hidden state: TribalEmbedding mixes by α and TribalResonance boosts."""
    from companion.model.tribal import TribalResonance

    cfg = model.config
    res = TribalResonance(cfg)
    h = torch.ones(1, 1, cfg.dim)
    sora = res(h, torch.tensor([[[0.05, 0.9, 0.05]]]))
    core, s_part, l_part = sora[..., : cfg.core_dim], sora[..., cfg.core_dim : cfg.core_dim + cfg.tribe_dim], sora[..., -cfg.tribe_dim :]
    assert torch.all(core == 1)
    assert torch.allclose(s_part, torch.full_like(s_part, 1 + 0.3 * 0.9), atol=1e-4)  # the seed's +30 %·α
    assert torch.allclose(l_part, torch.ones_like(l_part), atol=1e-3)  # not dominant: no boost
    emb = model.tribal_embedding
    x = torch.randn(1, 1, cfg.dim)
    only_nova = emb(x, torch.tensor([[[1.0, 0.0, 0.0]]])) - x
    assert torch.all(only_nova[..., cfg.core_dim :] == 0)
    assert torch.any(only_nova[..., : cfg.core_dim] != 0)


def test_tribe_loss_trains_the_context_detector():
    """A few steps on labelled sequences teach α to tell two token 'languages' apart."""
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=40, dim=32, n_layers=1, n_heads=2, tribe_dim=8, detector_dim=8, max_seq_len=16)
    model = TribalTransformer(cfg)
    g = torch.Generator().manual_seed(0)
    sora = torch.randint(0, 20, (16, 12), generator=g)  # tribe 1 speaks ids 0..19
    lumin = torch.randint(20, 40, (16, 12), generator=g)  # tribe 2 speaks ids 20..39
    x = torch.cat([sora, lumin])
    labels = torch.cat([torch.full((16, 12), 1), torch.full((16, 12), 2)])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(60):
        out = model(x)
        loss = F.cross_entropy(out.alpha_logits.flatten(0, 1), labels.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.inference_mode():
        alpha = model.eval()(x).alpha[:, -1]
    assert (alpha.argmax(-1) == labels[:, -1]).float().mean() == 1.0


def test_bfloat16_head_copy_is_close_and_dropped_for_training(model):
    x = tokens(8)
    with torch.inference_mode():
        exact = model(x).logits
        model.use_head_precision(torch.bfloat16)
        approx = model(x).logits
    assert approx.dtype == torch.float32
    torch.testing.assert_close(approx, exact, atol=2e-2, rtol=2e-2)
    assert not torch.equal(approx, exact)  # the copy is really used
    model.train()
    assert model.tok_embeddings.head_copy is None


def test_config_validation_and_presets():
    with pytest.raises(ValueError, match="not divisible by n_heads"):
        ModelConfig(dim=100, n_heads=6)
    with pytest.raises(ValueError, match="2·tribe_dim"):
        ModelConfig(dim=64, n_heads=4, tribe_dim=40)
    with pytest.raises(ValueError, match="unknown model config keys: bogus"):
        ModelConfig.from_dict({"bogus": 1})
    assert ModelConfig.from_dict(PRESETS["small"].to_dict()) == PRESETS["small"]
    for preset in PRESETS.values():
        assert preset.core_dim > 0


def test_sequence_longer_than_context_is_refused(model):
    with pytest.raises(ValueError, match="exceeds max_seq_len"):
        model(tokens(65))


RESET = 5  # stands in for the tokenizer's <|user|> id


@pytest.fixture()
def exchange_model():
    """A model whose context detector starts afresh at each RESET token."""
    torch.manual_seed(1)
    config = ModelConfig(vocab_size=300, dim=64, n_layers=3, n_heads=4, tribe_dim=12, detector_dim=16,
                         max_seq_len=64, detector_reset_id=RESET)
    model = TribalTransformer(config).eval()
    torch.nn.init.normal_(model.context_detector.out.weight, std=2.0)  # α differences show
    return model


def with_exchanges(n=40, resets=(12, 27), seed=0):
    x = tokens(n, seed=seed)
    x[x == RESET] = RESET + 1
    x[0, list(resets)] = RESET
    return x


@torch.inference_mode()
def test_alpha_judges_each_exchange_on_its_own(exchange_model, model):
    x = with_exchanges()
    y = x.clone()
    y[0, 1:12] = (y[0, 1:12] + 11) % 300  # a different first exchange (position 0 kept)
    y[y == RESET] = RESET + 1
    y[0, [12, 27]] = RESET
    ax, ay = exchange_model(x).alpha, exchange_model(y).alpha
    assert not torch.allclose(ax[:, :12], ay[:, :12])  # the first exchange's α reacts to it
    torch.testing.assert_close(ax[:, 12:], ay[:, 12:], atol=1e-6, rtol=0)  # later ones do not
    # Without a reset id the whole prefix counts (models trained before the field).
    assert model.config.detector_reset_id is None
    torch.nn.init.normal_(model.context_detector.out.weight, std=2.0)
    assert not torch.allclose(model(x).alpha[:, 12:], model(y).alpha[:, 12:])


@torch.inference_mode()
def test_exchange_alpha_is_the_same_with_a_kv_cache(exchange_model):
    x = with_exchanges()
    full = exchange_model(x)
    cache = KVCache(exchange_model.config)
    pieces = [exchange_model(x[:, a:b], cache=cache)
              for a, b in [(0, 10), (10, 20)] + [(i, i + 1) for i in range(20, 40)]]
    torch.testing.assert_close(torch.cat([p.alpha for p in pieces], 1), full.alpha, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.cat([p.logits for p in pieces], 1), full.logits, atol=1e-4, rtol=0)
    assert int(cache.detector_from[0]) == 27
    cache.reset()
    assert int(cache.detector_from[0]) == 0


def test_exchange_mask_sees_its_exchange_and_position_zero():
    from companion.model.tribal import exchange_mask

    x = torch.tensor([[1, 9, RESET, 9, 9, RESET, 9]])
    mask, began = exchange_mask(x, 0, RESET)
    assert mask.shape == (1, 1, 7, 7) and int(began[0]) == 5
    assert mask[0, 0, 4].tolist() == [True, False, True, True, True, False, False]
    assert mask[0, 0, 6].tolist() == [True, False, False, False, False, True, True]
    # Continuing from a cache that remembers the exchange began at 5.
    more, began = exchange_mask(torch.tensor([[9, 9]]), 7, RESET, carried=torch.tensor([5]))
    assert more[0, 0, 1].tolist() == [True, False, False, False, False, True, True, True, True]
    with pytest.raises(ValueError, match="detector_reset_id"):
        ModelConfig(vocab_size=300, detector_reset_id=300)
