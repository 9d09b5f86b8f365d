from __future__ import annotations

from pathlib import Path

import pytest

from m2m100.translator import Translator


@pytest.fixture(scope="module")
def translator(translation_folder: Path) -> Translator:
    return Translator(translation_folder, device="cpu")
