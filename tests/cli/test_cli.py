"""The ``m2m100`` command, run for real in subprocesses, against transformers 4.57 translating
each line alone (the ``reference`` fixture).

Starting Python and torch takes a few seconds, so each run is checked for several properties,
and the runs that are independent of one another start together.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from m2m100.languages import LANGUAGE_NAMES, language_codes
from m2m100.translator import Translator

MODULE = [sys.executable, "-m", "m2m100"]
SCRIPT = [str(Path(sys.executable).with_name("m2m100"))]  # the console script of the venv
SETTINGS = dict(beam_size=2, max_new_tokens=6)
# On the CPU like the reference (the default would pick a GPU where there is one).
OPTIONS = ["--beam-size", "2", "--max-new-tokens", "6", "--max-batch-tokens", "48", "--device", "cpu"]
INVALID_LINE = 5  # 1-based number of the line of bad UTF-8 in the input file


@dataclass
class Started:
    """A command started in the background, with the bytes it will read on stdin."""

    process: subprocess.Popen
    stdin: bytes

    def finish(self) -> tuple[int, bytes, str]:
        """Exit status, stdout and stderr, once the command has ended."""
        out, err = self.process.communicate(self.stdin, timeout=120)
        return self.process.returncode, out, err.decode("utf-8")


def start(
    args: list[object], stdin: bytes = b"", *, command: list[str] = MODULE, env: dict[str, str] | None = None
) -> Started:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}  # a tiny model gains nothing from threads
    process = subprocess.Popen(
        [*command, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=sigint_as_at_a_terminal,
    )
    return Started(process, stdin)


def sigint_as_at_a_terminal() -> None:
    """SIGINT's default action in the child, as a command typed at a terminal has: a suite started in
    the background by a non-interactive shell (`bash .ci/run &`) inherits SIGINT ignored, and the
    interrupted-run test's Ctrl-C would then never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run(args: list[object], stdin: bytes = b"", **options: Any) -> tuple[int, bytes, str]:
    return start(args, stdin, **options).finish()


@pytest.fixture(scope="module")
def lines(distinct_texts: list[str]) -> list[tuple[bytes, bytes]]:
    """The input file as (line, ending): empty and blank lines, duplicates, a line longer than the
    model's positions, U+2028 / form feed / NEL inside lines, "\\r\\n" endings, one line of bad
    UTF-8, and a last line without an ending; 200 lines, so that a run can be interrupted."""
    d = [t.encode("utf-8") for t in distinct_texts[:12]]
    long_line = b" ".join(t.strip(b" .!?") + b"." for t in d[:10])
    special = [
        (d[0], b"\n"),
        (b"", b"\n"),
        (long_line, b"\n"),
        (d[1], b"\r\n"),
        (d[2][:9] + b"\xff\xfe" + d[2][9:], b"\n"),  # INVALID_LINE
        (d[3] + "\u2028".encode() + d[4], b"\n"),
        (b"   ", b"\r\n"),
        (d[5] + b"\x0c" + d[6], b"\n"),
        (d[7] + "\x85".encode() + d[8], b"\n"),
        (d[0], b"\n"),
    ]
    assert special[INVALID_LINE - 1][0].count(b"\xff") == 1
    filler = [(d[i % len(d)], b"\r\n" if i % 7 == 0 else b"\n") for i in range(200 - len(special) - 1)]
    return [*special, *filler, (d[9], b"")]


@pytest.fixture(scope="module")
def input_file(tmp_path_factory: pytest.TempPathFactory, lines) -> Path:
    path = tmp_path_factory.mktemp("cli") / "input.txt"
    path.write_bytes(b"".join(line + ending for line, ending in lines))
    return path


@pytest.fixture(scope="module")
def expected(lines, reference, translation_folder) -> bytes:
    """What the command must write: each line translated alone by transformers (a line too long
    for the model: the Translator, whose sentence splitting test_translator checks)."""
    translator = Translator(translation_folder, device="cpu")
    out, long_lines = [], 0
    for raw, _ in lines:
        text = raw.decode("utf-8", errors="replace")
        if len(reference.tokenizer(text)["input_ids"]) > 64:
            long_lines += 1
            translation = translator.translate(text, src="en", tgt="fr", **SETTINGS)
        else:
            translation = reference(text, "en", "fr", **SETTINGS)
        assert "\n" not in translation and "\u2028" not in translation
        out.append(translation.encode("utf-8") + b"\n")
    assert long_lines == 1
    return b"".join(out)


def only_unknowns_summary(stderr: str) -> bool:
    """No progress bar (stderr is not a terminal): at most the count of the input characters that
    the tiny vocabulary lacks."""
    summary = r"\d+ input character\(s\) in \d+ line\(s\) are not in the model's vocabulary .*\n"
    return re.fullmatch(f"({summary})?", stderr) is not None


@pytest.fixture(scope="module")
def full_run(translation_folder, input_file, tmp_path_factory) -> tuple[int, bytes, str, Path]:
    output = tmp_path_factory.mktemp("full") / "out.txt"
    code, stdout, stderr = run(
        [
            "translate",
            input_file,
            "-m",
            translation_folder,
            "-s",
            "en",
            "-t",
            "fr",
            "-o",
            output,
            "--errors",
            "replace",
            *OPTIONS,
        ]
    )
    return code, stdout, stderr, output


def test_translate_file_equals_generate_line_by_line(full_run, expected, lines):
    code, stdout, stderr, output = full_run
    assert (code, stdout) == (0, b"")
    assert only_unknowns_summary(stderr)
    written = output.read_bytes()
    assert written.count(b"\n") == len(lines)
    assert written.split(b"\n") == expected.split(b"\n")
    assert len(set(written.splitlines())) >= 10  # rows are distinguishable


def test_bad_utf8_replaced_keeps_the_line(full_run, lines, reference):
    raw = lines[INVALID_LINE - 1][0]
    line = full_run[3].read_bytes().split(b"\n")[INVALID_LINE - 1].decode()
    assert line == reference(raw.decode("utf-8", errors="replace"), "en", "fr", **SETTINGS)
    assert line != reference(raw.decode("utf-8", errors="ignore"), "en", "fr", **SETTINGS)  # U+FFFD reached it


def test_interrupted_run_resumes_to_the_same_file(full_run, translation_folder, input_file, tmp_path):
    complete = full_run[3].read_bytes()
    output = tmp_path / "out.txt"
    args = [
        "translate",
        input_file,
        "-m",
        translation_folder,
        "-s",
        "en",
        "-t",
        "fr",
        "-o",
        output,
        "--errors",
        "replace",
        *OPTIONS,
    ]
    for _ in range(3):  # a loaded machine may let the run finish before the signal: try again
        output.unlink(missing_ok=True)
        started = start(args)
        while started.process.poll() is None and not (output.exists() and b"\n" in output.read_bytes()):
            time.sleep(0.005)
        started.process.send_signal(signal.SIGINT)
        code, _, stderr = started.finish()
        if code != 0:
            break
    assert code == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    partial = output.read_bytes()
    assert partial.endswith(b"\n") and complete.startswith(partial)
    assert 0 < partial.count(b"\n") < complete.count(b"\n")

    # Also cut a line in the middle, as a kill during a write would.
    following = complete[len(partial) :].split(b"\n")[0]
    output.write_bytes(partial + (following[: len(following) // 2] or b"half a line"))
    code, stdout, stderr = run([*args, "--resume"])
    assert (code, stdout) == (0, b"") and only_unknowns_summary(stderr)
    assert output.read_bytes() == complete


def test_console_script_jsonl_file_and_stdin_mixed_directions(translation_folder, distinct_texts, reference, tmp_path):
    d = distinct_texts
    records = [
        {"id": 1, "text": d[0], "src": "en", "tgt": "fr"},
        {"id": "b", "text": d[1], "src": "fr", "tgt": "de"},
        {"text": d[2]},  # the command's --src/--tgt
        {"id": 4, "text": "", "src": "de", "tgt": "en"},
        {"id": [5], "text": d[0], "src": "en", "tgt": "ru"},
        {"id": None, "text": d[3] + "\u2028" + d[4], "tgt": "zh"},
        {"id": 7, "text": d[0], "src": "en", "tgt": "fr"},
    ]
    encoded = [json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records]
    first = tmp_path / "first.jsonl"
    first.write_bytes(b"".join(encoded[:3]))
    # A file, then stdin ("-"), to stdout; the output is UTF-8 whatever the terminal's encoding
    # (here one without Cyrillic or CJK).
    code, stdout, stderr = run(
        [
            "translate",
            first,
            "-",
            "-m",
            translation_folder,
            "--format",
            "jsonl",
            "-s",
            "ja",
            "-t",
            "de",
            "--progress",
            *OPTIONS,
        ],
        b"".join(encoded[3:]),
        command=SCRIPT,
        env={"PYTHONIOENCODING": "latin-1"},
    )
    assert code == 0, stderr
    got = [json.loads(line) for line in stdout.decode().splitlines()]
    assert len(got) == len(records)
    for record, out in zip(records, got):
        src, tgt = record.get("src", "ja"), record.get("tgt", "de")
        wanted = {"src": src, "tgt": tgt, "translation": reference(record["text"], src, tgt, **SETTINGS)}
        if record.get("id") is not None:
            wanted = {"id": record["id"], **wanted}
        assert out == wanted
    assert got[0]["translation"] != got[4]["translation"]  # same text, other target
    # The progress bar: lines done and a tokens-per-second postfix.
    assert re.search(r"\b7line\b", stderr) and re.search(r"\d tok/s", stderr), stderr


def test_languages_and_info(translation_folder):
    from m2m100 import M2M100ForConditionalGeneration

    languages = start(["languages", "-m", translation_folder])
    script = start(["languages", "-m", translation_folder], command=SCRIPT)
    info, codes = start(["info", translation_folder]), start(["languages", "--codes", "wmt21"])
    code, stdout, stderr = languages.finish()
    assert code == 0, stderr
    # A checkpoint that declares no trained languages translates every code of its tokenizer.
    assert stdout.decode().splitlines() == [f"{c}\t{LANGUAGE_NAMES[c]}" for c in language_codes("m2m100")]
    assert "fr\tFrench" in stdout.decode().splitlines()
    assert script.finish() == (code, stdout, stderr)  # `python -m m2m100` is `m2m100`
    code, stdout, stderr = codes.finish()
    assert (code, stdout.decode().split()[::2]) == (0, list(language_codes("wmt21"))), stderr

    code, stdout, stderr = info.finish()
    assert code == 0, stderr
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in stdout.decode().splitlines())
    model = M2M100ForConditionalGeneration.from_pretrained(translation_folder)
    assert rows["parameters"].startswith(f"{sum(p.numel() for p in model.parameters()):,} ")
    assert rows["max positions"] == "64"
    assert "d_model 32" in rows["architecture"] and "2+2 layers" in rows["architecture"]
    number, unit = rows["size on disk"].split()
    scale = {"B": 1, "KB": 1024, "MB": 1024**2}[unit]
    assert abs(float(number) * scale - sum(f.stat().st_size for f in translation_folder.iterdir())) <= 0.05 * scale


def test_bad_input_messages_and_exit_status(translation_folder, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Hello world.\n", encoding="utf-8")
    incomplete = {}
    for name in ("model.safetensors", "sentencepiece.bpe.model"):
        incomplete[name] = shutil.copytree(translation_folder, tmp_path / f"without-{name}")
        (incomplete[name] / name).unlink()
    bad_utf8 = tmp_path / "bad-utf8.txt"
    bad_utf8.write_bytes(b"fine\nalso fine\nnot \xe9 fine\nfine\n")
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"text": "a", "src": "en", "tgt": "fr"}\n{"text": "b", "src": "en"\n', encoding="utf-8")
    bad_code = tmp_path / "code.jsonl"
    bad_code.write_text(
        '{"text": "a", "src": "en", "tgt": "fr"}\n{"text": "b", "src": "en", "tgt": "ch"}\n', encoding="utf-8"
    )
    existing = tmp_path / "existing.txt"
    existing.write_bytes(b"keep me\n")
    model = ["-m", translation_folder]
    cases = {  # name: (arguments, exit status, what stderr must hold)
        "language": (
            ["translate", good, *model, "-s", "zz", "-t", "fr"],
            2,
            ["-s/--src-lang: Unknown language code 'zz'. Did you mean ", "'zh'", "Valid codes: af, am, ar,"],
        ),
        "jsonl language": (
            ["translate", bad_code, *model, "--format", "jsonl", "-o", tmp_path / "code.out"],
            2,
            [f"{bad_code}:2: Unknown language code 'ch'. Did you mean ", "'zh'", "Valid codes:"],
        ),
        "no folder": (
            ["translate", good, "-m", tmp_path / "nowhere", "-s", "en", "-t", "fr"],
            1,
            [str(tmp_path / "nowhere"), "does not exist"],
        ),
        "no weights": (
            ["translate", good, "-m", incomplete["model.safetensors"], "-s", "en", "-t", "fr"],
            1,
            ["model.safetensors"],
        ),
        "no spm": (
            ["translate", good, "-m", incomplete["sentencepiece.bpe.model"], "-s", "en", "-t", "fr"],
            1,
            ["sentencepiece.bpe.model"],
        ),
        "utf-8": (
            ["translate", bad_utf8, *model, "-s", "en", "-t", "fr", "-o", tmp_path / "utf8.out"],
            1,
            [f"{bad_utf8}:3: not valid UTF-8", "--errors replace"],
        ),
        "exists": (
            ["translate", good, *model, "-s", "en", "-t", "fr", "-o", existing],
            2,
            [f"{existing} exists", "--overwrite", "--resume"],
        ),
        "same file": (
            ["translate", existing, *model, "-s", "en", "-t", "fr", "-o", existing, "--overwrite"],
            2,
            ["also an input file"],
        ),
        "jsonl": (["translate", bad_json, *model, "--format", "jsonl"], 1, [f"{bad_json}:2: not a JSON object"]),
    }
    processes = {name: start(args) for name, (args, _, _) in cases.items()}
    for name, (_, status, messages) in cases.items():
        code, stdout, stderr = processes[name].finish()
        assert (name, code, stdout) == (name, status, b""), stderr
        assert stderr.startswith("m2m100: error: ") and "Traceback" not in stderr, stderr
        for message in messages:
            assert message in stderr, (name, stderr)
    assert not (tmp_path / "utf8.out").exists() and not (tmp_path / "code.out").exists()
    assert existing.read_bytes() == b"keep me\n"
