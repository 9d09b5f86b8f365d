"""The web page's document upload, driven in headless Chromium: pick a file, translate it, and
the download the page offers is the library's translation of the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from m2m100 import Translator
from m2m100.demo import model_path
from m2m100.documents import translate_document
from tests.documents.samples import document
from tests.serving.test_server import start_server
from tests.serving.test_server_browser import browser, local_page, pytestmark  # noqa: F401 - fixture and skip

__all__ = ["browser", "pytestmark"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    server = start_server(model_path(), tmp_path_factory.mktemp("browser") / "server.log")
    yield server
    assert server.stop() == 0, server.output()


def test_upload_a_document_and_download_its_translation(server, browser, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    (tmp_path / "talk.srt").write_bytes(document("srt"))
    (tmp_path / "broken.srt").write_bytes(b"1\n00:00:05,000 --> 00:00:01,000\nmardi\n")
    with local_page(browser, server, "/") as page:
        expect(page.locator("#translate-file")).to_be_enabled(timeout=60_000)
        page.select_option("#src", "fr")
        page.select_option("#tgt", "en")
        page.set_input_files("#file", str(tmp_path / "talk.srt"))
        page.click("#translate-file")
        link = page.locator("#download")
        expect(link).to_be_visible(timeout=60_000)
        expect(link).to_have_text("Download talk.en.srt")
        with page.expect_download() as started:
            link.click()
        saved = tmp_path / "saved.srt"
        started.value.save_as(saved)
        want = translate_document(Translator(device="cpu"), document("srt"), format="srt", src="fr", tgt="en")
        assert saved.read_bytes() == want

        page.set_input_files("#file", str(tmp_path / "broken.srt"))
        page.click("#translate-file")
        expect(page.locator("#status")).to_contain_text("broken.srt: line 2: the cue ends", timeout=60_000)
        expect(page.locator("#status")).to_have_class("error")
        expect(link).to_be_hidden()
