"""``translate --ray`` refusing what cannot run, with one ``m2m100: error:`` line, before any
cluster starts (none of these runs reaches Ray's workers), and ``m2m100.ray`` without Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

# Ray's absence, in a real process: an import of ray fails as it does where it is not installed.
WITHOUT_RAY = "import sys; sys.modules['ray'] = None; from m2m100.cli import main; sys.exit(main(sys.argv[1:]))"


def run(args: list[object], *, code: str | None = None) -> tuple[int, str]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "m2m100"]
    done = subprocess.run(
        [*command, "translate", *map(str, args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1", "RAY_ADDRESS": ""},
    )
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("m2m100: error:")]
    assert len(errors) == 1, done.stderr
    return done.returncode, errors[0]


@pytest.fixture
def lines(tmp_path: Path) -> Path:
    path = tmp_path / "in.txt"
    path.write_text("un\ndeux\n", encoding="utf-8")
    return path


def test_ray_options_need_ray(lines: Path) -> None:
    assert run([lines, "-s", "fr", "-t", "de", "--workers", "2"]) == (
        2,
        "m2m100: error: --workers needs --ray ADDRESS (local, auto, HOST:PORT or ray://HOST:PORT)",
    )


def test_addresses(lines: Path, tmp_path: Path) -> None:
    assert run([lines, "-s", "fr", "-t", "de", "--ray", "nowhere"]) == (
        2,
        "m2m100: error: --ray: 'nowhere' is not local, auto, HOST:PORT or ray://HOST:PORT",
    )
    code, error = run([lines, "-s", "fr", "-t", "de", "--ray", "127.0.0.1:9", "-o", tmp_path / "out.txt"])
    assert code == 1 and error.startswith("m2m100: error: --ray 127.0.0.1:9: no Ray cluster answers at 127.0.0.1:9")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]  # nothing written


def test_resume_needs_an_interrupted_run(lines: Path, tmp_path: Path) -> None:
    code, error = run([lines, "-s", "fr", "-t", "de", "--ray", "local", "--resume", "-o", tmp_path / "out.txt"])
    assert code == 2 and "there is no interrupted --ray run of" in error
    code, error = run([lines, "-s", "fr", "-t", "de", "--ray", "local", "--resume"])
    assert (code, error) == (
        2,
        "m2m100: error: --resume needs -o/--output pointing at the output of the interrupted run",
    )


def test_bad_inputs_stop_before_the_cluster(tmp_path: Path) -> None:
    pq.write_table(pa.table({"line": ["un"]}), tmp_path / "a.parquet")
    code, error = run([tmp_path / "a.parquet", "--format", "jsonl", "--ray", "local"])
    assert (code, error) == (
        1,
        f'm2m100: error: {tmp_path / "a.parquet"}: no "text" column (its columns: line); Parquet input needs one',
    )
    pq.write_table(pa.table({"text": ["un", "deux"], "src": ["fr", "xx"], "tgt": ["de", "de"]}), tmp_path / "b.parquet")
    code, error = run([tmp_path / "b.parquet", "--format", "jsonl", "--ray", "local"])
    assert code == 2 and error.startswith(f"m2m100: error: {tmp_path / 'b.parquet'}:2: Unknown language code 'xx'")
    (tmp_path / "empty").mkdir()
    assert run([tmp_path / "empty", "-s", "fr", "-t", "de", "--ray", "local"]) == (
        2,
        f"m2m100: error: input folder {tmp_path / 'empty'} holds no file",
    )


def test_without_ray_the_command_names_the_extra(lines: Path) -> None:
    assert run([lines, "-s", "fr", "-t", "de", "--ray", "local"], code=WITHOUT_RAY) == (
        1,
        "m2m100: error: m2m100 translate --ray needs the [ray] extra (ray is not installed): pip install 'm2m100[ray]'",
    )


def test_without_ray_the_library_names_the_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['ray'] = None; import m2m100.ray"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "ImportError: m2m100.ray needs Ray Data (ray is not installed): pip install 'm2m100[ray]'"
    )
