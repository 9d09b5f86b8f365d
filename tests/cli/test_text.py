"""Attacks on what ``translate --format jsonl`` reads: a lone surrogate (a JSON "\\ud800" escape)
deep in a file, and ids that a float would not keep (1e400, 0.10, NaN). The real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

OPTIONS = ["-s", "en", "-t", "fr", "--device", "cpu", "--max-batch-tokens", "48"]


def translate(args: list[object]) -> tuple[int, str]:
    process = subprocess.run(
        [sys.executable, "-m", "m2m100", "translate", *map(str, args), *OPTIONS],
        capture_output=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert "Traceback" not in process.stderr.decode()
    return process.returncode, process.stderr.decode()


def test_lone_surrogate_stops_before_anything_is_written(tmp_path: Path):
    lines = [json.dumps({"id": i, "text": f"one two {i}"}) for i in range(300)]
    lines[206] = '{"id": 206, "text": "one \\ud800 two"}'
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    code, stderr = translate([inputs, "--format", "jsonl", "-o", output])
    assert code == 1, stderr
    assert f"m2m100: error: {inputs}:207: 'text': a lone surrogate \\ud800 at character 5" in stderr
    assert not output.exists()  # nothing written, not even an empty file
    assert not (tmp_path / "out.jsonl.m2m100-resume.json").exists()


def test_number_ids_come_out_as_written(tmp_path: Path):
    ids = ["1e400", "0.10", "-0", "12345678901234567890123", '[1.50, {"a": 2E3}]', '"x"']
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(f'{{"id": {i}, "text": "one"}}\n' for i in ids) + '{"text": "two"}\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    code, stderr = translate([inputs, "--format", "jsonl", "-o", output])
    assert code == 0, stderr
    written = output.read_text(encoding="utf-8").splitlines()
    assert len(written) == len(ids) + 1
    for line, given in zip(written, ids):
        assert line.startswith(f'{{"id": {given}, "src": "en"')
        json.loads(line, parse_constant=lambda c: pytest_fail(c))  # valid JSON: no Infinity
    assert json.loads(written[-1]).keys() == {"src", "tgt", "translation"}


def test_non_finite_number_is_refused(tmp_path: Path):
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"id": 1, "text": "one"}\n{"id": NaN, "text": "two"}\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    code, stderr = translate([inputs, "--format", "jsonl", "-o", output])
    assert code == 1
    assert f"m2m100: error: {inputs}:2: NaN is not a JSON value" in stderr
    assert not output.exists()


def pytest_fail(constant: str) -> None:
    raise AssertionError(f"{constant} in the output is not JSON")
