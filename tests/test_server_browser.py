"""The web page of ``m2m100 serve``, driven in headless Chromium (playwright): type, pick the
languages, translate, swap; what the page shows must be the library's translation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from m2m100.translator import Translator
from test_server import start_server

CHROMIUM = Path("/usr/bin/chromium")
# No network here: these keep Chromium from reaching out (updates, sync, QUIC probes).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} to drive the page with")


@pytest.fixture(scope="module")
def server(translation_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    server = start_server(translation_folder, tmp_path_factory.mktemp("browser") / "server.log", "--max-texts", 3)
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(server.url + "/")
        yield page
        browser.close()
    assert requested and all(url.startswith(server.url + "/") for url in requested), requested  # nothing outside


@pytest.fixture(scope="module")
def lines(translation_folder: Path) -> list[str]:
    """Two lines whose en->fr and fr->en translations are not empty (so that a blank result shows)."""
    from tokenizer_fixture import SAMPLE_TEXTS

    translator = Translator(translation_folder, device="cpu")
    candidates = [t for t in SAMPLE_TEXTS[90:130] if t.strip() and "\n" not in t and len(t) < 120]
    there = translator.translate(candidates, src="en", tgt="fr")
    back = translator.translate(there, src="fr", tgt="en")
    chosen = [text for text, a, b in zip(candidates, there, back) if a and b]
    assert len(chosen) >= 2
    return chosen[:2]


def result(page) -> str:
    """The translation the page shows, once it shows one (exactly: to_have_text would
    normalize the whitespace)."""
    from playwright.sync_api import expect

    expect(page.locator("#result")).not_to_be_empty(timeout=60_000)
    expect(page.locator("#status")).to_have_text("")
    return page.locator("#result").text_content()


def test_translate_then_swap(page, lines, translation_folder):
    from playwright.sync_api import expect

    translator = Translator(translation_folder, device="cpu")
    expect(page.locator("#translate")).to_be_enabled(timeout=60_000)  # languages loaded
    assert page.locator("#src option[value=en]").inner_text() == "English (en)"

    page.fill("#text", "\n".join(lines))
    page.select_option("#src", "en")
    page.select_option("#tgt", label="French (fr)")
    page.click("#translate")
    want = translator.translate(lines, src="en", tgt="fr")
    assert result(page) == "\n".join(want)

    page.click("#swap")  # languages and texts change places
    assert (page.input_value("#src"), page.input_value("#tgt")) == ("fr", "en")
    assert page.input_value("#text") == "\n".join(want)
    expect(page.locator("#result")).to_have_text("")
    page.press("#text", "Control+Enter")
    assert result(page) == "\n".join(translator.translate(want, src="fr", tgt="en"))


def test_an_error_is_shown(page, lines):
    from playwright.sync_api import expect

    expect(page.locator("#translate")).to_be_enabled(timeout=60_000)
    page.fill("#text", "\n".join(lines * 2))  # 4 lines: the server takes 3 texts a request
    page.click("#translate")
    expect(page.locator("#status")).to_have_text("4 texts; at most 3 a request", timeout=60_000)
    expect(page.locator("#status")).to_have_class("error")
