"""An NLLB-shaped checkpoint through the real ``m2m100`` command, the real server and its web page:
token for token as transformers 4.57 translating each input alone, either code spelling accepted,
and the model's codes reported (a note on stderr, JSONL fields, response fields, the page)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from m2m100.languages import NLLB_CODES, language_name
from m2m100.translator import Translator
from tests.generation.test_nllb import CANDIDATES, Reference
from tests.nllb_fixture import build_checkpoint, train_spm
from tests.serving.test_server import error_of, start_server

COMMAND = [sys.executable, "-m", "m2m100"]
OPTIONS = ["--max-new-tokens", "10", "--device", "cpu"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_checkpoint(tmp_path_factory.mktemp("nllb-adapters") / "tiny", train_spm())


@pytest.fixture(scope="module")
def reference(folder: Path) -> Reference:
    return Reference(folder)


@pytest.fixture(scope="module")
def texts(reference: Reference) -> list[str]:
    """Inputs whose greedy translations into French differ and are not empty."""
    chosen: dict[str, str] = {}
    for text in CANDIDATES[:60]:
        chosen.setdefault(reference(text, "eng_Latn", "fra_Latn"), text)
    chosen.pop("", None)
    assert len(chosen) >= 5
    return list(chosen.values())[:5]


def run(args: list[object], cwd: Path) -> tuple[int, str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*COMMAND, *map(str, args)], capture_output=True, cwd=cwd, env=env, timeout=300)
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


def test_the_command_line(folder, reference, texts, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    code, out, err = run(["translate", "-m", folder, "-s", "en", "-t", "fr", *OPTIONS, "in.txt"], tmp_path)
    assert code == 0, err
    assert out.splitlines() == [reference(t, "eng_Latn", "fra_Latn") for t in texts]
    assert "m2m100: -s/--src-lang: en is eng_Latn for this model\n" in err
    assert "m2m100: -t/--tgt-lang: fr is fra_Latn for this model\n" in err

    rows = [
        {"text": texts[0], "src": "eng_Latn", "tgt": "zh-Hant"},
        {"id": 7, "text": texts[1], "src": "fra", "tgt": "deu_Latn"},
        {"text": texts[2]},  # the options' direction
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = ["translate", "-m", folder, "--format", "jsonl", "-s", "ru", "-t", "ar", *OPTIONS, "in.jsonl"]
    code, out, err = run(args, tmp_path)
    assert code == 0, err
    directions = [("eng_Latn", "zho_Hant"), ("fra_Latn", "deu_Latn"), ("rus_Cyrl", "arb_Arab")]
    expected = [{"src": s, "tgt": t, "translation": reference(r["text"], s, t)} for r, (s, t) in zip(rows, directions)]
    expected[1] = {"id": 7, **expected[1]}
    assert [json.loads(line) for line in out.splitlines()] == expected
    assert "m2m100: in.jsonl:1: zh-Hant is zho_Hant for this model\n" in err
    assert "m2m100: -t/--tgt-lang: ar is arb_Arab for this model\n" in err
    assert "eng_Latn is" not in err  # the model's own codes need no note

    code, out, err = run(["translate", "-m", folder, "-s", "english", "-t", "fr", *OPTIONS, "in.txt"], tmp_path)
    assert code == 2 and out == ""
    assert err.startswith("m2m100: error: -s/--src-lang: Unknown language code 'english'. Did you mean 'eng_Latn'")

    code, out, err = run(["languages", "-m", folder], tmp_path)
    assert code == 0, err
    assert out.splitlines() == [f"{c}\t{language_name(c)}" for c in NLLB_CODES]


@pytest.fixture(scope="module")
def server(folder: Path, tmp_path_factory: pytest.TempPathFactory):
    server = start_server(folder, tmp_path_factory.mktemp("nllb-server") / "server.log")
    yield server
    assert server.stop() == 0, server.output()


def test_the_server(server, reference, texts):
    answer = server.post({"texts": texts, "src": "en", "tgt": "fra_Latn", "max_new_tokens": 10}).json()
    assert answer["translations"] == [reference(t, "eng_Latn", "fra_Latn") for t in texts]
    assert (answer["src"], answer["tgt"], answer["requested_src"]) == ("eng_Latn", "fra_Latn", "en")
    assert "requested_tgt" not in answer

    body = {"text": texts[0], "src": "zho_Hans", "tgt": "zh-Hant", "beam_size": 2, "max_new_tokens": 10}
    answer = server.post(body).json()
    expected = reference(texts[0], "zho_Hans", "zho_Hant", beam_size=2)
    assert (answer["translation"], answer["tgt"], answer["requested_tgt"]) == (expected, "zho_Hant", "zh-Hant")

    detail = error_of(server.post({"text": "x", "src": "en", "tgt": "english"}), 422, "unknown_language")
    assert detail.startswith("tgt: Unknown language code 'english'. Did you mean 'eng_Latn'")

    languages = httpx.get(server.url + "/languages").json()
    assert languages["description"] == "NLLB-200 translation checkpoint, 202 languages"
    entries = {entry["code"]: entry for entry in languages["languages"]}
    assert list(entries) == list(NLLB_CODES)
    assert entries["eng_Latn"] == {"code": "eng_Latn", "name": "English", "iso": "en"}
    assert entries["zho_Hans"]["iso"] == "zh" and "iso" not in entries["zho_Hant"]  # zh means zho_Hans
    assert "iso" not in entries["ace_Arab"]  # Acehnese has no ISO 639-1 code and two scripts


def test_the_web_page_takes_either_spelling_and_shows_the_codes_used(server, folder, texts):
    pytest.importorskip("playwright")
    from playwright.sync_api import expect, sync_playwright

    from tests.serving.test_server_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            expect(page.locator("#translate")).to_be_enabled(timeout=60_000)
            # No ?src= or ?tgt=: English to French, whatever the model calls them.
            assert (page.input_value("#src"), page.input_value("#tgt")) == ("eng_Latn", "fra_Latn")
            page.goto(server.url + "/?src=DEU_LATN&tgt=zh")
            expect(page.locator("#translate")).to_be_enabled(timeout=60_000)
            assert (page.input_value("#src"), page.input_value("#tgt")) == ("deu_Latn", "zho_Hans")
            page.fill("#text", texts[0])
            page.click("#translate")
            expect(page.locator("#direction")).to_have_text(
                "\u00b7 translated deu_Latn \u2192 zho_Hans", timeout=60_000
            )
            # The library's translation (the server test compares that with transformers).
            expected = Translator(folder, device="cpu").translate(texts[0], src="de", tgt="zh")
            assert page.locator("#result").text_content() == expected
            page.close()
        finally:
            browser.close()
