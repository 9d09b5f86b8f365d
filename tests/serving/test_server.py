"""The HTTP service, ``m2m100 serve``, started for real in a subprocess on a free loopback port
and spoken to over HTTP; every translation is compared with the Translator's own translation of
the same request. The batching queue is also tested alone, with a fake model that waits for the
test, where the timing must be exact.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from m2m100.demo import model_path as demo_model_path
from m2m100.serving.app import SERVE_MODULES
from m2m100.serving.batcher import Batcher, Closed, Job, QueueFull, Settings, Stopped
from m2m100.translator import Segment, Translator

MAIN_OPTIONS = ["--max-wait-ms", "100", "--max-texts", "8", "--max-chars", "2000", "--max-queue", "64"]
# A request that keeps the tiny model busy for seconds (beam 4, 60 tokens each), so that the
# queue can be filled behind it.
SLOW = dict(beam_size=4, max_new_tokens=60)
SLOW_TEXTS = 100


# ------------------------------------------------------------------------------------------
# The server process
# ------------------------------------------------------------------------------------------
@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path
    health: list[tuple[int, str]]  # (status, "status" field) of every /health answer while starting

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def post(self, body: Any, **options: Any) -> httpx.Response:
        return httpx.post(self.url + "/translate", json=body, timeout=120, **options)

    def metric(self, name: str, **labels: str) -> float:
        """One sample of /metrics (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(self.url + "/metrics", timeout=30).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"the server exited while waiting for {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.output()}"
            time.sleep(0.02)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path, log: Path, *options: object) -> Server:
    """``python -m m2m100 serve`` on a free port, once /health answers 200."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # a tiny model gains nothing from threads
    with open(log, "wb") as out:  # a file, not a pipe: a full pipe would stop the server
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "m2m100",
                "serve",
                "-m",
                str(folder),
                "--port",
                str(port),
                "--device",
                "cpu",
                *map(str, options),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, [])

    def healthy() -> bool:
        try:
            response = httpx.get(server.url + "/health", timeout=5)
        except httpx.TransportError:
            return False  # not listening yet
        server.health.append((response.status_code, response.json()["status"]))
        return response.status_code == 200

    try:
        server.wait_for(healthy, "/health", timeout=120)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def server(translation_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    server = start_server(translation_folder, tmp_path_factory.mktemp("server") / "server.log", *MAIN_OPTIONS)
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def translator(translation_folder: Path) -> Translator:
    return Translator(translation_folder, device="cpu")


@pytest.fixture(scope="module")
def texts(translator: Translator) -> list[str]:
    """Short one-line texts whose en->fr translations all differ and are not empty, so that an
    answer holding another request's translation shows."""
    from tests.tokenizer_fixture import SAMPLE_TEXTS

    candidates = [
        t for t in SAMPLE_TEXTS[90:250] if t.strip() and "\n" not in t and len(translator.tokenizer.encode(t)) <= 40
    ]
    translations = translator.translate(candidates, src="en", tgt="fr", beam_size=1, max_new_tokens=8)
    chosen = {translation: text for text, translation in zip(candidates, translations) if translation}
    assert len(chosen) >= 16
    return list(chosen.values())[:20]


@pytest.fixture(scope="module")
def slow_request(texts: list[str], translator: Translator) -> tuple[dict[str, Any], list[str]]:
    """A request that takes the tiny model seconds, and its translations: one text of a long
    translation, many times (a translation depends on its input alone, so one call gives them)."""
    translations = translator.translate(texts[:3], src="en", tgt="de", **SLOW)
    text, translation = max(zip(texts, translations), key=lambda pair: len(translator.tokenizer.encode(pair[1])))
    return {"texts": [text] * SLOW_TEXTS, "src": "en", "tgt": "de", **SLOW}, [translation] * SLOW_TEXTS


def expected(translator: Translator, body: dict[str, Any]) -> list[str]:
    """The library's translations of a request's texts."""
    return expected_many(translator, body)[0]


def expected_many(translator: Translator, *bodies: dict[str, Any]) -> list[list[str]]:
    """The library's translations of requests with the same settings, a list for each request
    (in one call: a translation depends on its own input alone)."""
    settings = {(body.get("beam_size"), body.get("max_new_tokens")) for body in bodies}
    assert len(settings) == 1
    beam_size, max_new_tokens = settings.pop()
    segments = [
        Segment(text, body["src"], body["tgt"])
        for body in bodies
        for text in ([body["text"]] if "text" in body else body["texts"])
    ]
    out = iter(translator.translate_stream(segments, beam_size=beam_size, max_new_tokens=max_new_tokens))
    return [[next(out) for _ in ([body["text"]] if "text" in body else body["texts"])] for body in bodies]


# ------------------------------------------------------------------------------------------
# Answers
# ------------------------------------------------------------------------------------------
def test_health_languages_page_and_docs(server, translator):
    assert server.health[-1] == (200, "ok")
    assert all(answer == (503, "loading") for answer in server.health[:-1])  # never anything else
    assert httpx.get(server.url + "/health").json() == {"status": "ok", "model": str(translator.name)}

    answer = httpx.get(server.url + "/languages").json()
    assert [entry["code"] for entry in answer["languages"]] == translator.languages
    assert len(translator.languages) == 100  # no "languages" in its config.json: all the tokenizer's
    assert {"code": "fr", "name": "French"} in answer["languages"]
    assert (answer["model"], answer["demo"]) == (str(translator.name), False)
    assert answer["description"] == "M2M100 translation checkpoint, 100 languages"

    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for element in ('id="text"', 'id="src"', 'id="tgt"', 'id="swap"', 'id="translate"', 'id="result"'):
        assert element in page.text
    # Everything is in the page: no script, style, font or image from elsewhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|@import|url\(""", page.text)

    schema = httpx.get(server.url + "/openapi.json").json()
    assert {"/translate", "/languages", "/health"} <= set(schema["paths"])
    # /docs loads Swagger UI from the server, not from a CDN (the browser test sees it render).
    html = httpx.get(server.url + "/docs").text
    assert not re.search(r"https?://", html), html
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert asset.startswith("/static-offline-docs/"), asset
        assert httpx.get(server.url + asset).status_code == 200, asset
    assert httpx.get(server.url + "/redoc").status_code == 404  # ReDoc would fetch its logo from its CDN


def test_the_demo_model_offers_its_24_languages_and_says_it_is_a_demo(tmp_path):
    folder = demo_model_path()
    server = start_server(folder, tmp_path / "server.log")
    try:
        answer = httpx.get(server.url + "/languages").json()
        codes = [entry["code"] for entry in answer["languages"]]
        # The languages its training data was built for (the data build's own record).
        trained = json.loads((folder / "demo_data.json").read_text(encoding="utf-8"))["options"]["languages"]
        assert len(codes) == 24 and sorted(codes) == sorted(trained)
        assert {"code": "ja", "name": "Japanese"} in answer["languages"]
        assert (answer["model"], answer["demo"]) == (str(folder), True)
        assert answer["description"] == (
            "number words (0-9999, cardinals and ordinals) and CLDR names (weekdays, "
            "months, languages, territories) in 24 languages; not for real text"
        )

        # zh is an M2M100 language, but not one of the demo model's.
        for body in ({"text": "twenty-one", "src": "en", "tgt": "zh"}, {"text": "二十一", "src": "zh", "tgt": "en"}):
            response = server.post(body)
            detail = error_of(response, 422, "unknown_language")
            assert "Unknown language code 'zh'" in detail and detail.endswith(f"Valid codes: {', '.join(codes)}.")
            assert response.json()["valid"] == codes

        translator = Translator(folder, device="cpu")
        body = {"texts": ["twenty-one", "Monday"], "src": "en", "tgt": "fr"}
        assert server.post(body).json()["translations"] == expected(translator, body)
    finally:
        assert server.stop() == 0, server.output()


def test_translations_equal_the_library(server, translator, texts):
    long_text = " ".join(t.strip(" .!?") + "." for t in texts[:10])  # over the model's 64 positions
    assert len(translator.tokenizer.encode(long_text)) > 64
    requests = [
        {"text": texts[0], "src": "en", "tgt": "fr"},
        {"texts": texts[1:4], "src": "en", "tgt": "fr", "beam_size": 2, "max_new_tokens": 6},
        {"texts": [texts[4], "", "  ", texts[4], long_text], "src": "fr", "tgt": "de"},
        {"texts": texts[5:13], "src": "de", "tgt": "zh", "max_new_tokens": 12},
        {"texts": [], "src": "en", "tgt": "fr"},
    ]
    for body in requests:
        response = server.post(body)
        assert response.status_code == 200, response.text
        answer = response.json()
        want = expected(translator, body)
        assert answer["translations"] == want
        assert (answer["src"], answer["tgt"], answer["model"]) == (body["src"], body["tgt"], str(translator.name))
        if "text" in body:
            assert answer["translation"] == want[0]
        else:
            assert "translation" not in answer
    assert len(set(expected(translator, requests[1]))) == 3  # rows are distinguishable


def test_many_concurrent_clients_get_their_own_translations(server, translator, texts):
    rng = random.Random(0)
    directions = [("en", "fr"), ("fr", "de"), ("de", "en"), ("en", "zh")]
    settings = [{}, {"beam_size": 2, "max_new_tokens": 6}, {"max_new_tokens": 8}]
    bodies = [
        {"texts": rng.sample(texts, rng.randint(1, 3)), "src": src, "tgt": tgt, **rng.choice(settings)}
        for src, tgt in (rng.choice(directions) for _ in range(24))
    ]
    before = server.metric("m2m100_batch_requests_count"), server.metric("m2m100_batch_requests_bucket", le="1.0")

    async def clients() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=server.url, timeout=120, limits=httpx.Limits(max_connections=len(bodies))
        ) as client:
            return await asyncio.gather(*(client.post("/translate", json=body) for body in bodies))

    responses = asyncio.run(clients())
    want: dict[int, list[str]] = {}
    for options in settings:
        same = [i for i, body in enumerate(bodies) if body.keys() - {"texts", "src", "tgt"} == options.keys()]
        want.update(zip(same, expected_many(translator, *(bodies[i] for i in same))))
    for i, (body, response) in enumerate(zip(bodies, responses)):
        assert response.status_code == 200, response.text
        assert response.json()["translations"] == want[i], body
    batches = server.metric("m2m100_batch_requests_count") - before[0]
    single = server.metric("m2m100_batch_requests_bucket", le="1.0") - before[1]
    assert batches < len(bodies) and single < batches  # some batches held several requests
    assert server.metric("m2m100_generated_tokens_total") > 0


# ------------------------------------------------------------------------------------------
# Bad requests
# ------------------------------------------------------------------------------------------
def error_of(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == kind
    return response.json()["detail"]


def test_limits_give_413(server, texts):
    before = server.metric("m2m100_request_errors_total", kind="too_many_texts")
    detail = error_of(server.post({"texts": texts[:9], "src": "en", "tgt": "fr"}), 413, "too_many_texts")
    assert "9 texts" in detail and "at most 8" in detail
    assert server.metric("m2m100_request_errors_total", kind="too_many_texts") == before + 1
    detail = error_of(server.post({"texts": ["a" * 1500, "b" * 501], "src": "en", "tgt": "fr"}), 413, "too_many_chars")
    assert "2001 characters" in detail and "at most 2000" in detail
    error_of(server.post({"text": "a" * 200_000, "src": "en", "tgt": "fr"}), 413, "too_large")  # refused unread


def test_unknown_language_gives_422_naming_the_valid_codes(server, translator):
    response = server.post({"text": "Hello", "src": "english", "tgt": "fr"})
    detail = error_of(response, 422, "unknown_language")
    assert detail.startswith("src: Unknown language code 'english'. Did you mean 'en'")
    assert "Valid codes: af, am, ar," in detail
    assert response.json()["valid"] == translator.languages
    detail = error_of(server.post({"text": "Hello", "src": "en", "tgt": "fr_FR"}), 422, "unknown_language")
    assert detail.startswith("tgt: Unknown language code 'fr_FR'. Did you mean 'fr'")


def test_malformed_requests_give_422(server):
    url = server.url + "/translate"
    requests_before = server.metric("m2m100_requests_total")
    json_type = {"content-type": "application/json"}
    detail = error_of(
        httpx.post(url, content=b'{"text": "Hello", "src": "en",', headers=json_type), 422, "invalid_json"
    )
    assert "not valid JSON" in detail
    error_of(httpx.post(url, content=b"\xff\xfe", headers=json_type), 422, "invalid_json")
    detail = error_of(httpx.post(url, content=b'{"text": "a", "src": "en", "tgt": "fr"}'), 422, "invalid_request")
    assert "Content-Type: application/json" in detail
    cases = [
        ([1, 2], "valid dictionary"),
        ({"src": "en", "tgt": "fr"}, 'either "text"'),
        ({"text": "a", "texts": ["b"], "src": "en", "tgt": "fr"}, 'either "text"'),
        ({"text": "a", "tgt": "fr"}, "src: Field required"),
        ({"texts": "a", "src": "en", "tgt": "fr"}, "texts: Input should be a valid list"),
        ({"texts": ["a", 3], "src": "en", "tgt": "fr"}, "texts.1: Input should be a valid string"),
        ({"text": "a", "src": "en", "tgt": "fr", "beam_size": 0}, "beam_size: Input should be greater than or equal"),
        ({"text": "a", "src": "en", "tgt": "fr", "beam_size": "2"}, "beam_size: Input should be a valid integer"),
        ({"text": "a", "src": "en", "tgt": "fr", "max_new_tokens": 0}, "max_new_tokens: Input should be greater"),
        ({"text": "a", "src": "en", "tgt": "fr", "beam": 2}, "beam: Extra inputs are not permitted"),
    ]
    for body, message in cases:
        assert message in error_of(server.post(body), 422, "invalid_request"), body
    assert server.metric("m2m100_requests_total") == requests_before + 3 + len(cases)  # all counted


# ------------------------------------------------------------------------------------------
# A full queue, a client that leaves, shutting down
# ------------------------------------------------------------------------------------------
def test_full_queue_gives_503_and_a_client_that_leaves_frees_its_slot(
    translation_folder, tmp_path, translator, texts, slow_request
):
    # One request at a time, one waiting: a slow request runs, then the queue can be filled.
    server = start_server(
        translation_folder,
        tmp_path / "server.log",
        "--max-queue",
        "1",
        "--max-batch-requests",
        "1",
        "--max-wait-ms",
        "0",
        "--max-texts",
        SLOW_TEXTS,
        "--max-chars",
        100_000,
    )
    small = {"texts": texts[:2], "src": "en", "tgt": "fr"}
    try:
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(server.post, slow_request[0])
            server.wait_for(lambda: server.metric("m2m100_requests_running") == 1, "the slow request to start")

            # A client queues a request, then goes away before it starts.
            leaving = socket.create_connection(("127.0.0.1", server.port))
            body = json.dumps(small).encode()
            leaving.sendall(  # the Host header must be one the server allows (127.0.0.1 with its port)
                b"POST /translate HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (server.port, len(body), body)
            )
            server.wait_for(lambda: server.metric("m2m100_queue_depth") == 1, "the request to queue")

            full = server.post(small)
            error_of(full, 503, "queue_full")
            assert int(full.headers["Retry-After"]) >= 1

            leaving.close()
            server.wait_for(lambda: server.metric("m2m100_queue_depth") == 0, "the slot to be freed")
            assert not slow.done(), "the slow request ended too soon for this test; make it slower"
            queued = pool.submit(server.post, small)  # takes the freed slot
            server.wait_for(lambda: server.metric("m2m100_queue_depth") == 1, "the next request to queue")

            assert slow.result().json()["translations"] == slow_request[1]
            assert queued.result().json()["translations"] == expected(translator, small)
        assert server.metric("m2m100_request_errors_total", kind="queue_full") == 1
        assert server.metric("m2m100_request_errors_total", kind="disconnected") == 1
        assert server.metric("m2m100_batch_requests_count") == 2  # the slow one and the last: the left one never ran
    finally:
        assert server.stop() == 0, server.output()


def test_sigterm_finishes_the_request_in_flight_then_exits_0(translation_folder, tmp_path, slow_request):
    server = start_server(
        translation_folder, tmp_path / "server.log", "--max-texts", SLOW_TEXTS, "--max-chars", 100_000
    )
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(server.post, slow_request[0])
        server.wait_for(lambda: server.metric("m2m100_requests_running") == 1, "the slow request to start")
        server.process.send_signal(signal.SIGTERM)

        def refused() -> bool:
            try:
                httpx.get(server.url + "/health", timeout=5)
            except httpx.ConnectError:
                return True
            except (httpx.ReadError, httpx.RemoteProtocolError):
                pass  # accepted just before the listener closed, then closed unanswered
            return False

        server.wait_for(refused, "the server to stop accepting connections")
        assert not slow.done(), "the slow request ended too soon for this test; make it slower"
        response = slow.result()
    assert response.status_code == 200
    assert response.json()["translations"] == slow_request[1]
    assert server.process.wait(timeout=60) == 0, server.output()
    assert "Traceback" not in server.output()


def test_a_model_that_cannot_load_ends_the_command(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "m2m100",
            "serve",
            "-m",
            str(tmp_path / "missing"),
            "--port",
            str(free_port()),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 1, result.stderr
    assert f"m2m100: error: cannot load the model {tmp_path / 'missing'}" in result.stderr


@pytest.mark.parametrize("module", SERVE_MODULES)
def test_serve_without_the_serve_extra_says_what_to_install(module):
    hide = f"import sys; sys.modules[{module!r}] = None"  # what an import finds when it is not installed
    result = subprocess.run(
        [sys.executable, "-c", f"{hide}; from m2m100.cli import main; sys.exit(main(['serve']))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"m2m100: error: m2m100 serve needs the [serve] extra ({module} is not installed): "
        "pip install 'm2m100[serve]'\n"
    )
    assert result.stdout == ""


# ------------------------------------------------------------------------------------------
# The app in-process: /health while the model loads
# ------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_health_says_loading_until_the_model_is_ready(translator):
    from fastapi.testclient import TestClient

    from m2m100.serving.app import create_app

    release = threading.Event()

    def load() -> Translator:
        assert release.wait(30)
        return translator

    with TestClient(create_app(load)) as client:
        response = client.get("/health")
        assert (response.status_code, response.json()) == (503, {"status": "loading"})
        response = client.post("/translate", json={"text": "Hello", "src": "en", "tgt": "fr"})
        assert (response.status_code, response.json()["error"]) == (503, "loading")
        assert response.headers["Retry-After"] == "1"
        assert client.get("/languages").status_code == 503
        release.set()
        deadline = time.monotonic() + 30
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert client.post("/translate", json={"text": "Hello", "src": "en", "tgt": "fr"}).status_code == 200


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_a_failed_load_is_reported():
    from fastapi.testclient import TestClient

    from m2m100.serving.app import create_app

    failures: list[BaseException] = []

    def load() -> Translator:
        raise FileNotFoundError("no checkpoint here")

    with TestClient(create_app(load, on_load_error=failures.append)) as client:
        deadline = time.monotonic() + 30
        while not failures:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        response = client.get("/health")
        assert (response.status_code, response.json()) == (503, {"status": "failed", "detail": "no checkpoint here"})
        assert client.post("/translate", json={"text": "a", "src": "en", "tgt": "fr"}).json()["error"] == "model_failed"


# ------------------------------------------------------------------------------------------
# The batching queue alone, with a model that waits for the test
# ------------------------------------------------------------------------------------------
class FakeModel:
    """Translates "text" as "src>tgt:text/settings", recording every batch; each batch waits
    until the test opens the gate."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str, str]]] = []
        self.started = 0  # batches that reached the model
        self.gate = threading.Semaphore(0)
        self.fail = False
        self.stopped: list[bool] = []  # for each batch, whether it was told to stop

    def __call__(
        self, segments: list[tuple[str, str, str]], settings: Settings, stopped: Callable[[], bool]
    ) -> list[str]:
        self.started += 1
        while not self.gate.acquire(timeout=0.01):  # a decoding step
            if stopped():
                self.stopped.append(True)
                raise Stopped()
        self.batches.append(segments)
        self.stopped.append(False)
        if self.fail:
            raise RuntimeError("the model broke")
        return [f"{src}>{tgt}:{text}/{settings.beam_size}" for text, src, tgt in segments]


def run_async(test: Callable[..., Any], **options: Any) -> FakeModel:
    """Run ``test(batcher, model)`` on a fresh event loop."""
    model = FakeModel()

    async def main() -> None:
        batcher = Batcher(
            model, **{**dict(max_batch_tokens=1000, max_batch_requests=8, max_wait=0.0, max_queue=8), **options}
        )
        try:
            await test(batcher, model)
        finally:
            model.gate.release(100)
            await batcher.close()

    asyncio.run(main())
    return model


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never met")


def submit(
    batcher: Batcher, texts: list[str], src: str = "en", tgt: str = "fr", beam_size: int | None = None, work: int = 0
) -> asyncio.Task:
    return asyncio.ensure_future(batcher.submit(Job(texts, src, tgt, Settings(beam_size=beam_size), work=work)))


def test_batcher_merges_directions_and_separates_settings():
    async def test(batcher: Batcher, model: FakeModel) -> None:
        first = submit(batcher, ["a"])  # runs alone: nothing else is queued yet
        await until(lambda: model.started == 1)
        tasks = [
            submit(batcher, ["b", "c"], "en", "de"),
            submit(batcher, ["d"], "fr", "en", beam_size=2),
            submit(batcher, ["e"], "de", "fr"),
            submit(batcher, [], "en", "fr"),
        ]
        await until(lambda: batcher.queue_depth == 4)
        model.gate.release(3)
        assert await first == ["en>fr:a/None"]
        assert await asyncio.gather(*tasks) == [["en>de:b/None", "en>de:c/None"], ["fr>en:d/2"], ["de>fr:e/None"], []]

    model = run_async(test)
    assert model.batches == [
        [("a", "en", "fr")],
        [("b", "en", "de"), ("c", "en", "de"), ("e", "de", "fr")],
        [("d", "fr", "en")],
    ]


@pytest.mark.parametrize("tokens, requests, sizes", [(30, 8, [1, 2, 2, 1]), (1000, 3, [1, 3, 2]), (1000, 1, [1] * 6)])
def test_batcher_respects_the_request_and_token_budgets(tokens, requests, sizes):
    async def test(batcher: Batcher, model: FakeModel) -> None:
        blocker = submit(batcher, ["x"])
        await until(lambda: model.started == 1)
        tasks = [submit(batcher, [text * 40]) for text in "abcde"]  # 12 estimated tokens each
        await until(lambda: batcher.queue_depth == 5)
        model.gate.release(10)
        await asyncio.gather(blocker, *tasks)

    model = run_async(test, max_batch_tokens=tokens, max_batch_requests=requests)
    assert [len(batch) for batch in model.batches] == sizes
    assert [text[0] for batch in model.batches for text, _, _ in batch] == list("xabcde")  # first come, first served


def test_batcher_waits_for_company_until_the_batch_is_full():
    async def test(batcher: Batcher, model: FakeModel) -> None:
        model.gate.release(10)
        first = submit(batcher, ["a"])
        await asyncio.sleep(0.05)
        assert batcher.queue_depth == 1  # waiting for others
        second = submit(batcher, ["b"])  # fills the batch, which runs at once
        both = await asyncio.wait_for(asyncio.gather(first, second), 10)
        assert both == [["en>fr:a/None"], ["en>fr:b/None"]]

    model = run_async(test, max_wait=60, max_batch_requests=2)
    assert model.batches == [[("a", "en", "fr"), ("b", "en", "fr")]]


def test_batcher_runs_a_lone_request_after_max_wait():
    async def test(batcher: Batcher, model: FakeModel) -> None:
        model.gate.release(1)
        start = time.monotonic()
        assert await submit(batcher, ["a"]) == ["en>fr:a/None"]
        assert time.monotonic() - start >= 0.3

    run_async(test, max_wait=0.3)


def test_batcher_queue_full_and_cancelled_requests():
    async def test(batcher: Batcher, model: FakeModel) -> None:
        running = submit(batcher, ["a"])
        await until(lambda: model.started == 1)
        waiting = [submit(batcher, [t]) for t in "bc"]
        await until(lambda: batcher.queue_depth == 2)
        with pytest.raises(QueueFull) as full:
            await batcher.submit(Job(["d"], "en", "fr"))
        assert full.value.retry_after >= 1
        waiting[0].cancel()  # the client went away: its slot is free at once
        await until(lambda: batcher.queue_depth == 1)
        late = submit(batcher, ["e"])
        await until(lambda: batcher.queue_depth == 2)
        model.gate.release(3)
        assert await running == ["en>fr:a/None"]
        assert await asyncio.gather(waiting[1], late) == [["en>fr:c/None"], ["en>fr:e/None"]]

    model = run_async(test, max_queue=2)
    assert sorted(text for batch in model.batches for text, _, _ in batch) == ["a", "c", "e"]  # b never ran


def test_batcher_close_finishes_the_queue_and_refuses_new_requests():
    async def test(batcher: Batcher, model: FakeModel) -> None:
        tasks = [submit(batcher, ["a"])]
        await until(lambda: model.started == 1)
        tasks.append(submit(batcher, ["b"]))
        await until(lambda: batcher.queue_depth == 1)
        closing = asyncio.ensure_future(batcher.close())
        await asyncio.sleep(0.01)
        with pytest.raises(Closed):
            await batcher.submit(Job(["c"], "en", "fr"))
        model.gate.release(2)
        await closing
        assert await asyncio.gather(*tasks) == [["en>fr:a/None"], ["en>fr:b/None"]]

    run_async(test)


def test_batcher_hands_a_model_error_to_each_request_of_the_batch():
    async def test(batcher: Batcher, model: FakeModel) -> None:
        model.fail = True
        tasks = [submit(batcher, [t], tgt) for t, tgt in (("a", "fr"), ("b", "de"))]
        model.gate.release(1)
        for task in tasks:
            with pytest.raises(RuntimeError, match="the model broke"):
                await task
        model.fail = False
        model.gate.release(1)
        assert await submit(batcher, ["c"]) == ["en>fr:c/None"]  # the batcher goes on

    run_async(test, max_wait=0.2)


def test_batcher_never_merges_requests_beyond_the_work_cap():
    async def test(batcher: Batcher, model: FakeModel) -> None:
        blocker = submit(batcher, ["x"])
        await until(lambda: model.started == 1)
        # a and b together are over the cap; b and c fit; d alone is over it and runs alone.
        tasks = [submit(batcher, [t], work=w) for t, w in (("a", 60), ("b", 50), ("c", 50), ("d", 500))]
        await until(lambda: batcher.queue_depth == 4)
        model.gate.release(10)
        assert await asyncio.gather(*tasks) == [[f"en>fr:{t}/None"] for t in "abcd"]
        await blocker

    model = run_async(test, max_batch_work=100)
    assert [[text for text, _, _ in batch] for batch in model.batches] == [["x"], ["a"], ["b", "c"], ["d"]]


def test_batcher_stops_a_running_batch_once_none_of_its_requests_waits():
    async def test(batcher: Batcher, model: FakeModel) -> None:
        blocker = submit(batcher, ["x"])
        await until(lambda: model.started == 1)
        both = [submit(batcher, [t]) for t in "ab"]
        await until(lambda: batcher.queue_depth == 2)
        model.gate.release(1)
        await blocker
        await until(lambda: model.started == 2)  # a and b run together
        both[0].cancel()  # one request left (a timeout, a client gone): b still waits, the batch goes on
        await asyncio.sleep(0.1)
        assert model.stopped == [False]
        both[1].cancel()  # nobody waits: the batch stops at its next step
        await until(lambda: model.stopped == [False, True])
        model.gate.release(1)
        assert await submit(batcher, ["c"]) == ["en>fr:c/None"]  # the next request runs

    model = run_async(test)
    assert [[text for text, _, _ in batch] for batch in model.batches] == [["x"], ["c"]]
