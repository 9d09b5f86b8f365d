"""``m2m100 translate --ray ADDRESS``: the same command on a Ray cluster's actor pool.

The driver (this process) reads and checks every input as the single-process command does, with
its parser, and puts the lines into Ray's object store in blocks of ``--shard-lines``; a pool of
``--workers`` actors, each with one loaded model, translates the blocks (:mod:`m2m100.ray`); the
driver formats each line as the single-process command would, and writes the lines in input
order: to stdout as the shards complete, or to ``-o OUTPUT`` through the shard files of
:mod:`m2m100.cli.ray_shards`, which ``--resume`` continues. Inputs may also be folders (their
files, sorted by path) and Parquet files (a ``text`` column, optional ``src``/``tgt``/``id``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from m2m100.checkpoint import weight_files
from m2m100.cli import translate
from m2m100.cli.common import (
    EXIT_USAGE,
    CLIError,
    check_inputs,
    check_languages,
    check_output,
    check_placement_options,
    model_languages,
    non_negative_float,
    positive_int,
    progress_bar,
    require_extra,
    resolve_model,
)
from m2m100.cli.ray_shards import InOrder, ShardFolder, Shards
from m2m100.cli.resume import input_identity
from m2m100.config import M2M100Config
from m2m100.languages.detection import AUTO
from m2m100.tokenizer import M2M100Tokenizer
from m2m100.translator import Translation, text_problem

DEFAULT_SHARD_LINES = 1000
# The columns of the blocks the driver puts into the object store.
COLUMNS = ("row", "text", "src", "tgt", "id")
# The options that only mean something with --ray, as argparse names them.
RAY_ONLY = {
    "workers": "--workers",
    "cpus_per_worker": "--cpus-per-worker",
    "gpus_per_worker": "--gpus-per-worker",
    "shard_lines": "--shard-lines",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``--ray`` options to the ``translate`` parser, and route a run with ``--ray`` here."""
    group = p.add_argument_group("on a Ray cluster (pip install 'm2m100[ray]')")
    group.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="translate on a Ray actor pool: local (start a cluster here), auto, HOST:PORT or ray://HOST:PORT "
        "(join one); inputs may then be folders and .parquet files",
    )
    group.add_argument("--workers", type=positive_int, help="actors, each with one loaded model (default: 1)")
    group.add_argument(
        "--cpus-per-worker", type=positive_int, help="CPUs of each actor, and its torch threads (default: 1)"
    )
    group.add_argument(
        "--gpus-per-worker", type=non_negative_float, help="GPUs of each actor, e.g. 1 or 0.5 (default: 0)"
    )
    group.add_argument(
        "--shard-lines",
        type=positive_int,
        help=f"lines of a shard: a Ray block, and what --resume keeps (default: {DEFAULT_SHARD_LINES})",
    )
    p.set_defaults(func=cmd_translate)


def cmd_translate(args: argparse.Namespace) -> int:
    """``translate``: on Ray with ``--ray``, else the single-process command."""
    if args.ray is None:
        for name, option in RAY_ONLY.items():
            if getattr(args, name) is not None:
                raise CLIError(f"{option} needs --ray ADDRESS (local, auto, HOST:PORT or ray://HOST:PORT)", EXIT_USAGE)
        return translate.cmd_translate(args)
    return cmd_translate_ray(args)


def cmd_translate_ray(args: argparse.Namespace) -> int:
    require_extra("translate --ray", "ray", ["ray", "ray.data", "pyarrow"])
    from m2m100.ray import cluster

    if not cluster.is_address(args.ray):
        raise CLIError(f"--ray: {args.ray!r} is not local, auto, HOST:PORT or ray://HOST:PORT", EXIT_USAGE)
    args.format = args.format or "text"  # documents (--format html, ...) are translated by one process
    if args.format not in ("text", "jsonl"):
        raise CLIError(f"--ray translates lines: --format text or jsonl, not {args.format}", EXIT_USAGE)
    if args.src == AUTO:
        raise CLIError("-s auto is not available with --ray: translate without --ray, or give the source", EXIT_USAGE)
    if args.prefix is not None or args.alternatives or args.scores or args.replace_unknowns:
        raise CLIError(
            "--prefix, --alternatives, --scores and --replace-unknowns are not supported with --ray; "
            "translate without --ray to use them",
            EXIT_USAGE,
        )
    check_placement_options(args)
    model = resolve_model(args)
    known = model_languages(model)
    options = {
        code: opt for code, opt in ((args.src, "-s/--src-lang"), (args.tgt, "-t/--tgt-lang")) if code is not None
    }
    check_languages(options, known)
    if args.format == "text" and (args.src is None or args.tgt is None):
        raise CLIError(
            '-s/--src-lang and -t/--tgt-lang are required (jsonl lines may carry their own "src"/"tgt")', EXIT_USAGE
        )
    check_model_folder(model)
    files = expand_inputs(args.files)
    check_inputs(files)
    if args.resume and not all(translate.is_regular(p) for p in files or ["-"]):
        raise CLIError("--resume with --ray needs input files: stdin or a pipe cannot be read again", EXIT_USAGE)
    output = check_ray_output(args, files)

    codes, total = validate(files, args)  # every line of the files read once before any work
    check_languages({**codes, **options}, known)
    folder = ShardFolder(output) if output is not None else None
    shard_lines = args.shard_lines or DEFAULT_SHARD_LINES
    if folder is not None and args.resume:
        recorded = folder.load(translate.run_settings(args), input_identity(files))
        if args.shard_lines not in (None, recorded):
            raise CLIError(
                f"--resume: --shard-lines was {recorded} in the interrupted run, now {args.shard_lines}; "
                "leave it out, or use --overwrite to start again",
                EXIT_USAGE,
            )
        shard_lines = recorded
    elif folder is not None:
        folder.create(translate.run_settings(args), input_identity(files), shard_lines)
    shards = Shards(total, shard_lines, sink=folder.write if folder is not None else InOrder(sys.stdout.buffer))
    if folder is not None and total is not None:
        shards.written |= folder.done(shards.size)
    if total is None or shards.lines_done() < total:
        translate_shards(args, files, shards, known)
    shards.check_complete()
    if folder is not None:
        folder.merge(shards.count)
    return 0


def translate_shards(args: argparse.Namespace, files: list[str], shards: Shards, known: list[str]) -> None:
    """Translate the lines of the shards not yet written, on the cluster at ``args.ray``; sets
    ``shards.total`` when the input is a stream (read here, once)."""
    import ray.exceptions

    from m2m100.ray import cluster, dataset_from_blocks, translate_dataset

    workers, cpus, gpus = args.workers or 1, args.cpus_per_worker or 1, args.gpus_per_worker or 0
    bar = None
    try:
        with cluster.connect(args.ray, num_cpus=max(os.cpu_count() or 1, workers * cpus)):
            check_resources(workers, cpus, gpus)
            reader = RowBlocks(read(files, args), shards.shard_lines, shards.written, args, known)
            blocks = dataset_from_blocks(reader) if reader.peek() else None
            shards.set_total(reader.rows)
            if blocks is None:
                return
            dataset = translate_dataset(
                blocks,
                workers=workers,
                cpus_per_worker=cpus,
                gpus_per_worker=gpus,
                batch_size=shards.shard_lines,
                model=model_path(args.model),
                device=args.device,
                dtype=args.dtype,
                quantize=args.quantize,
                max_batch_tokens=args.max_batch_tokens,
                beam_size=args.beam_size,
                max_new_tokens=args.max_new_tokens,
            )
            bar = progress_bar(args, total=shards.total, initial=shards.lines_done())
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                new = 0
                for row, text, id_, src, tgt, translation in zip(
                    batch["row"], batch["text"], batch["id"], batch["src"], batch["tgt"], batch["translation"]
                ):
                    line = translate.InputLine(text, "", 0, id_)
                    data = translate.format_output(line, Translation(translation, src, tgt), args.format).encode(
                        "utf-8"
                    )
                    new += shards.add(int(row), data)
                if bar is not None:
                    bar.update(new)
    except ConnectionError as err:
        raise CLIError(f"--ray {args.ray}: {err}") from err
    except ray.exceptions.RayError as err:
        raise CLIError(f"the Ray run failed: {last_line(err)}") from err
    finally:
        if bar is not None:
            bar.close()


# ------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------
def expand_inputs(paths: Sequence[str]) -> list[str]:
    """The input files: a folder stands for the files under it (sorted by path, hidden ones aside).

    Raises:
        CLIError: (usage) a folder that holds no file.
    """
    files: list[str] = []
    for path in paths:
        folder = Path(path)
        if path == "-" or not folder.is_dir():
            files.append(path)
            continue
        found = sorted(
            str(p)
            for p in folder.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )
        if not found:
            raise CLIError(f"input folder {path} holds no file", EXIT_USAGE)
        files += found
    return files


def is_parquet(path: str) -> bool:
    return path.lower().endswith(".parquet")


def read(files: Sequence[str], args: argparse.Namespace) -> Iterator[translate.InputLine]:
    """The input lines of every file in order: Parquet rows, else the single-process parser's lines."""
    for path in files or ["-"]:
        if is_parquet(path):
            yield from parquet_lines(path)
        else:
            yield from translate.parse_inputs([path], fmt=args.format, errors=args.errors)


def parquet_lines(path: str) -> Iterator[translate.InputLine]:
    """The rows of a Parquet file as input lines: a ``text`` string column, and optional ``src``,
    ``tgt`` (strings or nulls) and ``id`` (any value, written as JSON) columns.

    Raises:
        CLIError: the file is not Parquet, has no text column, or a row's value is not usable.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as err:
        raise CLIError(f"cannot read {path} as Parquet: {err}") from err
    names = table.schema_arrow.names
    if "text" not in names:
        raise CLIError(f'{path}: no "text" column (its columns: {", ".join(names)}); Parquet input needs one')
    columns = [c for c in ("text", "src", "tgt", "id") if c in names]
    number = 0
    for batch in table.iter_batches(columns=columns):
        for row in batch.to_pylist():
            number += 1
            where = f"{path}:{number}"  # as a line of a text file: the 1-based row
            text = row["text"]
            if not isinstance(text, str):
                raise CLIError(f'{where}: "text" must be a string, got {text!r}')
            for key in ("src", "tgt"):
                if row.get(key) is not None and not isinstance(row[key], str):
                    raise CLIError(f'{where}: "{key}" must be a language code string, got {row[key]!r}')
            problem = text_problem(text)
            if problem is not None:
                raise CLIError(f"{where}: {problem}")
            ident = None if row.get("id") is None else json.dumps(row["id"], ensure_ascii=False, default=str)
            yield translate.InputLine(text, path, number, ident, row.get("src"), row.get("tgt"))


def validate(files: Sequence[str], args: argparse.Namespace) -> tuple[dict[str, str], int | None]:
    """Read every input file once before any work (stdin is checked as it is read).

    Returns:
        Each language code with where it was first used, and the number of input lines (None
        when an input is a stream, which is read once, later).
    """
    codes: dict[str, str] = {}
    regular = [p for p in files if translate.is_regular(p)]
    lines = 0
    for line in read(regular, args) if regular else ():
        lines += 1
        for code in translate.line_direction(line, args.src, args.tgt):
            codes.setdefault(code, f"{line.source}:{line.number}")
    return codes, lines if len(regular) == len(files) and files else None


class RowBlocks:
    """The input lines as Arrow tables of one shard each (row number, text, src, tgt, the id's
    JSON text), leaving out the shards in ``skip``; each row has its direction resolved and
    checked (a stdin line is checked only here). ``rows`` counts the lines read so far."""

    def __init__(
        self,
        lines: Iterator[translate.InputLine],
        shard_lines: int,
        skip: set[int],
        args: argparse.Namespace,
        known: list[str],
    ) -> None:
        import pyarrow as pa

        self.schema = pa.schema([(name, pa.int64() if name == "row" else pa.string()) for name in COLUMNS])
        self.blocks = self._blocks(lines, shard_lines, skip, args, known)
        self.first: Any = None
        self.rows = 0

    def peek(self) -> bool:
        """Whether there is a block to translate (reads up to the first one)."""
        if self.first is None:
            self.first = next(self.blocks, None)
        return self.first is not None

    def __iter__(self) -> Iterator[Any]:
        if self.peek():
            yield self.first
        yield from self.blocks

    def _blocks(
        self,
        lines: Iterator[translate.InputLine],
        shard_lines: int,
        skip: set[int],
        args: argparse.Namespace,
        known: list[str],
    ) -> Iterator[Any]:
        import pyarrow as pa

        columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        for row, line in enumerate(lines):
            self.rows = row + 1
            src, tgt = translate.line_direction(line, args.src, args.tgt)
            check_languages({src: f"{line.source}:{line.number}", tgt: f"{line.source}:{line.number}"}, known)
            if row // shard_lines in skip:
                continue
            for name, value in zip(COLUMNS, (row, line.text, src, tgt, line.id)):
                columns[name].append(value)
            if (row + 1) % shard_lines == 0:  # a block is one shard, so that a shard is one Ray task
                yield pa.table(columns, schema=self.schema)
                columns = {name: [] for name in COLUMNS}
        if columns["row"]:
            yield pa.table(columns, schema=self.schema)


# ------------------------------------------------------------------------------------------
# The cluster and the output
# ------------------------------------------------------------------------------------------
def check_ray_output(args: argparse.Namespace, files: list[str]) -> Path | None:
    """The ``-o`` file; its shard folder must not hold an interrupted run unless --resume or
    --overwrite says what to do with it."""
    if not args.resume:
        output = check_output(args.output, files, overwrite=args.overwrite, resume=False)
        if output is not None and ShardFolder(output).path.exists():
            if not args.overwrite:
                raise CLIError(
                    f"{ShardFolder(output).path} holds an interrupted --ray run; pass --resume to continue it "
                    "or --overwrite to start again",
                    EXIT_USAGE,
                )
            shutil.rmtree(ShardFolder(output).path)
        return output
    if args.output is None:
        raise CLIError("--resume needs -o/--output pointing at the output of the interrupted run", EXIT_USAGE)
    output = Path(args.output)
    if any(p != "-" and output.exists() and output.samefile(p) for p in files):
        raise CLIError(f"{output} is also an input file; write the translation to another file", EXIT_USAGE)
    return output


def check_resources(workers: int, cpus: int, gpus: float) -> None:
    """Refuse a pool the cluster cannot hold (Ray Data would wait for it without end)."""
    import ray

    have = ray.cluster_resources()
    for name, per_worker, option in (("CPU", cpus, "--cpus-per-worker"), ("GPU", gpus, "--gpus-per-worker")):
        if workers * per_worker > have.get(name, 0):
            raise CLIError(
                f"--workers {workers} x {option} {per_worker:g} needs {workers * per_worker:g} {name}s, "
                f"the cluster has {have.get(name, 0):g}; ask for fewer",
                EXIT_USAGE,
            )


def check_model_folder(model: str) -> None:
    """Read a local model folder's config, tokenizer and weight listing (no weights), so that
    a broken folder stops the command here with one line, not in every actor of the pool."""
    folder = Path(model)
    if not folder.is_dir():
        return  # a hub id: each actor fetches it
    try:
        M2M100Config.from_pretrained(folder)
        M2M100Tokenizer.from_pretrained(folder)
        weight_files(folder)
    except FileNotFoundError as err:
        raise CLIError(f"cannot load the model: {err}") from err
    except (ValueError, OSError) as err:
        raise CLIError(f"cannot load the model {model}: {err}") from err


def model_path(model: str) -> str:
    """The model as the actors see it: a local folder as an absolute path (an actor's working
    folder is not the driver's), a hub id as it is."""
    return str(Path(model).resolve()) if Path(model).exists() else model


def last_line(err: BaseException) -> str:
    """The last line of a Ray error (its cause: Ray puts the remote traceback before it)."""
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__
