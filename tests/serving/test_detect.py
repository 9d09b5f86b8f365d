"""``"src": "auto"`` and ``POST /detect`` in the real server (a subprocess on the demo model) and
on its page, compared with the Translator's own detection and translation; the tiny NLLB
checkpoint through FastAPI's TestClient; a server without py3langid answers 501."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import httpx
import pytest

from m2m100.demo import model_path as demo_model_path
from m2m100.translator import Translator
from tests.serving.test_server import error_of, start_server
from tests.test_detection import SENTENCES

NOISE = "zzz 42 qq"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    server = start_server(demo_model_path(), tmp_path_factory.mktemp("detect") / "server.log", "--max-texts", "8")
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(demo_model_path(), device="cpu")


def test_translate_auto_equals_the_library(server, translator):
    texts = [SENTENCES["fr"], SENTENCES["en"], NOISE, SENTENCES["de"], SENTENCES["fr"]]
    response = server.post({"texts": texts, "src": "auto", "tgt": "en", "max_new_tokens": 16})
    assert response.status_code == 200, response.text
    data = response.json()
    want = list(translator.translate_segments(texts, src="auto", tgt="en", max_new_tokens=16))
    assert data["translations"] == [w.text for w in want]
    assert data["translations"][1:3] == [SENTENCES["en"], NOISE]  # target language; untrusted
    assert data["src"] == "auto" and data["tgt"] == "en"
    detections = data["detections"]
    assert [d["language"] for d in detections] == [w.detected for w in want]
    assert [d["confidence"] for d in detections] == [pytest.approx(w.confidence, abs=1e-4) for w in want]
    assert [d["src"] for d in detections] == ["fr", None, None, "de", "fr"]
    # A given source: no detections in the answer.
    assert "detections" not in server.post({"text": "vingt", "src": "fr", "tgt": "en"}).json()


def test_translate_auto_options(server, translator):
    body = {"texts": [NOISE, SENTENCES["en"]], "src": "auto", "tgt": "en", "max_new_tokens": 16}
    data = server.post({**body, "fallback_src": "fr", "translate_same_language": True}).json()
    assert data["translations"] == translator.translate(
        [NOISE, SENTENCES["en"]], src="fr", tgt="en", max_new_tokens=16
    )[:1] + translator.translate([SENTENCES["en"]], src="en", tgt="en", max_new_tokens=16)
    assert [d["src"] for d in data["detections"]] == ["fr", "en"]
    (noise,) = translator.detect([NOISE])
    data = server.post({**body, "min_confidence": 0}).json()
    assert data["detections"][0]["src"] == noise.code
    assert data["translations"][0] == translator.translate(NOISE, src=noise.code, tgt="en", max_new_tokens=16)
    one = server.post({"text": SENTENCES["de"], "src": "auto", "tgt": "fr", "max_new_tokens": 16}).json()
    assert one["translation"] == one["translations"][0] and one["detections"][0]["src"] == "de"


def test_bad_auto_requests(server, translator):
    body = {"texts": ["a"], "src": "auto", "tgt": "en"}
    detail = error_of(server.post({**body, "fallback_src": "xx"}), 422, "unknown_language")
    assert detail.startswith("fallback_src: Unknown language code 'xx'.")
    detail = error_of(server.post({**body, "min_confidence": 1.5}), 422, "invalid_request")
    assert "min_confidence" in detail and "less than or equal to 1" in detail
    detail = error_of(server.post({"texts": ["a"], "src": "en", "tgt": "auto"}), 422, "unknown_language")
    assert detail.startswith("tgt: Unknown language code 'auto'.")


def test_detect_endpoint(server, translator):
    texts = [SENTENCES["fr"], SENTENCES["ru"], NOISE, ""]
    response = httpx.post(server.url + "/detect", json={"texts": texts}, timeout=60)
    assert response.status_code == 200, response.text
    want = translator.detect(texts)
    assert [d["language"] for d in response.json()] == [w.code for w in want]
    assert [d["confidence"] for d in response.json()] == [pytest.approx(w.confidence, abs=1e-4) for w in want]
    assert response.json()[3] == {"language": None, "confidence": 0.0}
    too_many = httpx.post(server.url + "/detect", json={"texts": ["a"] * 9}, timeout=60)
    assert "9 texts" in error_of(too_many, 413, "too_many_texts")
    error_of(httpx.post(server.url + "/detect", json={"text": "a"}, timeout=60), 422, "invalid_request")
    big = httpx.post(server.url + "/detect", json={"texts": ["a" * 400_000]}, timeout=60)
    error_of(big, 413, "too_large")  # refused unread, as /translate's


def test_nllb_detects_in_flores_codes(tmp_path: Path):
    from fastapi.testclient import TestClient

    from m2m100.serving.app import create_app
    from tests.nllb_fixture import build_checkpoint, train_spm

    nllb = Translator(build_checkpoint(tmp_path / "tiny", train_spm()), device="cpu")
    with TestClient(create_app(lambda: nllb)) as client:
        response = client.post("/detect", json={"texts": [SENTENCES["fr"], SENTENCES["en"]]})
        assert response.status_code == 200, response.text
        assert [d["language"] for d in response.json()] == ["fra_Latn", "eng_Latn"]
        body = {"texts": [SENTENCES["fr"], SENTENCES["en"]], "src": "auto", "tgt": "en", "max_new_tokens": 8}
        data = client.post("/translate", json=body).json()
        assert data["tgt"] == "eng_Latn" and [d["src"] for d in data["detections"]] == ["fra_Latn", None]
        assert data["translations"] == [
            nllb.translate(SENTENCES["fr"], src="fr", tgt="en", max_new_tokens=8),
            SENTENCES["en"],
        ]


def test_without_py3langid_the_server_answers_501(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "py3langid").mkdir()
    (tmp_path / "py3langid" / "__init__.py").write_text("raise ImportError('gone')\n")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}")  # the server's
    server = start_server(demo_model_path(), tmp_path / "server.log")
    try:
        hint = "language detection (src 'auto') needs py3langid: pip install 'm2m100[detect]'"
        detail = error_of(httpx.post(server.url + "/detect", json={"texts": ["a"]}), 501, "detection_unavailable")
        assert detail == hint
        body = {"text": "vingt", "src": "auto", "tgt": "en"}
        assert error_of(server.post(body), 501, "detection_unavailable") == hint
        assert server.post({**body, "src": "fr"}).status_code == 200
    finally:
        assert server.stop() == 0, server.output()


@pytest.mark.skipif(
    not Path("/usr/bin/chromium").exists() or importlib.util.find_spec("playwright") is None,
    reason="needs Debian's Chromium and playwright",
)
def test_the_page_offers_detect_language(server, translator):
    from playwright.sync_api import expect, sync_playwright

    from tests.serving.test_server_browser import CHROMIUM, CHROMIUM_ARGS, local_page

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        with local_page(browser, server, "/?src=auto&tgt=en") as page:
            expect(page.locator("#translate")).to_be_enabled(timeout=60_000)
            assert page.input_value("#src") == "auto"
            assert page.locator("#src option[value=auto]").inner_text() == "Detect language"
            lines = [SENTENCES["fr"], SENTENCES["en"]]
            page.fill("#text", "\n".join(lines))
            page.click("#translate")
            want = translator.translate(lines, src="auto", tgt="en")
            expect(page.locator("#result")).to_have_text("\n".join(want), timeout=60_000)
            expect(page.locator("#direction")).to_have_text(
                "\u00b7 detected French (fr), English (en) \u2192 en \u00b7 1 line left as it was"
            )
            page.click("#swap")  # "detect" cannot be the target: the detected language takes its place
            assert (page.input_value("#src"), page.input_value("#tgt")) == ("en", "fr")
        browser.close()
