"""The 202 language codes of the NLLB-200 checkpoints (FLORES-200), their names, scripts and ISO codes.

An NLLB code is ``<ISO 639-3 language>_<ISO 15924 script>``, e.g. ``eng_Latn``, ``zho_Hant``. The
order of :data:`NLLB_CODES` is part of the checkpoint format: it is the order of the language
tokens after the sentencepiece vocabulary (``ace_Arab`` is id 256001 in facebook/nllb-200-*,
``eng_Latn`` 256047), the same as transformers' ``FAIRSEQ_LANGUAGE_CODES`` for NLLB.

Each code also carries the ISO 639-1 code people write for it, when the language or the
macrolanguage it belongs to has one: ``arz_Arab`` (Egyptian Arabic) is ``ar``, ``pes_Arab``
(Western Persian) and ``prs_Arab`` (Dari) are ``fa``, ``zho_Hans``, ``zho_Hant`` and ``yue_Hant``
are ``zh``. Where several codes share an ISO code, :data:`DEFAULTS` names the one that code means
(``zh`` is ``zho_Hans``); the others stay reachable by their own code or a script subtag
(``zh-Hant`` is ``zho_Hant``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# (NLLB code, English name as on the FLORES-200 list, ISO 639-1 of the language or its
# macrolanguage, or None), in the checkpoints' token order.
# fmt: off
_TABLE: tuple[tuple[str, str, str | None], ...] = (
    ("ace_Arab", "Acehnese (Arabic script)", None),
    ("ace_Latn", "Acehnese (Latin script)", None),
    ("acm_Arab", "Mesopotamian Arabic", "ar"),
    ("acq_Arab", "Ta'izzi-Adeni Arabic", "ar"),
    ("aeb_Arab", "Tunisian Arabic", "ar"),
    ("afr_Latn", "Afrikaans", "af"),
    ("ajp_Arab", "South Levantine Arabic", "ar"),
    ("aka_Latn", "Akan", "ak"),
    ("amh_Ethi", "Amharic", "am"),
    ("apc_Arab", "North Levantine Arabic", "ar"),
    ("arb_Arab", "Modern Standard Arabic", "ar"),
    ("ars_Arab", "Najdi Arabic", "ar"),
    ("ary_Arab", "Moroccan Arabic", "ar"),
    ("arz_Arab", "Egyptian Arabic", "ar"),
    ("asm_Beng", "Assamese", "as"),
    ("ast_Latn", "Asturian", None),
    ("awa_Deva", "Awadhi", None),
    ("ayr_Latn", "Central Aymara", "ay"),
    ("azb_Arab", "South Azerbaijani", "az"),
    ("azj_Latn", "North Azerbaijani", "az"),
    ("bak_Cyrl", "Bashkir", "ba"),
    ("bam_Latn", "Bambara", "bm"),
    ("ban_Latn", "Balinese", None),
    ("bel_Cyrl", "Belarusian", "be"),
    ("bem_Latn", "Bemba", None),
    ("ben_Beng", "Bengali", "bn"),
    ("bho_Deva", "Bhojpuri", None),
    ("bjn_Arab", "Banjar (Arabic script)", None),
    ("bjn_Latn", "Banjar (Latin script)", None),
    ("bod_Tibt", "Standard Tibetan", "bo"),
    ("bos_Latn", "Bosnian", "bs"),
    ("bug_Latn", "Buginese", None),
    ("bul_Cyrl", "Bulgarian", "bg"),
    ("cat_Latn", "Catalan", "ca"),
    ("ceb_Latn", "Cebuano", None),
    ("ces_Latn", "Czech", "cs"),
    ("cjk_Latn", "Chokwe", None),
    ("ckb_Arab", "Central Kurdish", "ku"),
    ("crh_Latn", "Crimean Tatar", None),
    ("cym_Latn", "Welsh", "cy"),
    ("dan_Latn", "Danish", "da"),
    ("deu_Latn", "German", "de"),
    ("dik_Latn", "Southwestern Dinka", None),
    ("dyu_Latn", "Dyula", None),
    ("dzo_Tibt", "Dzongkha", "dz"),
    ("ell_Grek", "Greek", "el"),
    ("eng_Latn", "English", "en"),
    ("epo_Latn", "Esperanto", "eo"),
    ("est_Latn", "Estonian", "et"),
    ("eus_Latn", "Basque", "eu"),
    ("ewe_Latn", "Ewe", "ee"),
    ("fao_Latn", "Faroese", "fo"),
    ("pes_Arab", "Western Persian", "fa"),
    ("fij_Latn", "Fijian", "fj"),
    ("fin_Latn", "Finnish", "fi"),
    ("fon_Latn", "Fon", None),
    ("fra_Latn", "French", "fr"),
    ("fur_Latn", "Friulian", None),
    ("fuv_Latn", "Nigerian Fulfulde", "ff"),
    ("gla_Latn", "Scottish Gaelic", "gd"),
    ("gle_Latn", "Irish", "ga"),
    ("glg_Latn", "Galician", "gl"),
    ("grn_Latn", "Guarani", "gn"),
    ("guj_Gujr", "Gujarati", "gu"),
    ("hat_Latn", "Haitian Creole", "ht"),
    ("hau_Latn", "Hausa", "ha"),
    ("heb_Hebr", "Hebrew", "he"),
    ("hin_Deva", "Hindi", "hi"),
    ("hne_Deva", "Chhattisgarhi", None),
    ("hrv_Latn", "Croatian", "hr"),
    ("hun_Latn", "Hungarian", "hu"),
    ("hye_Armn", "Armenian", "hy"),
    ("ibo_Latn", "Igbo", "ig"),
    ("ilo_Latn", "Ilocano", None),
    ("ind_Latn", "Indonesian", "id"),
    ("isl_Latn", "Icelandic", "is"),
    ("ita_Latn", "Italian", "it"),
    ("jav_Latn", "Javanese", "jv"),
    ("jpn_Jpan", "Japanese", "ja"),
    ("kab_Latn", "Kabyle", None),
    ("kac_Latn", "Jingpho", None),
    ("kam_Latn", "Kamba", None),
    ("kan_Knda", "Kannada", "kn"),
    ("kas_Arab", "Kashmiri (Arabic script)", "ks"),
    ("kas_Deva", "Kashmiri (Devanagari script)", "ks"),
    ("kat_Geor", "Georgian", "ka"),
    ("knc_Arab", "Central Kanuri (Arabic script)", "kr"),
    ("knc_Latn", "Central Kanuri (Latin script)", "kr"),
    ("kaz_Cyrl", "Kazakh", "kk"),
    ("kbp_Latn", "Kabiyè", None),
    ("kea_Latn", "Kabuverdianu", None),
    ("khm_Khmr", "Khmer", "km"),
    ("kik_Latn", "Kikuyu", "ki"),
    ("kin_Latn", "Kinyarwanda", "rw"),
    ("kir_Cyrl", "Kyrgyz", "ky"),
    ("kmb_Latn", "Kimbundu", None),
    ("kon_Latn", "Kikongo", "kg"),
    ("kor_Hang", "Korean", "ko"),
    ("kmr_Latn", "Northern Kurdish", "ku"),
    ("lao_Laoo", "Lao", "lo"),
    ("lvs_Latn", "Standard Latvian", "lv"),
    ("lij_Latn", "Ligurian", None),
    ("lim_Latn", "Limburgish", "li"),
    ("lin_Latn", "Lingala", "ln"),
    ("lit_Latn", "Lithuanian", "lt"),
    ("lmo_Latn", "Lombard", None),
    ("ltg_Latn", "Latgalian", "lv"),
    ("ltz_Latn", "Luxembourgish", "lb"),
    ("lua_Latn", "Luba-Kasai", None),
    ("lug_Latn", "Ganda", "lg"),
    ("luo_Latn", "Luo", None),
    ("lus_Latn", "Mizo", None),
    ("mag_Deva", "Magahi", None),
    ("mai_Deva", "Maithili", None),
    ("mal_Mlym", "Malayalam", "ml"),
    ("mar_Deva", "Marathi", "mr"),
    ("min_Latn", "Minangkabau (Latin script)", None),
    ("mkd_Cyrl", "Macedonian", "mk"),
    ("plt_Latn", "Plateau Malagasy", "mg"),
    ("mlt_Latn", "Maltese", "mt"),
    ("mni_Beng", "Meitei (Bengali script)", None),
    ("khk_Cyrl", "Halh Mongolian", "mn"),
    ("mos_Latn", "Mossi", None),
    ("mri_Latn", "Maori", "mi"),
    ("zsm_Latn", "Standard Malay", "ms"),
    ("mya_Mymr", "Burmese", "my"),
    ("nld_Latn", "Dutch", "nl"),
    ("nno_Latn", "Norwegian Nynorsk", "nn"),
    ("nob_Latn", "Norwegian Bokmål", "nb"),
    ("npi_Deva", "Nepali", "ne"),
    ("nso_Latn", "Northern Sotho", None),
    ("nus_Latn", "Nuer", None),
    ("nya_Latn", "Nyanja", "ny"),
    ("oci_Latn", "Occitan", "oc"),
    ("gaz_Latn", "West Central Oromo", "om"),
    ("ory_Orya", "Odia", "or"),
    ("pag_Latn", "Pangasinan", None),
    ("pan_Guru", "Eastern Panjabi", "pa"),
    ("pap_Latn", "Papiamento", None),
    ("pol_Latn", "Polish", "pl"),
    ("por_Latn", "Portuguese", "pt"),
    ("prs_Arab", "Dari", "fa"),
    ("pbt_Arab", "Southern Pashto", "ps"),
    ("quy_Latn", "Ayacucho Quechua", "qu"),
    ("ron_Latn", "Romanian", "ro"),
    ("run_Latn", "Rundi", "rn"),
    ("rus_Cyrl", "Russian", "ru"),
    ("sag_Latn", "Sango", "sg"),
    ("san_Deva", "Sanskrit", "sa"),
    # The token says Bengali script; FLORES-200 writes Santali in Ol Chiki (sat_Olck).
    ("sat_Beng", "Santali", None),
    ("scn_Latn", "Sicilian", None),
    ("shn_Mymr", "Shan", None),
    ("sin_Sinh", "Sinhala", "si"),
    ("slk_Latn", "Slovak", "sk"),
    ("slv_Latn", "Slovenian", "sl"),
    ("smo_Latn", "Samoan", "sm"),
    ("sna_Latn", "Shona", "sn"),
    ("snd_Arab", "Sindhi", "sd"),
    ("som_Latn", "Somali", "so"),
    ("sot_Latn", "Southern Sotho", "st"),
    ("spa_Latn", "Spanish", "es"),
    ("als_Latn", "Tosk Albanian", "sq"),
    ("srd_Latn", "Sardinian", "sc"),
    ("srp_Cyrl", "Serbian", "sr"),
    ("ssw_Latn", "Swati", "ss"),
    ("sun_Latn", "Sundanese", "su"),
    ("swe_Latn", "Swedish", "sv"),
    ("swh_Latn", "Swahili", "sw"),
    ("szl_Latn", "Silesian", None),
    ("tam_Taml", "Tamil", "ta"),
    ("tat_Cyrl", "Tatar", "tt"),
    ("tel_Telu", "Telugu", "te"),
    ("tgk_Cyrl", "Tajik", "tg"),
    ("tgl_Latn", "Tagalog", "tl"),
    ("tha_Thai", "Thai", "th"),
    ("tir_Ethi", "Tigrinya", "ti"),
    ("taq_Latn", "Tamasheq (Latin script)", None),
    ("taq_Tfng", "Tamasheq (Tifinagh script)", None),
    ("tpi_Latn", "Tok Pisin", None),
    ("tsn_Latn", "Tswana", "tn"),
    ("tso_Latn", "Tsonga", "ts"),
    ("tuk_Latn", "Turkmen", "tk"),
    ("tum_Latn", "Tumbuka", None),
    ("tur_Latn", "Turkish", "tr"),
    ("twi_Latn", "Twi", "tw"),
    ("tzm_Tfng", "Central Atlas Tamazight", None),
    ("uig_Arab", "Uyghur", "ug"),
    ("ukr_Cyrl", "Ukrainian", "uk"),
    ("umb_Latn", "Umbundu", None),
    ("urd_Arab", "Urdu", "ur"),
    ("uzn_Latn", "Northern Uzbek", "uz"),
    ("vec_Latn", "Venetian", None),
    ("vie_Latn", "Vietnamese", "vi"),
    ("war_Latn", "Waray", None),
    ("wol_Latn", "Wolof", "wo"),
    ("xho_Latn", "Xhosa", "xh"),
    ("ydd_Hebr", "Eastern Yiddish", "yi"),
    ("yor_Latn", "Yoruba", "yo"),
    ("yue_Hant", "Yue Chinese (Cantonese)", "zh"),
    ("zho_Hans", "Chinese (Simplified)", "zh"),
    ("zho_Hant", "Chinese (Traditional)", "zh"),
    ("zul_Latn", "Zulu", "zu"),
)
# fmt: on

NLLB_CODES: tuple[str, ...] = tuple(code for code, _, _ in _TABLE)
NLLB_NAMES: Mapping[str, str] = MappingProxyType({code: name for code, name, _ in _TABLE})
# The ISO 639-1 code of each NLLB code that has one (its language's, or its macrolanguage's).
NLLB_ISO: Mapping[str, str] = MappingProxyType({code: iso for code, _, iso in _TABLE if iso is not None})

# The codes a language key means when it names several NLLB codes, in order of preference: the
# first is the default (what the key resolves to), the next are tried before the key's other
# codes (token order) when the default is not a model's or a script subtag rules it out. Keys:
# ISO 639-1 codes (``zh``), ISO 639-3 codes written in two scripts (``kas``) and the Norwegian
# macrolanguage (``no``).
DEFAULTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "ar": ("arb_Arab",),  # Modern Standard Arabic; the 8 spoken varieties by their own codes
        "az": ("azj_Latn",),  # North Azerbaijani (Latin script); South Azerbaijani is azb_Arab
        "fa": ("pes_Arab",),  # Western Persian (Iran); Dari is prs_Arab
        "kr": ("knc_Latn",),
        "ks": ("kas_Arab",),
        "ku": ("kmr_Latn",),  # Kurmanji; Sorani is ckb_Arab
        "lv": ("lvs_Latn",),  # Standard Latvian; Latgalian is ltg_Latn
        "no": ("nob_Latn",),  # Bokmål; Nynorsk is nno_Latn (nn)
        "zh": ("zho_Hans", "zho_Hant"),  # Mandarin, Simplified then Traditional; Cantonese is yue_Hant
        "ace": ("ace_Latn",),
        "bjn": ("bjn_Latn",),
        "kas": ("kas_Arab",),
        "knc": ("knc_Latn",),
        "taq": ("taq_Latn",),
        "zho": ("zho_Hans",),
    }
)

# Language keys that are not an ISO 639-1 code of the table: macrolanguages whose members the
# table lists under their own 639-1 codes.
MACROLANGUAGES: Mapping[str, tuple[str, ...]] = MappingProxyType({"no": ("nob_Latn", "nno_Latn")})

# Other spellings of a language key: ISO 639-2/B codes, ISO 639-3 macrolanguage codes whose
# members NLLB lists (ara -> arb_Arab...), codes of languages NLLB lacks (M2M100's br, fy),
# deprecated ISO 639-1 codes, and fairseq's "ns" (M2M100's Northern Sotho).
# fmt: off
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        # ISO 639-2/B
        "alb": "sq", "arm": "hy", "baq": "eu", "bur": "my", "chi": "zh", "cze": "cs", "dut": "nl",
        "fre": "fr", "geo": "ka", "ger": "de", "gre": "el", "ice": "is", "mac": "mk", "mao": "mi",
        "may": "ms", "per": "fa", "rum": "ro", "slo": "sk", "tib": "bo", "wel": "cy",
        # ISO 639-3 macrolanguages
        "ara": "ar", "aym": "ay", "aze": "az", "fas": "fa", "ful": "ff", "kau": "kr", "kur": "ku",
        "lav": "lv", "mlg": "mg", "mon": "mn", "msa": "ms", "nep": "ne", "nor": "no", "ori": "or",
        "orm": "om", "pus": "ps", "que": "qu", "sqi": "sq", "swa": "sw", "uzb": "uz", "yid": "yi",
        # ISO 639-3 of languages with an M2M100 code and no NLLB one
        "bre": "br", "fry": "fy",
        # deprecated ISO 639-1, and fairseq's Northern Sotho
        "iw": "he", "in": "id", "ji": "yi", "ns": "nso",
    }
)
# fmt: on

SCRIPT_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "Arab": "Arabic",
        "Armn": "Armenian",
        "Beng": "Bengali",
        "Cyrl": "Cyrillic",
        "Deva": "Devanagari",
        "Ethi": "Ethiopic",
        "Geor": "Georgian",
        "Grek": "Greek",
        "Gujr": "Gujarati",
        "Guru": "Gurmukhi",
        "Hang": "Hangul",
        "Hans": "Han (Simplified)",
        "Hant": "Han (Traditional)",
        "Hebr": "Hebrew",
        "Jpan": "Japanese (Han and kana)",
        "Khmr": "Khmer",
        "Knda": "Kannada",
        "Laoo": "Lao",
        "Latn": "Latin",
        "Mlym": "Malayalam",
        "Mymr": "Myanmar",
        "Orya": "Odia",
        "Sinh": "Sinhala",
        "Taml": "Tamil",
        "Telu": "Telugu",
        "Tfng": "Tifinagh",
        "Thai": "Thai",
        "Tibt": "Tibetan",
    }
)
