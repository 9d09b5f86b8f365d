"""``m2m100 evaluate``: translate a test set (or take ``--hyp-file``) and score it against
references with BLEU and chrF (:func:`m2m100.evaluation.score`), printing sacrebleu's signatures."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from m2m100.cli.common import (
    EXIT_USAGE,
    CLIError,
    add_language_arguments,
    add_model_argument,
    add_model_options,
    check_inputs,
    check_languages,
    check_output,
    check_placement_options,
    load_translator,
    model_languages,
    progress_bar,
    read_lines,
    require_extra,
    resolve_model,
)
from m2m100.evaluation import AUTO, bleu_metric, resolve_tokenize, score
from m2m100.languages import language_codes
from m2m100.translator import Translator


class _RenamedOption(argparse.Action):
    """An option that is gone: a usage error that gives the new spelling."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, message: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.message = message

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        parser.error(self.message)


def add_parser(commands: Any) -> None:
    """Register ``evaluate`` on the ``m2m100`` command's subparsers."""
    p = commands.add_parser(
        "evaluate",
        help="translate a test set and score it with BLEU and chrF",
        description="Translate --src-file with a checkpoint (or take --hyp-file) and score the result against "
        "--ref-file with sacrebleu: BLEU (flores spm tokenization when its model is on disk, else 13a) "
        "and chrF.",
    )
    add_model_argument(p, help="the model that translates --src-file (not used with --hyp-file)")
    p.add_argument("--src-file", metavar="FILE", help="source sentences, one a line")
    p.add_argument("--ref-file", metavar="FILE", help="reference translations, aligned with the source (required)")
    p.add_argument("--hyp-file", metavar="FILE", help="score these translations instead of translating --src-file")
    # The spellings of earlier versions: --ref and --hyp still work; --src would read as a language
    # (it is one in `translate`), so it stops with the new name instead.
    p.add_argument("--ref", dest="ref_file", help=argparse.SUPPRESS)
    p.add_argument("--hyp", dest="hyp_file", help=argparse.SUPPRESS)
    p.add_argument(
        "--src",
        action=_RenamedOption,
        dest="src_file",
        message="--src FILE is now --src-file FILE (the source language is -s/--src-lang)",
    )
    add_language_arguments(p)
    p.add_argument("-o", "--output", help="also write the translations to this file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    p.add_argument(
        "--tokenize",
        default=AUTO,
        metavar="NAME",
        help="BLEU tokenizer: auto (flores200 or flores101 when its spm model is on disk, else 13a), "
        "or a sacrebleu name: flores200, flores101, 13a, intl, zh, char, none ...",
    )
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    p.add_argument(
        "--errors",
        choices=("strict", "replace"),
        default="strict",
        help="bytes that are not UTF-8: stop (strict) or read them as U+FFFD (replace)",
    )
    add_model_options(p)
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    require_extra("evaluate", "eval", ["sacrebleu"])
    translating = args.hyp_file is None
    if translating:
        check_placement_options(args)
    _check_arguments(args)
    files = {
        name: path
        for name, path in (("ref", args.ref_file), ("src", args.src_file), ("hyp", args.hyp_file))
        if path is not None
    }
    check_inputs(list(files.values()))
    _check_languages(args)
    tokenize, note = _resolve_tokenize(args)
    output = check_output(args.output, files.values(), overwrite=args.overwrite, contents="translations")

    lines = {name: _read(path, errors=args.errors) for name, path in files.items()}
    for name in ("src", "hyp"):
        if name in lines and len(lines[name]) != len(lines["ref"]):
            raise CLIError(
                f"{files[name]} has {_lines(len(lines[name]))} but {files['ref']} has "
                f"{_lines(len(lines['ref']))}; the files must be aligned line by line"
            )
    if not lines["ref"]:
        raise CLIError(f"{args.ref_file} is empty: nothing to score")
    if note:
        print(f"m2m100: note: {note}", file=sys.stderr)
    try:
        bleu_metric(tokenize)  # an spm model to download fails here, before the translation
    except OSError as err:
        raise CLIError(str(err)) from err

    hypotheses = _translate(args, lines["src"], output) if translating else lines["hyp"]
    scores = score(hypotheses, lines["ref"], tokenize=tokenize)
    if args.json:
        record = {
            **scores.to_dict(),
            "src_lang": args.src,
            "tgt_lang": args.tgt,
            "model": args.model,
            "hyp": args.hyp_file,
            "ref": args.ref_file,
        }
        print(json.dumps(record, ensure_ascii=False))
    else:
        print(scores.format())
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    """Stop on an option that is missing or has no use with the others."""
    if args.ref_file is None:
        raise CLIError("evaluate needs --ref-file FILE, the reference translations", EXIT_USAGE)
    if args.hyp_file is None:
        missing = [
            option
            for option, value in (
                ("--src-file", args.src_file),
                ("-s/--src-lang", args.src),
                ("-t/--tgt-lang", args.tgt),
            )
            if value is None
        ]
        if missing:
            raise CLIError(
                f"translating needs {', '.join(missing)} (or pass --hyp-file FILE to score existing translations)",
                EXIT_USAGE,
            )
    elif args.output is not None:
        raise CLIError("--output saves the translations; with --hyp-file nothing is translated", EXIT_USAGE)


def _check_languages(args: argparse.Namespace) -> None:
    """Stop on a language code the model does not translate (read from its config alone, so
    before it is loaded; with --hyp-file, on a code that is not an M2M100 language)."""
    given = {
        code: option for code, option in ((args.src, "-s/--src-lang"), (args.tgt, "-t/--tgt-lang")) if code is not None
    }
    if args.hyp_file is None:
        check_languages(given, model_languages(resolve_model(args)))
    else:
        check_languages(given, language_codes("m2m100"))


def _resolve_tokenize(args: argparse.Namespace) -> tuple[str, str | None]:
    try:
        return resolve_tokenize(args.tokenize, tgt=args.tgt)
    except ValueError as err:
        raise CLIError(str(err), EXIT_USAGE) from err


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


def _read(path: str, *, errors: str) -> list[str]:
    return [text for _, _, text in read_lines([path], errors=errors)]


def _translate(args: argparse.Namespace, sources: list[str], output: Path | None) -> list[str]:
    """Translate the source lines; each translation is one line (as ``translate`` writes it)."""
    translator = load_translator(args, Translator)
    check_languages({args.src: "-s/--src-lang", args.tgt: "-t/--tgt-lang"}, translator.languages)
    bar = progress_bar(args, total=len(sources), initial=0)
    hypotheses = []
    try:
        # --max-batch-tokens is the Translator's own budget (load_translator), not repeated here.
        stream = translator.translate_stream(
            sources, src=args.src, tgt=args.tgt, beam_size=args.beam_size, max_new_tokens=args.max_new_tokens
        )
        for translation in stream:
            hypotheses.append(" ".join(translation.splitlines()))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if output is not None:
        try:
            output.write_bytes("".join(h + "\n" for h in hypotheses).encode("utf-8"))
        except OSError as err:
            raise CLIError(f"cannot write {output}: {err.strerror}") from err
    return hypotheses
