"""``m2m100 translate -s auto``: the real command on the bundled demo model: detected lines give
what their language given gives, JSONL rows report the detection, untrusted lines take
``--fallback-src`` or are written unchanged, a summary on stderr, ``--resume`` of a killed run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from m2m100.cli.common import model_languages
from m2m100.demo import model_path
from m2m100.languages.detection import LanguageDetector
from tests.cli.test_resume import LINES, command, error_line, finish, killed_run
from tests.test_detection import SENTENCES

COMMAND = [sys.executable, "-m", "m2m100", "translate", "--device", "cpu", "--max-new-tokens", "16"]
NOISE = "zzz 42 qq"  # no language: a detection below the default threshold
# What the detector makes of it among the demo model's languages.
(NOISE_DETECTION,) = LanguageDetector(model_languages(str(model_path()))).detect([NOISE])


def run(args: list[object], stdin: str | None = None) -> tuple[int, str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*COMMAND, *map(str, args)], input=(stdin or "").encode(), capture_output=True, env=env, timeout=300
    )
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


def test_text_lines(tmp_path: Path):
    lines = [SENTENCES["fr"], SENTENCES["en"], NOISE, SENTENCES["de"]]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, summary = run(["-s", "auto", "-t", "en", tmp_path / "in.txt"])
    assert code == 0, summary
    translated = out.splitlines()
    assert translated[1:3] == [SENTENCES["en"], NOISE]  # already English; untrusted
    for index, src in ((0, "fr"), (3, "de")):
        code, given, err = run(["-s", src, "-t", "en"], stdin=lines[index] + "\n")
        assert code == 0, err
        assert translated[index] == given.strip()
    lines = [line for line in summary.splitlines() if "-s auto" in line]
    assert lines[0].startswith("m2m100: -s auto: detected 4 lines: ")
    assert sorted(lines[0].split(": ", 3)[3].split(", ")) == sorted(
        ["de 1", "en 1", "fr 1", f"{NOISE_DETECTION.code} 1"]
    )
    assert lines[1] == "m2m100: -s auto: 1 line below --min-confidence 0.5 (written unchanged)"


def test_jsonl_rows_report_the_detection():
    rows = [
        {"id": 7, "text": SENTENCES["de"], "src": "auto", "tgt": "fr"},
        {"text": NOISE, "src": "auto", "tgt": "en"},
        {"text": "vingt", "src": "fr", "tgt": "en"},
    ]
    stdin = "".join(json.dumps(r) + "\n" for r in rows)
    code, out, err = run(["--format", "jsonl", "--fallback-src", "fr"], stdin=stdin)
    assert code == 0, err
    first, second, third = map(json.loads, out.splitlines())
    assert first["id"] == 7 and (first["src"], first["detected_src"]) == ("de", "de") and first["confidence"] > 0.9
    assert (second["src"], second["detected_src"]) == ("fr", NOISE_DETECTION.code) and second["confidence"] < 0.5
    assert "detected_src" not in third and "confidence" not in third
    assert "m2m100: -s auto: 1 line below --min-confidence 0.5 (translated from fr)" in err
    code, given, _ = run(["-s", "fr", "-t", "en"], stdin=NOISE + "\n")
    assert second["translation"] == given.strip()


def test_same_language_and_threshold_options():
    stdin = SENTENCES["en"] + "\n" + NOISE + "\n"
    code, out, err = run(["-s", "auto", "-t", "en", "--translate-same-language", "--min-confidence", "0"], stdin=stdin)
    assert code == 0, err
    code, given, _ = run(["-s", "en", "-t", "en"], stdin=SENTENCES["en"] + "\n")
    assert out.splitlines()[0] == given.strip()
    code, given, _ = run(["-s", str(NOISE_DETECTION.code), "-t", "en"], stdin=NOISE + "\n")
    assert out.splitlines()[1] == given.strip()  # trusted at threshold 0
    assert "0 lines below --min-confidence 0.0" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fallback-src", "xx"], "m2m100: error: --fallback-src: Unknown language code 'xx'."),
        (["--min-confidence", "1.5"], "argument --min-confidence: must be between 0 and 1, got 1.5"),
    ],
)
def test_bad_options(args, message):
    code, _, err = run(["-s", "auto", "-t", "en", *args], stdin="a\n")
    assert code == 2 and message in err and "Traceback" not in err


def test_without_py3langid(tmp_path: Path):
    (tmp_path / "py3langid").mkdir()
    (tmp_path / "py3langid" / "__init__.py").write_text("raise ImportError('gone')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}"}
    for args, stdin in (
        (["-s", "auto", "-t", "en"], "vingt\n"),
        (["--format", "jsonl"], '{"text": "a", "src": "auto", "tgt": "en"}\n'),
    ):
        done = subprocess.run([*COMMAND, *args], input=stdin.encode(), capture_output=True, env=env, timeout=300)
        assert done.returncode == 1
        assert error_line(done.stderr.decode()) == (
            "m2m100: error: -s auto: m2m100 translate needs the [detect] extra (py3langid is not installed): "
            "pip install 'm2m100[detect]'"
        )
    done = subprocess.run(
        [*COMMAND, "-s", "fr", "-t", "en"], input=b"vingt\n", capture_output=True, env=env, timeout=300
    )
    assert done.returncode == 0 and done.stdout.decode().strip()


def test_resume_after_a_kill(tmp_path: Path):
    words = [SENTENCES["fr"], SENTENCES["de"], "one two three", SENTENCES["en"], NOISE]
    source = tmp_path / "in.txt"
    source.write_text("".join(f"{words[i % 5]} {i}\n" for i in range(LINES)), encoding="utf-8")
    options = ["-s", "auto", "-t", "en", "--device", "cpu", "--max-batch-tokens", "48", "--beam-size", "1"]
    complete = tmp_path / "complete.txt"
    code, err = finish(command([source, *options, "-o", complete]))
    assert code == 0, err
    output = tmp_path / "out.txt"
    killed_run([source, *options], output)
    code, err = finish(command([source, *options, "-o", output, "--resume"]))
    assert code == 0, err
    assert output.read_bytes() == complete.read_bytes()
    killed_run([source, *options, "--overwrite"], output)
    code, err = finish(command([source, *options, "--min-confidence", "0.9", "-o", output, "--resume"]))
    assert code == 2
    assert "--resume: --min-confidence was 0.5 in the interrupted run, now 0.9" in error_line(err)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["page.html"],
            "m2m100: error: -s auto detects the language of lines (text, jsonl); give a document's language",
        ),
        (
            ["in.txt", "--ray", "local"],
            "m2m100: error: -s auto is not available with --ray: translate without --ray, or give the source",
        ),
    ],
)
def test_auto_is_for_lines_in_one_process(args, message, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if "--ray" in args:
        pytest.importorskip("ray")
    (tmp_path / "page.html").write_text("<p>Bonjour tout le monde</p>\n", encoding="utf-8")
    (tmp_path / "in.txt").write_text("Bonjour\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["-s", "auto", "-t", "en", *args])
    assert code == 2 and error_line(err) == message
