"""``m2m100 translate FILE`` for documents (HTML, Markdown, subtitles, DOCX, PO ...): the format
comes from the extension or ``--format``; the document is read and checked before the model is
loaded, and the output is written whole or not at all (a temporary file renamed into place)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from m2m100.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CLIError,
    check_inputs,
    check_languages,
    check_output,
    check_placement_options,
    load_translator,
    model_languages,
    progress_bar,
    resolve_model,
)
from m2m100.documents import (
    FORMATS,
    DocumentError,
    Format,
    MissingDependency,
    format_named,
    format_of,
    read_document,
    write_atomically,
)
from m2m100.documents.engine import translate_blocks
from m2m100.languages.detection import AUTO
from m2m100.translator import Translator

LINE_FORMATS = ("text", "jsonl")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``translate`` that only documents read."""
    p.add_argument(
        "--retranslate",
        action="store_true",
        help="PO and XLIFF: translate the entries that have a translation too (default: leave them)",
    )


def is_document(args: argparse.Namespace) -> bool:
    """Whether ``translate`` was asked for a document: a document ``--format``, or none given and
    an input file whose extension names a format (several files are then refused)."""
    if args.format is not None:
        return args.format not in LINE_FORMATS
    return any(path != "-" and format_of(path) is not None for path in args.files)


def cmd_translate_document(args: argparse.Namespace) -> int:
    check_placement_options(args)
    if args.resume:
        raise CLIError(
            "--resume continues line formats (text, jsonl); a document is written whole or not at all: "
            "run the command again",
            EXIT_USAGE,
        )
    if args.errors != "strict":
        raise CLIError("--errors replace is for line formats; a document is read as its format says", EXIT_USAGE)
    if args.src == AUTO:
        raise CLIError("-s auto detects the language of lines (text, jsonl); give a document's language", EXIT_USAGE)
    files = args.files or ["-"]
    if len(files) != 1:
        raise CLIError(f"translate one document at a time: give one FILE (got {len(files)})", EXIT_USAGE)
    source = files[0]
    spec = _format(args.format, source)
    model = resolve_model(args)
    if args.src is None or args.tgt is None:
        raise CLIError("-s/--src-lang and -t/--tgt-lang are required", EXIT_USAGE)
    options = {args.src: "-s/--src-lang", args.tgt: "-t/--tgt-lang"}
    check_languages(options, model_languages(model))
    check_inputs(files)
    output = check_output(args.output, files, overwrite=args.overwrite)
    try:
        spec.check_installed()
    except MissingDependency as err:
        raise CLIError(f"m2m100 translate: {err}") from err
    name = "<stdin>" if source == "-" else source
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as err:
        raise CLIError(f"cannot read {source}: {err.strerror}") from err
    try:
        document = read_document(data, spec.name, overwrite=args.retranslate)
    except DocumentError as err:
        raise CLIError(f"{name}: {err}") from err

    translator = load_translator(args, Translator)
    check_languages(options, translator.languages)
    bar = progress_bar(args, total=None, initial=0)
    start = time.perf_counter()

    def progress(done: int, planned: int) -> None:
        if bar is not None:
            bar.total = planned
            bar.update(done - bar.n)

    def on_batch(stats: Any) -> None:
        if bar is not None:
            bar.set_postfix_str(f"{stats.generated_tokens / max(time.perf_counter() - start, 1e-9):.1f} tok/s")

    if bar is not None:
        bar.unit = "segment"
    try:
        items = translate_blocks(
            translator,
            document.blocks,
            src=args.src,
            tgt=args.tgt,
            progress=progress,
            beam_size=args.beam_size,
            max_new_tokens=args.max_new_tokens,
            on_batch=on_batch,
        )
    except KeyboardInterrupt:
        raise CLIError("interrupted; nothing was written (a document is written whole)", EXIT_INTERRUPTED) from None
    finally:
        if bar is not None:
            bar.close()
    translated = document.write(items)
    try:
        if output is None:
            sys.stdout.buffer.write(translated)
            sys.stdout.buffer.flush()
        else:
            write_atomically(output, translated)
    except OSError as err:
        raise CLIError(f"cannot write {output or 'the output'}: {err.strerror}") from err
    return 0


def _format(name: str | None, source: str) -> Format:
    if name is not None:
        return format_named(name)
    spec = format_of(source)
    if spec is None:  # is_document said otherwise
        raise CLIError(f"{source}: no document format for its extension; pass --format ({', '.join(FORMATS)})")
    return spec
