"""The work one request may cost the server, attacked over HTTP against the real ``m2m100 serve``:
a length limit checked before anything reaches torch, a cap on texts x beams x new tokens per
batch, a deadline that stops the decoding of a request nobody waits for, and 500s that keep the
cause in the log. Each attack runs beside a normal request, which must still be answered."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from m2m100.serving.app import INTERNAL_DETAIL
from m2m100.translator import Translator
from tests.serving.test_server import Server, error_of, expected, start_server, texts, translator

__all__ = ["texts", "translator"]  # fixtures shared with test_server

LIMIT = 62  # the tiny model's 64 positions less the decoder start and the target language token
WORK = 1500  # --max-batch-work of the module's server
TIMEOUT = 3  # --request-timeout of the server whose limits are lifted


@pytest.fixture(scope="module")
def server(translation_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    # max-wait-ms: requests sent together surely meet in the queue (and would share a batch).
    options = ["--max-batch-work", WORK, "--max-wait-ms", 300, "--max-texts", 64, "--max-chars", 100_000]
    server = start_server(translation_folder, tmp_path_factory.mktemp("server") / "server.log", *options)
    yield server
    assert server.stop() == 0, server.output()
    assert "Traceback" not in server.output()


def beside_a_normal_request(server: Server, translator: Translator, texts: list[str], attack: Any) -> Any:
    """Run ``attack()`` while a normal request is sent, and check the normal one's answer."""
    normal = {"texts": texts[:2], "src": "en", "tgt": "fr"}
    with ThreadPoolExecutor(1) as pool:
        answered = pool.submit(server.post, normal)
        result = attack()
        response = answered.result()
    assert response.status_code == 200, response.text
    assert response.json()["translations"] == expected(translator, normal)
    return result


def raw_post(server: Server, body: str) -> httpx.Response:
    """A body sent as written (numbers Python's json would not write, such as 1e400)."""
    return httpx.post(
        server.url + "/translate", content=body.encode(), headers={"content-type": "application/json"}, timeout=120
    )


def test_max_new_tokens_over_the_limit_or_not_an_integer_gives_422_before_the_model(server, translator, texts):
    batches = server.metric("m2m100_batch_requests_count")
    bad = {
        "63": "max_new_tokens: 63 is over this server's limit of 62 tokens",
        "20000": "max_new_tokens: 20000 is over this server's limit of 62 tokens",
        "100000": "max_new_tokens: 100000 is over this server's limit of 62 tokens",
        "1" + "0" * 30: f"max_new_tokens: 1{'0' * 30} is over this server's limit of 62 tokens",
        "1e30": "max_new_tokens: Input should be a valid integer",
        "1e400": "max_new_tokens: Input should be a valid integer",
        "20.0": "max_new_tokens: Input should be a valid integer",
        "2.5": "max_new_tokens: Input should be a valid integer",
        '"20"': "max_new_tokens: Input should be a valid integer",
        "true": "max_new_tokens: Input should be a valid integer",
        "-1": "max_new_tokens: Input should be greater than or equal to 1",
        "-1" + "0" * 30: "max_new_tokens: Input should be greater than or equal to 1",
    }

    def attack() -> None:
        for value, message in bad.items():
            body = f'{{"texts": ["{texts[0]}"], "src": "en", "tgt": "fr", "beam_size": 16, "max_new_tokens": {value}}}'
            detail = error_of(raw_post(server, body), 422, "invalid_request")
            assert detail.startswith(message), (value, detail)

    beside_a_normal_request(server, translator, texts, attack)
    assert server.metric("m2m100_batch_requests_count") == batches + 1  # the normal request's only

    at_limit = {"texts": texts[2:4], "src": "en", "tgt": "de", "max_new_tokens": LIMIT}
    response = server.post(at_limit)
    assert response.status_code == 200, response.text
    assert response.json()["translations"] == expected(translator, at_limit)


def test_a_request_over_the_work_cap_gives_413_with_the_numbers(server, translator, texts):
    batches = server.metric("m2m100_batch_requests_count")

    def attack() -> list[str]:
        costly = {"texts": texts[:16], "src": "en", "tgt": "fr", "beam_size": 16, "max_new_tokens": LIMIT}
        many = {"texts": texts[:4] * 16, "src": "en", "tgt": "fr", "beam_size": 16}  # the default length
        return [error_of(server.post(body), 413, "too_much_work") for body in (costly, many)]

    costly, many = beside_a_normal_request(server, translator, texts, attack)
    assert costly == (
        f"16 texts x 16 beams x max_new_tokens 62 make about {16 * 16 * 62} token steps; at most {WORK} a "
        "request: send fewer texts, fewer beams or fewer tokens"
    )
    assert many.startswith("64 texts x 16 beams x max_new_tokens default (about twice the input) make about ")
    assert server.metric("m2m100_batch_requests_count") == batches + 1  # the normal request's only
    assert server.metric("m2m100_request_errors_total", kind="too_much_work") == 2


def test_requests_share_a_batch_only_within_the_work_cap(server, translator, texts):
    def together(*bodies: dict[str, Any]) -> tuple[list[httpx.Response], float, float]:
        batches = server.metric("m2m100_batch_requests_count"), server.metric("m2m100_batch_requests_bucket", le="1.0")

        async def clients() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
                return await asyncio.gather(*(client.post("/translate", json=body) for body in bodies))

        responses = asyncio.run(clients())
        for body, response in zip(bodies, responses):
            assert response.status_code == 200, response.text
            assert response.json()["translations"] == expected(translator, body)
        return (
            responses,
            server.metric("m2m100_batch_requests_count") - batches[0],
            server.metric("m2m100_batch_requests_bucket", le="1.0") - batches[1],
        )

    # 4 texts x 2 beams x 62 tokens = 496 each: together 992, within the cap of 1500: one batch.
    cheap = [
        {"texts": texts[i : i + 4], "src": "en", "tgt": "fr", "beam_size": 2, "max_new_tokens": LIMIT} for i in (0, 4)
    ]
    assert together(*cheap)[1:] == (1, 0)
    # 8 texts each, 992 each: together 1984, over the cap: a batch each.
    costly = [
        {"texts": texts[i : i + 8], "src": "en", "tgt": "fr", "beam_size": 2, "max_new_tokens": LIMIT} for i in (0, 8)
    ]
    assert together(*costly)[1:] == (2, 2)


# ------------------------------------------------------------------------------------------
# A server whose operator lifted the length, work and memory limits: the deadline and a model failure
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lifted(translation_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    options = ["--max-new-tokens-limit", 10**30, "--max-batch-work", 10**40, "--memory-budget", 10**40]
    options += ["--request-timeout", TIMEOUT]
    server = start_server(translation_folder, tmp_path_factory.mktemp("lifted") / "server.log", *options)
    yield server
    assert server.stop() == 0, server.output()


def test_a_request_past_its_deadline_gets_504_and_its_decoding_stops(lifted, translator, texts):
    assert "--max-new-tokens-limit 1000000000000000000000000000000 is over the 62 tokens" in lifted.output()
    # Translations that run to any length (no end of sequence within 300 tokens), many times:
    # tens of seconds of decoding.
    endless = [
        t
        for t, out in zip(texts, translator.translate(texts, src="en", tgt="de", max_new_tokens=300))
        if len(translator.tokenizer.encode(out)) >= 300
    ]
    assert endless, "no text of the fixture translates without end"
    slow = {"texts": endless[:1] * 64, "src": "en", "tgt": "de", "beam_size": 16, "max_new_tokens": 5000}
    started = time.monotonic()
    translator.translate(slow["texts"][:4], src="en", tgt="de", beam_size=16, max_new_tokens=5000)
    assert time.monotonic() - started > TIMEOUT / 8, (
        "a sixteenth of the slow request must take an eighth of the deadline"
    )
    normal = {"texts": texts[:2], "src": "en", "tgt": "fr"}
    with ThreadPoolExecutor(2) as pool:
        started = time.monotonic()
        answer = pool.submit(lifted.post, slow)
        lifted.wait_for(lambda: lifted.metric("m2m100_requests_running") == 1, "the slow request to start")
        time.sleep(TIMEOUT / 2)
        beside = pool.submit(lifted.post, normal)  # queued behind it, with a deadline after the slow one's
        detail = error_of(answer.result(), 504, "timeout")
        waited = time.monotonic() - started
        response = beside.result()
    assert detail == f"not translated within this server's limit of {TIMEOUT} s"
    assert TIMEOUT <= waited < 3 * TIMEOUT
    # The normal request was answered within its own deadline, so the slow batch stopped.
    assert response.status_code == 200, response.text
    assert response.json()["translations"] == expected(translator, normal)
    lifted.wait_for(lambda: "stopped a batch of 1 requests" in lifted.output(), "the log of the stop")
    assert lifted.metric("m2m100_request_errors_total", kind="timeout") == 1
    assert httpx.get(lifted.url + "/health").json()["status"] == "ok"
    assert "Traceback" not in lifted.output()


def test_a_huge_max_new_tokens_is_served_within_the_deadline(lifted, translator, texts):
    """max_new_tokens 10**29 once made torch fail with its C++ stack in the answer. Decoding
    buffers now grow with the tokens made, so the request is simply bounded by the deadline."""
    huge = {"texts": texts[:1], "src": "en", "tgt": "fr", "max_new_tokens": 10**29}
    started = time.monotonic()
    response = lifted.post(huge)
    assert response.status_code in (200, 504), response.text
    assert time.monotonic() - started < 3 * TIMEOUT
    normal = {"texts": texts[:2], "src": "en", "tgt": "fr"}
    assert lifted.post(normal).json()["translations"] == expected(translator, normal)  # the server goes on
    assert "Traceback" not in lifted.output()


class BrokenTranslator(Translator):
    """The real Translator whose model fails mid-batch, as torch does with its C++ stack."""

    def translate_segments(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Overflow when unpacking long long\nException raised from unpack<long> at aten/src/...")


def test_a_model_failure_gives_500_without_its_cause_which_is_logged(translation_folder, caplog):
    from fastapi.testclient import TestClient

    from m2m100.serving.app import create_app

    app = create_app(lambda: BrokenTranslator(translation_folder, device="cpu"))
    with caplog.at_level("ERROR"), TestClient(app, raise_server_exceptions=False) as client:
        for _ in range(200):  # the model loads in the background
            if client.get("/health").json()["status"] == "ok":
                break
            time.sleep(0.05)
        response = client.post("/translate", json={"text": "hello", "src": "en", "tgt": "fr"})
        assert response.status_code == 500
        assert response.json() == {"error": "internal", "detail": INTERNAL_DETAIL}
        assert "unpack" not in response.text
        assert client.get("/health").json()["status"] == "ok"  # the service goes on
    assert "Overflow when unpacking long long" in caplog.text  # the cause is in the log
