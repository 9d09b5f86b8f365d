"""Where ``translate --ray -o OUTPUT`` keeps its work until the output is whole.

The input lines are cut into shards of ``--shard-lines`` lines (shard k holds lines
k*N .. k*N+N-1), which are also the blocks Ray hands the actors. A shard whose translations have
all come back is written to ``OUTPUT.m2m100-ray/`` as one file (``00000042.out``: a temporary
file, fsynced, renamed), so a shard file is whole or absent. When every shard is there they are
joined, in order, into ``OUTPUT`` (again through a temporary file and a rename) and the folder is
removed: ``OUTPUT`` only ever exists complete.

``run.json`` in the folder records the run (the inputs' identity, the model, the settings that
change the output, the shard size, as :mod:`m2m100.cli.resume` does for the single-process
command), so that ``--resume`` translates only the shards that are missing, and refuses when
the inputs or settings changed.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from m2m100.cli.common import EXIT_USAGE, CLIError
from m2m100.cli.resume import check_same_run

SUFFIX = ".m2m100-ray"
MANIFEST = "run.json"
VERSION = 1


class ShardFolder:
    """The shard files of one ``-o OUTPUT`` and the record of the run that writes them."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = output.with_name(output.name + SUFFIX)
        self.record: dict[str, Any] | None = None  # of a new run, until its first shard is written

    def shard_path(self, shard: int) -> Path:
        return self.path / f"{shard:08d}.out"

    def create(self, settings: dict[str, Any], inputs: list[dict[str, Any]], shard_lines: int) -> None:
        """Start a new run: the folder and its record are made with the first shard written, so
        that a run that fails before it (no cluster at the address ...) leaves nothing behind."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.record = {
            "version": VERSION,
            "settings": settings,
            "inputs": inputs,
            "shard_lines": shard_lines,
        }

    def load(self, settings: dict[str, Any], inputs: list[dict[str, Any]]) -> int:
        """Check that the interrupted run had these inputs and settings; returns its shard size.

        Raises:
            CLIError: (usage) no record, an unreadable one, or a difference (named).
        """
        manifest = self.path / MANIFEST
        restart = f"pass --overwrite (instead of --resume) to translate again from the start into {self.output}"
        if not manifest.is_file():
            raise CLIError(
                f"--resume: {self.path} does not exist or holds no {MANIFEST}: there is no interrupted "
                f"--ray run of {self.output} to continue; {restart}",
                EXIT_USAGE,
            )
        try:
            record = json.loads(manifest.read_text(encoding="utf-8"))
            if record.get("version") != VERSION:
                raise ValueError(f"version {record.get('version')!r}, not {VERSION}")
            shard_lines = int(record["shard_lines"])
            dict(record["settings"]), list(record["inputs"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise CLIError(f"--resume cannot read {manifest} ({err}); {restart}", EXIT_USAGE) from err
        check_same_run(record, settings, inputs)
        return shard_lines

    def done(self, sizes: Callable[[int], int]) -> set[int]:
        """The shards already written whole; ``sizes(k)`` is shard k's line count (a file that
        holds another count is not from this run's input: it is removed and translated again)."""
        found = set()
        for path in self.path.glob("*.out"):
            shard = int(path.stem) if path.stem.isdigit() else -1
            if shard >= 0 and path.read_bytes().count(b"\n") == sizes(shard):
                found.add(shard)
            else:
                path.unlink()
        return found

    def write(self, shard: int, data: bytes) -> None:
        if self.record is not None:
            self.path.mkdir()
            _write_atomically(self.path / MANIFEST, json.dumps(self.record, indent=1).encode("utf-8"))
            self.record = None
        _write_atomically(self.shard_path(shard), data)

    def merge(self, shards: int) -> None:
        """Join shards 0 .. shards-1 into the output, then remove the folder."""
        if self.record is not None:  # an empty input: no shard, no folder
            self.record = None
            self.output.write_bytes(b"")
            return
        temporary = self.output.with_name(self.output.name + ".tmp")
        with open(temporary, "wb") as out:
            for shard in range(shards):
                with open(self.shard_path(shard), "rb") as part:
                    shutil.copyfileobj(part, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.output)
        shutil.rmtree(self.path)


class Shards:
    """Translated lines gathered by shard: each shard goes to ``sink`` once it is whole.

    Rows may come in any order and, when Ray runs a block again after a failure, more than once:
    a row is counted the first time only, so a shard is written once and holds every line once.
    """

    def __init__(self, total: int | None, shard_lines: int, sink: Callable[[int, bytes], None]) -> None:
        self.shard_lines, self.sink = shard_lines, sink
        self.total = 0
        if total is not None:
            self.set_total(total)
        self.written: set[int] = set()  # shards handed to the sink (or found whole by --resume)
        self.open: dict[int, dict[int, bytes]] = {}  # shard -> row -> its output line

    def set_total(self, total: int) -> None:
        """The input's line count (a stream's is known once it is read)."""
        self.total = total

    @property
    def count(self) -> int:
        """Shards of the input."""
        return (self.total + self.shard_lines - 1) // self.shard_lines

    def size(self, shard: int) -> int:
        return min(self.shard_lines, self.total - shard * self.shard_lines)

    def lines_done(self) -> int:
        return sum(self.size(shard) for shard in self.written)

    def add(self, row: int, line: bytes) -> bool:
        """Keep the output line of input line ``row``; returns whether it was new."""
        shard = row // self.shard_lines
        if shard in self.written or row in self.open.get(shard, {}):
            return False
        rows = self.open.setdefault(shard, {})
        rows[row] = line
        if len(rows) == self.size(shard):
            self.sink(shard, b"".join(rows[r] for r in sorted(rows)))
            self.written.add(shard)
            del self.open[shard]
        return True

    def check_complete(self) -> None:
        """Raises CLIError when a line is missing (Ray returned fewer rows than it was given)."""
        missing = self.total - self.lines_done()
        if missing:
            raise CLIError(f"the Ray run ended with {missing} of {self.total} lines untranslated; run it again")


class InOrder:
    """A sink that writes whole shards to a stream in shard order (stdout, which cannot seek)."""

    def __init__(self, stream: Any, first: int = 0) -> None:
        self.stream = stream
        self.next = first
        self.waiting: dict[int, bytes] = {}

    def __call__(self, shard: int, data: bytes) -> None:
        self.waiting[shard] = data
        while self.next in self.waiting:
            self.stream.write(self.waiting.pop(self.next))
            self.stream.flush()
            self.next += 1


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
