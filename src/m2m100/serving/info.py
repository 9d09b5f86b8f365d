"""What ``m2m100 serve`` says about the model it serves (``GET /languages`` and the web page's
notice): its name, the languages it was trained on, and whether it is the bundled demo model,
which knows number words and a few names, not real text."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from m2m100.demo import demo_knows, is_demo_model
from m2m100.languages import iso_language, language_name, resolve_language
from m2m100.tokenizer import NllbTokenizer
from m2m100.translator import Translator


class _Named(TypedDict):
    code: str
    name: str  # in English; the code itself for a code without a known name


class Language(_Named, total=False):
    iso: str  # the ISO 639 code that means it (en for eng_Latn), when the code is not one itself


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
    family = "NLLB-200" if isinstance(translator.tokenizer, NllbTokenizer) else "M2M100"
    description = demo_knows(len(codes)) if demo else f"{family} translation checkpoint, {len(codes)} languages"
    return {
        "model": translator.name,
        "demo": demo,
        "description": description,
        "languages": [_language(c, codes) for c in codes],
    }


def _language(code: str, codes: list[str]) -> Language:
    """A language of ``codes``, with the ISO code that means it for this model when ``code`` is
    not one itself (``zh`` means zho_Hans, so zho_Hant has none)."""
    entry: Language = {"code": code, "name": language_name(code, default=code)}
    iso = iso_language(code)
    try:
        if iso != code and resolve_language(iso, codes) == code:
            entry["iso"] = iso
    except ValueError:  # a code without an ISO one, e.g. one a fine-tuning run added
        pass
    return entry
