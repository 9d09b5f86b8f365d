"""Copy a trained demo checkpoint into a model folder to ship: float16 weights, tokenizer files
and the data build's manifest (as ``demo_data.json``, from which the evaluation rebuilds the
test set).

    python -m m2m100.demo.export build/demo/run/best src/m2m100/demo/model --manifest build/demo/manifest.json
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from m2m100.demo.evaluate import MANIFEST_IN_MODEL
from m2m100.languages import TRAINED_LANGUAGES_KEY
from m2m100.modeling import M2M100ForConditionalGeneration
from m2m100.tokenizer import M2M100Tokenizer

MAX_MB = 25.0  # the shipped folder travels in the package


def export(
    checkpoint: Path, dest: Path, *, manifest: Path | None = None, continued: Path | None = None, max_mb: float = MAX_MB
) -> int:
    """Write ``dest`` afresh from ``checkpoint`` (a finetune run's ``best`` or ``last`` folder).

    ``manifest`` (the first data build's, whose options rebuild the test set) is written as
    ``demo_data.json``; ``continued``, the manifest of a build the training continued on, goes
    into it under ``"continued"``.

    Returns:
        The bytes written.

    Raises:
        FileNotFoundError: ``checkpoint`` or ``manifest`` is missing.
        ValueError: the folder would exceed ``max_mb`` megabytes (it is removed again).
    """
    checkpoint, dest = Path(checkpoint), Path(dest)
    for path in (manifest, continued):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"no data manifest at {path}; it is written by m2m100 demo-data")
    model = M2M100ForConditionalGeneration.from_pretrained(checkpoint, dtype=torch.float16, device="cpu")
    tokenizer = M2M100Tokenizer.from_pretrained(checkpoint)
    if manifest is not None:
        # The model translates the languages it was trained on, not every token of its tokenizer:
        # the Translator, the CLI and the server read this list (m2m100.languages.trained_languages).
        options = json.loads(Path(manifest).read_text(encoding="utf-8"))["options"]
        model.config.extra[TRAINED_LANGUAGES_KEY] = list(options["languages"])
    if dest.exists():
        shutil.rmtree(dest)  # no file of an older model may stay beside the new one
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    if manifest is not None:
        data = json.loads(Path(manifest).read_text(encoding="utf-8"))
        if continued is not None:
            data["continued"] = json.loads(Path(continued).read_text(encoding="utf-8"))
        (dest / MANIFEST_IN_MODEL).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    size = sum(f.stat().st_size for f in dest.iterdir() if f.is_file())
    if size > max_mb * 1e6:
        shutil.rmtree(dest)
        raise ValueError(
            f"the exported model takes {size / 1e6:.1f} MB, over the {max_mb:g} MB allowed; train a smaller config"
        )
    return size
