"""The language registry: both code sets in token order, names and scripts, and resolve_language
between ISO and NLLB spellings for M2M100 and NLLB models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from transformers.models.m2m_100.tokenization_m2m_100 import FAIRSEQ_LANGUAGE_CODES as M2M100_FAIRSEQ
from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES as NLLB_FAIRSEQ

from m2m100.languages import (
    ALIASES,
    DEFAULTS,
    M2M100_CODES,
    NLLB_CODES,
    NLLB_ISO,
    NLLB_NAMES,
    SCRIPT_NAMES,
    iso_language,
    language_name,
    language_script,
    nllb_codes_for,
    resolve_language,
)

DEMO = ["ar", "cs", "de", "en", "es", "fr", "ja", "ru", "zh"]  # a model trained on a few codes


def test_code_sets_are_the_checkpoints_token_order():
    assert list(NLLB_CODES) == NLLB_FAIRSEQ and len(NLLB_CODES) == 202
    assert list(M2M100_CODES) == M2M100_FAIRSEQ["m2m100"]
    assert set(NLLB_NAMES) == set(NLLB_CODES) and all(NLLB_NAMES.values())
    assert set(NLLB_ISO) <= set(NLLB_CODES)
    assert all(re.fullmatch(r"[a-z]{2}", iso) for iso in NLLB_ISO.values())
    assert {code.partition("_")[2] for code in NLLB_CODES} == set(SCRIPT_NAMES)


def test_names_and_scripts():
    assert language_name("zho_Hant") == "Chinese (Traditional)" and language_name("zh") == "Chinese"
    assert language_name("eng_Latn") == "English" and language_name("ns") == "Northern Sotho"
    assert language_script("zho_Hant") == "Han (Traditional)" and language_script("srp_Cyrl") == "Cyrillic"
    assert language_script("en") is None
    with pytest.raises(ValueError, match="Unknown language code 'eng'"):
        language_name("eng")


@pytest.mark.parametrize(
    ("code", "nllb", "m2m100"),
    [
        ("en", "eng_Latn", "en"),
        ("eng_Latn", "eng_Latn", "en"),
        ("EN", "eng_Latn", "en"),
        ("eng_latn", "eng_Latn", "en"),
        ("eng", "eng_Latn", "en"),  # ISO 639-3
        ("fre", "fra_Latn", "fr"),  # ISO 639-2/B
        ("zh", "zho_Hans", "zh"),  # the default of three
        ("zh-Hant", "zho_Hant", "zh"),  # a script subtag picks another
        ("zh_Hant", "zho_Hant", "zh"),
        ("zho_Hant", "zho_Hant", "zh"),
        ("zh-cn", "zho_Hans", "zh"),  # Chinese region subtags name a script
        ("zh-TW", "zho_Hant", "zh"),
        ("zh_HK", "zho_Hant", "zh"),
        ("yue", "yue_Hant", "zh"),
        ("ar", "arb_Arab", "ar"),
        ("arz_Arab", "arz_Arab", "ar"),  # a variety: its own NLLB code, its macrolanguage in M2M100
        ("ara", "arb_Arab", "ar"),
        ("fa", "pes_Arab", "fa"),
        ("prs_Arab", "prs_Arab", "fa"),
        ("ms", "zsm_Latn", "ms"),
        ("no", "nob_Latn", "no"),
        ("nb", "nob_Latn", "no"),
        ("nn", "nno_Latn", "no"),
        ("ns", "nso_Latn", "ns"),  # fairseq's Northern Sotho
        ("nso_Latn", "nso_Latn", "ns"),
        ("ast", "ast_Latn", "ast"),
        ("ilo_Latn", "ilo_Latn", "ilo"),
        ("iw", "heb_Hebr", "he"),
        ("sr-Cyrl", "srp_Cyrl", "sr"),
        ("uzn_Latn", "uzn_Latn", "uz"),
    ],
)
def test_either_spelling_for_either_model(code, nllb, m2m100):
    assert resolve_language(code, NLLB_CODES) == nllb
    assert resolve_language(code, M2M100_CODES) == m2m100


@pytest.mark.parametrize(
    ("code", "model", "message"),
    [
        ("br", NLLB_CODES, "Unknown language code 'br'. Valid codes: ace_Arab, ace_Latn"),  # Breton: M2M100 only
        ("kas_Arab", M2M100_CODES, "Unknown language code 'kas_Arab'."),  # Kashmiri: NLLB only
        ("english", NLLB_CODES, "Did you mean 'eng_Latn'"),  # names are suggested, not guessed
        ("french", M2M100_CODES, "Did you mean 'fr'"),
        ("fr_FR", M2M100_CODES, "Did you mean 'fr'"),  # regions are not guessed either
        ("pt-BR", NLLB_CODES, "Unknown language code 'pt-BR'"),
        ("zh-FR", NLLB_CODES, "Unknown language code 'zh-FR'"),
        ("en-Cyrl", NLLB_CODES, "Unknown language code 'en-Cyrl'"),  # no English in Cyrillic
        ("zh", DEMO[:3], "Unknown language code 'zh'. Valid codes: ar, cs, de."),
        ("", NLLB_CODES, "Unknown language code ''"),
    ],
)
def test_codes_no_model_code_means(code, model, message):
    with pytest.raises(ValueError) as err:
        resolve_language(code, model)
    assert message in str(err.value)


def test_the_model_decides_which_codes_are_valid():
    """A model's own code is used as it is, and a subset of codes (a config's "languages") is
    searched in preference order: zh means zho_Hant for a model without zho_Hans."""
    assert resolve_language("eng_Latn", DEMO) == "en"
    assert resolve_language("zh", ["eng_Latn", "yue_Hant", "zho_Hant"]) == "zho_Hant"
    assert resolve_language("zh-Hans", ["zh"]) == "zh"
    assert resolve_language("xyz_Latn", [*NLLB_CODES, "xyz_Latn"]) == "xyz_Latn"  # a code added by fine-tuning


def test_every_code_of_one_family_maps_to_the_other_where_the_language_is_there():
    to_m2m100 = {}
    for code in NLLB_CODES:
        try:
            to_m2m100[code] = resolve_language(code, M2M100_CODES)
        except ValueError:
            pass
    assert len(set(to_m2m100.values())) == 98  # all M2M100 languages but Breton and Western Frisian
    assert set(M2M100_CODES) - set(to_m2m100.values()) == {"br", "fy"}
    for code in M2M100_CODES:
        if code not in ("br", "fy"):
            nllb = resolve_language(code, NLLB_CODES)
            assert resolve_language(nllb, M2M100_CODES) == code, (code, nllb)


def test_defaults_and_alternatives():
    assert nllb_codes_for("zh") == ("zho_Hans", "zho_Hant", "yue_Hant")
    assert nllb_codes_for("ar")[0] == "arb_Arab" and len(nllb_codes_for("ar")) == 9
    assert nllb_codes_for("no") == ("nob_Latn", "nno_Latn")
    assert nllb_codes_for("en") == ("eng_Latn",) and nllb_codes_for("br") == ()
    for key, preferred in DEFAULTS.items():
        assert nllb_codes_for(key)[: len(preferred)] == preferred, key
        assert resolve_language(key, NLLB_CODES) == preferred[0]
    # Every ISO code that names several NLLB codes has a documented default.
    shared = {iso for iso in NLLB_ISO.values() if list(NLLB_ISO.values()).count(iso) > 1}
    assert shared <= set(DEFAULTS)
    assert all(target in set(NLLB_ISO.values()) | {"br", "fy", "no", "nso"} for target in ALIASES.values())


def test_iso_language_for_sentence_splitting_and_bleu():
    assert [iso_language(c) for c in ("zho_Hant", "jpn_Jpan", "ast_Latn", "fr", "xyz")] == [
        "zh",
        "ja",
        "ast",
        "fr",
        "xyz",
    ]


def test_the_readme_table_of_defaults_is_the_registry():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` [^|]+\| (.*) \|$", readme, re.M)
    table = {key: (default, *re.findall(r"`(\w+)`", rest)) for key, default, rest in rows}
    assert table == {key: nllb_codes_for(key) for key in DEFAULTS if len(key) == 2}
