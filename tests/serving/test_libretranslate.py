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
from m2m100.translator import Segment
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


def expected_auto(demo: Translator, texts: list[str], tgt: str) -> tuple[list[dict], list[str]]:
    """What source "auto" answers: the Translator's detection of each text, and its translation
    from the detected language (the text itself where the model lacks the language or it is the
    target already)."""
    guesses, out = [], []
    for text, found in zip(texts, demo.detect(texts)):
        code = found.code if found.code is not None else found.language
        guesses.append({"language": code, "confidence": round(100 * found.confidence, 1)})
        known = found.code is not None and found.code != tgt
        out.append(demo.translate(text, src=found.code, tgt=tgt) if known else text)
    return guesses, out


def test_source_auto_and_detect_use_the_models_detector(server, demo) -> None:
    url = base(server) + "translate"
    texts = ["vingt-deux mille trois cent quarante", "Dienstag und Mittwoch", "twenty two thousand"]
    guesses, expected = expected_auto(demo, texts, "it")
    answer = httpx.post(url, json={"q": texts, "source": "auto", "target": "it"}, timeout=60).json()
    assert answer == {"detectedLanguage": guesses, "translatedText": expected}
    assert [g["language"] for g in guesses] == ["fr", "de", "en"]  # the detector, not a guess of ours
    one = httpx.post(url, data={"q": texts[0], "source": "auto", "target": "it"}, timeout=60).json()
    assert one == {"detectedLanguage": guesses[0], "translatedText": expected[0]}
    # A text in the target language comes back as it was.
    same = httpx.post(url, json={"q": texts[2], "source": "auto", "target": "en"}, timeout=60).json()
    assert same["translatedText"] == texts[2] and same["detectedLanguage"]["language"] == "en"
    # /detect, through LibreTranslate's own client and deep-translator's.
    assert LibreTranslateAPI(base(server)).detect(texts[1]) == [guesses[1]]
    auto = LibreTranslator(source="auto", target="it", api_key="anything", custom_url=base(server))
    assert auto.translate(texts[0]) == expected[0]


def test_alternatives_are_the_n_best_after_the_translation(server, demo) -> None:
    url = base(server) + "translate"
    texts = ["mardi", "vingt-deux"]
    [first, second] = demo.translate_segments([Segment(t, "fr", "de", alternatives=4) for t in texts])
    answer = httpx.post(url, json={"q": texts, "source": "fr", "target": "de", "alternatives": 3}, timeout=60).json()
    assert answer["translatedText"] == [first.text, second.text]
    assert answer["alternatives"] == [[a.text for a in r.alternatives[1:]] for r in (first, second)]
    assert all(len(others) == 3 and r.text not in others for others, r in zip(answer["alternatives"], (first, second)))
    # The plain translation is the same text, and one text answers one list.
    assert answer["translatedText"][0] == demo.translate("mardi", src="fr", tgt="de")
    one = httpx.post(url, data={"q": "mardi", "source": "fr", "target": "de", "alternatives": "1"}, timeout=60).json()
    [pair] = demo.translate_segments([Segment("mardi", "fr", "de", alternatives=2)])  # a 2-best search
    assert one == {"translatedText": pair.text, "alternatives": [pair.alternatives[1].text]}
    body = {"q": "mardi", "source": "fr", "target": "de", "alternatives": 9}
    assert error_of(httpx.post(url, json=body, timeout=30), 400) == (
        "Invalid request: alternatives must be from 0 to 8, got 9"
    )


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


def test_readme_detection_and_alternatives_examples(server) -> None:
    """README's curl lines for detection and alternatives print what README shows (curl itself)."""
    import re
    import shutil
    import subprocess

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Source detection and alternatives work.*?```bash\n(.*?)```", readme, re.S)
    assert block is not None, "README's detection and alternatives example is missing"
    lines = block.group(1).splitlines()
    commands = [line for line in lines if line.startswith("curl ")]
    shown = [line[2:] for line in lines if line.startswith("# ")]
    assert len(commands) == len(shown) == 3
    host = server.url.removeprefix("http://")
    for command, expected in zip(commands, shown):
        out = subprocess.run(
            command.replace("localhost:8000", host), shell=True, capture_output=True, text=True, timeout=60, check=True
        ).stdout
        assert json.loads(out) == json.loads(expected), command
