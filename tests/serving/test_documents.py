"""``POST /translate/document`` of a real ``m2m100 serve`` (the demo model): the file comes back
translated as the library translates it, and bad requests get the service's JSON errors."""

from __future__ import annotations

import io

import httpx
import pytest

from m2m100 import Translator
from m2m100.demo import model_path
from m2m100.documents import translate_document
from tests.documents.samples import document
from tests.serving.test_server import start_server

LIMITS = ["--max-document-bytes", "60000", "--max-document-chars", "2000", "--max-texts", "4"]
KEY = "a-document-key-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("server")
    (folder / "keys").write_text(f"documents:{KEY}\n", encoding="utf-8")
    server = start_server(model_path(), folder / "server.log", *LIMITS, "--api-keys", folder / "keys")
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def demo() -> Translator:
    return Translator(device="cpu")


def post(server, body: bytes, key: str = KEY, **query: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(server.url + "/translate/document", params=query, content=body, headers=headers, timeout=120)


def error_of(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == kind
    return answer["detail"]


@pytest.mark.parametrize("name, filename", [("html", "page.html"), ("srt", "talk.srt"), ("po", "app.po")])
def test_a_file_comes_back_translated_as_the_library_does(server, demo, name, filename) -> None:
    data = document(name)
    response = post(server, data, src="fr", tgt="de", filename=filename)
    assert response.status_code == 200, response.text
    # The server sends the segments in requests of --max-texts 4, batched with others: the
    # translations are those of the library all the same.
    assert response.content == translate_document(demo, data, format=name, src="fr", tgt="de")
    stem, suffix = filename.rsplit(".", 1)
    assert response.headers["content-disposition"] == f'attachment; filename="{stem}.de.{suffix}"'
    assert (
        response.headers["content-type"].split(";")[0]
        == {"html": "text/html", "srt": "application/x-subrip", "po": "text/x-gettext-translation"}[name]
    )


def test_a_docx_with_its_format_named(server) -> None:
    import docx

    response = post(server, document("docx"), src="fr", tgt="de", format="docx")
    assert response.status_code == 200, response.text
    assert docx.Document(io.BytesIO(response.content)).paragraphs[1].text == "Deutschland"
    assert 'filename="document.de.docx"' in response.headers["content-disposition"]


def test_bad_requests_and_documents(server) -> None:
    assert "line 2: the cue ends" in error_of(
        post(server, b"1\n00:00:05,000 --> 00:00:01,000\nmardi\n", src="fr", tgt="de", filename="a.srt"),
        422,
        "invalid_document",
    )
    assert "not a readable DOCX file" in error_of(
        post(server, b"PK\x03\x04", src="fr", tgt="de", format="docx"), 422, "invalid_document"
    )
    assert "give format= (html, xml, markdown" in error_of(
        post(server, b"x", src="fr", tgt="de"), 422, "invalid_request"
    )
    assert "unknown document format 'rtf'" in error_of(
        post(server, b"x", src="fr", tgt="de", format="rtf"), 422, "invalid_request"
    )
    assert "Unknown language code 'zh'" in error_of(
        post(server, b"<p>x</p>", src="fr", tgt="zh", format="html"), 422, "unknown_language"
    )
    assert "at most 60000" in error_of(
        post(server, b"<p>mardi</p>" * 6000, src="fr", tgt="de", format="html"), 413, "too_large"
    )
    assert "at most 2000" in error_of(
        post(server, b"<p>mardi</p>" * 500, src="fr", tgt="de", format="html"), 413, "too_many_chars"
    )
    error_of(post(server, b"<p>x</p>", src="fr", tgt="de", format="html", beam_size=0), 422, "invalid_request")
    # Documents need the API key, as texts do.
    error_of(
        post(server, b"<p>mardi</p>", key="not-the-key-0123456789", src="fr", tgt="de", format="html"),
        401,
        "unauthorized",
    )
    # The text endpoint is as it was.
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"text": "mardi", "src": "fr", "tgt": "de"}
    answer = httpx.post(server.url + "/translate", json=body, headers=headers, timeout=60).json()
    assert answer["translation"] == "Dienstag"


def test_the_page_offers_file_upload(server) -> None:
    page = httpx.get(server.url + "/", timeout=30).text
    assert 'type="file"' in page and "translate/document" in page
