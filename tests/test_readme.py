"""README.md as executable documentation: every ``console`` block is run command by command and
must print what README shows, and every ``pycon`` block runs as a doctest.

``console`` blocks: a line ``$ command`` is run by bash (stdout and stderr together, as a
terminal shows them) in a fresh folder, with this venv's ``m2m100`` first on PATH; the lines up to
the next ``$`` are its output. ``pip install`` lines are what .ci/run does in a venv of its own
before the suite, so they are not run again here. Examples that need a real checkpoint or a
network sit in ``bash``/``python`` blocks, which are not run.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```(console|pycon)\n(.*?)^```$", re.S | re.M)


@dataclass
class Example:
    command: str
    output: str
    line: int  # where the command is in README.md


def blocks(kind: str) -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 2, m.group(2)) for m in BLOCK.finditer(text) if m.group(1) == kind]


def console_examples() -> list[list[Example]]:
    """The examples of each console block, in order (a block's commands share one folder)."""
    found = []
    for start, body in blocks("console"):
        examples: list[Example] = []
        for offset, line in enumerate(body.splitlines()):
            if line.startswith("$ "):
                examples.append(Example(line[2:], "", start + offset))
            else:
                assert examples, f"README.md:{start + offset}: output before any command"
                examples[-1].output += line + "\n"
        found.append(examples)
    return found


def test_readme_has_examples() -> None:
    assert len(console_examples()) >= 4 and len(blocks("pycon")) >= 2


@pytest.mark.parametrize("examples", console_examples(), ids=lambda e: f"README.md:{e[0].line}")
def test_console_block(examples: list[Example], tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "COLUMNS": "100",
        "OMP_NUM_THREADS": "2",
    }
    for example in examples:
        if re.match(r"pip3? install ", example.command):
            continue
        run = subprocess.run(
            ["bash", "-o", "pipefail", "-c", example.command],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
        )
        assert run.stdout == example.output, f"README.md:{example.line}: $ {example.command}"


@pytest.mark.parametrize("start, body", blocks("pycon"), ids=[f"README.md:{start}" for start, _ in blocks("pycon")])
def test_python_block(start: int, body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(body, {}, f"README.md:{start}", str(README), start)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda text: print(text, end=""))
    assert runner.failures == 0, f"README.md:{start}: {runner.failures} example(s) printed something else"
