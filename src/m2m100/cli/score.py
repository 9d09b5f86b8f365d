"""``m2m100 score``: the log-probability the model gives translations, one JSON line per pair
(``Translator.score``): for filtering parallel data and quality estimation.

Pairs come from two line-aligned files (``--source``, ``--target``), or from jsonl objects
``{"source", "target"}`` (with an optional ``"id"``, and their own ``"src"``/``"tgt"``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from itertools import zip_longest
from typing import IO, Any

from m2m100.cli.common import (
    EXIT_USAGE,
    CLIError,
    add_language_arguments,
    add_loading_options,
    add_model_argument,
    check_inputs,
    check_languages,
    check_output,
    load_translator,
    model_languages,
    positive_int,
    read_lines,
    resolve_model,
)
from m2m100.translator import DEFAULT_MAX_BATCH_TOKENS, Translator

CHUNK = 1024  # pairs scored (and written) at a time


def add_parser(commands: Any) -> None:
    p = commands.add_parser(
        "score",
        help="log-probability of given translations (jsonl out)",
        description="Score translations: one JSON line per pair with total, normalized and per-token log-probabilities.",
    )
    p.add_argument(
        "files", nargs="*", metavar="FILE", help='jsonl input: {"source", "target"} objects (default: stdin)'
    )
    p.add_argument("--source", metavar="FILE", help="source lines (with --target: line-aligned plain text)")
    p.add_argument("--target", metavar="FILE", help="target lines, one translation per source line")
    add_model_argument(p)
    add_language_arguments(p)
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--max-batch-tokens",
        type=positive_int,
        default=DEFAULT_MAX_BATCH_TOKENS,
        help="padded source plus target tokens per model call",
    )
    add_loading_options(p)
    p.set_defaults(func=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    if (args.source is None) != (args.target is None):
        raise CLIError("--source and --target go together (or give jsonl FILEs)", EXIT_USAGE)
    if args.source is not None and args.files:
        raise CLIError("give --source/--target or jsonl FILEs, not both", EXIT_USAGE)
    inputs = [args.source, args.target] if args.source is not None else args.files
    check_inputs(inputs)
    output = check_output(args.output, inputs, overwrite=args.overwrite, resume=False)
    model = resolve_model(args)
    check_languages(
        {c: o for c, o in ((args.src, "-s/--src-lang"), (args.tgt, "-t/--tgt-lang")) if c}, model_languages(model)
    )
    pairs = list(read_pairs(args))  # every line checked before the model loads
    translator = load_translator(args, Translator)
    try:
        out: IO[str] = open(output, "w", encoding="utf-8") if output else sys.stdout
    except OSError as err:
        raise CLIError(f"cannot write {output}: {err.strerror}") from err
    try:
        for start in range(0, len(pairs), CHUNK):
            for line in score_chunk(translator, pairs[start : start + CHUNK]):
                out.write(line)
            out.flush()
    finally:
        if output:
            out.close()
    return 0


def read_pairs(args: argparse.Namespace) -> Iterator[tuple[str | None, str, str, str, str, str]]:
    """(id JSON or None, source, target, src, tgt, where) of every pair."""
    if args.source is not None:
        sources = read_lines([args.source], errors="strict")
        targets = read_lines([args.target], errors="strict")
        for source, target in zip_longest(sources, targets):
            if source is None or target is None:
                raise CLIError(
                    f"{args.source} and {args.target} have different numbers of lines; give one target line per source line"
                )
            where = f"{source[0]}:{source[1]}"
            yield None, source[2], target[2], *direction(args, None, where), where
        return
    for name, number, text in read_lines(args.files, errors="strict"):
        where = f"{name}:{number}"
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise CLIError(
                f'{where}: not a JSON object ({err.msg}); want {{"source": "...", "target": "..."}}'
            ) from err
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("source", "target")):
            raise CLIError(f'{where}: a line needs "source" and "target" strings, got {text[:80]!r}')
        ident = None if record.get("id") is None else json.dumps(record["id"], ensure_ascii=False)
        yield ident, record["source"], record["target"], *direction(args, record, where), where


def direction(args: argparse.Namespace, record: dict[str, Any] | None, where: str) -> tuple[str, str]:
    src = (record or {}).get("src") or args.src
    tgt = (record or {}).get("tgt") or args.tgt
    if not isinstance(src, str) or not isinstance(tgt, str):
        raise CLIError(f'{where}: no "src"/"tgt" in the line and no -s/--src-lang, -t/--tgt-lang given', EXIT_USAGE)
    return src, tgt


def score_chunk(translator: Translator, pairs: list[tuple[str | None, str, str, str, str, str]]) -> Iterator[str]:
    """The output lines of ``pairs``, in order; pairs are scored by direction."""
    lines: list[str | None] = [None] * len(pairs)
    directions: dict[tuple[str, str], list[int]] = {}
    for index, pair in enumerate(pairs):
        directions.setdefault((pair[3], pair[4]), []).append(index)
    for (src, tgt), indices in directions.items():
        try:
            scores = translator.score([pairs[i][1] for i in indices], [pairs[i][2] for i in indices], src=src, tgt=tgt)
        except ValueError as err:
            where = pairs[indices[0]][5]
            raise CLIError(f"{where} ({src} -> {tgt}): {err}") from err
        for i, score in zip(indices, scores):
            fields = {
                "score": round(score.total, 6),
                "normalized": round(score.normalized, 6),
                "tokens": score.tokens,
                "log_probs": [round(p, 6) for p in score.log_probs],
            }
            rest = json.dumps(fields, ensure_ascii=False)
            ident = pairs[i][0]
            lines[i] = rest + "\n" if ident is None else '{"id": ' + ident + ", " + rest[1:] + "\n"
    return (line for line in lines if line is not None)
