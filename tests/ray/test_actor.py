"""``BatchTranslator``, the callable class of ``map_batches``, called here as Ray Data calls it
(a dict of numpy columns), in this process: it must give what the Translator gives each row."""

from __future__ import annotations

import numpy as np
import pytest

from m2m100.ray import BatchTranslator
from m2m100.translator import Translator

SETTINGS = dict(beam_size=2, max_new_tokens=8)


@pytest.fixture(scope="module")
def actor() -> BatchTranslator:
    return BatchTranslator(src="fr", tgt="de", device="cpu", num_threads=1, max_batch_tokens=24, **SETTINGS)


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(device="cpu")


def strings(*values: object) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def test_rows_with_their_own_direction_and_ids(actor: BatchTranslator, translator: Translator) -> None:
    batch = {
        "text": strings("trois", "vingt et un", "seven", "", "zwölf"),
        "src": strings(None, "fr", "en", None, "de"),
        "tgt": strings(None, "en", "es", None, "fr"),
        "id": np.array([10, 11, 12, 13, 14]),
    }
    out = actor(batch)
    directions = [("fr", "de"), ("fr", "en"), ("en", "es"), ("fr", "de"), ("de", "fr")]
    expected = [
        translator.translate(text, src=src, tgt=tgt, **SETTINGS) for text, (src, tgt) in zip(batch["text"], directions)
    ]
    assert list(out["translation"]) == expected
    assert expected[0] and expected[3] == ""  # a real translation, and a blank row stays blank
    assert list(zip(out["src"], out["tgt"])) == directions  # the direction each row was translated in
    assert list(out["id"]) == [10, 11, 12, 13, 14] and list(out["text"]) == list(batch["text"])


def test_a_batch_of_one_column_takes_the_constructor_direction(actor: BatchTranslator, translator: Translator) -> None:
    out = actor({"text": strings("cent", "deux")})
    assert list(out["translation"]) == translator.translate(["cent", "deux"], src="fr", tgt="de", **SETTINGS)


@pytest.mark.parametrize(
    "batch, message",
    [
        ({"line": strings("un")}, "the batch has no 'text' column (columns: line)"),
        ({"text": strings("un", None)}, "row 1: 'text' must be a string, got None"),
        ({"text": strings("un"), "src": strings("xx")}, "'xx'"),
    ],
)
def test_bad_rows(actor: BatchTranslator, batch: dict[str, np.ndarray], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        actor(batch)


def test_a_row_without_a_direction() -> None:
    actor = BatchTranslator(device="cpu", num_threads=1)
    with pytest.raises(ValueError, match="row 0: no src/tgt value in the row, and no src=/tgt= given"):
        actor({"text": strings("un"), "src": strings("fr")})


def test_an_unknown_constructor_language_stops_the_actor() -> None:
    with pytest.raises(ValueError, match="'xx'"):
        BatchTranslator(src="xx", tgt="de", device="cpu")
