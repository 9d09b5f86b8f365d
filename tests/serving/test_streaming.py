"""``POST /translate/stream`` of a real ``m2m100 serve``: tokens as they are generated with one
beam, sentences with beam search, each the Translator's own translation; errors before the stream
are the service's JSON; a client that leaves takes its work out of the queue. The batcher's jobs
with work of their own are tested alone, with a fake model that waits for the test."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sentencex import segment as sentences

from m2m100.serving.batcher import Batcher, Job, Stopped
from m2m100.translator import Translator
from tests.serving.test_server import start_server


@pytest.fixture(scope="module")
def server(translation_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("stream") / "server.log"
    server = start_server(translation_folder, log, "--max-chars", "20000", "--max-texts", "100")
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def translator(translation_folder: Path) -> Translator:
    return Translator(translation_folder, device="cpu")


@pytest.fixture(scope="module")
def slow_request(translator: Translator, distinct_texts: list[str]) -> dict[str, Any]:
    """A request that keeps the tiny model busy for seconds: the text of the longest translation
    of a few, many times, with 8 beams."""
    settings = {"beam_size": 8, "max_new_tokens": 60}
    translations = translator.translate(distinct_texts[:4], src="en", tgt="de", **settings)
    text, _ = max(zip(distinct_texts, translations), key=lambda pair: len(translator.tokenizer.encode(pair[1])))
    return {"texts": [text] * 100, "src": "en", "tgt": "de", **settings}


def events(server, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (event, data) of a whole stream, as ``curl -N`` would show them."""
    out = []
    with httpx.stream("POST", server.url + "/translate/stream", json=body, timeout=120) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                assert event is not None
                out.append((event, json.loads(line[len("data: ") :])))
    return out


def test_tokens_as_they_are_generated(server, translator, distinct_texts) -> None:
    text = max(distinct_texts[:8], key=len)
    got = events(server, {"text": text, "src": "en", "tgt": "fr", "beam_size": 1, "max_new_tokens": 30})
    assert got[0] == ("start", {"mode": "tokens", "model": translator.name, "src": "en", "tgt": "fr"})
    expected = translator.translate(text, src="en", tgt="fr", beam_size=1, max_new_tokens=30)
    assert got[-1] == ("done", {"translation": expected, "src": "en", "tgt": "fr"})
    tokens = [data for event, data in got if event == "token"]
    assert len(tokens) >= 2 and tokens[-1]["text"] == expected
    assert "".join(t["delta"] for t in tokens) == expected  # each growth sent once


def test_sampling_streams_tokens_too(server) -> None:
    got = events(server, {"text": "Hello there.", "src": "en", "tgt": "fr", "beam_size": 1, "do_sample": True})
    assert got[0][1]["mode"] == "tokens" and got[-1][0] == "done"
    tokens = [data for event, data in got if event == "token"]
    assert "".join(t["delta"] for t in tokens) == got[-1][1]["translation"]


def test_beam_search_streams_sentences(server, translator, distinct_texts) -> None:
    text = " ".join(t.strip().rstrip(".") + "." for t in distinct_texts[:3])
    parts = [s.strip() for s in sentences("en", text) if s.strip()]
    assert len(parts) >= 2
    got = events(server, {"text": text, "src": "en", "tgt": "de", "beam_size": 2, "max_new_tokens": 20})
    assert got[0][1]["mode"] == "sentences"
    expected = translator.translate(parts, src="en", tgt="de", beam_size=2, max_new_tokens=20)
    sent = [data for event, data in got if event == "sentence"]
    assert [s["source"] for s in sent] == parts and [s["translation"] for s in sent] == expected
    joined = " ".join(t.strip() for t in expected if t.strip())
    assert sent[-1]["text"] == joined and got[-1] == ("done", {"translation": joined, "src": "en", "tgt": "de"})


def test_refused_before_the_stream_with_the_services_errors(server) -> None:
    url = server.url + "/translate/stream"
    answer = httpx.post(url, json={"text": "x", "src": "en", "tgt": "qq"}, timeout=30)
    assert answer.status_code == 422 and answer.json()["error"] == "unknown_language"
    answer = httpx.post(url, json={"text": "x" * 20001, "src": "en", "tgt": "fr"}, timeout=30)
    assert answer.status_code == 413 and answer.json()["error"] == "too_many_chars"
    answer = httpx.post(url, json={"text": "x", "src": "en", "tgt": "fr", "beams": 2}, timeout=30)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_request"


def test_a_client_that_leaves_takes_its_work_out_of_the_queue(server, slow_request, distinct_texts) -> None:
    def batches() -> float:
        return server.metric("m2m100_batch_requests_count")

    # A batch that keeps the model busy for seconds, so that the stream's job waits behind it.
    slow = slow_request
    before = batches()
    answers: list[httpx.Response] = []
    busy = threading.Thread(target=lambda: answers.append(server.post(slow)))
    busy.start()
    server.wait_for(lambda: server.metric("m2m100_requests_running") == 1, "the slow batch")
    body = {"text": "Hello there.", "src": "en", "tgt": "fr", "beam_size": 1}
    with httpx.stream("POST", server.url + "/translate/stream", json=body, timeout=60) as response:
        lines = response.iter_lines()  # kept: a dropped iterator would close the connection at once
        assert next(lines) == "event: start"
        server.wait_for(lambda: server.metric("m2m100_queue_depth") == 1, "the stream's job in the queue")
    # The connection is closed: the job leaves the queue before the model is free.
    server.wait_for(lambda: server.metric("m2m100_queue_depth") == 0, "the job to leave the queue")
    assert server.metric("m2m100_requests_running") == 1
    busy.join()
    assert answers[0].status_code == 200, answers[0].text
    time.sleep(0.5)
    assert batches() == before + 1  # the slow batch alone: the stream's job never ran


def test_a_solo_job_runs_alone_and_stops_when_its_client_leaves() -> None:
    seen: list[list[str]] = []
    started, stopped_seen = threading.Event(), threading.Event()

    def run_batch(segments: list[tuple[str, str, str]], settings: Any, stopped: Any) -> list[str]:
        seen.append([text for text, _, _ in segments])
        return [text.upper() for text, _, _ in segments]

    def solo(stopped: Any) -> list[str]:
        started.set()
        while not stopped():
            time.sleep(0.005)
        stopped_seen.set()
        raise Stopped()

    async def main() -> None:
        batcher = Batcher(run_batch, max_batch_tokens=1000, max_batch_requests=8, max_wait=0.05, max_queue=8)
        streamed = asyncio.ensure_future(batcher.submit(Job(["s"], "en", "fr", solo=solo)))
        others = [asyncio.ensure_future(batcher.submit(Job([t], "en", "fr"))) for t in ("a", "b")]
        assert await asyncio.to_thread(started.wait, 10)
        streamed.cancel()  # its client left while it ran
        assert [await other for other in others] == [["A"], ["B"]]
        assert stopped_seen.is_set() and seen == [["a", "b"]]  # never batched with the solo job
        await batcher.close()

    asyncio.run(main())
