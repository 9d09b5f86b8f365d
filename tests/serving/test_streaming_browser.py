"""The web page's streaming output and keyboard shortcuts, driven in headless Chromium against a
real ``m2m100 serve`` of the demo model: the output box fills as the stream comes, and ends with
the library's translation."""

from __future__ import annotations

import pytest

from m2m100.demo import model_path
from m2m100.translator import Translator
from tests.serving.test_server import start_server
from tests.serving.test_server_browser import browser, local_page, pytestmark  # noqa: F401 - fixture, skip mark


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    server = start_server(model_path(), tmp_path_factory.mktemp("stream-page") / "server.log")
    yield server
    assert server.stop() == 0, server.output()


def test_the_output_box_fills_as_the_stream_comes(server, browser) -> None:  # noqa: F811 - the fixture
    from playwright.sync_api import expect

    demo = Translator(device="cpu")
    with local_page(browser, server, "/?src=de&tgt=fr") as page:
        expect(page.locator("#translate")).to_be_enabled(timeout=60_000)
        expect(page.locator("#notice")).to_contain_text("This is a demo model")
        page.locator("#text").press("Alt+s")  # swap: French to German
        assert (page.input_value("#src"), page.input_value("#tgt")) == ("fr", "de")
        page.check("#stream")
        # Every text the output box shows on the way, recorded by the page itself.
        page.evaluate(
            """() => {
              window.shown = [];
              new MutationObserver(() => window.shown.push(document.getElementById("result").textContent))
                .observe(document.getElementById("result"), { childList: true, characterData: true, subtree: true });
            }"""
        )
        lines = ["mardi", "vingt-deux", "Allemagne"]
        page.fill("#text", "\n".join(lines))
        page.press("#text", "Control+Enter")
        want = "\n".join(demo.translate(lines, src="fr", tgt="de"))
        expect(page.locator("#result")).to_have_text(want, timeout=60_000)
        expect(page.locator("#status")).to_have_text("")
        shown = [text for text in page.evaluate("window.shown") if text]
        assert len(set(shown)) >= len(lines) and shown[-1] == want  # it grew, line after line
        assert "fr \u2192 de" in page.locator("footer").inner_text()
