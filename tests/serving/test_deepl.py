"""The DeepL v2-compatible API of a real ``m2m100 serve`` (the demo model), driven with the
official ``deepl`` client given ``server_url`` and by hand: the answers are the Translator's for
the same input, with DeepL's fields, code spellings and error shape."""

from __future__ import annotations

import deepl
import httpx
import pytest

from m2m100 import Translator
from m2m100.demo import model_path
from m2m100.documents import translate_document
from tests.serving.test_server import start_server

KEY = "a-deepl-key-0123456789"
OTHER = "another-deepl-key-0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("deepl")
    (folder / "keys").write_text(f"main:{KEY}\nother:{OTHER}\n", encoding="utf-8")
    server = start_server(model_path(), folder / "server.log", "--api-keys", folder / "keys", "--max-texts", "4")
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def client(server) -> deepl.Translator:
    return deepl.Translator(KEY, server_url=server.url)


@pytest.fixture(scope="module")
def demo() -> Translator:
    return Translator(device="cpu")


def test_the_official_client_translates_as_the_library_does(client, demo) -> None:
    result = client.translate_text("mardi", source_lang="FR", target_lang="EN-GB")
    assert result.text == demo.translate("mardi", src="fr", tgt="en")
    assert result.detected_source_lang == "FR" and result.billed_characters == 5
    texts = ["Allemagne", "vingt-deux", "trois"]
    results = client.translate_text(texts, source_lang="fr", target_lang="PT-BR")
    assert [r.text for r in results] == demo.translate(texts, src="fr", tgt="pt")
    assert [r.billed_characters for r in results] == [len(t) for t in texts]
    assert client.translate_text("mardi", source_lang="FR", target_lang="DE").text == "Dienstag"


def test_without_source_lang_the_language_is_detected(client, demo) -> None:
    texts = ["vingt-deux mille trois cent quarante", "twenty two thousand", "Dienstag und Mittwoch"]
    found = demo.detect(texts)
    assert [d.code for d in found] == ["fr", "en", "de"]
    results = client.translate_text(texts, target_lang="DE")
    assert [r.detected_source_lang for r in results] == ["FR", "EN", "DE"]
    # Translated from what was detected; a text in the target language comes back as it was.
    expected = [demo.translate(texts[0], src="fr", tgt="de"), demo.translate(texts[1], src="en", tgt="de"), texts[2]]
    assert [r.text for r in results] == expected


def test_the_prefixed_routes_serve_the_same(server, demo) -> None:
    # urljoin keeps a prefix that ends with a slash: /deepl/v2/translate.
    prefixed = deepl.Translator(KEY, server_url=server.url + "/deepl/")
    assert prefixed.translate_text("trois", source_lang="FR", target_lang="ES").text == demo.translate(
        "trois", src="fr", tgt="es"
    )


def test_sentences_are_split_unless_asked_not_to(client, demo) -> None:
    text = "mardi. trois.\nAllemagne."
    split = demo.translate(["mardi.", "trois.", "Allemagne."], src="fr", tgt="de")
    assert client.translate_text(text, source_lang="FR", target_lang="DE").text == f"{split[0]} {split[1]}\n{split[2]}"
    whole = client.translate_text(text, source_lang="FR", target_lang="DE", split_sentences="0").text
    assert whole == demo.translate(text, src="fr", tgt="de")
    flat = client.translate_text(text, source_lang="FR", target_lang="DE", split_sentences="nonewlines").text
    assert flat == " ".join(split)
    kept = client.translate_text("  mardi. ", source_lang="FR", target_lang="DE", preserve_formatting=True).text
    assert kept == f"  {split[0]} "


def test_tags_are_kept(client, demo) -> None:
    html = "<p>mardi <b>trois</b></p>"
    result = client.translate_text(html, source_lang="FR", target_lang="DE", tag_handling="html")
    assert result.text == translate_document(demo, html.encode(), format="html", src="fr", tgt="de").decode()


def test_languages_in_deepls_spelling(client, demo) -> None:
    sources = {language.code: language.name for language in client.get_source_languages()}
    assert sources["EN"] == "English" and sources["DE"] == "German" and len(sources) == len(demo.languages)
    targets = {language.code for language in client.get_target_languages()}
    assert {"EN-GB", "EN-US", "PT-BR", "PT-PT", "DE"} <= targets and "EN" not in targets


def test_usage_counts_the_keys_characters(server, demo) -> None:
    other = deepl.Translator(OTHER, server_url=server.url)
    before = other.get_usage().character.count
    other.translate_text(["mardi", "trois"], source_lang="FR", target_lang="DE")
    usage = other.get_usage()
    assert usage.character.count == before + 10 and not usage.any_limit_reached


def test_errors(server, client) -> None:
    with pytest.raises(deepl.AuthorizationException):
        deepl.Translator("not-the-key-0123456789", server_url=server.url).translate_text("x", target_lang="DE")
    with pytest.raises(deepl.DeepLException, match=r"target_lang: 'XX' \(that is 'xx'\): Unknown language code"):
        client.translate_text("mardi", source_lang="FR", target_lang="XX")
    with pytest.raises(deepl.DeepLException, match="'formality' 'more' is not supported"):
        client.translate_text("mardi", source_lang="FR", target_lang="DE", formality="more")
    url = server.url + "/v2/translate"
    # A form body, as older clients send, and DeepL's error shape by hand.
    form = {"text": ["mardi", "trois"], "source_lang": "FR", "target_lang": "DE"}
    answer = httpx.post(url, data=form, headers={"Authorization": f"DeepL-Auth-Key {KEY}"}, timeout=60)
    assert [t["text"] for t in answer.json()["translations"]] == ["Dienstag", "drei"]
    missing = httpx.post(url, data=form, timeout=30)
    assert missing.status_code == 403 and "DeepL-Auth-Key" in missing.json()["message"]
    too_many = httpx.post(url, data={**form, "text": ["x"] * 5}, headers={"Authorization": f"DeepL-Auth-Key {KEY}"})
    assert too_many.status_code == 413 and "at most 4 a request" in too_many.json()["message"]
