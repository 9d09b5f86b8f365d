"""The demo: a small M2M100 trained from scratch on number words and CLDR names in 24 languages.

``m2m100 demo-data --out DIR`` builds its data, vocabulary and config (:mod:`m2m100.demo.data`,
from :mod:`~m2m100.demo.sources` and :mod:`~m2m100.demo.vocab`); ``scripts/train_demo.sh`` trains
it and copies the best checkpoint into this package's ``model/`` folder (:func:`model_path`) with
``python -m m2m100.demo.export``; ``python -m m2m100.demo.evaluate`` measures it on held-out
numbers. The arguments of the command and of both tools are in :mod:`m2m100.cli.demo`.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["DEMO_KNOWS", "DEMO_NOTICE", "demo_knows", "is_demo_model", "model_or_demo", "model_path"]

M = TypeVar("M")


def demo_knows(languages: int = 24) -> str:
    """What a demo model was trained on, in one line: the one text that ``m2m100 info`` ("knows"),
    ``GET /languages`` ("description") and the web page's notice show. ``languages``: how many it
    was trained on (24 for the shipped model; a build of its own may have others)."""
    return (
        "number words (0-9999, cardinals and ordinals) and CLDR names (weekdays, months, languages, "
        f"territories) in {languages} languages; not for real text"
    )


DEMO_KNOWS = demo_knows()  # the shipped model's
DEMO_NOTICE = (
    "no model given: using the bundled demo model (number words and CLDR names in 24 languages, "
    "6 M parameters); pass a checkpoint such as facebook/m2m100_418M for real translation"
)


def model_path() -> Path:
    """The folder of the shipped demo model (model and tokenizer files).

    Raises:
        FileNotFoundError: the model has not been built into this copy of the package.
    """
    folder = Path(str(importlib.resources.files(__name__) / "model"))
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"the demo model is not in {folder}; build it with scripts/train_demo.sh "
            "(m2m100 demo-data, m2m100 finetune, then the copy into that folder)"
        )
    return folder


def model_or_demo(model: M | None, *, notice: Callable[[str], object] | None = None) -> M | Path:
    """``model``, or the bundled demo model (:func:`model_path`) when it is None: the one place that
    decides what "no model given" means, for the :class:`~m2m100.translator.Translator`, every
    command, the server and ``python -m m2m100.demo.evaluate``.

    Args:
        notice: called with :data:`DEMO_NOTICE` when the demo model is taken (a logger's
            ``warning``, or a print to stderr); None says nothing.

    Raises:
        FileNotFoundError: no model given, and the demo model is not in this copy of the package.
    """
    if model is not None:
        return model
    folder = model_path()
    if notice is not None:
        notice(DEMO_NOTICE)
    return folder


def is_demo_model(folder: Path) -> bool:
    """Whether ``folder`` holds a demo model (this package's or one built by scripts/train_demo.sh):
    the export writes the data build's manifest beside the weights."""
    return (Path(folder) / "demo_data.json").is_file()
