"""The int8 screen of the LM head (model/screened_head.py): its bound holds, greedy search picks
the same tokens through it as through the full head (and as transformers), and its copy follows
the weight."""

from __future__ import annotations

import pytest
import torch

import m2m100
from m2m100.model import screened_head
from m2m100.model.screened_head import ScreenedHead
from tests.checkpoints import build_hf_model, save_hf_checkpoint

pytestmark = pytest.mark.skipif(not screened_head.available(), reason="this torch build has no FBGEMM")


def _head(vocab: int = 3000, width: int = 256, seed: int = 0) -> torch.Tensor:
    """Rows of varied norms and a few outliers, as a trained embedding has."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(vocab, width, generator=g) * 0.05 * torch.rand(vocab, 1, generator=g).add(0.2)
    w[::97, ::13] *= 20
    return w


def _rows(w: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """Rows a decoder gives, and rows built to break a loose bound: along a weight row's
    quantization error, along the weight row itself, with one huge element, nearly constant."""
    g = torch.Generator().manual_seed(seed)
    width = w.shape[1]
    normal = torch.randn(4, width, generator=g)
    scale = w.abs().amax(dim=1, keepdim=True) / 127
    error = w - torch.round(w / scale) * scale
    along_error = error[[5, 500]] / error[[5, 500]].norm(dim=1, keepdim=True) * 30
    along_row = w[[7, 1234]] * 40
    spike = torch.randn(1, width, generator=g)
    spike[0, 3] = 300
    flat = torch.full((1, width), 0.5) + 1e-3 * torch.randn(1, width, generator=g)
    return torch.cat([normal, along_error, along_row, spike, flat])


@pytest.mark.parametrize("seed", range(4))
def test_every_token_that_can_win_is_a_candidate(seed):
    w = _head(seed=seed)
    x = _rows(w, seed=seed + 10)
    screen = ScreenedHead(w)(x)
    assert screen is not None
    exact = x.double() @ w.double().T
    floor = screen.floor.double()
    assert (exact.amax(dim=1) >= floor).all(), "the best token's logit is at least the floor"
    kept = set(screen.ids.tolist())
    for row in range(x.shape[0]):
        winners = set(torch.nonzero(exact[row] >= floor[row]).squeeze(1).tolist())
        assert winners <= kept


def test_the_screen_rules_out_most_tokens():
    w = _head()
    x = torch.randn(4, w.shape[1], generator=torch.Generator().manual_seed(2))
    screen = ScreenedHead(w)(x)
    assert screen is not None and len(screen.ids) < w.shape[0] // 10


def test_too_many_candidates_gives_up():
    w = torch.randn(1000, 64) * 1e-3
    w[:, 0] = 1.0  # every token's logit is about x[0]: all within the bound of each other
    x = torch.randn(2, 64)
    assert ScreenedHead(w, most=100)(x) is None
    assert ScreenedHead(w, most=1000)(x) is not None
    assert ScreenedHead(w)(torch.full((1, 64), float("nan"))) is None


def test_a_head_too_flat_to_screen_stops_being_screened():
    from m2m100.model.linear import SCREEN_MISSES, Linear

    head = Linear(64, 5000, bias=False).eval().requires_grad_(False)  # more tokens than a screen keeps
    with torch.no_grad():
        head.weight.copy_(torch.randn(5000, 64) * 1e-3)
        head.weight[:, 0] = 1.0  # every logit about x[0]: the screen keeps them all
    head.screens = True
    x = torch.randn(2, 64)
    for _ in range(SCREEN_MISSES):
        assert head.screened(x) is None
    assert head._screen_misses == SCREEN_MISSES
    head.screened(x)
    assert head._screen_misses == SCREEN_MISSES, "no longer tried"
    with torch.no_grad():
        head.weight.normal_(0.0, 0.5)  # a new weight: a new screen, tried again
    assert head.screened(x) is not None and head._screen_misses == 0


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save_hf_checkpoint(tmp_path_factory.mktemp("screen") / "tiny", seed=5, vocab_size=400)


def _source(rows: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 400, (rows, 9), generator=g)
    ids[:, -1] = 2
    return ids, torch.ones_like(ids)


def test_loaded_head_screens_and_stays_tied(folder):
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    head = model.lm_head
    assert head.screens
    shared = model.model.shared.weight
    assert head.weight is shared is model.model.encoder.embed_tokens.weight is model.model.decoder.embed_tokens.weight
    hidden = torch.randn(3, model.config.d_model) * 3
    assert model.screened_logits(hidden) is None, "not where gradients are recorded"
    with torch.no_grad():
        screened = model.screened_logits(hidden)
        full = model.next_token_logits(hidden)
    assert screened is not None
    finite = torch.isfinite(screened.logits)
    assert 0 < int(finite.sum(dim=1).max()) < model.config.vocab_size
    torch.testing.assert_close(screened.logits[finite], full[finite], rtol=0, atol=1e-5)
    assert torch.equal(screened.logits.argmax(dim=1), full.argmax(dim=1))


@pytest.mark.parametrize("kwargs", [{}, {"no_repeat_ngram_size": 2, "repetition_penalty": 1.3}, {"min_new_tokens": 12}])
def test_greedy_tokens_equal_the_full_head_and_transformers(folder, kwargs):
    import transformers

    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    hf = transformers.M2M100ForConditionalGeneration.from_pretrained(folder).eval()
    ids, mask = _source(8)
    options = dict(max_new_tokens=16, forced_bos_token_id=128, **kwargs)
    screened = model.generate(ids, attention_mask=mask, **options)
    assert model.lm_head._screen is not None, "greedy search went through the screen"
    model.lm_head.screens = False
    full = model.generate(ids, attention_mask=mask, **options)
    assert torch.equal(screened, full)
    assert torch.equal(screened, hf.generate(ids, attention_mask=mask, **options))


def test_a_rule_that_bans_every_candidate_takes_the_full_head(folder):
    """With each row's candidates suppressed, the best token left is one the screen ruled out:
    the decoder sees the chosen score below the floor and asks for the full head."""
    import transformers

    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    ids, mask = _source(1, seed=3)
    seen: list[torch.Tensor] = []
    screened_logits = model.screened_logits

    def spy(hidden):
        out = screened_logits(hidden)
        seen.append(out)
        return out

    model.screened_logits = spy  # type: ignore[method-assign]
    options = dict(max_new_tokens=3, forced_bos_token_id=128)
    model.generate(ids, attention_mask=mask, **options)
    candidates = torch.nonzero(torch.isfinite(seen[0].logits[0])).squeeze(1).tolist()
    assert 0 < len(candidates) < 40
    calls = 0
    next_token_logits = model.next_token_logits

    def counted(hidden):
        nonlocal calls
        calls += 1
        return next_token_logits(hidden)

    model.next_token_logits = counted  # type: ignore[method-assign]
    options["suppress_tokens"] = candidates
    ours = model.generate(ids, attention_mask=mask, **options)
    assert calls >= 1, "the fallback to the full head ran"
    hf = transformers.M2M100ForConditionalGeneration.from_pretrained(folder).eval()
    assert torch.equal(ours, hf.generate(ids, attention_mask=mask, **options))
    assert not set(ours[0, 2:].tolist()) & set(candidates)


@pytest.mark.parametrize("edit", ["data", "no_grad"])
def test_the_screen_follows_edits_of_the_weight(folder, edit):
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    ids, mask = _source(4, seed=1)
    options = dict(max_new_tokens=10, forced_bos_token_id=128)
    before = model.generate(ids, attention_mask=mask, **options)
    first = model.lm_head._screen
    model.generate(ids, attention_mask=mask, **options)
    assert model.lm_head._screen is first, "built once"
    other = build_hf_model(seed=9, vocab_size=400).model.shared.weight.detach()
    if edit == "data":  # as PEFT merges an adapter
        model.model.shared.weight.data.copy_(other)
    else:
        with torch.no_grad():
            model.model.shared.weight.copy_(other)
    after = model.generate(ids, attention_mask=mask, **options)
    assert model.lm_head._screen is not first
    model.lm_head.screens = False
    assert torch.equal(after, model.generate(ids, attention_mask=mask, **options))
    assert not torch.equal(after, before)


def test_training_and_other_dtypes_drop_the_screen(folder):
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    ids, mask = _source(2)
    model.generate(ids, attention_mask=mask, max_new_tokens=4, forced_bos_token_id=128)
    assert model.lm_head._screen is not None
    model.train()
    assert model.lm_head._screen is None
    model.eval().to(torch.bfloat16)
    assert model.screened_logits(torch.randn(1, model.config.d_model, dtype=torch.bfloat16)) is None
