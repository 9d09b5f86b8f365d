"""A tiny, deterministic M2M100 tokenizer folder for tests, built offline in about a second.

``build_tokenizer_dir`` trains a small sentencepiece BPE model on multilingual text generated
here, writes ``vocab.json`` the way fairseq's dictionary is laid out (``<s>``, ``<pad>``, ``</s>``,
``<unk>``, then the pieces in an order that differs from sentencepiece's own ids, as in the real
checkpoints), and lets transformers save the folder, so the files are exactly what transformers
4.57 writes for ``facebook/m2m100_418M`` (language tokens as special added tokens,
``model_max_length`` 1024).

``SAMPLE_TEXTS`` holds a few hundred strings to compare tokenizers on.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import sentencepiece as spm

from m2m100.languages import language_codes

MODEL_MAX_LENGTH = 1024

# A few words per script; sentences are drawn from these with a seeded RNG.
_WORDS: dict[str, list[str]] = {
    "en": "the life is like a box of chocolates UN chief says there no military solution in Syria "
    "we translate many languages every day and night quickly don't it's they're".split(),
    "fr": "la vie est comme une boîte de chocolat élève été où déjà garçon Noël français "
    "très côté fenêtre naïve cœur l'homme qu'il".split(),
    "de": "das Leben ist wie eine Schachtel Pralinen über schön Straße Mädchen Größe fährt".split(),
    "es": "la vida es como una caja de bombones mañana niño corazón ¿qué ¡hola! canción".split(),
    "ro": "Şeful ONU declară că nu există o soluţie militară în Siria şi ţară".split(),
    "pl": "życie jest jak pudełko czekoladek łódź źródło gęś zażółć".split(),
    "vi": "cuộc sống giống như một hộp sô cô la Việt Nam người".split(),
    "ru": "жизнь похожа на коробку конфет привет мир сегодня хорошая погода".split(),
    "uk": "життя схоже на коробку цукерок їжак ґанок".split(),
    "el": "η ζωή είναι σαν ένα κουτί σοκολάτες".split(),
    "hi": "जीवन एक चॉकलेट बॉक्स की तरह है। नमस्ते दुनिया भारत".split(),
    "ar": "الحياة مثل علبة الشوكولاتة مرحبا بالعالم".split(),
    "he": "החיים הם כמו קופסת שוקולד שלום".split(),
    "zh": ["生活", "就像", "一盒", "巧克力。", "你好", "世界", "中国", "人们", "今天", "天气", "很好。"],
    "ja": ["人生", "は", "チョコレート", "の", "箱", "の", "ような", "もの", "です。", "こんにちは"],
    "ko": ["인생은", "초콜릿", "상자와", "같다", "안녕하세요"],
    "emoji": ["😀", "🎉", "👍", "🌍", "❤️", "🙂", "🚀"],
    "num": ["0", "1", "2", "3", "42", "2024", "3.14", "1,000", "100%", "#1", "$5", "€10"],
}
# Languages whose script does not separate words with spaces.
_NO_SPACES = {"zh", "ja"}


def _sentences(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    langs = sorted(k for k in _WORDS if k not in ("emoji", "num"))
    out = []
    for i in range(count):
        lang = langs[i % len(langs)]
        words = [rng.choice(_WORDS[lang]) for _ in range(rng.randint(3, 12))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words) + 1), rng.choice(_WORDS["num"]))
        if rng.random() < 0.2:
            words.append(rng.choice(_WORDS["emoji"]))
        sentence = ("" if lang in _NO_SPACES else " ").join(words)
        out.append(sentence[0].upper() + sentence[1:] + rng.choice(["", ".", "!", "?", " ..."]))
    return out


def _train_spm(vocab_size: int) -> bytes:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_sentences(600, seed=0)),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        # Fairseq's M2M100 dictionary has its own <s>/<pad>/</s>/<unk>; spm keeps only its unk.
        bos_id=-1,
        eos_id=-1,
        num_threads=1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


def _fairseq_vocab(proto: bytes) -> dict[str, int]:
    sp = spm.SentencePieceProcessor(model_proto=proto)
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not sp.is_unknown(i)]
    # Fairseq orders its dictionary by corpus frequency, not by spm id: mimic that with a fixed
    # shuffle so that code which wrongly uses spm ids fails the tests.
    random.Random(1).shuffle(pieces)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    return vocab


def _write_hub_layout(path: Path, kind: str) -> None:
    """Write the config files the way the original facebook/m2m100 hub repositories have them."""
    lang_tokens = [f"__{code}__" for code in language_codes(kind)]
    config = {
        "src_lang": None,
        "tgt_lang": None,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "language_codes": kind,
        "num_madeup_words": 8,
        "special_tokens_map_file": "m2m_100_1.2B_v2/special_tokens_map.json",
        "tokenizer_file": None,
        "name_or_path": "m2m_100_1.2B_v2",
        "model_max_length": MODEL_MAX_LENGTH,
        "tokenizer_class": "M2M100Tokenizer",
    }
    special = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "additional_special_tokens": lang_tokens,
    }
    (path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    (path / "special_tokens_map.json").write_text(json.dumps(special), encoding="utf-8")


def build_tokenizer_dir(
    path: Path, *, vocab_size: int = 400, language_codes: str = "m2m100", hub_layout: bool = False
) -> Path:
    """Create a small M2M100 tokenizer folder at ``path`` (created if missing).

    Args:
        path: The folder to write.
        vocab_size: Size of the sentencepiece model; vocab.json has 4 + vocab_size - 1 entries.
        language_codes: ``"m2m100"`` (100 language tokens) or ``"wmt21"`` (8).
        hub_layout: Keep the legacy layout of the hub repositories (no ``added_tokens_decoder``
            in tokenizer_config.json, language tokens listed in special_tokens_map.json) instead
            of re-saving the folder with transformers.

    Returns:
        ``path``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    proto = _train_spm(vocab_size)
    (path / "sentencepiece.bpe.model").write_bytes(proto)
    with open(path / "vocab.json", "w", encoding="utf-8") as f:
        json.dump(_fairseq_vocab(proto), f, indent=2)
    _write_hub_layout(path, language_codes)
    if not hub_layout:
        # Imported here: transformers is a test-only reference and slow to import.
        from transformers import M2M100Tokenizer

        M2M100Tokenizer.from_pretrained(str(path)).save_pretrained(str(path))
    return path


def _sample_texts() -> list[str]:
    lang_words = _WORDS["fr"][:4] + _WORDS["ru"][:3] + _WORDS["zh"][:3]
    handmade = [
        "",
        " ",
        "   ",
        "\n",
        "\t",
        " \n\t ",
        "a",
        "A",
        ".",
        "▁",
        "▁▁hello",
        "Hello world",
        " Hello world",
        "Hello world ",
        "  Hello   world  ",
        "Hello\nworld",
        "Hello\tworld",
        "line one\n\nline two\r\nline three",
        "trailing newline\n",
        "Life is like a box of chocolates.",
        "La vie est comme une boîte de chocolat.",
        "जीवन एक चॉकलेट बॉक्स की तरह है।",
        "生活就像一盒巧克力。",
        "Şeful ONU declară că nu există o soluţie militară în Siria",
        "Привет, мир! Как дела?",
        "مرحبا بالعالم",
        "שלום עולם",
        "人生はチョコレートの箱のようなものです。",
        "Mixed: hello мир 世界 नमस्ते مرحبا 🎉",
        "emoji only 😀🎉👍🌍",
        "❤️🙂🚀",
        "🙃 unseen emoji 🦜",
        "café",
        "cafe\u0301",
        "élève Noël",
        "e\u0301le\u0300ve Noe\u0308l",
        "Ａｂｃ１２３ full width",
        "ﬁ ligature",
        "unseen letters: ğ ş ı Ω ≈ ç √ ∫ 𝄞 ก ข ค",
        "0123456789",
        "3.14159 2,718 1e10 -42 +7",
        "100% $5 €10 #1 @user",
        "!?.,;:'\"()[]{}<>/\\|`~^&*_-=+",
        "don't won't it's they're I'm we've",
        "hello ,world . how are you ?",
        "</s>",
        "<s>",
        "<unk>",
        "<pad>",
        "__fr__",
        "__en__",
        "__xx__",
        "__wo__ __zu__",
        "</s></s>",
        "<s>hello</s>",
        "hello</s>",
        "hello </s> world",
        "hello</s>world",
        " </s> ",
        "<pad><pad>text<pad>",
        "<unk> unknown <unk>",
        "__fr__ Bonjour",
        "Bonjour __fr__",
        "__fr__Bonjour",
        "x__fr__y",
        "___fr___",
        "__fr_",
        "_fr__",
        "__FR__",
        "<s",
        "s>",
        "</",
        "<</s>>",
        "__en____fr__",
        "<madeupword0>",
        "<madeupword7> text",
        "▁</s>▁",
        "</s>\n<s>\t<pad>",
        " __de__  hallo  </s>  ",
        "<unk><s></s><pad>__af__",
        "word " * 1200,
        "".join(_WORDS["zh"]) * 300,
        " ".join(lang_words) * 150,
    ]
    rng = random.Random(2)
    generated = []
    for i, sentence in enumerate(_sentences(260, seed=3)):
        variant = i % 6
        if variant == 1:
            sentence = "  " + sentence.replace(" ", "  ") + " "
        elif variant == 2:
            cut = rng.randrange(len(sentence) + 1)
            special = rng.choice(["</s>", "<s>", "<unk>", "<pad>", "__fr__", "__zh__"])
            sentence = sentence[:cut] + special + sentence[cut:]
        elif variant == 3:
            sentence = sentence.replace(" ", rng.choice(["\n", "\t", " \n "]), 2)
        elif variant == 4:
            sentence = sentence.lower()
        generated.append(sentence)
    return handmade + generated


SAMPLE_TEXTS: list[str] = _sample_texts()
