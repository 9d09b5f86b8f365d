"""What ``m2m100 serve`` says about the model it serves (``GET /languages`` and the web page's
notice): its name, the languages it was trained on, and whether it is the bundled demo model,
which knows number words and a few names, not real text."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from m2m100.demo import demo_knows, is_demo_model
from m2m100.languages import LANGUAGE_NAMES
from m2m100.translator import Translator


class Language(TypedDict):
    code: str
    name: str  # in English; the code itself for a code without a known name


class ModelInfo(TypedDict):
    """The answer of ``GET /languages``."""

    model: str  # the checkpoint, as given to ``serve -m``
    demo: bool  # the bundled demo model, or another build of m2m100.demo
    description: str  # what it translates, for people
    languages: list[Language]  # the codes it was trained on, in the tokenizer's order


def model_info(translator: Translator) -> ModelInfo:
    """Describe the model ``translator`` serves (reads the checkpoint folder: call it once)."""
    codes = translator.languages
    folder = translator.model.name_or_path  # where it was loaded from (for a hub id, the download)
    demo = bool(folder) and is_demo_model(Path(folder))
    description = demo_knows(len(codes)) if demo else f"M2M100 translation checkpoint, {len(codes)} languages"
    return {
        "model": translator.name,
        "demo": demo,
        "description": description,
        "languages": [{"code": c, "name": LANGUAGE_NAMES.get(c, c)} for c in codes],
    }
