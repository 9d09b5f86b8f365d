"""The web page's translation controls, driven in headless Chromium against a real ``m2m100 serve``
of the demo model: a click (or Enter) on a line of the translation lists that line's alternatives,
which must be the library's n-best, and choosing one replaces exactly that line; a glossary TSV
read in the browser changes the translation as the library's glossary from the same file does, a
malformed one is refused with its line number, and the server's limits reach the status line."""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from m2m100 import Segment
from m2m100.demo import model_path
from m2m100.glossary import Glossary
from m2m100.translator import Translator
from tests.serving.test_server import start_server
from tests.serving.test_server_browser import browser, local_page, pytestmark  # noqa: F401 - fixture, skip mark

# Decoding work a request may ask for (texts x beams x new tokens): a short line's 4 alternatives
# (4 beams) fit, those of a long line do not, and a plain translation of either does.
MAX_WORK = 110
LONG = "nine thousand nine hundred ninety-nine"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("controls-page") / "server.log"
    server = start_server(model_path(), log, "--max-glossary-terms", 2, "--max-batch-work", MAX_WORK)
    yield server
    assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def demo() -> Translator:
    return Translator(model_path(), device="cpu")


@contextlib.contextmanager
def controls_page(browser: Any, server: Any, path: str) -> Iterator[Any]:  # noqa: F811 - the fixture's name
    """The page at ``path``, once its languages are loaded; when done, checks that no script failed."""
    from playwright.sync_api import expect

    with local_page(browser, server, path) as page:
        failures: list[str] = []
        page.on("pageerror", lambda error: failures.append(str(error)))
        expect(page.locator("#translate")).to_be_enabled(timeout=60_000)
        yield page
        assert not failures, failures


def alternatives(demo: Translator, line: str, src: str, tgt: str) -> list[str]:
    [result] = demo.translate_segments([Segment(line, src, tgt, alternatives=4)])
    return [a.text for a in result.alternatives]


def translated(page, want: list[str]) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#result")).to_have_text("\n".join(want), timeout=60_000)
    expect(page.locator("#status")).to_have_text("")


def shown_alternatives(page) -> list[str]:
    from playwright.sync_api import expect

    expect(page.locator("#alternatives")).to_be_visible(timeout=60_000)
    return page.locator("#alternatives-list .text").all_text_contents()


def test_a_line_offers_its_alternatives_and_takes_the_chosen_one(server, browser, demo) -> None:  # noqa: F811
    from playwright.sync_api import expect

    lines = ["seven", "forty two", "three"]
    with controls_page(browser, server, "/?src=en&tgt=fr") as page:
        page.evaluate(  # every status the page shows, recorded by the page itself
            """() => {
              window.statuses = [];
              new MutationObserver(() => window.statuses.push(document.getElementById("status").textContent))
                .observe(document.getElementById("status"), { childList: true, characterData: true, subtree: true });
            }"""
        )
        page.fill("#text", "\n".join(lines))
        page.click("#translate")
        plain = demo.translate(lines, src="en", tgt="fr")
        translated(page, plain)

        page.click('#result .line[data-index="1"]')
        want = alternatives(demo, "forty two", "en", "fr")
        assert len(set(want)) == 4 and want[0] == plain[1]
        assert shown_alternatives(page) == want
        expect(page.locator("#alternatives-title")).to_contain_text("line 2")
        expect(page.locator("#status")).to_have_text("")
        assert "Finding alternatives for line 2\u2026" in page.evaluate("window.statuses")
        expect(page.locator("#alternatives-list button[aria-current] .text")).to_have_text(plain[1])

        page.locator("#alternatives-list button").nth(2).click()  # exactly that line changes
        translated(page, [plain[0], want[2], plain[2]])
        expect(page.locator("#alternatives")).to_be_hidden()

        # By keyboard: Enter on a line lists its alternatives, which take the focus; Escape closes them.
        page.locator('#result .line[data-index="2"]').focus()
        page.keyboard.press("Enter")
        assert shown_alternatives(page) == alternatives(demo, "three", "en", "fr")
        expect(page.locator("#alternatives-list button").first).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.locator("#alternatives")).to_be_hidden()
        expect(page.locator('#result .line[data-index="2"]')).to_be_focused()
        page.keyboard.press("Space")
        expect(page.locator("#alternatives-list button")).to_have_count(4, timeout=60_000)
        page.keyboard.press("Tab")  # to the second alternative
        page.keyboard.press("Enter")
        translated(page, [plain[0], want[2], alternatives(demo, "three", "en", "fr")[1]])


def test_alternatives_after_detection_use_the_detected_source(server, browser, demo) -> None:  # noqa: F811
    if importlib.util.find_spec("py3langid") is None:
        pytest.skip("language detection needs py3langid: pip install 'm2m100[detect]'")
    lines = ["quatre-vingt-dix-neuf", "Montag und Dienstag"]
    with controls_page(browser, server, "/?src=auto&tgt=en") as page:
        page.fill("#text", "\n".join(lines))
        page.click("#translate")
        results = list(demo.translate_segments(lines, src="auto", tgt="en"))
        translated(page, [r.text for r in results])
        assert [r.src for r in results] == ["fr", "de"]
        page.click('#result .line[data-index="1"]')
        assert shown_alternatives(page) == alternatives(demo, lines[1], "de", "en")


def test_an_alternatives_error_is_shown(server, browser, demo) -> None:  # noqa: F811
    from playwright.sync_api import expect

    with controls_page(browser, server, "/?src=en&tgt=fr") as page:
        page.fill("#text", LONG)
        page.click("#translate")
        translated(page, demo.translate([LONG], src="en", tgt="fr"))
        page.click('#result .line[data-index="0"]')
        status = page.locator("#status")
        expect(status).to_have_class("error", timeout=60_000)
        expect(status).to_contain_text("token steps; at most 110 a request")
        expect(page.locator("#alternatives")).to_be_hidden()


def test_an_uploaded_glossary_changes_the_translation(server, browser, demo, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    terms = tmp_path / "terms.tsv"  # one term for en -> de, and one for another direction
    terms.write_text("# the page's glossary\nen\tde\tseven\tacht\n\nen\tfr\tseven\tneuf\n", encoding="utf-8")
    lines = ["seven", "three"]
    plain = demo.translate(lines, src="en", tgt="de")
    want = demo.translate(lines, src="en", tgt="de", glossary=Glossary.load(terms))
    assert want != plain, (want, plain)
    with controls_page(browser, server, "/?src=en&tgt=de") as page:
        expect(page.locator("#glossary-info")).to_have_text("none loaded")
        page.set_input_files("#glossary", str(terms))
        expect(page.locator("#glossary-info")).to_have_text("terms.tsv: 1 term for en \u2192 de")
        page.fill("#text", "\n".join(lines))
        page.click("#translate")
        translated(page, want)

        page.check("#stream")  # the stream endpoint takes no glossary: the page says so
        page.click("#translate")
        expect(page.locator("#status")).to_have_text(
            "Streaming does not apply a glossary: uncheck Stream, or clear the glossary."
        )
        page.uncheck("#stream")

        page.click("#glossary-clear")
        expect(page.locator("#glossary-info")).to_have_text("none loaded")
        page.click("#translate")
        translated(page, plain)


def test_a_malformed_glossary_is_refused_with_its_line(server, browser, demo, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    bad = tmp_path / "bad.tsv"
    bad.write_text("seven\tacht\nthree\tdrei\textra\n", encoding="utf-8")
    with pytest.raises(ValueError) as library:
        Glossary.load(bad)
    with controls_page(browser, server, "/?src=en&tgt=de") as page:
        page.set_input_files("#glossary", str(bad))
        message = str(library.value).replace(str(bad), bad.name)  # the command's message, for the file's name
        assert message.startswith("bad.tsv:2: 3 tab-separated columns")
        expect(page.locator("#status")).to_have_text(f"{message}. The glossary is not used.")
        expect(page.locator("#status")).to_have_class("error")
        expect(page.locator("#glossary-info")).to_have_text("none loaded")
        page.fill("#text", "seven")
        page.click("#translate")
        translated(page, demo.translate(["seven"], src="en", tgt="de"))  # the first line's term is not used


def test_too_many_terms_get_the_servers_answer(server, browser, tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    many = tmp_path / "many.tsv"
    many.write_text("seven\tacht\nthree\tvier\nACME-42\n", encoding="utf-8")  # the lone term: kept as it is
    with controls_page(browser, server, "/?src=en&tgt=de") as page:
        page.set_input_files("#glossary", str(many))
        expect(page.locator("#glossary-info")).to_have_text("many.tsv: 3 terms for en \u2192 de")
        page.fill("#text", "seven")
        page.click("#translate")
        status = page.locator("#status")
        expect(status).to_have_text("3 glossary and do_not_translate terms; at most 2 a request", timeout=60_000)
        expect(status).to_have_class("error")
