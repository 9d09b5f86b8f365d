"""The pages of ``m2m100 serve``, driven in headless Chromium (playwright): on the web page,
type, pick the languages, translate, swap, and what the page shows must be the library's
translation; the demo model's notice; the API documentation at /docs. No page may ask for
anything but the server's own URLs.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from m2m100.demo import model_path as demo_model_path
from m2m100.translator import Translator
from tests.serving.test_server import Server, start_server

CHROMIUM = Path("/usr/bin/chromium")
# No network here: these keep Chromium from reaching out (updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None,
    reason=f"needs Debian's Chromium at {CHROMIUM} and playwright: apt-get install chromium chromium-driver, "
    "and pip install -e '.[test]'",
)


@pytest.fixture(scope="module")
def server(translation_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    server = start_server(translation_folder, tmp_path_factory.mktemp("browser") / "server.log", "--max-texts", 3)
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def local_page(browser: Any, server: Server, path: str) -> Iterator[Any]:
    """A new page at ``path`` of ``server``; when done, checks that it asked for nothing elsewhere."""
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server.url + path)
    yield page
    page.close()
    assert requested and all(url.startswith(server.url + "/") for url in requested), requested  # nothing outside


@pytest.fixture(scope="module")
def page(server, browser):
    with local_page(browser, server, "/") as page:
        yield page


@pytest.fixture(scope="module")
def lines(translation_folder: Path) -> list[str]:
    """Two lines whose en->fr and fr->en translations are not empty (so that a blank result shows)."""
    from tests.tokenizer_fixture import SAMPLE_TEXTS

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


def test_a_checkpoint_gets_no_demo_notice(page):
    from playwright.sync_api import expect

    expect(page.locator("#translate")).to_be_enabled(timeout=60_000)
    expect(page.locator("#notice")).to_be_hidden()
    expect(page.locator("#src option")).to_have_count(101)  # and "Detect language"
    expect(page.locator("#tgt option")).to_have_count(100)
    expect(page.locator("footer")).to_contain_text("(M2M100 translation checkpoint, 100 languages)")


def test_the_demo_model_says_so_and_offers_its_languages_only(browser, tmp_path):
    from playwright.sync_api import expect

    server = start_server(demo_model_path(), tmp_path / "server.log")
    try:
        with local_page(browser, server, "/") as page:
            expect(page.locator("#translate")).to_be_enabled(timeout=60_000)
            notice = page.locator("#notice")
            expect(notice).to_be_visible()
            expect(notice).to_contain_text(
                "demo model: number words (0-9999, cardinals and ordinals) and CLDR names "
                "(weekdays, months, languages, territories) in 24 languages; "
                "not for real text"
            )
            for menu, extra in (("#src", 1), ("#tgt", 0)):  # the source may also be "Detect language"
                expect(page.locator(f"{menu} option")).to_have_count(24 + extra)
                expect(page.locator(f"{menu} option[value=zh]")).to_have_count(0)
            expect(page.locator("#tgt option[value=auto]")).to_have_count(0)
            assert page.locator("#src option[value=ja]").inner_text() == "Japanese (ja)"
    finally:
        assert server.stop() == 0, server.output()


def test_the_api_documentation_renders_offline(server, browser):
    from playwright.sync_api import expect

    with local_page(browser, server, "/docs") as page:
        # One summary per operation, as Swagger UI renders them; matched on the exact path, since
        # "/translate" is also a prefix of "/translate/document".
        def operation(path: str):
            return page.locator(f'.opblock-summary-path[data-path="{path}"]')

        expect(operation("/translate")).to_be_visible(timeout=60_000)
        expect(operation("/languages")).to_be_visible()
        expect(operation("/health")).to_be_visible()
