"""``m2m100 translate --glossary / --do-not-translate`` and jsonl lines with their own terms: the
real command on the demo model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from m2m100 import demo


def translate(*args: object, stdin: str = "") -> subprocess.CompletedProcess[str]:
    process = subprocess.run(
        [sys.executable, "-m", "m2m100", "translate", "-m", str(demo.model_path()), "--device", "cpu", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert "Traceback" not in process.stderr
    return process


def test_glossary_file_and_do_not_translate(tmp_path: Path):
    glossary = tmp_path / "terms.tsv"
    glossary.write_text("en\tde\tseven\tacht\n", encoding="utf-8")
    plain = translate("-s", "en", "-t", "de", stdin="seven\nthree\nACME-42 three\n")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[:2] == ["sieben", "drei"]
    assert "ACME-42" not in plain.stdout.splitlines()[2]
    run = translate(
        "-s",
        "en",
        "-t",
        "de",
        "--glossary",
        glossary,
        "--do-not-translate",
        "ACME-42",
        stdin="seven\nthree\nACME-42 three\n",
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[:2] == ["acht", "drei"]
    assert "ACME-42" in lines[2]


def test_jsonl_rows_carry_their_own_terms_and_report_misses(tmp_path: Path):
    rows = [
        {"id": 1, "text": "seven", "glossary": {"seven": "neun"}},
        {"id": 2, "text": "seven"},
        {"id": 3, "text": "seven", "glossary": {"seven": "dreihundertachtzig neunhundertzwölf"}},
    ]
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run = translate(inputs, "--format", "jsonl", "-s", "en", "-t", "de", "--max-new-tokens", "5")
    assert run.returncode == 0, run.stderr
    out = [json.loads(line) for line in run.stdout.splitlines()]
    assert (out[0]["translation"], out[0]["glossary_missed"]) == ("neun", [])
    assert out[1] == {"id": 2, "src": "en", "tgt": "de", "translation": "sieben"}  # no glossary: no field
    assert out[2]["glossary_missed"] == ["dreihundertachtzig neunhundertzwölf"]
    assert (
        f"m2m100: {inputs}:3: glossary terms not in the translation: dreihundertachtzig neunhundertzwölf" in run.stderr
    )


def test_malformed_glossaries_are_one_line_errors(tmp_path: Path):
    glossary = tmp_path / "terms.tsv"
    glossary.write_text("seven\tacht\none\ttwo\tthree\n", encoding="utf-8")
    run = translate("-s", "en", "-t", "de", "--glossary", glossary, stdin="seven\n")
    assert run.returncode != 0
    assert run.stderr.strip().splitlines()[-1] == (
        f"m2m100: error: --glossary/--do-not-translate: {glossary}:2: 3 tab-separated columns; a line is "
        "'term' (do not translate), 'source<TAB>target' or 'src<TAB>tgt<TAB>source<TAB>target'"
    )
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"text": "seven", "glossary": ["seven"]}\n', encoding="utf-8")
    run = translate(inputs, "--format", "jsonl", "-s", "en", "-t", "de")
    assert run.returncode != 0
    assert f'm2m100: error: {inputs}:1: "glossary" must be an object of source term: target term' in run.stderr
