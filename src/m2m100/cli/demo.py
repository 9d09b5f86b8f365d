"""``m2m100 demo-data``, and the two tools of the demo model behind ``python -m``:
``m2m100.demo.evaluate`` (exact-match accuracy) and ``m2m100.demo.export`` (the folder to ship).

Their arguments are declared here, with the commands', so that the modules of :mod:`m2m100.demo`
stay a library; each ``__main__.py`` there calls :func:`evaluate_main` or :func:`export_main`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from m2m100.cli.common import (
    EXIT_USAGE,
    CLIError,
    add_loading_options,
    add_model_argument,
    int_at_least,
    positive_int,
    require_extra,
)
from m2m100.demo import evaluate as demo_evaluate
from m2m100.demo import export as demo_export
from m2m100.demo import model_or_demo
from m2m100.demo.data import BuildOptions, build
from m2m100.demo.evaluate import (
    KindScores,
    Scores,
    format_kinds,
    format_report,
    is_name,
    load_names,
    load_test,
    per_direction,
)
from m2m100.demo.export import MAX_MB, export
from m2m100.demo.sources import DEFAULT_LANGUAGES, HELD_OUT_RULE, UnusableLanguage
from m2m100.translator import DEFAULT_MAX_BATCH_TOKENS, Segment, Translator


def add_parser(commands: Any) -> None:
    """Register ``m2m100 demo-data``."""
    defaults = {f.name: f.default for f in dataclasses.fields(BuildOptions)}
    p = commands.add_parser(
        "demo-data",
        help="build the demo model's training data, vocabulary and config",
        description="Write parallel number words (num2words) and CLDR names (babel) for every direction "
        f"between the languages, held-out numbers ({HELD_OUT_RULE}) as the test set, "
        "a sentencepiece vocabulary and the model config.",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="output folder (required; created; files of an earlier build are replaced)",
    )
    p.add_argument("--out", dest="output", help=argparse.SUPPRESS)  # the spelling of earlier versions
    p.add_argument(
        "--languages",
        nargs="+",
        default=list(DEFAULT_LANGUAGES),
        metavar="CODE",
        help=f"M2M100 codes, space- or comma-separated (default: {' '.join(DEFAULT_LANGUAGES)})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=defaults["seed"],
        metavar="N",
        help="seed of every random choice (default: %(default)s)",
    )
    p.add_argument(
        "--pairs-per-direction",
        type=positive_int,
        default=defaults["pairs_per_direction"],
        metavar="N",
        help="training pairs of each direction (default: %(default)s)",
    )
    p.add_argument(
        "--name-share",
        type=float,
        default=defaults["name_share"],
        metavar="F",
        help="share of the training pairs that are CLDR names, the rest numbers (default: %(default)s)",
    )
    p.add_argument(
        "--all-names",
        action="store_true",
        help="train every CLDR name both languages have in every direction, on top of the "
        "sampled pairs (names are learnt by heart)",
    )
    p.add_argument(
        "--calendar-repeats",
        type=positive_int,
        default=defaults["calendar_repeats"],
        metavar="N",
        help="write each weekday and month pair N times (default: %(default)s)",
    )
    p.add_argument(
        "--valid-per-direction",
        type=int,
        default=defaults["valid_per_direction"],
        metavar="N",
        help="validation pairs (held-in, not in training) of each direction (default: %(default)s)",
    )
    p.add_argument(
        "--test-per-direction",
        type=int,
        default=defaults["test_per_direction"],
        metavar="N",
        help="test pairs (held-out numbers) of each direction (default: %(default)s)",
    )
    p.add_argument(
        "--max-number",
        type=positive_int,
        default=defaults["max_number"],
        metavar="N",
        help="write out the numbers 0..N (default: %(default)s)",
    )
    p.add_argument(
        "--vocab-size",
        type=positive_int,
        default=defaults["vocab_size"],
        metavar="N",
        help="sentencepiece pieces (default: %(default)s)",
    )
    p.set_defaults(func=cmd_demo_data)


def cmd_demo_data(args: argparse.Namespace) -> int:
    require_extra("demo-data", "demo", ["babel", "num2words"])
    if args.output is None:
        raise CLIError("demo-data needs -o/--output DIR, the folder to write", EXIT_USAGE)
    languages = [code for item in args.languages for code in item.split(",") if code]
    try:
        options = BuildOptions(
            languages=tuple(languages),
            seed=args.seed,
            pairs_per_direction=args.pairs_per_direction,
            name_share=args.name_share,
            all_names=args.all_names,
            calendar_repeats=args.calendar_repeats,
            valid_per_direction=args.valid_per_direction,
            test_per_direction=args.test_per_direction,
            max_number=args.max_number,
            vocab_size=args.vocab_size,
        )
    except ValueError as err:
        raise CLIError(str(err), EXIT_USAGE) from err
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CLIError(f"-o/--output {out} is a file; give a folder", EXIT_USAGE)
    try:
        report = build(out, options)
    except UnusableLanguage as err:
        raise CLIError(f"{err}; leave it out of --languages", EXIT_USAGE) from err
    except OSError as err:
        raise CLIError(f"cannot write {out}: {err}") from err

    n = len(options.languages)
    print(f"languages   {n}: {' '.join(options.languages)}")
    cardinal_only = [t.code for t in report.languages if not t.has_ordinals]
    if cardinal_only:
        print(f"            cardinals only (no usable num2words ordinals): {' '.join(cardinal_only)}")
    dropped = {t.code: t.dropped for t in report.languages if t.dropped}
    if dropped:
        print("            ambiguous texts left out: " + ", ".join(f"{c} {k}" for c, k in dropped.items()))
    print(f"directions  {report.directions} ({n} x {n - 1}, every ordered pair)")
    print(f"held out    {report.held_out_numbers} of the numbers 0..{options.max_number} ({HELD_OUT_RULE}): test only")
    for split, lines in report.lines.items():
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(report.kinds.get(split, {}).items()))
        print(f"{split:<11} {lines} lines ({lines / max(report.directions, 1):.0f} a direction): {kinds}")
    print(f"vocabulary  {report.vocabulary} tokens (pieces, specials, 100 language tokens)")
    print(f"model       {report.parameters:,} parameters ({report.parameters / 1e6:.1f} M)")
    print(f"wrote       {out}/{{train,valid,test}}.jsonl, tokenizer/, config.json, manifest.json")
    return 0


# ------------------------------------------------------------------------------------------
# python -m m2m100.demo.evaluate
# ------------------------------------------------------------------------------------------
def evaluate_parser() -> argparse.ArgumentParser:
    """The arguments of ``python -m m2m100.demo.evaluate``."""
    p = argparse.ArgumentParser(
        prog="python -m m2m100.demo.evaluate",
        description=(demo_evaluate.__doc__ or "").split("\n\n")[0],
        allow_abbrev=False,
    )
    add_model_argument(p, help="the demo model to evaluate")
    p.add_argument(
        "--test-file",
        dest="test",
        metavar="FILE",
        help="test.jsonl of a demo-data build (default: rebuilt from the model's demo_data.json)",
    )
    p.add_argument("--test", dest="test", help=argparse.SUPPRESS)  # the spelling of earlier versions
    p.add_argument(
        "--per-direction", type=positive_int, metavar="N", help="evaluate only the first N lines of each direction"
    )
    p.add_argument(
        "--names",
        type=int_at_least(0),
        default=2000,
        metavar="N",
        help="also score N name pairs of each kind (weekday, month, language, territory); 0: none "
        "(default: %(default)s)",
    )
    p.add_argument("--beam-size", type=positive_int, default=1, help="beams (default 1: greedy)")
    add_loading_options(p)
    p.add_argument(
        "--max-batch-tokens", type=positive_int, default=DEFAULT_MAX_BATCH_TOKENS, help="source tokens per model call"
    )
    p.add_argument("--show-errors", type=int, default=0, metavar="N", help="print N wrong translations")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    return p


def evaluate_main(argv: Sequence[str] | None = None) -> int:
    """``python -m m2m100.demo.evaluate``: score a demo model and print the report."""
    args = evaluate_parser().parse_args(argv)
    try:
        model = Path(model_or_demo(args.model))  # the shipped model, without the notice
        records = per_direction(load_test(Path(args.test) if args.test else None, model), args.per_direction)
        records += load_names(model, args.names)
        translator = Translator(
            model, device=args.device, dtype=args.dtype, quantize=args.quantize, max_batch_tokens=args.max_batch_tokens
        )
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"evaluate: error: {err}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    segments = [Segment(r["src"], r["src_lang"], r["tgt_lang"]) for r in records]
    hypotheses = list(translator.translate_stream(segments, beam_size=args.beam_size))
    seconds = time.perf_counter() - start
    scores, names = Scores(), KindScores()
    errors = [(r, h) for r, h in zip(records, hypotheses) if not (names if is_name(r) else scores).add(r, h)]
    if args.json:
        print(
            json.dumps(
                {**scores.to_dict(), "names": names.to_dict(), "seconds": seconds, "model": str(model)},
                ensure_ascii=False,
            )
        )
        return 0
    for record, hypothesis in errors[: args.show_errors]:
        print(
            f"{record['src_lang']}-{record['tgt_lang']} {record['src']!r}: got {hypothesis!r}, want {record['tgt']!r}"
        )
    print(format_report(scores, seconds=seconds, lines=len(records)))
    print("\nexact match by kind")
    print(format_kinds(scores, names))
    return 0


# ------------------------------------------------------------------------------------------
# python -m m2m100.demo.export
# ------------------------------------------------------------------------------------------
def export_parser() -> argparse.ArgumentParser:
    """The arguments of ``python -m m2m100.demo.export``."""
    p = argparse.ArgumentParser(
        prog="python -m m2m100.demo.export", description=(demo_export.__doc__ or "").split("\n\n")[0]
    )
    p.add_argument("checkpoint", help="a trained checkpoint folder (model and tokenizer)")
    p.add_argument("dest", help="the folder to write (replaced)")
    p.add_argument("--manifest", help="manifest.json of the data build, copied as demo_data.json")
    p.add_argument("--continued", help="manifest.json of a build the training continued on, kept in demo_data.json")
    p.add_argument("--max-mb", type=float, default=MAX_MB, help=f"largest folder allowed (default {MAX_MB:g})")
    return p


def export_main(argv: Sequence[str] | None = None) -> int:
    """``python -m m2m100.demo.export``: write the model folder to ship."""
    args = export_parser().parse_args(argv)
    try:
        size = export(
            Path(args.checkpoint),
            Path(args.dest),
            manifest=Path(args.manifest) if args.manifest else None,
            continued=Path(args.continued) if args.continued else None,
            max_mb=args.max_mb,
        )
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f"export: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {args.dest}: {size / 1e6:.1f} MB")
    return 0
