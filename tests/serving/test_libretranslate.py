"""The LibreTranslate-compatible API of a real ``m2m100 serve`` (the demo model), driven with
LibreTranslate's own clients (``libretranslatepy``, deep-translator's ``LibreTranslator``) and by
hand: the answers are the Translator's for the same input, and errors come in LibreTranslate's
shape."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import httpx
import pytest
from deep_translator import LibreTranslator
from deep_translator.exceptions import AuthorizationException
from libretranslatepy import LibreTranslateAPI

from m2m100 import Translator
from m2m100.demo import model_path
from m2m100.documents import translate_document
from tests.serving.test_server import start_server

KEY = "a-libretranslate-key-0123456789"
LIMITS = ["--max-chars", "300", "--max-texts", "4", "--max-document-bytes", "20000"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    server = start_server(model_path(), tmp_path_factory.mktemp("lt") / "server.log", *LIMITS)
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory):
    """A server that needs an API key, and takes 4 requests a minute of each."""
    folder = tmp_path_factory.mktemp("lt-keys")
    (folder / "keys").write_text(f"lt:{KEY}\n", encoding="utf-8")
    server = start_server(model_path(), folder / "server.log", "--api-keys", folder / "keys", "--rate-limit", "4/min")
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def demo() -> Translator:
    return Translator(device="cpu")


def base(server) -> str:
    return server.url + "/libretranslate/"


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    answer = response.json()
    assert list(answer) == ["error"], answer
    return answer["error"]


def test_libretranslatepy_translates_as_the_library_does(server, demo) -> None:
    client = LibreTranslateAPI(base(server))
    for text, src, tgt in [("mardi", "fr", "de"), ("Allemagne", "fr", "en"), ("trois", "fr", "es")]:
        assert client.translate(text, src, tgt) == demo.translate(text, src=src, tgt=tgt)
    # Any spelling the registry takes, and the api_key a client sends when the server needs none.
    assert LibreTranslateAPI(base(server), api_key="anything").translate("mardi", "fra_Latn", "de") == "Dienstag"


def test_languages_are_the_models_own(server, demo) -> None:
    languages = LibreTranslateAPI(base(server)).languages()
    assert [entry["code"] for entry in languages] == demo.languages
    german = next(entry for entry in languages if entry["code"] == "de")
    assert german["name"] == "German"
    assert german["targets"] == [code for code in demo.languages if code != "de"]


def test_deep_translator_sends_everything_in_the_query_string(server, demo) -> None:
    client = LibreTranslator(source="fr", target="de", api_key="anything", custom_url=base(server))
    assert client.translate("Allemagne") == demo.translate("Allemagne", src="fr", tgt="de")
    texts = ["mardi", "trois", "Allemagne"]
    assert client.translate_batch(texts) == demo.translate(texts, src="fr", tgt="de")


def test_json_form_and_query_are_read_alike(server, demo) -> None:
    url = base(server) + "translate"
    texts = ["mardi", "vingt-deux"]
    expected = demo.translate(texts, src="fr", tgt="it")
    answer = httpx.post(url, json={"q": texts, "source": "fr", "target": "it"}, timeout=60).json()
    assert answer == {"translatedText": expected}
    assert httpx.post(url, data={"q": "mardi", "source": "fr", "target": "it"}, timeout=60).json() == {
        "translatedText": expected[0]
    }
    assert httpx.post(url, params={"q": "mardi", "source": "fr", "target": "it"}, timeout=60).json() == {
        "translatedText": expected[0]
    }
    # alternatives=0 is a plain translation.
    answer = httpx.post(url, json={"q": "mardi", "source": "fr", "target": "it", "alternatives": 0}, timeout=60)
    assert answer.json() == {"translatedText": expected[0]}


def test_html_keeps_its_tags(server, demo) -> None:
    html = '<p class="day">mardi <b>trois</b></p>'
    body = {"q": html, "source": "fr", "target": "de", "format": "html"}
    answer = httpx.post(base(server) + "translate", json=body, timeout=60).json()
    expected = translate_document(demo, html.encode(), format="html", src="fr", tgt="de").decode()
    assert answer == {"translatedText": expected}
    assert answer["translatedText"].startswith('<p class="day">') and "<b>" in answer["translatedText"]


def test_features_this_server_lacks_get_a_clear_400(server) -> None:
    url = base(server) + "translate"
    auto = error_of(httpx.post(url, data={"q": "mardi", "source": "auto", "target": "de"}, timeout=30), 400)
    assert "detection is not available" in auto
    assert "detection is not available" in error_of(httpx.post(base(server) + "detect", data={"q": "x"}), 400)
    with pytest.raises(urllib.error.HTTPError) as raised:
        LibreTranslateAPI(base(server)).detect("mardi")
    assert raised.value.code == 400
    body = {"q": "mardi", "source": "fr", "target": "de", "alternatives": 3}
    assert "alternatives are not available" in error_of(httpx.post(url, json=body, timeout=30), 400)


def test_bad_requests(server) -> None:
    url = base(server) + "translate"
    assert error_of(httpx.post(url, data={"source": "fr", "target": "de"}), 400) == (
        "Invalid request: missing q parameter"
    )
    assert "missing target" in error_of(httpx.post(url, data={"q": "x", "source": "fr"}), 400)
    unknown = error_of(httpx.post(url, data={"q": "x", "source": "fr", "target": "zt"}), 400)
    assert unknown.startswith("target: 'zt' (that is 'zh-Hant'): Unknown language code") and "Valid codes" in unknown
    assert "format must be text or html" in error_of(
        httpx.post(url, data={"q": "x", "source": "fr", "target": "de", "format": "md"}), 400
    )
    assert "at most 300" in error_of(httpx.post(url, data={"q": "x" * 301, "source": "fr", "target": "de"}), 400)
    assert "at most 4 a request" in error_of(
        httpx.post(url, json={"q": ["x"] * 5, "source": "fr", "target": "de"}), 400
    )
    assert "not valid JSON" in error_of(
        httpx.post(url, content=b'{"q": ', headers={"content-type": "application/json"}), 400
    )


def test_a_file_is_translated_and_downloaded(server, demo, tmp_path: Path) -> None:
    page = b"<html><body><h1>Allemagne</h1><p>mardi</p></body></html>"
    files = {"file": ("page.html", page, "text/html")}
    answer = httpx.post(base(server) + "translate_file", files=files, data={"source": "fr", "target": "de"}, timeout=60)
    assert answer.status_code == 200, answer.text
    url = answer.json()["translatedFileUrl"]
    assert url.startswith(base(server) + "download_file/") and url.endswith(".page.de.html")
    download = httpx.get(url, timeout=30)
    assert download.status_code == 200
    assert download.content == translate_document(demo, page, format="html", src="fr", tgt="de")
    assert 'filename="page.de.html"' in download.headers["content-disposition"]
    assert "expired or never was" in error_of(httpx.get(base(server) + "download_file/nothing.page.html"), 404)
    unknown = {"file": ("notes.rtf", b"x", "application/rtf")}
    assert "not a supported file" in error_of(
        httpx.post(base(server) + "translate_file", files=unknown, data={"source": "fr", "target": "de"}), 400
    )


def test_frontend_settings(server) -> None:
    settings = httpx.get(base(server) + "frontend/settings", timeout=30).json()
    assert settings["charLimit"] == 300 and settings["keyRequired"] is False and settings["filesTranslation"]
    assert ".html" in settings["supportedFilesFormat"] and ".docx" in settings["supportedFilesFormat"]
    assert settings["language"]["source"] == {"code": "ar", "name": "Arabic"}


def test_keys_and_the_rate_limit(keyed) -> None:
    assert LibreTranslateAPI(base(keyed), api_key=KEY).translate("mardi", "fr", "de") == "Dienstag"
    for key in (None, "not-the-key-0123456789"):
        with pytest.raises(urllib.error.HTTPError) as raised:
            LibreTranslateAPI(base(keyed), api_key=key).translate("mardi", "fr", "de")
        assert raised.value.code == 403
        assert "API key" in json.loads(raised.value.read())["error"]
    with pytest.raises(AuthorizationException):
        LibreTranslator(source="fr", target="de", api_key="wrong-key", custom_url=base(keyed)).translate("mardi")
    # The languages need no key; translations count against the key's 4 a minute.
    assert httpx.get(base(keyed) + "languages", timeout=30).status_code == 200
    url = base(keyed) + "translate"
    statuses = [
        httpx.post(url, data={"q": "mardi", "source": "fr", "target": "de", "api_key": KEY}).status_code
        for _ in range(4)
    ]
    assert statuses[-1] == 429 and 200 in statuses, statuses
    response = httpx.post(url, data={"q": "mardi", "source": "fr", "target": "de", "api_key": KEY})
    assert "more than 4 requests/min" in error_of(response, 429) and int(response.headers["retry-after"]) > 0


def test_readme_client_snippet(server, capsys: pytest.CaptureFixture[str]) -> None:
    """README's client examples, run against the real server: they print what README shows."""
    import re

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- compat-snippet:[^\n]*-->\n```python\n(.*?)```", readme, re.S)
    assert block is not None, "README's compatible-APIs example is missing"
    code = block.group(1)
    shown = [line[2:] for line in code.splitlines() if line.startswith("# ")]
    exec(compile(code.replace("http://127.0.0.1:8000", server.url), "README.md", "exec"), {})  # noqa: S102
    assert capsys.readouterr().out.splitlines() == shown
