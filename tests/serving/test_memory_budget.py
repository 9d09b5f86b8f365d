"""The memory budget of ``m2m100 serve``: the estimate of a request's decoding memory against what
decoding really allocates, and the budget enforced over HTTP against the real server (a request
over it is refused with the numbers; requests share a batch only within it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from m2m100.model.cache import DecoderCache
from m2m100.serving.limits import RequestLimits
from m2m100.translator import Translator
from tests.serving.test_server import error_of, expected, start_server, texts, translator

__all__ = ["texts", "translator"]  # fixtures shared with test_server


class CacheSizes:
    """Records the bytes of every decoder cache ``generate`` made, after the decoding that used it
    (the real cache: ``new_cache`` is wrapped, not replaced)."""

    def __init__(self, translator: Translator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.caches: list[DecoderCache] = []
        model = translator.model
        original = model.new_cache

        def new_cache(**kwargs: Any) -> DecoderCache:
            cache = original(**kwargs)
            self.caches.append(cache)
            return cache

        monkeypatch.setattr(model, "new_cache", new_cache)

    def peak(self) -> int:
        return max(cache.nbytes() for cache in self.caches)


@pytest.mark.parametrize("beam_size", [1, 4])
def test_the_estimate_bounds_what_decoding_allocates_and_is_not_far_above_it(translator, texts, beam_size, monkeypatch):
    limits = RequestLimits.of(translator, None)
    batch = texts[:6]
    new = 40
    cost = limits.cost(batch, beam_size, new)
    sizes = CacheSizes(translator, monkeypatch)
    # min_new_tokens: every row decodes the whole length, the worst case the estimate is for.
    translator.translate(batch, src="en", tgt="fr", beam_size=beam_size, max_new_tokens=new, min_new_tokens=new)
    assert len(sizes.caches) == 1  # one model call: the estimate's case
    vocab = translator.model.config.vocab_size
    logits = len(batch) * beam_size * vocab * 4  # one float32 copy of a step's logits
    allocated = sizes.peak() + logits
    assert allocated <= cost.memory <= 4 * allocated, (allocated, cost.memory)


@pytest.fixture(scope="module")
def server(translation_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    # A 1 MiB budget, the work cap lifted: only memory limits these requests. max-wait-ms: requests
    # sent together surely meet in the queue (and would share a batch).
    options = ["--memory-budget", 1, "--max-batch-work", 10**9, "--max-wait-ms", 300]
    server = start_server(translation_folder, tmp_path_factory.mktemp("server") / "server.log", *options)
    yield server
    assert server.stop() == 0, server.output()
    assert "Traceback" not in server.output()


def body(texts: list[str], beam_size: int) -> dict[str, Any]:
    return {"texts": texts, "src": "en", "tgt": "fr", "beam_size": beam_size, "max_new_tokens": 40}


def test_a_request_over_the_memory_budget_gives_413_with_the_numbers(server, translator, texts):
    limits = RequestLimits.of(translator, None)
    costly = body(texts[:6], 4)
    assert limits.cost(costly["texts"], 4, 40).memory > 2**20  # the test's premise
    batches = server.metric("m2m100_batch_requests_count")
    detail = error_of(server.post(costly), 413, "too_much_memory")
    assert detail.startswith("6 texts x 4 beams x max_new_tokens 40 need about 1.3 MiB to decode; ")
    assert detail.endswith(
        "this server's memory budget is 1 MiB a batch: send fewer texts, fewer beams or fewer tokens"
    )
    assert server.metric("m2m100_batch_requests_count") == batches  # nothing reached the model
    assert server.metric("m2m100_request_errors_total", kind="too_much_memory") == 1
    within = body(texts[:2], 4)
    response = server.post(within)
    assert response.status_code == 200, response.text
    assert response.json()["translations"] == expected(translator, within)


def test_requests_share_a_batch_only_within_the_memory_budget(server, translator, texts):
    limits = RequestLimits.of(translator, None)

    def batches_of(*bodies: dict[str, Any]) -> float:
        before = server.metric("m2m100_batch_requests_count")

        async def clients() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
                return await asyncio.gather(*(client.post("/translate", json=b) for b in bodies))

        for b, response in zip(bodies, asyncio.run(clients())):
            assert response.status_code == 200, response.text
            assert response.json()["translations"] == expected(translator, b)
        return server.metric("m2m100_batch_requests_count") - before

    cheap = [body(texts[i : i + 3], 2) for i in (0, 3)]
    costly = [body(texts[i : i + 3], 4) for i in (0, 3)]
    memory = [limits.cost(b["texts"], b["beam_size"], 40).memory for b in cheap + costly]
    assert memory[0] + memory[1] <= 2**20 < memory[2] + memory[3]  # the test's premise
    assert memory[2] <= 2**20 and memory[3] <= 2**20
    assert batches_of(*cheap) == 1
    assert batches_of(*costly) == 2
