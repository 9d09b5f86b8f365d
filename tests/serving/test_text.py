"""Attack on the real server: text holding a lone surrogate (a JSON "\\ud800" escape) is a 422
``invalid_request`` naming the text, not a plain-text 500; the server keeps answering."""

from __future__ import annotations

from pathlib import Path

import httpx

from m2m100.demo import model_path as demo_model_path
from tests.serving.test_server import start_server


def test_lone_surrogate_is_invalid_request(tmp_path: Path):
    server = start_server(demo_model_path(), tmp_path / "server.log")
    try:
        body = '{"texts": ["one", "two", "th\\udc00ree"], "src": "en", "tgt": "fr"}'
        headers = {"content-type": "application/json"}
        response = httpx.post(server.url + "/translate", content=body, headers=headers, timeout=60)
        assert response.status_code == 422, response.text
        answer = response.json()
        assert answer["error"] == "invalid_request"
        assert "texts[2]: a lone surrogate \\udc00 at character 3" in answer["detail"]
        single = '{"text": "\\ud800", "src": "en", "tgt": "fr"}'
        response = httpx.post(server.url + "/translate", content=single, headers=headers, timeout=60)
        assert response.status_code == 422 and "text: a lone surrogate \\ud800" in response.json()["detail"]
        ok = server.post({"texts": ["one", "two"], "src": "en", "tgt": "fr"})
        assert ok.status_code == 200 and len(ok.json()["translations"]) == 2
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.output()


def test_json_nested_too_deep_is_422_invalid_json(tmp_path: Path):
    """1,000 nested arrays exceed the JSON parser's depth: the documented error shape, not a bare 400."""
    server = start_server(demo_model_path(), tmp_path / "server.log")
    try:
        body = '{"text": "x", "src": "en", "tgt": "fr", "extra": ' + "[" * 1000 + "]" * 1000 + "}"
        headers = {"content-type": "application/json"}
        response = httpx.post(server.url + "/translate", content=body, headers=headers, timeout=60)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "invalid_json"
        assert server.post({"texts": ["one"], "src": "en", "tgt": "fr"}).status_code == 200
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.output()
