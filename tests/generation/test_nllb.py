"""Translating with NLLB-shaped checkpoints, token for token as transformers 4.57: ``generate`` with
the target language forced as first token, and the Translator, which must lay sources out as the
checkpoint's NllbTokenizer does (``[src] X </s>``, or ``X </s> [src]`` with ``legacy_behaviour``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import transformers

import m2m100
from m2m100.translator import Segment, Translator
from tests.generation.parity import assert_same_tokens
from tests.nllb_fixture import NLLB_CONFIG, build_checkpoint, pad_spm, train_spm
from tests.tokenizer_fixture import SAMPLE_TEXTS

CANDIDATES = [t for t in SAMPLE_TEXTS[90:] if t.strip() and "\n" not in t]


class Reference:
    """transformers 4.57 translating one input alone, as its NLLB documentation shows: tokenize
    with ``src_lang`` set, ``generate`` with the target language forced, decode without the
    special tokens. Memoized: the tests repeat inputs."""

    def __init__(self, folder: Path) -> None:
        transformers.logging.set_verbosity_error()
        self.tokenizer = transformers.NllbTokenizer.from_pretrained(str(folder))
        self.model = transformers.M2M100ForConditionalGeneration.from_pretrained(folder).eval()
        self._done: dict[tuple[Any, ...], str] = {}
        self.lengths: dict[tuple[Any, ...], int] = {}  # tokens generated, decoder start included

    def __call__(self, text: str, src: str, tgt: str, *, beam_size: int = 1, max_new_tokens: int = 10) -> str:
        key = (text, src, tgt, beam_size, max_new_tokens)
        if key not in self._done:
            self.tokenizer.src_lang = src
            out = self.model.generate(
                **self.tokenizer(text, return_tensors="pt"),
                forced_bos_token_id=self.tokenizer.convert_tokens_to_ids(tgt),
                num_beams=beam_size,
                max_new_tokens=max_new_tokens,
            )
            self._done[key] = self.tokenizer.batch_decode(out, skip_special_tokens=True)[0]
            self.lengths[key] = out.shape[1]
        return self._done[key]


@pytest.fixture(scope="module")
def proto() -> bytes:
    return train_spm()


@pytest.fixture(scope="module", params=[False, True], ids=["prefix", "legacy"])
def folder(request: pytest.FixtureRequest, proto: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkpoint with legacy_behaviour False (the NLLB-200 layout) and True in its tokenizer config."""
    return build_checkpoint(tmp_path_factory.mktemp("nllb") / "tiny", proto, legacy_behaviour=request.param)


@pytest.fixture(scope="module")
def reference(folder: Path) -> Reference:
    return Reference(folder)


@pytest.fixture(scope="module")
def translator(folder: Path) -> Translator:
    return Translator(folder, device="cpu")


@pytest.fixture(scope="module")
def texts(reference: Reference) -> list[str]:
    """Inputs whose greedy eng_Latn -> fra_Latn translations differ and are not empty; half of
    them end before the length limit (10 new tokens), half run into it."""
    chosen: dict[str, str] = {}
    for text in CANDIDATES[:150]:
        if len(reference.tokenizer(text).input_ids) <= 60:
            chosen.setdefault(reference(text, "eng_Latn", "fra_Latn"), text)
    chosen.pop("", None)
    early = [t for t in chosen.values() if reference.lengths[(t, "eng_Latn", "fra_Latn", 1, 10)] < 11]
    late = [t for t in chosen.values() if t not in early]
    assert len(early) >= 2 and len(late) >= 6, "too few distinct translations: the test would be weak"
    return early[:3] + late[: 8 - len(early[:3])]


def test_the_checkpoint_loads_with_its_real_config_keys(folder: Path, translator: Translator):
    config = m2m100.M2M100Config.from_pretrained(folder)
    assert config.scale_embedding is True and config.decoder_start_token_id == 2 and config.max_length == 200
    assert config.vocab_size == len(translator.tokenizer) + 2  # two spare rows, as 256206 for 256204
    assert set(NLLB_CONFIG) - {"_name_or_path"} <= set(config.to_dict())
    assert type(translator.tokenizer) is m2m100.NllbTokenizer
    assert translator.languages == list(m2m100.languages.NLLB_CODES)


@pytest.mark.parametrize("beams", [1, 4])
def test_generate_equals_transformers(folder: Path, reference: Reference, texts: list[str], beams: int):
    ours = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    tokenizer = reference.tokenizer
    tokenizer.src_lang = "eng_Latn"
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    forced = tokenizer.convert_tokens_to_ids("fra_Latn")
    options = dict(num_beams=beams, max_new_tokens=14 if beams == 1 else 30, forced_bos_token_id=forced)
    with torch.no_grad():
        expected = reference.model.generate(**batch, **options)
    got = ours.generate(batch["input_ids"], batch["attention_mask"], **options)
    assert_same_tokens(expected, got)
    assert (expected[:, :2] == torch.tensor([2, forced])).all()  # decoder start, then the forced language


def test_translator_equals_transformers_with_either_spelling(translator, reference, texts):
    expected = [reference(t, "eng_Latn", "fra_Latn") for t in texts]
    assert len(set(expected)) == len(expected)
    assert translator.translate(texts, src="eng_Latn", tgt="fra_Latn", max_new_tokens=10) == expected
    assert translator.translate(texts, src="en", tgt="fr", max_new_tokens=10) == expected
    results = list(translator.translate_segments([Segment(texts[0], "en", "zh-Hant")], max_new_tokens=10))
    assert [(r.text, r.src, r.tgt) for r in results] == [
        (reference(texts[0], "eng_Latn", "zho_Hant"), "eng_Latn", "zho_Hant")
    ]


def test_mixed_directions_and_beams(translator, reference, texts):
    directions = [("eng_Latn", "fra_Latn"), ("fr", "deu_Latn"), ("zho_Hans", "ar"), ("rus_Cyrl", "en")]
    segments = [Segment(t, *directions[i % len(directions)]) for i, t in enumerate(texts)]
    got = list(translator.translate_segments(segments, beam_size=3, max_new_tokens=8))
    for segment, result in zip(segments, got):
        src, tgt = translator.resolve_language(segment.src), translator.resolve_language(segment.tgt)
        assert (result.src, result.tgt) == (src, tgt)
        assert result.text == reference(segment.text, src, tgt, beam_size=3, max_new_tokens=8)
    assert translator.resolve_language("ar") == "arb_Arab"


def test_translator_sources_are_the_tokenizers(translator, reference, texts, monkeypatch):
    """The ids the Translator sends are those NllbTokenizer gives, in either layout."""
    rows: list[list[int]] = []
    generate = translator.model.generate

    def record(input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any) -> Any:
        rows.extend(row[mask.bool()].tolist() for row, mask in zip(input_ids, attention_mask))
        return generate(input_ids, attention_mask, **kwargs)

    monkeypatch.setattr(translator.model, "generate", record)
    translator.translate(texts, src="deu_Latn", tgt="fra_Latn", max_new_tokens=4)
    reference.tokenizer.src_lang = "deu_Latn"
    assert sorted(rows) == sorted(reference.tokenizer(texts).input_ids)
    lang = reference.tokenizer.convert_tokens_to_ids("deu_Latn")
    legacy = reference.tokenizer.legacy_behaviour
    assert all((row[-1] if legacy else row[0]) == lang and (row[-2] if legacy else row[-1]) == 2 for row in rows)


def test_a_long_input_is_split_within_the_positions(translator, texts):
    long_text = " ".join(t.strip(" .!?") + "." for t in CANDIDATES[:30])
    assert len(translator.tokenizer(long_text).input_ids) > 4 * 64
    parts = translator.translate(long_text, src="en", tgt="fr", max_new_tokens=4)
    assert isinstance(parts, str) and parts


def test_an_unknown_code_names_the_nllb_codes(translator):
    with pytest.raises(ValueError, match=r"Unknown language code 'english'\. Did you mean 'eng_Latn'"):
        translator.translate("Hello", src="english", tgt="fr")
    with pytest.raises(ValueError, match="Valid codes: ace_Arab, ace_Latn, acm_Arab"):
        translator.translate("Hello", src="en", tgt="br")  # Breton: an M2M100 language only


# ------------------------------------------------------------------------------ the real size
def test_the_real_vocabulary_size(tmp_path: Path):
    """256,206 embedding rows and the checkpoints' ids (eng_Latn 256047): generate and the
    Translator as transformers."""
    folder = build_checkpoint(
        tmp_path / "real", pad_spm(train_spm()), seed=2, d_model=16, encoder_layers=1, decoder_layers=1
    )
    assert m2m100.M2M100Config.from_pretrained(folder).vocab_size == NLLB_CONFIG["vocab_size"] == 256206
    reference = Reference(folder)
    translator = Translator(folder, device="cpu")
    assert translator.tokenizer.get_lang_id("eng_Latn") == 256047
    texts = CANDIDATES[:6]
    for beams in (1, 2):
        expected = [reference(t, "eng_Latn", "fra_Latn", beam_size=beams, max_new_tokens=8) for t in texts]
        assert translator.translate(texts, src="en", tgt="fr", beam_size=beams, max_new_tokens=8) == expected
    batch = reference.tokenizer(texts, padding=True, return_tensors="pt")
    options = dict(num_beams=2, max_new_tokens=8, forced_bos_token_id=256057)
    with torch.no_grad():
        expected_ids = reference.model.generate(**batch, **options)
    assert_same_tokens(
        expected_ids, translator.model.generate(batch["input_ids"], batch["attention_mask"], **options), varied=False
    )
