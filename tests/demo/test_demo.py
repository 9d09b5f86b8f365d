"""The demo: ``m2m100 demo-data`` on a small slice (run for real), its checks and errors, a short
training of a tiny copy with ``m2m100 finetune`` from the built files, and the shipped model on
held-out numbers (once it is trained).

The slice: 5 languages in 3 scripts (ar has no num2words ordinals), the numbers 0..400 (held out:
37, 137, 237, 337), a 600-piece vocabulary; built once per module in a few seconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from m2m100.demo.data import BuildOptions, build, directions, held_out_pairs
from m2m100.demo.sources import is_held_out, language_texts, normalize

LANGUAGES = ["en", "fr", "de", "ja", "ar"]
MAX_NUMBER = 400
PAIRS = 120
SLICE = [
    "--languages",
    *LANGUAGES,
    "--max-number",
    str(MAX_NUMBER),
    "--pairs-per-direction",
    str(PAIRS),
    "--test-per-direction",
    "4",
    "--valid-per-direction",
    "2",
    "--vocab-size",
    "600",
    "--seed",
    "3",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def m2m100(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "m2m100", *map(str, args)], capture_output=True, text=True, env=ENV, timeout=timeout
    )


def read_jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def key_of(code: str, text: str) -> tuple:
    """The key a language's text stands for (texts are unique within a language)."""
    found = [k for k, v in language_texts(code, MAX_NUMBER).texts.items() if v == text]
    assert len(found) == 1, (code, text, found)
    return found[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "data"
    result = m2m100("demo-data", "-o", out, *SLICE)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


# ------------------------------------------------------------------------------------------
# The data
# ------------------------------------------------------------------------------------------
def test_every_direction_in_every_split(built: tuple[Path, str]) -> None:
    out, stdout = built
    expected = set(directions(LANGUAGES))
    assert len(expected) == 20
    for split, per_direction in (("train", PAIRS), ("valid", 2), ("test", 4)):
        records = read_jsonl(out / f"{split}.jsonl")
        counts = Counter((r["src_lang"], r["tgt_lang"]) for r in records)
        assert set(counts) == expected, split
        assert set(counts.values()) == {per_direction}, split  # a balanced share for every direction
        for r in records:
            assert set(r) == ({"src_lang", "tgt_lang", "src", "tgt"} | ({"key"} if split == "test" else set()))
            for text in (r["src"], r["tgt"]):
                assert text and text == normalize(text) == unicodedata.normalize("NFC", text)
    assert "directions  20" in stdout and "cardinals only (no usable num2words ordinals): ar" in stdout


def test_pairs_mean_the_same_and_held_out_numbers_are_only_in_test(built: tuple[Path, str]) -> None:
    out, _ = built
    kinds: Counter = Counter()
    for split in ("train", "valid", "test"):
        for r in read_jsonl(out / f"{split}.jsonl"):
            key = key_of(r["src_lang"], r["src"])
            assert key_of(r["tgt_lang"], r["tgt"]) == key  # a translation, not two unrelated texts
            held_out = key[0] in ("cardinal", "ordinal") and is_held_out(key[1])
            assert held_out == (split == "test"), (split, r)
            if split == "test":
                assert r["key"] == f"{key[0]}:{key[1]}"
            kinds[split, key[0], "ar" in (r["src_lang"], r["tgt_lang"])] += 1
    # Numbers and CLDR names; ordinals only where both languages have them (num2words' Arabic
    # ordinals are cardinals above ten).
    for kind in ("cardinal", "ordinal", "territory", "language"):
        assert kinds["train", kind, False] > 0, kind
    assert kinds["train", "cardinal", True] > 0 and kinds["train", "ordinal", True] == 0
    assert kinds["test", "ordinal", False] > 0 and kinds["test", "ordinal", True] == 0
    assert [is_held_out(n) for n in (37, 137, 5237, 5200, 5299, 38, 5199, 5300, 1370)] == [True] * 5 + [False] * 4


def test_test_set_is_rebuilt_without_the_files(built: tuple[Path, str]) -> None:
    out, _ = built
    options = BuildOptions.from_manifest(out / "manifest.json")
    assert options.languages == tuple(LANGUAGES) and options.seed == 3
    assert held_out_pairs(options) == read_jsonl(out / "test.jsonl")


def test_tokenizer_folder_loads_in_both_implementations_and_agrees(built: tuple[Path, str]) -> None:
    import transformers

    from m2m100 import M2M100Config, M2M100Tokenizer

    out, _ = built
    folder = out / "tokenizer"
    ours = M2M100Tokenizer.from_pretrained(folder)
    theirs = transformers.M2M100Tokenizer.from_pretrained(str(folder))
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    assert list(vocab)[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and list(vocab.values())[:4] == [0, 1, 2, 3]
    assert len(ours) == len(theirs) == len(vocab) + 100
    assert M2M100Config.from_pretrained(out).vocab_size == len(ours)
    assert ours.get_lang_id("ja") == theirs.get_lang_id("ja") == len(vocab) + 42  # __ja__ in the m2m100 order
    records = read_jsonl(out / "train.jsonl")[:150] + read_jsonl(out / "test.jsonl")
    samples = [(r["src_lang"], r["src"]) for r in records] + [("fr", "Ünseen 🦜 ñ text, 五千 ok"), ("en", "")]
    for lang, text in samples:
        ours.src_lang = theirs.src_lang = lang
        ids = ours(text)["input_ids"]
        assert ids == theirs(text)["input_ids"], text
        assert ids[0] == ours.get_lang_id(lang) and ids[-1] == 2
    for r in records:  # what the model must produce can be spelled exactly, Persian ZWNJ and all
        assert ours.decode(ours(r["tgt"])["input_ids"], skip_special_tokens=True) == r["tgt"]


def test_same_seed_same_bytes_and_directions_do_not_depend_on_the_other_languages(tmp_path: Path) -> None:
    options = BuildOptions(
        languages=("en", "fr", "de"),
        max_number=150,
        pairs_per_direction=40,
        test_per_direction=3,
        vocab_size=400,
        seed=5,
    )
    build(tmp_path / "a", options)
    build(tmp_path / "b", options)
    for name in (
        "train.jsonl",
        "valid.jsonl",
        "test.jsonl",
        "config.json",
        "tokenizer/vocab.json",
        "tokenizer/sentencepiece.bpe.model",
        "tokenizer/tokenizer_config.json",
    ):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    build(tmp_path / "c", dataclasses.replace(options, seed=6))
    assert (tmp_path / "c" / "train.jsonl").read_bytes() != (tmp_path / "a" / "train.jsonl").read_bytes()
    # A direction's lines are drawn from its two languages alone: a slice of languages gives the
    # same lines for its directions (the shipped-model test relies on it).
    build(tmp_path / "d", dataclasses.replace(options, languages=("de", "en")))
    for split in ("train", "valid", "test"):

        def lines(folder: str) -> list[dict]:
            return sorted(
                (
                    r
                    for r in read_jsonl(tmp_path / folder / f"{split}.jsonl")
                    if {r["src_lang"], r["tgt_lang"]} == {"de", "en"}
                ),
                key=json.dumps,
            )

        assert lines("a") == lines("d"), split


def test_language_checks() -> None:
    # Indonesian CLDR names "Jerman" both the language (de) and the country (DE): ambiguous, dropped.
    indonesian = language_texts("id", 20)
    assert ("language", "de") not in indonesian.texts and ("territory", "DE") not in indonesian.texts
    assert indonesian.texts["language", "ca"] == "Katalan" and indonesian.dropped > 0
    assert language_texts("fr", 20).has_ordinals and not language_texts("vi", 20).has_ordinals
    assert language_texts("ja", 20).texts["cardinal", 17] == "十七"
    assert language_texts("ru", 20).texts["month", 1] == "январь"  # the stand-alone name, not "января"
    # babel's Locale.months would give Arabic the Japanese "10月" once Japanese names were read.
    assert language_texts("ja", 21).texts["month", 10] == "10月"
    assert language_texts("ar", 21).texts["month", 10] == "أكتوبر"


@pytest.mark.parametrize(
    "languages, max_number, message",
    [
        (["en", "xx"], 100, "Unknown language code 'xx'"),
        (["en", "french"], 100, "Did you mean 'fr'"),
        (["en", "zh"], 100, "zh (Chinese) is an M2M100 language but num2words or babel has no data"),
        (["en", "sr"], 100, "sr: num2words writes LATIN script, CLDR CYRILLIC"),
        (["en", "am"], 100, "am: num2words gives no cardinal in words for 1100"),  # caught before the build
        (["en"], 100, "at least two languages"),
        (["en", "fr", "en"], 100, "given twice: en"),
    ],
)
def test_bad_languages_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture, languages: list[str], max_number: int, message: str
) -> None:
    from m2m100.cli import main

    # --out: the spelling of earlier versions, kept
    status = main(["demo-data", "--out", str(tmp_path), "--languages", *languages, "--max-number", str(max_number)])
    err = capsys.readouterr().err
    assert status == 2 and message in err
    if "xx" in languages or "zh" in languages or "am" in languages:  # the usable codes are listed, am not
        assert "ar, az, be, bn" in err and " fr, " in err and " am," not in err and " sr," not in err
    assert not (tmp_path / "train.jsonl").exists()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from m2m100.cli import main

    assert main(["demo-data", "--languages", "en", "fr"]) == 2
    assert "demo-data needs -o/--output DIR" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["demo-data", "-o", str(tmp_path / "file"), "--languages", "en", "fr"]) == 2
    assert f"-o/--output {tmp_path / 'file'} is a file; give a folder" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["babel", "num2words"])
def test_a_missing_extra_names_the_install_command(tmp_path: Path, module: str) -> None:
    code = (
        f"import sys; sys.modules[{module!r}] = None; from m2m100.cli import main; "
        f"sys.exit(main(['demo-data', '-o', {str(tmp_path / 'out')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 1
    assert result.stderr == (
        f"m2m100: error: m2m100 demo-data needs the [demo] extra ({module} is not installed): "
        "pip install 'm2m100[demo]'\n"
    )
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------
# Training from the built files, exporting and evaluating
# ------------------------------------------------------------------------------------------
def test_a_tiny_copy_trains_exports_and_evaluates(built: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = built
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    config.update(
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
    )
    (tmp_path / "tiny.json").write_text(json.dumps(config), encoding="utf-8")
    run = tmp_path / "run"
    result = m2m100(
        "finetune",
        "--init-config",
        tmp_path / "tiny.json",
        "--tokenizer",
        out / "tokenizer",
        "--train",
        out / "train.jsonl",
        "--valid",
        out / "valid.jsonl",
        "--output",
        run,
        "--max-batch-tokens",
        2048,
        "--max-steps",
        24,
        "--lr",
        3e-3,
        "--warmup-steps",
        4,
        "--schedule",
        "inverse-sqrt",
        "--label-smoothing",
        0.1,
        "--seed",
        1,
        "--eval-every",
        12,
        "--save-every",
        12,
        "--log-every",
        4,
        "--device",
        "cpu",
        "--no-progress",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    losses = [r["loss"] for r in read_jsonl(run / "log.jsonl") if "loss" in r]
    assert losses[-1] < losses[0] - 0.5  # it learns
    assert (run / "best" / "model.safetensors").is_file() and (run / "last" / "vocab.json").is_file()

    model = tmp_path / "model"
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "m2m100.demo.export",
            run / "best",
            model,
            "--manifest",
            out / "manifest.json",
            "--continued",
            out / "manifest.json",
        ],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert exported.returncode == 0, exported.stderr
    config = json.loads((model / "config.json").read_text())
    assert config["dtype"] == "float16"
    # The model declares the languages it was trained on; the Translator offers those alone.
    assert sorted(config["languages"]) == sorted(LANGUAGES)
    manifest = json.loads((model / "demo_data.json").read_text())
    assert manifest["continued"]["options"] == manifest["options"]
    assert (model / "demo_data.json").is_file() and (model / "sentencepiece.bpe.model").is_file()

    # No --test: the held-out set is rebuilt from the model's demo_data.json.
    evaluated = subprocess.run(
        [
            sys.executable,
            "-m",
            "m2m100.demo.evaluate",
            "-m",
            model,
            "--device",
            "cpu",
            "--per-direction",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    scores = json.loads(evaluated.stdout)
    assert scores["lines"] == 40 and len(scores["directions"]) == 20 and 0.0 <= scores["mean"] <= 1.0
    assert set(scores["source"]) == set(scores["target"]) == set(LANGUAGES)


# ------------------------------------------------------------------------------------------
# The shipped model
# ------------------------------------------------------------------------------------------
def shipped_model() -> Path:
    from m2m100.demo import model_path

    try:
        return model_path()
    except FileNotFoundError:
        pytest.skip("the demo model is not trained yet: src/m2m100/demo/model/ is built by scripts/train_demo.sh")


def test_model_path_names_the_build_script_when_missing() -> None:
    from m2m100.demo import model_path

    try:
        model_path()
    except FileNotFoundError as err:
        assert "scripts/train_demo.sh" in str(err)
    else:
        pytest.skip("the demo model is present")


@pytest.mark.parametrize("mode", [{}, {"quantize": "int8"}, {"dtype": "bfloat16"}], ids=["fp32", "int8", "bf16"])
def test_shipped_model_translates_held_out_numbers_between_non_english_languages(mode: dict) -> None:
    """In float32 and in both fast modes (int8 with its fused q/k/v, bf16)."""
    from m2m100.translator import Segment, Translator

    folder = shipped_model()
    assert sum(f.stat().st_size for f in folder.iterdir()) <= 25e6
    options = BuildOptions.from_manifest(folder / "demo_data.json")
    # Directions are independent of the other languages (see the test above), so a slice of the
    # languages rebuilds these directions' held-out lines in seconds.
    chosen = [("fr", "de"), ("de", "ja"), ("ja", "ru"), ("ru", "ar"), ("ar", "fr"), ("ja", "fr")]
    languages = tuple(dict.fromkeys(code for pair in chosen for code in pair))
    records = [
        r
        for r in held_out_pairs(dataclasses.replace(options, languages=languages, test_per_direction=6))
        if (r["src_lang"], r["tgt_lang"]) in chosen
    ]
    assert len(records) == 36
    translator = Translator(folder, device="cpu", **mode)
    out = translator.translate_stream([Segment(r["src"], r["src_lang"], r["tgt_lang"]) for r in records])
    correct = [hyp == r["tgt"] for hyp, r in zip(out, records)]
    assert sum(correct) >= 0.9 * len(records), [(r["src"], r["tgt"]) for r, ok in zip(records, correct) if not ok]


# What the demo model claims to know (README, `m2m100 info`, the web page), per kind of name, on a
# fixed sample drawn over every direction: the thresholds of the issue that asked for it.
NAME_THRESHOLDS = {"weekday": 0.97, "month": 0.97, "language": 0.95, "territory": 0.95}


@pytest.mark.parametrize("mode", [{}, {"quantize": "int8"}, {"dtype": "bfloat16"}], ids=["fp32", "int8", "bf16"])
def test_shipped_model_knows_its_names(mode: dict) -> None:
    from m2m100.demo.data import name_pairs
    from m2m100.demo.sources import normalize
    from m2m100.translator import Segment, Translator

    folder = shipped_model()
    records = name_pairs(BuildOptions.from_manifest(folder / "demo_data.json"), per_kind=400, seed=11)
    translator = Translator(folder, device="cpu", **mode)
    out = translator.translate_stream([Segment(r["src"], r["src_lang"], r["tgt_lang"]) for r in records])
    wrong: dict[str, list[str]] = {kind: [] for kind in NAME_THRESHOLDS}
    for record, hypothesis in zip(records, out):
        if normalize(hypothesis) != normalize(record["tgt"]):
            wrong[record["key"].partition(":")[0]].append(
                f"{record['src_lang']}-{record['tgt_lang']} {record['src']!r}: {hypothesis!r}"
            )
    assert len(records) == 400 * len(NAME_THRESHOLDS)
    for kind, threshold in NAME_THRESHOLDS.items():
        assert 1 - len(wrong[kind]) / 400 >= threshold, (kind, wrong[kind][:10])


def test_translate_without_a_model_uses_the_demo_model_and_says_so_once() -> None:
    from m2m100.translator import Translator

    folder = shipped_model()
    lines = ["quatre-vingt-dix-neuf", "", "mardi", "deux mille trois cent trente-sept"]
    out = subprocess.run(
        [sys.executable, "-m", "m2m100", "translate", "-s", "fr", "-t", "ja"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("bundled demo model") == 1
    assert out.stdout.splitlines() == Translator(folder, device="cpu").translate(lines, src="fr", tgt="ja")


def test_translator_without_a_model_loads_the_demo_model(caplog: pytest.LogCaptureFixture) -> None:
    from m2m100.translator import Translator

    folder = shipped_model()
    with caplog.at_level("WARNING", logger="m2m100.translator"):
        translator = Translator(device="cpu")
    assert "bundled demo model" in caplog.text
    assert translator.name == str(folder)


def test_info_tells_the_demo_model_from_a_real_checkpoint(translation_folder: Path) -> None:
    demo = m2m100("info", shipped_model())
    real = m2m100("info", translation_folder)
    assert demo.returncode == real.returncode == 0, demo.stderr + real.stderr
    assert "demo model" in demo.stdout and "demo model" not in real.stdout
    assert "translation checkpoint" in real.stdout
