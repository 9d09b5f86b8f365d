"""``m2m100 translate -m BADFOLDER``, run for real, for each malformed file of tests/bad_models.py
and each model path that is no folder: exit 1 and one line ``m2m100: error: ...`` naming the file
(or path) and the problem, no traceback, and nothing written to stdout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bad_models import BAD_FILES, bad_folder

COMMAND = [sys.executable, "-m", "m2m100", "translate", "-s", "en", "-t", "fr", "--device", "cpu"]


def _start(model: str | Path, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [*COMMAND, "-m", str(model)],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(b"Hello.\n", timeout=180)
    return process.returncode, out.decode(), err.decode()


def _check(result: tuple[int, str, str], *words: str) -> None:
    status, out, err = result
    lines = err.splitlines()
    assert status == 1, err
    assert out == "" and len(lines) == 1 and lines[0].startswith("m2m100: error: "), err
    missing = [word for word in words if word not in lines[0]]
    assert not missing, f"{missing} not in {lines[0]}"


def test_each_malformed_file_is_one_line_naming_it(tmp_path: Path) -> None:
    cases = list(BAD_FILES)
    results = {}
    for batch in range(0, len(cases), 6):  # a few at a time: each starts Python and torch
        started = {case: _start(bad_folder(tmp_path, case), tmp_path) for case in cases[batch : batch + 6]}
        results.update({case: _finish(process) for case, process in started.items()})
    for case, (name, _, words) in BAD_FILES.items():
        _check(results[case], str(tmp_path / case / name), *words)


@pytest.mark.parametrize("setup", ["runs_parent", "symlink_loop", "dangling_symlink", "a_file"])
def test_a_model_path_that_is_no_folder_is_reported_not_fetched(tmp_path: Path, setup: str) -> None:
    if setup == "runs_parent":
        (tmp_path / "runs").mkdir()  # README's runs/en-fr before finetune wrote it
        model, words = "runs/en-fr", ["'runs/en-fr'", "does not exist"]
    elif setup == "symlink_loop":
        (tmp_path / "loop").symlink_to(tmp_path / "loop")
        model, words = "loop", ["'loop'", "symbolic link that loops or points nowhere"]
    elif setup == "dangling_symlink":
        (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
        model, words = "gone", ["'gone'", "symbolic link"]
    else:
        (tmp_path / "model.txt").write_text("not a folder")
        model, words = "model.txt", ["'model.txt'", "not a folder"]
    result = _finish(_start(model, tmp_path))
    _check(result, *words)
    assert "Hugging Face Hub" not in result[2]
