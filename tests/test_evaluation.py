"""``m2m100 evaluate`` and :func:`m2m100.evaluation.score`, against sacrebleu computed here on
translations made here with the Translator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import sacrebleu

from m2m100.evaluation import score

OPTIONS = ["-s", "en", "-t", "fr", "--beam-size", "2", "--device", "cpu"]


def run_cli(*args: object, sacrebleu_dir: Path) -> subprocess.CompletedProcess:
    # SACREBLEU points sacrebleu at a folder of our choosing: with or without the flores model.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SACREBLEU": str(sacrebleu_dir)}
    return subprocess.run(
        [sys.executable, "-m", "m2m100", "evaluate", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def data(translation_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    """Source lines, their translations (made in this process) and references that partly agree."""
    from m2m100.translator import Translator
    from tests.tokenizer_fixture import SAMPLE_TEXTS

    sources = [t for t in SAMPLE_TEXTS[90:] if t.strip() and "\n" not in t and len(t) < 60][:8] + [""]
    hypotheses = Translator(translation_folder, device="cpu").translate(sources, src="en", tgt="fr", beam_size=2)
    assert len(set(hypotheses)) > 4 and hypotheses[-1] == ""
    references = []
    for i, hypothesis in enumerate(hypotheses):
        words = hypothesis.split()
        references.append(" ".join([words, words[:-1], words[1:] + ["mots", "en", "plus"]][i % 3]))
    root = tmp_path_factory.mktemp("evaluate")
    paths = {}
    for name, lines in (("src", sources), ("ref", references), ("short", references[:-1])):
        paths[name] = root / f"{name}.txt"
        paths[name].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    flores = root / "sacrebleu-flores"
    (flores / "models").mkdir(parents=True)
    # A stand-in for the flores200 spm model: any sentencepiece model exercises the spm path.
    shutil.copy(translation_folder / "sentencepiece.bpe.model", flores / "models" / "flores200sacrebleuspm")
    return types.SimpleNamespace(
        sources=sources,
        hypotheses=hypotheses,
        references=references,
        root=root,
        offline=root / "sacrebleu-empty",
        flores=flores,
        **paths,
    )


@pytest.fixture(scope="module")
def translated(translation_folder: Path, data: types.SimpleNamespace) -> types.SimpleNamespace:
    """One real run that translates, saves the translations and prints JSON."""
    output = data.root / "hyp.txt"
    result = run_cli(
        "--model",
        translation_folder,
        "--src-file",
        data.src,
        "--ref-file",
        data.ref,
        *OPTIONS,
        "--output",
        output,
        "--json",
        sacrebleu_dir=data.offline,
    )
    assert result.returncode == 0, result.stderr
    return types.SimpleNamespace(result=result, output=output, record=json.loads(result.stdout))


def test_translate_and_score(data: types.SimpleNamespace, translated: types.SimpleNamespace) -> None:
    expected_bleu = sacrebleu.corpus_bleu(data.hypotheses, [data.references], tokenize="13a").score
    expected_chrf = sacrebleu.corpus_chrf(data.hypotheses, [data.references]).score
    assert 5 < expected_bleu < 95  # neither nothing nor everything in common
    record = translated.record
    assert translated.output.read_text(encoding="utf-8") == "".join(h + "\n" for h in data.hypotheses)
    assert (record["bleu"], record["chrf"], record["segments"]) == (expected_bleu, expected_chrf, len(data.sources))
    assert record["tokenize"] == "13a" and "tok:13a" in record["bleu_signature"]
    assert record["chrf_signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0")
    # No flores model in the offline sacrebleu folder: the fallback is said on stderr.
    assert "flores200 spm model is not at" in translated.result.stderr
    assert "tokenize=13a" in translated.result.stderr


def test_score_existing_hypotheses(data: types.SimpleNamespace, translated: types.SimpleNamespace) -> None:
    result = run_cli("--hyp-file", translated.output, "--ref-file", data.ref, "-t", "fr", sacrebleu_dir=data.offline)
    assert result.returncode == 0, result.stderr
    assert "bundled demo model" not in result.stderr  # nothing to translate, no model
    bleu, chrf = result.stdout.splitlines()
    assert bleu.startswith("BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert bleu.split(" = ")[1].split()[0] == f"{translated.record['bleu']:.2f}"
    assert chrf.startswith("chrF2|nrefs:1") and chrf.endswith(f" = {translated.record['chrf']:.2f}")
    # The spellings of earlier versions still work.
    old = run_cli("--hyp", translated.output, "--ref", data.ref, "--tgt-lang", "fr", sacrebleu_dir=data.offline)
    assert (old.returncode, old.stdout) == (0, result.stdout), old.stderr


def test_flores_tokenizer_when_its_model_is_there(
    data: types.SimpleNamespace, translated: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sacrebleu.tokenizers import tokenizer_spm

    result = run_cli("--hyp-file", translated.output, "--ref-file", data.ref, "--json", sacrebleu_dir=data.flores)
    assert result.returncode == 0, result.stderr
    assert "note" not in result.stderr
    record = json.loads(result.stdout)
    monkeypatch.setattr(tokenizer_spm, "SACREBLEU_DIR", str(data.flores))
    expected = sacrebleu.corpus_bleu(data.hypotheses, [data.references], tokenize="flores200").score
    assert (record["tokenize"], record["bleu"]) == ("flores200", expected)
    assert "tok:flores200" in record["bleu_signature"]
    assert expected != translated.record["bleu"]  # the spm tokenization did change the score


def test_score_library(data: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    from sacrebleu.tokenizers import tokenizer_spm

    monkeypatch.setattr(tokenizer_spm, "SACREBLEU_DIR", str(data.offline))
    scores = score(data.hypotheses, data.references)
    assert scores.tokenize == "13a"
    assert scores.bleu == sacrebleu.corpus_bleu(data.hypotheses, [data.references], tokenize="13a").score
    assert score(data.hypotheses, data.references, tgt="zh").tokenize == "zh"
    char = score(data.hypotheses, data.references, tokenize="char")
    assert char.bleu == sacrebleu.corpus_bleu(data.hypotheses, [data.references], tokenize="char").score
    with pytest.raises(ValueError, match="9 hypotheses but 8 references"):
        score(data.hypotheses, data.references[:-1])
    with pytest.raises(ValueError, match="unknown BLEU tokenizer 'spbleu'; valid: auto, none, zh, 13a"):
        score(data.hypotheses, data.references, tokenize="spbleu")


def test_without_a_model_the_demo_model_translates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from m2m100.cli import main
    from m2m100.demo import model_path

    try:
        demo = model_path()
    except FileNotFoundError:
        pytest.skip("the demo model is not trained yet")
    (tmp_path / "src.fr").write_text("cent\ndeux\n", encoding="utf-8")
    (tmp_path / "ref.en").write_text("one hundred\ntwo\n", encoding="utf-8")
    output = tmp_path / "hyp.en"
    result = run_cli(
        "--src-file",
        tmp_path / "src.fr",
        "--ref-file",
        tmp_path / "ref.en",
        "-s",
        "fr",
        "-t",
        "en",
        "--device",
        "cpu",
        "-o",
        output,
        "--json",
        sacrebleu_dir=tmp_path / "sacrebleu",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("bundled demo model") == 1
    assert all(line.startswith("m2m100: ") for line in result.stderr.splitlines()), result.stderr  # no log lines
    assert output.read_text(encoding="utf-8") == "one hundred\ntwo\n"
    record = json.loads(result.stdout)
    assert record["model"] == str(demo) and record["chrf"] == 100.0
    # The languages are the demo model's 24 (its config.json), checked before it is loaded.
    assert (
        main(
            [
                "evaluate",
                "--src-file",
                str(tmp_path / "src.fr"),
                "--ref-file",
                str(tmp_path / "ref.en"),
                "-s",
                "fr",
                "-t",
                "zh",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "-t/--tgt-lang: Unknown language code 'zh'" in err and "Valid codes: ar, cs, da, de, en, es" in err


def _one_error_line(err: str) -> None:
    """What a failed command prints: its own lines only, one of them the error, no traceback."""
    assert "Traceback" not in err, err
    assert all(line.startswith("m2m100: ") for line in err.splitlines()), err
    assert sum(line.startswith("m2m100: error: ") for line in err.splitlines()) == 1, err


def test_errors(
    translation_folder: Path, data: types.SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from m2m100.cli import main

    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "taken.txt").write_text("x\n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1") * 9)
    model = ["--model", str(translation_folder)]
    translate = [*model, "--src-file", data.src, "--ref-file", data.ref, *OPTIONS]
    cases = [
        # Usage errors, found before any work: 2.
        (
            [*model, "--src-file", data.src, "--ref-file", tmp_path / "missing.txt", *OPTIONS],
            2,
            f"input file {tmp_path / 'missing.txt'} does not exist",
        ),
        (["--hyp-file", tmp_path / "missing.txt", "--ref-file", data.ref], 2, "missing.txt does not exist"),
        (
            [*model, "--src-file", data.src, "--ref-file", data.ref, "-s", "en", "-t", "frr"],
            2,
            "-t/--tgt-lang: Unknown language code 'frr'. Did you mean 'fr'",
        ),
        (["--hyp-file", data.ref, "--ref-file", data.ref, "-t", "frr"], 2, "Unknown language code 'frr'"),
        (["--src-file", data.src, "--ref-file", data.ref, "-t", "fr"], 2, "translating needs -s/--src-lang"),
        (["--ref-file", data.ref, "-s", "en", "-t", "fr"], 2, "translating needs --src-file"),
        (["--hyp-file", data.ref], 2, "evaluate needs --ref-file FILE"),
        (
            ["--hyp-file", data.ref, "--ref-file", data.ref, "-o", tmp_path / "new.txt"],
            2,
            "with --hyp-file nothing is translated",
        ),
        (
            ["--hyp-file", data.ref, "--ref-file", data.ref, "--tokenize", "spbleu"],
            2,
            "unknown BLEU tokenizer 'spbleu'",
        ),
        ([*translate, "-o", tmp_path / "taken.txt"], 2, "taken.txt exists; pass --overwrite"),
        ([*translate, "-o", data.src, "--overwrite"], 2, "is also an input file"),
        ([*translate, "--device", "tpu"], 2, "device 'tpu' is not a device torch knows"),
        ([*translate, "--quantize", "int8", "--dtype", "float16"], 2, "cannot be combined with dtype 'float16'"),
        # Failures at run time: 1.
        (
            [*model, "--src-file", data.src, "--ref-file", data.short, *OPTIONS],
            1,
            f"{data.src} has 9 lines but {data.short} has 8",
        ),
        (["--hyp-file", data.short, "--ref-file", data.ref], 1, f"{data.short} has 8 lines but {data.ref} has 9"),
        (["--hyp-file", tmp_path / "empty.txt", "--ref-file", tmp_path / "empty.txt"], 1, "is empty: nothing to score"),
        (
            ["--hyp-file", tmp_path / "latin1.txt", "--ref-file", data.ref],
            1,
            "latin1.txt:1: not valid UTF-8 (byte 0xe9 at column 4)",
        ),
        (
            [
                "--model",
                str(tmp_path / "nowhere"),
                "--src-file",
                data.src,
                "--ref-file",
                data.ref,
                *OPTIONS,
                "--tokenize",
                "13a",
            ],
            1,
            "cannot load the model",
        ),
    ]
    for args, status, message in cases:
        assert main(["evaluate", *map(str, args)]) == status, message
        err = capsys.readouterr().err
        assert message in err, err
        _one_error_line(err)
    assert (tmp_path / "taken.txt").read_text() == "x\n" and not (tmp_path / "new.txt").exists()
    # --errors replace reads the bytes that are not UTF-8 (as translate does).
    assert (
        main(
            ["evaluate", "--hyp-file", str(tmp_path / "latin1.txt"), "--ref-file", str(data.ref), "--errors", "replace"]
        )
        == 0
    )


def test_src_is_a_language_not_a_file(data: types.SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    """`--src` names the source language in `translate`; evaluate refuses it as a file name and
    says the new spelling."""
    from m2m100.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--src", str(data.src), "--ref-file", str(data.ref), "-s", "en", "-t", "fr"])
    assert stop.value.code == 2
    assert "--src FILE is now --src-file FILE" in capsys.readouterr().err


def test_a_missing_extra_names_the_install_command(
    data: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from m2m100.cli import main

    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # as if it were not installed
    assert main(["evaluate", "--hyp-file", str(data.ref), "--ref-file", str(data.ref)]) == 1
    err = capsys.readouterr().err
    assert err == (
        "m2m100: error: m2m100 evaluate needs the [eval] extra (sacrebleu is not installed): "
        "pip install 'm2m100[eval]'\n"
    )
