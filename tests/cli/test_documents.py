"""``m2m100 translate`` on documents, run for real in subprocesses with the demo model: the format
from the extension or --format, the output written whole, and one-line errors (exit 1 for a bad
document, 2 for a usage error) that leave no output behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.documents.samples import document

MODULE = [sys.executable, "-m", "m2m100"]
NOTICE = "m2m100: no model given: using the bundled demo model"


def start(args: list[object], cwd: Path, stdin: bytes = b"", command: list[str] = MODULE) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [*command, *map(str, args)],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    return process


def finish(process: subprocess.Popen) -> tuple[int, bytes, str]:
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()
    process.wait(timeout=300)
    return process.returncode, out, err.decode()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("documents")
    for name, suffix in (("html", "html"), ("srt", "srt"), ("po", "po"), ("docx", "docx")):
        (path / f"sample.{suffix}").write_bytes(document(name))
    (path / "broken.docx").write_bytes(document("docx")[:1500])
    (path / "broken.srt").write_bytes(b"1\n00:00:05,000 --> 00:00:01,000\nmardi\n")
    (path / "kept.srt").write_bytes(b"an earlier translation")
    return path


def test_documents_from_the_command_line(folder: Path) -> None:
    runs = {
        "html": start(
            ["translate", "sample.html", "-s", "fr", "-t", "de", "-o", "sample.de.html", "--progress"], folder
        ),
        "stdin": start(["translate", "--format", "srt", "-s", "fr", "-t", "en"], folder, document("srt")),
        "po": start(["translate", "sample.po", "-s", "fr", "-t", "de", "--retranslate", "-o", "out.po"], folder),
        "docx": start(["translate", "sample.docx", "-s", "fr", "-t", "de", "-o", "sample.de.docx"], folder),
    }
    status, out, err = finish(runs["html"])
    assert status == 0 and out == b""
    assert err.startswith(NOTICE) and "segment" in err  # the progress bar counts segments
    html = (folder / "sample.de.html").read_text(encoding="utf-8")
    assert "<b>Dienstag</b>" in html and '<h1 class="top">Deutschland</h1>' in html and "<code>samedi</code>" in html

    status, out, err = finish(runs["stdin"])
    assert status == 0 and err.startswith(NOTICE)
    assert b"2\n00:00:03,000 --> 00:00:04,000 X1:10 X2:20\n<i>one hundred</i> two\n" in out

    status, out, err = finish(runs["po"])
    po = (folder / "out.po").read_text(encoding="utf-8")
    assert status == 0 and 'msgid "lundi"\nmsgstr "Montag"' in po  # translated again, as asked

    status, out, err = finish(runs["docx"])
    assert status == 0
    import docx

    assert docx.Document(str(folder / "sample.de.docx")).paragraphs[1].text == "Deutschland"
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]  # no temporary file left


def test_bad_documents_and_usage(folder: Path) -> None:
    blocked = "import sys; sys.modules['polib'] = None; from m2m100.cli import main; sys.exit(main())"
    runs = {
        "corrupt docx": start(["translate", "broken.docx", "-s", "fr", "-t", "de", "-o", "broken.de.docx"], folder),
        "broken timings": start(
            ["translate", "broken.srt", "-s", "fr", "-t", "de", "-o", "kept.srt", "--overwrite"], folder
        ),
        "two documents": start(["translate", "sample.html", "sample.srt", "-s", "fr", "-t", "de"], folder),
        "resume": start(["translate", "sample.srt", "-s", "fr", "-t", "de", "-o", "kept.srt", "--resume"], folder),
        "no polib": start(
            ["translate", "sample.po", "-s", "fr", "-t", "de"], folder, command=[sys.executable, "-c", blocked]
        ),
        "language": start(["translate", "sample.srt", "-s", "fr", "-t", "zh"], folder),
    }
    expected = {
        "corrupt docx": (1, "m2m100: error: broken.docx: not a readable DOCX file: "),
        "broken timings": (
            1,
            "m2m100: error: broken.srt: line 2: the cue ends (00:00:01,000) before it starts (00:00:05,000)",
        ),
        "two documents": (2, "m2m100: error: translate one document at a time: give one FILE (got 2)"),
        "resume": (2, "m2m100: error: --resume continues line formats (text, jsonl); a document is written whole"),
        "no polib": (
            1,
            "m2m100: error: m2m100 translate: the po format needs polib, which is not installed: pip install 'm2m100[documents]'",
        ),
        "language": (2, "m2m100: error: -t/--tgt-lang: Unknown language code 'zh'."),
    }
    for name, process in runs.items():
        status, out, err = finish(process)
        lines = [line for line in err.splitlines() if not line.startswith(NOTICE)]
        assert (status, len(lines)) == (expected[name][0], 1), (name, err)
        assert lines[0].startswith(expected[name][1]), (name, err)
        assert out == b""
    assert not (folder / "broken.de.docx").exists()
    assert (folder / "kept.srt").read_bytes() == b"an earlier translation"
