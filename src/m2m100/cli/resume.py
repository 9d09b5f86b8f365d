"""What ``translate --resume`` knows about the run it continues: a small record beside the output
(``OUTPUT.m2m100-resume.json``) with the inputs' identity, the model and the settings that change
the output, and a hash of the input lines whose translations the output already holds.

The record is written atomically (a temporary file, fsynced, renamed over it) at the start of a
run, about once a second while it writes, and when it is interrupted; it is removed when the run
completes. It never counts a line the output does not hold: the output is fsynced before each
write of the record. ``--resume`` refuses, naming what differs, when the inputs or settings are
not those of the interrupted run.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from m2m100.cli.common import EXIT_USAGE, CLIError

SUFFIX = ".m2m100-resume.json"
VERSION = 1
SAVE_EVERY_S = 1.0

# The settings that change what the output holds, with the option that sets each.
OPTIONS = {
    "model": "-m/--model",
    "src": "-s/--src-lang",
    "tgt": "-t/--tgt-lang",
    "format": "--format",
    "errors": "--errors",
    "beam_size": "--beam-size",
    "glossary": "--glossary",
    "do_not_translate": "--do-not-translate",
    "keep_placeholders": "--keep-placeholders",
    "max_new_tokens": "--max-new-tokens",
    "dtype": "--dtype",
    "quantize": "--quantize",
    "min_confidence": "--min-confidence",
    "fallback_src": "--fallback-src",
    "translate_same_language": "--translate-same-language",
    "prefix": "--prefix",
    "alternatives": "--alternatives",
    "scores": "--scores",
    "replace_unknowns": "--replace-unknowns",
}


def record_path(output: Path) -> Path:
    return output.with_name(output.name + SUFFIX)


def input_identity(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Path, size, modification time and content hash of each input; a stream (stdin, a pipe)
    has only its name, and is checked by the hash of its lines alone."""
    identity: list[dict[str, Any]] = []
    for path in paths or ["-"]:
        if path == "-" or not Path(path).is_file():
            identity.append({"path": "<stdin>" if path == "-" else path, "stream": True})
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
            size = handle.tell()
        identity.append(
            {
                "path": str(Path(path).resolve()),
                "size": size,
                "mtime_ns": os.stat(path).st_mtime_ns,
                "sha256": digest.hexdigest(),
            }
        )
    return identity


class Progress:
    """The record of a run in progress: the input lines done and their running hash."""

    def __init__(self, output: Path, settings: dict[str, Any], inputs: list[dict[str, Any]]) -> None:
        self.path = record_path(output)
        self.settings = settings
        self.inputs = inputs
        self.lines = 0
        self.hash = hashlib.sha256()
        self.saved_at = 0.0

    def add(self, key: str) -> None:
        """Count one input line (``key``: its text and fields, ASCII JSON) as done."""
        self.hash.update(key.encode("ascii") + b"\n")
        self.lines += 1

    def save(self, out: IO[bytes] | None = None) -> None:
        """Write the record atomically; ``out`` (the output) is made durable first, so that the
        record never counts a line the output could lose."""
        if out is not None:
            out.flush()
            os.fsync(out.fileno())
        data = {
            "version": VERSION,
            "settings": self.settings,
            "inputs": self.inputs,
            "lines": self.lines,
            "lines_sha256": self.hash.hexdigest(),
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        self.saved_at = time.monotonic()

    def save_now_and_then(self, out: IO[bytes]) -> None:
        if time.monotonic() - self.saved_at >= SAVE_EVERY_S:
            self.save(out)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def load_record(output: Path) -> dict[str, Any] | None:
    """The record of the run that wrote ``output``; None when the output is empty and there is
    none (nothing to verify: the run starts from the beginning).

    Raises:
        CLIError: the record is missing or unreadable while the output holds lines.
    """
    path = record_path(output)
    restart = f"pass --overwrite (instead of --resume) to translate again from the start into {output}"
    if not path.exists():
        if output.stat().st_size == 0:
            return None
        raise CLIError(
            f"--resume cannot verify that {output} was written from these inputs and settings: "
            f"{path.name} is missing (the run completed, or an older m2m100 wrote it); {restart}",
            EXIT_USAGE,
        )
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("version") != VERSION:
            raise ValueError(f"version {record.get('version')!r}, not {VERSION}")
        int(record["lines"]), str(record["lines_sha256"]), dict(record["settings"]), list(record["inputs"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise CLIError(f"--resume cannot read {path} ({err}); {restart}", EXIT_USAGE) from err
    return dict(record)


def check_same_run(record: dict[str, Any], settings: dict[str, Any], inputs: list[dict[str, Any]]) -> None:
    """Refuse, naming the first difference, a run whose settings or inputs are not the recorded ones.

    Raises:
        CLIError: (usage) what differs, and how to start again.
    """
    restart = "use the same ones, or --overwrite to start again"
    for name, option in OPTIONS.items():
        then, now = record["settings"].get(name), settings.get(name)
        if then != now:
            raise CLIError(
                f"--resume: {option} was {then!r} in the interrupted run, now {now!r}; {restart}", EXIT_USAGE
            )
    before = [i["path"] for i in record["inputs"]]
    if before != [i["path"] for i in inputs]:
        raise CLIError(
            f"--resume: the inputs were {', '.join(before)} in the interrupted run, now "
            f"{', '.join(i['path'] for i in inputs)}; {restart}",
            EXIT_USAGE,
        )
    for then, now in zip(record["inputs"], inputs):
        if now.get("stream") or then.get("stream"):
            continue  # checked by the hash of its lines
        if then.get("size") != now["size"]:
            change = f"{then.get('size')} bytes then, {now['size']} now"
        elif then.get("sha256") != now["sha256"]:
            change = "same size, other content"
        else:
            continue
        raise CLIError(
            f"--resume: {now['path']} changed since the interrupted run ({change}); its translations "
            "would not match the lines already written: pass --overwrite to start again",
            EXIT_USAGE,
        )


def truncate_lines(path: Path, lines: int) -> None:
    """Keep the first ``lines`` lines of ``path``."""
    with open(path, "rb+") as handle:
        kept = 0
        for _ in range(lines):
            if not handle.readline():
                break
            kept += 1
        assert kept == lines  # the caller counted them
        handle.truncate(handle.tell())
