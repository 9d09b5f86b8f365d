"""Attacks on ``translate --resume``: a run killed with SIGKILL, then resumed with an input that
changed, other settings, or no record; the real command in subprocesses, on the bundled demo model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Small batches (and so small windows), so that a run writes its output over several seconds.
OPTIONS = ["-s", "en", "-t", "fr", "--device", "cpu", "--max-batch-tokens", "48", "--beam-size", "1"]
LINES = 1500


def command(args: list[object], stdin: bytes | None = None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "m2m100", "translate", *map(str, args)],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def finish(process: subprocess.Popen, stdin: bytes | None = None) -> tuple[int, str]:
    _, err = process.communicate(stdin, timeout=300)
    return process.returncode, err.decode()


def error_line(stderr: str) -> str:
    """The one ``m2m100: error:`` line (the demo model's notice aside); no traceback."""
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("m2m100: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def killed_run(args: list[object], output: Path, stdin: bytes | None = None) -> bytes:
    """Start a run and SIGKILL it once its record counts some lines; returns the output it left."""
    record = output.with_name(output.name + ".m2m100-resume.json")
    process = command([*args, "-o", output], stdin)
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if record.exists() and json.loads(record.read_text() or "{}").get("lines", 0) > 0:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    written = output.read_bytes()
    assert 0 < written.count(b"\n") < LINES
    return written


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("resume") / "input.txt"
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    path.write_text("".join(f"{words[i % 10]} {words[i // 10 % 10]} {i}\n" for i in range(LINES)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def complete(source: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The output of an uninterrupted run, which leaves no record behind."""
    output = tmp_path_factory.mktemp("complete") / "out.txt"
    code, stderr = finish(command([source, *OPTIONS, "-o", output]))
    assert code == 0, stderr
    assert not output.with_name("out.txt.m2m100-resume.json").exists()
    data = output.read_bytes()
    assert data.count(b"\n") == LINES
    return data


def test_killed_run_refuses_a_changed_input_and_resumes_the_same(source, complete, tmp_path):
    inputs = tmp_path / "input.txt"
    inputs.write_bytes(source.read_bytes())
    output = tmp_path / "out.txt"
    partial = killed_run([inputs, *OPTIONS], output)
    assert complete.startswith(partial)
    record = output.with_name("out.txt.m2m100-resume.json")

    saved = record.read_bytes()

    # Each attack in turn on the same paths (the record names the input's path).
    attacks: dict[str, tuple[list[object], bytes]] = {
        "line added at the top": ([], b"an extra line\n" + source.read_bytes()),
        "input cut short": ([], b"".join(source.read_bytes().splitlines(keepends=True)[:3])),
        "other beam size": (["--beam-size", "2"], source.read_bytes()),
        "other target": (["-t", "de"], source.read_bytes()),
        "no record": ([], source.read_bytes()),
    }
    messages = {}
    for name, (extra, data) in attacks.items():
        inputs.write_bytes(data)
        if name == "no record":
            record.unlink()
        code, stderr = finish(command([inputs, *OPTIONS, *extra, "-o", output, "--resume"]))
        assert code == 2, (name, stderr)
        messages[name] = error_line(stderr)
        assert output.read_bytes() == partial, name  # nothing lost, nothing added
    record.write_bytes(saved)
    inputs.write_bytes(source.read_bytes())
    assert "input.txt changed since the interrupted run" in messages["line added at the top"]
    assert "bytes then" in messages["input cut short"]
    assert "--beam-size was 1 in the interrupted run, now 2" in messages["other beam size"]
    assert "-t/--tgt-lang was 'fr' in the interrupted run, now 'de'" in messages["other target"]
    assert "cannot verify" in messages["no record"] and "--overwrite" in messages["no record"]

    # The same input and settings continue it to the output of an uninterrupted run.
    code, stderr = finish(command([inputs, *OPTIONS, "-o", output, "--resume"]))
    assert code == 0, stderr
    assert output.read_bytes() == complete
    assert not record.exists()


def test_killed_stdin_run_checks_the_lines_it_had_done(source, complete, tmp_path):
    data = source.read_bytes()
    output = tmp_path / "out.txt"
    partial = killed_run(["-", *OPTIONS], output, stdin=data)
    shifted = command(["-", *OPTIONS, "-o", output, "--resume"], stdin=b"")
    code, stderr = finish(shifted, b"an extra line\n" + data)
    assert code == 2, stderr
    assert "input lines are not those the interrupted run translated" in error_line(stderr)
    assert output.read_bytes() == partial
    code, stderr = finish(command(["-", *OPTIONS, "-o", output, "--resume"], stdin=b""), data)
    assert code == 0, stderr
    assert output.read_bytes() == complete
