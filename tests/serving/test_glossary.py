"""``POST /translate`` with ``glossary`` and ``do_not_translate``: the app in-process (FastAPI's
TestClient) on the demo model; the terms' limits and their count in the request's cost."""

from __future__ import annotations

import time
from typing import Any

import pytest

from m2m100 import demo
from m2m100.serving.app import ServerSettings, create_app
from m2m100.serving.limits import CONSTRAINED_WORK, RequestLimits
from m2m100.translator import Translator

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(demo.model_path(), device="cpu")


@pytest.fixture(scope="module")
def client(translator: Translator) -> Any:
    from fastapi.testclient import TestClient

    settings = ServerSettings(max_glossary_terms=3, max_term_chars=20, max_batch_work=600)
    with TestClient(create_app(lambda: translator, settings), raise_server_exceptions=False) as client:
        for _ in range(600):
            if client.get("/health").status_code == 200:
                break
            time.sleep(0.05)
        yield client


def test_terms_change_the_translation_and_misses_are_listed(client):
    plain = client.post("/translate", json={"texts": ["seven", "three"], "src": "en", "tgt": "de"}).json()
    assert plain["translations"] == ["sieben", "drei"] and "glossary_missed" not in plain
    body = {"texts": ["seven", "three", "ACME-42 three"], "src": "en", "tgt": "de"}
    answer = client.post("/translate", json={**body, "glossary": {"seven": "acht"}, "do_not_translate": ["ACME-42"]})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["translations"][:2] == ["acht", "drei"]
    assert "ACME-42" in result["translations"][2]
    assert result["glossary_missed"] == [[], [], []]
    short = {
        "text": "seven",
        "src": "en",
        "tgt": "de",
        "max_new_tokens": 2,
        "glossary": {"seven": "dreihundertachtzig"},
    }
    assert client.post("/translate", json=short).json()["glossary_missed"] == [["dreihundertachtzig"]]


def test_terms_are_bounded(client):
    many = {"text": "seven", "src": "en", "tgt": "de", "glossary": {"a": "b", "c": "d"}, "do_not_translate": ["e", "f"]}
    response = client.post("/translate", json=many)
    assert response.status_code == 413 and response.json()["error"] == "too_many_terms"
    assert response.json()["detail"] == "4 glossary and do_not_translate terms; at most 3 a request"
    long = {"text": "seven", "src": "en", "tgt": "de", "glossary": {"seven": "x" * 21}}
    response = client.post("/translate", json=long)
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    blank = {"text": "seven", "src": "en", "tgt": "de", "glossary": {"seven": " "}}
    response = client.post("/translate", json=blank)
    assert response.status_code == 422 and "must be a non-empty string" in response.json()["detail"]
    wrong = {"text": "seven", "src": "en", "tgt": "de", "glossary": ["seven"]}
    assert client.post("/translate", json=wrong).status_code == 422


def test_constrained_search_counts_more_work(client, translator):
    limits = RequestLimits.of(translator, None)
    plain = limits.cost(["seven"] * 4, 4, 30)
    constrained = limits.cost(["seven"] * 4, 4, 30, constrained=True)
    assert constrained.work == CONSTRAINED_WORK * plain.work and constrained.memory == plain.memory
    body = {"texts": ["seven"] * 4, "src": "en", "tgt": "de", "beam_size": 4, "max_new_tokens": 30}
    assert plain.work <= 600 < constrained.work  # the module's max_batch_work
    assert client.post("/translate", json=body).status_code == 200
    response = client.post("/translate", json={**body, "glossary": {"seven": "acht"}})
    assert response.status_code == 413 and response.json()["error"] == "too_much_work"
    assert "(glossary)" in response.json()["detail"]
