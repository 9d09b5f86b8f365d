"""The command line as a new user meets it, on the bundled demo model: one grammar, checks before
any work, file quirks (BOM, CRLF, pipes), and exit statuses (0 done, 1 run-time failure, 2 usage).

Most checks run ``m2m100.cli.main`` in this process (a demo-model load takes a fraction of a
second); the input forms that need a shell (pipes, process substitution) run as subprocesses.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from m2m100 import __version__
from m2m100.cli import EXIT_USAGE, main
from m2m100.demo import DEMO_KNOWS, model_path

SCRIPT = str(Path(sys.executable).with_name("m2m100"))
DEMO_LANGUAGES = [
    "ar",
    "cs",
    "da",
    "de",
    "en",
    "es",
    "fa",
    "fi",
    "fr",
    "he",
    "hu",
    "id",
    "it",
    "ja",
    "ko",
    "nl",
    "pl",
    "pt",
    "ro",
    "ru",
    "sv",
    "tr",
    "uk",
    "vi",
]  # in token-id order


def call(capfd: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of one in-process ``m2m100`` run."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit:  # argparse's usage errors, --version
        code = exit.code if isinstance(exit.code, int) else 1
    out, err = capfd.readouterr()
    return code, out, err


def shell(command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(SCRIPT).parent}{os.pathsep}{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def numbers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("grammar") / "numbers.fr"
    path.write_text("quatre-vingt-dix-neuf\ncent\ndeux\n", encoding="utf-8")
    return path


def test_version_info_and_languages_use_the_default_model(capfd) -> None:
    assert call(capfd, "--version")[:2] == (0, f"m2m100 {__version__}\n")
    code, out, err = call(capfd, "info")
    assert code == 0, err
    rows = dict(line.split(None, 1) for line in out.splitlines())
    assert rows["checkpoint"] == str(model_path())
    assert rows["kind"].startswith("demo model")
    assert rows["knows"] == DEMO_KNOWS
    assert rows["languages"] == f"24: {' '.join(DEMO_LANGUAGES)}"
    assert "using the bundled demo model" in err
    assert call(capfd, "info", "-m", model_path())[1] == out  # -m and the positional MODEL agree

    code, out, err = call(capfd, "languages")
    assert code == 0, err
    assert [line.split("\t")[0] for line in out.splitlines()] == DEMO_LANGUAGES
    assert "fr\tFrench" in out.splitlines()
    code, out, err = call(capfd, "languages", "--codes", "m2m100")
    assert (code, len(out.splitlines())) == (0, 100)


def test_a_language_the_model_never_learned_is_a_usage_error(capfd, numbers) -> None:
    code, out, err = call(capfd, "translate", numbers, "-s", "fr", "-t", "zh")
    assert (code, out) == (EXIT_USAGE, "")
    assert "-t/--tgt-lang: Unknown language code 'zh'." in err
    assert f"Valid codes: {', '.join(DEMO_LANGUAGES)}." in err
    assert len(err.strip().splitlines()) == 2  # the demo notice, then the error


def test_spellings_agree_and_abbreviations_are_refused(capfd, numbers) -> None:
    code, new, err = call(capfd, "translate", numbers, "--src-lang", "fr", "--tgt-lang", "en")
    assert code == 0, err
    assert new.splitlines() == ["ninety-nine", "one hundred", "two"]
    assert call(capfd, "translate", numbers, "-s", "fr", "-t", "en")[1] == new
    assert call(capfd, "translate", numbers, "--src", "fr", "--tgt", "en")[1] == new  # the old spelling
    code, out, err = call(capfd, "translate", numbers, "--sr", "fr", "-t", "en")
    assert (code, out) == (EXIT_USAGE, "") and "unrecognized arguments: --sr" in err
    code, out, err = call(capfd, "translate", numbers, "-s", "fr")
    assert code == EXIT_USAGE and "-s/--src-lang and -t/--tgt-lang are required" in err


@pytest.mark.parametrize(
    "argv, status, message",
    [
        (["translate", "--no-such-flag"], 2, "unrecognized arguments: --no-such-flag"),
        (["translate", "missing.txt", "-s", "fr", "-t", "en"], 2, "input file missing.txt does not exist"),
        (["translate", ".", "-s", "fr", "-t", "en"], 2, "input . is a folder"),
        (["info", "-m", "no/such/folder"], 1, "cannot read the checkpoint"),
        (["languages", "-m", "x", "--codes", "m2m100"], 2, "not both"),
    ],
)
def test_exit_statuses(capfd, argv, status, message) -> None:
    code, out, err = call(capfd, *argv)
    assert (code, out) == (status, "")
    assert message in err and "Traceback" not in err


def _combination_runs(device: str | None, dtype: str | None, quantize: str | None) -> bool:
    if device == "cuda" and not torch.cuda.is_available():
        return False
    if device == "gpu":
        return False
    return quantize is None or ((device or "cpu") == "cpu" and dtype in (None, "float32"))


@pytest.mark.parametrize(
    "device, dtype, quantize",
    list(
        itertools.product(
            [None, "cpu", "cuda", "gpu"], [None, "float32", "float16", "bfloat16", "auto"], [None, "int8"]
        )
    ),
)
def test_every_placement_combination_runs_or_is_refused_first(capfd, numbers, tmp_path, device, dtype, quantize):
    output = tmp_path / "out.txt"
    options = [
        *(["--device", device] if device else []),
        *(["--dtype", dtype] if dtype else []),
        *(["--quantize", quantize] if quantize else []),
    ]
    code, out, err = call(capfd, "translate", numbers, "-s", "fr", "-t", "en", "-o", output, *options)
    if _combination_runs(device, dtype, quantize):
        assert code == 0, err
        assert output.read_text(encoding="utf-8").splitlines() == ["ninety-nine", "one hundred", "two"]
    else:
        assert (code, out) == (EXIT_USAGE, ""), err
        message = err.strip().splitlines()[-1]
        assert message.startswith("m2m100: error: ") and "Traceback" not in err
        assert "valid" in message or "leave dtype unset" in message  # it says what would run
        assert not output.exists()  # refused before any work


def test_bom_crlf_pipes_and_process_substitution_are_not_content(tmp_path) -> None:
    plain = tmp_path / "plain.fr"
    plain.write_bytes(b"quatre-vingt-dix-neuf\nmardi\ncent\n")
    marked = tmp_path / "marked.fr"
    marked.write_bytes(b"\xef\xbb\xbfquatre-vingt-dix-neuf\r\nmardi\r\ncent")
    runs = {
        "file": shell(f"m2m100 translate {plain} -s fr -t en"),
        "bom+crlf": shell(f"m2m100 translate {marked} -s fr -t en"),
        "stdin": shell(f"m2m100 translate -s fr -t en < {marked}"),
        "pipe": shell(f"cat {marked} | m2m100 translate -s fr -t en -"),
        "process substitution": shell(f"m2m100 translate <(cat {marked}) -s fr -t en"),
        "jsonl with bom": shell(
            'printf \'\\xef\\xbb\\xbf{"text": "cent"}\\n\' | m2m100 translate --format jsonl -s fr -t en'
        ),
    }
    for name, run in runs.items():
        assert run.returncode == 0, (name, run.stderr)
        assert run.stderr.strip().splitlines() == [run.stderr.strip().splitlines()[0]], (name, run.stderr)
    assert runs["file"].stdout.splitlines()[0] == "ninety-nine"
    for name in ("bom+crlf", "stdin", "pipe", "process substitution"):
        assert runs[name].stdout == runs["file"].stdout, name
    assert runs["jsonl with bom"].stdout == '{"src": "fr", "tgt": "en", "translation": "one hundred"}\n'


def test_long_lines_print_no_library_log(tmp_path) -> None:
    """A line longer than the model takes is split by the Translator; the tokenizer's warning
    about it is for library users calling the tokenizer, not for the command's user."""
    long_line = tmp_path / "long.fr"
    long_line.write_text(" ".join(["quatre-vingt-dix-neuf."] * 60) + "\n", encoding="utf-8")
    run = shell(f"m2m100 translate {long_line} -s fr -t en")
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == 1
    assert run.stderr.strip().splitlines() == [run.stderr.strip().splitlines()[0]]
    assert run.stderr.startswith("m2m100: no model given")
