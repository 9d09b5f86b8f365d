"""Source-language detection (``src="auto"``): py3langid's answers mapped to a checkpoint's codes,
and the Translator's choices on the demo model and a tiny NLLB checkpoint: the detected source
gives the same translation as that source given, untrusted detections take the fallback or pass
through, text already in the target language passes through."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from m2m100.demo import model_path
from m2m100.languages import M2M100_CODES, NLLB_CODES
from m2m100.languages.detection import AutoSource, Detection, LanguageDetector, model_code
from m2m100.translator import Segment, Translator
from tests.nllb_fixture import build_checkpoint, train_spm

# Sentences py3langid tells apart with confidence near 1, and their languages (ISO).
SENTENCES = {
    "fr": "Bonjour, comment allez-vous aujourd'hui ? Je vais très bien, merci.",
    "de": "Guten Morgen, wie geht es dir heute? Mir geht es sehr gut, danke.",
    "en": "Good morning, how are you today? I am very well, thank you.",
    "es": "Buenos días, ¿cómo estás hoy? Estoy muy bien, gracias.",
    "ru": "Доброе утро, как у вас дела сегодня? У меня всё хорошо, спасибо.",
}


@pytest.fixture(scope="module")
def demo() -> Translator:
    return Translator(model_path(), device="cpu")


@pytest.fixture(scope="module")
def nllb(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    folder = build_checkpoint(tmp_path_factory.mktemp("nllb-detect") / "tiny", train_spm())
    return Translator(folder, device="cpu")


def test_codes_map_through_the_registry():
    assert model_code("fr", M2M100_CODES) == "fr"
    assert model_code("fr", NLLB_CODES) == "fra_Latn"
    assert model_code("nso", M2M100_CODES) == "ns"  # ISO 639-3 to M2M100's own code
    assert model_code("arz", M2M100_CODES) == "ar"
    assert model_code("zh", NLLB_CODES) == "zho_Hans"  # the registry's default script
    assert model_code("sq", NLLB_CODES) == "als_Latn"  # Albanian is NLLB's Tosk Albanian
    assert model_code("gug", NLLB_CODES) == "grn_Latn"
    # Wikipedia's "als" is Alemannic: neither Albanian nor anything these models have.
    assert model_code("als", NLLB_CODES) is None
    assert model_code("als", M2M100_CODES) is None
    assert model_code("zxx", NLLB_CODES) is None
    assert model_code("wuu", M2M100_CODES) is None
    assert model_code("fr", ["de", "en"]) is None


def test_detector_answers_in_the_checkpoint_codes():
    texts = list(SENTENCES.values())
    for languages, expected in (
        (M2M100_CODES, list(SENTENCES)),
        (NLLB_CODES, ["fra_Latn", "deu_Latn", "eng_Latn", "spa_Latn", "rus_Cyrl"]),
    ):
        found = LanguageDetector(languages).detect(texts)
        assert [d.code for d in found] == expected
        assert [d.language for d in found] == list(SENTENCES)
        assert all(0.9 < d.confidence <= 1.0 for d in found)


def test_detector_chooses_among_the_model_languages_only():
    # Without French the French sentence is some other language of the model, never "fr".
    detector = LanguageDetector(["de", "en", "es"])
    assert set(detector.labels) == {"de", "en", "es"}
    (found,) = detector.detect([SENTENCES["fr"]])
    assert found.code in {"de", "en", "es"} and found.language == found.code
    assert found.confidence < LanguageDetector(M2M100_CODES).detect([SENTENCES["fr"]])[0].confidence


def test_blank_text_is_not_detected():
    assert LanguageDetector(M2M100_CODES).detect(["", "  \t"]) == [Detection(None, 0.0, "und")] * 2


def test_detector_without_known_languages():
    with pytest.raises(ValueError, match="none of the model's languages"):
        LanguageDetector(["xx_Fake"])


def test_auto_source_rules():
    sure, unsure, unknown = Detection("fr", 0.9, "fr"), Detection("fr", 0.3, "fr"), Detection(None, 0.99, "la")
    assert AutoSource().source(sure, "en") == "fr"
    assert AutoSource().source(unsure, "en") is None
    assert AutoSource(fallback_src="de").source(unsure, "en") == "de"
    assert AutoSource(fallback_src="de").source(unknown, "en") == "de"
    assert AutoSource(min_confidence=0.2).source(unsure, "en") == "fr"
    assert AutoSource().source(sure, "fr") is None  # already in the target language
    assert AutoSource(translate_same_language=True).source(sure, "fr") == "fr"
    with pytest.raises(ValueError, match="min_confidence must be between 0 and 1, got 1.5"):
        AutoSource(min_confidence=1.5)


def test_translator_auto_matches_the_given_source(demo):
    texts = [SENTENCES["fr"], SENTENCES["de"], SENTENCES["es"]]
    results = list(demo.translate_segments(texts, src="auto", tgt="en"))
    assert [r.src for r in results] == ["fr", "de", "es"]
    assert [r.detected for r in results] == ["fr", "de", "es"]
    assert all(r.confidence is not None and r.confidence > 0.9 for r in results)
    given = [demo.translate(t, src=s, tgt="en", max_new_tokens=16) for t, s in zip(texts, ["fr", "de", "es"])]
    assert demo.translate(texts, src="auto", tgt="en", max_new_tokens=16) == given
    # A given source reports no detection.
    (plain,) = demo.translate_segments([texts[0]], src="fr", tgt="en", max_new_tokens=16)
    assert plain.detected is None and plain.confidence is None


def test_translator_pass_through_and_fallback(demo):
    noise = "zzz 42 qq"  # no language: a low confidence
    (low,) = demo.detect([noise])
    assert low.confidence < 0.5
    texts = [SENTENCES["en"], noise, SENTENCES["fr"], "", "vingt et un\n"]
    results = list(demo.translate_segments(texts, src="auto", tgt="en", max_new_tokens=16))
    assert [r.text for r in results[:2]] == [SENTENCES["en"], noise]  # target language; untrusted
    assert results[0].detected == "en" and results[1].confidence == pytest.approx(low.confidence)
    assert results[2].text == demo.translate(SENTENCES["fr"], src="fr", tgt="en", max_new_tokens=16)
    assert results[3].text == "" and results[3].confidence == 0.0 and results[3].src == "auto"
    assert len(results) == len(texts)
    fallback = list(demo.translate_segments([noise], src="auto", tgt="en", fallback_src="de", max_new_tokens=16))
    assert fallback[0].src == "de" and fallback[0].text == demo.translate(noise, src="de", tgt="en", max_new_tokens=16)
    again = demo.translate([SENTENCES["en"]], src="auto", tgt="en", translate_same_language=True, max_new_tokens=16)
    assert again == demo.translate([SENTENCES["en"]], src="en", tgt="en", max_new_tokens=16)
    lowered = list(demo.translate_segments([noise], src="auto", tgt="en", min_confidence=0.0, max_new_tokens=16))
    assert lowered[0].src == low.code and lowered[0].text == demo.translate(
        noise, src=low.code, tgt="en", max_new_tokens=16
    )


def test_segments_mix_auto_and_given_sources_in_order(demo):
    segments = [
        Segment(SENTENCES["de"], "auto", "fr"),
        Segment(SENTENCES["es"], "es", "en"),
        Segment(SENTENCES["ru"], "auto", "en"),
    ]
    results = list(demo.translate_segments(segments, max_new_tokens=16, window_tokens=8))
    assert [(r.src, r.tgt, r.detected) for r in results] == [("de", "fr", "de"), ("es", "en", None), ("ru", "en", "ru")]
    expected = [
        demo.translate(s.text, src=src, tgt=s.tgt, max_new_tokens=16) for s, src in zip(segments, "de es ru".split())
    ]
    assert [r.text for r in results] == expected


def test_bad_auto_options_fail_at_the_call(demo):
    with pytest.raises(ValueError, match="Unknown language code 'xx'"):
        demo.translate_segments(["a"], src="auto", tgt="en", fallback_src="xx")
    with pytest.raises(ValueError, match="min_confidence must be between 0 and 1"):
        demo.translate_segments(["a"], src="auto", tgt="en", min_confidence=-1)


def test_nllb_detects_in_flores_codes(nllb):
    texts = [SENTENCES["fr"], SENTENCES["ru"], SENTENCES["en"]]
    results = list(nllb.translate_segments(texts, src="auto", tgt="eng_Latn", max_new_tokens=8))
    assert [r.detected for r in results] == ["fra_Latn", "rus_Cyrl", "eng_Latn"]
    assert results[2].text == SENTENCES["en"]  # already English
    given = [nllb.translate(t, src=s, tgt="en", max_new_tokens=8) for t, s in zip(texts[:2], ["fr", "ru"])]
    assert [r.text for r in results[:2]] == given


def test_without_py3langid_auto_names_the_extra(tmp_path: Path):
    # A path entry that shadows py3langid with a module that cannot be imported: as if not installed.
    (tmp_path / "py3langid").mkdir()
    (tmp_path / "py3langid" / "__init__.py").write_text("raise ImportError('no py3langid')\n")
    script = (
        "from m2m100 import Translator\n"
        "t = Translator(device='cpu')\n"
        "print(t.translate('vingt et un', src='fr', tgt='en', max_new_tokens=8))\n"
        "try:\n    t.translate('vingt et un', src='auto', tgt='en')\n"
        "except ImportError as err:\n    print(err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}"},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] and lines[1] == "language detection (src 'auto') needs py3langid: pip install 'm2m100[detect]'"
