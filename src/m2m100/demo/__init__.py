"""The demo: a small M2M100 trained from scratch on number words and CLDR names in 24 languages.

``m2m100 demo-data --out DIR`` builds its data, vocabulary and config (:mod:`m2m100.demo.data`);
``scripts/train_demo.sh`` trains it and copies the best checkpoint into this package's ``model/``
folder (:func:`model_path`); ``python -m m2m100.demo.evaluate`` measures it on held-out numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.resources
from pathlib import Path
from typing import Any

__all__ = ["DEMO_KNOWS", "DEMO_NOTICE", "add_parser", "is_demo_model", "model_path"]

# What the demo model was trained on, in one line (the CLI, `m2m100 info` and the web page say it).
DEMO_KNOWS = ("number words (0-9999, cardinals and ordinals) and CLDR names (weekdays, months, languages, "
              "territories) in 24 languages; not for real text")
DEMO_NOTICE = ("no model given: using the bundled demo model (number words and CLDR names in 24 languages, "
               "6 M parameters); pass a checkpoint such as facebook/m2m100_418M for real translation")


def model_path() -> Path:
    """The folder of the shipped demo model (model and tokenizer files).

    Raises:
        FileNotFoundError: the model has not been built into this copy of the package.
    """
    folder = Path(str(importlib.resources.files(__name__) / "model"))
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"the demo model is not in {folder}; build it with scripts/train_demo.sh "
                                "(m2m100 demo-data, m2m100 finetune, then the copy into that folder)")
    return folder


def is_demo_model(folder: Path) -> bool:
    """Whether ``folder`` holds a demo model (this package's or one built by scripts/train_demo.sh):
    the export writes the data build's manifest beside the weights."""
    return (Path(folder) / "demo_data.json").is_file()


def add_parser(commands: Any) -> None:
    """Register ``m2m100 demo-data``."""
    from m2m100.cli import _positive_int
    from m2m100.demo.data import BuildOptions
    from m2m100.demo.sources import DEFAULT_LANGUAGES, HELD_OUT_RULE

    defaults = {f.name: f.default for f in dataclasses.fields(BuildOptions)}
    p = commands.add_parser(
        "demo-data", help="build the demo model's training data, vocabulary and config",
        description="Write parallel number words (num2words) and CLDR names (babel) for every direction "
                    f"between the languages, held-out numbers ({HELD_OUT_RULE}) as the test set, "
                    "a sentencepiece vocabulary and the model config.")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="output folder (required; created; files of an earlier build are replaced)")
    p.add_argument("--out", dest="output", help=argparse.SUPPRESS)  # the spelling of earlier versions
    p.add_argument("--languages", nargs="+", default=list(DEFAULT_LANGUAGES), metavar="CODE",
                   help=f"M2M100 codes, space- or comma-separated (default: {' '.join(DEFAULT_LANGUAGES)})")
    p.add_argument("--seed", type=int, default=defaults["seed"], metavar="N",
                   help="seed of every random choice (default: %(default)s)")
    p.add_argument("--pairs-per-direction", type=_positive_int, default=defaults["pairs_per_direction"], metavar="N",
                   help="training pairs of each direction (default: %(default)s)")
    p.add_argument("--name-share", type=float, default=defaults["name_share"], metavar="F",
                   help="share of the training pairs that are CLDR names, the rest numbers (default: %(default)s)")
    p.add_argument("--all-names", action="store_true",
                   help="train every CLDR name both languages have in every direction, on top of the "
                        "sampled pairs (names are learnt by heart)")
    p.add_argument("--calendar-repeats", type=_positive_int, default=defaults["calendar_repeats"], metavar="N",
                   help="write each weekday and month pair N times (default: %(default)s)")
    p.add_argument("--valid-per-direction", type=int, default=defaults["valid_per_direction"], metavar="N",
                   help="validation pairs (held-in, not in training) of each direction (default: %(default)s)")
    p.add_argument("--test-per-direction", type=int, default=defaults["test_per_direction"], metavar="N",
                   help="test pairs (held-out numbers) of each direction (default: %(default)s)")
    p.add_argument("--max-number", type=_positive_int, default=defaults["max_number"], metavar="N",
                   help="write out the numbers 0..N (default: %(default)s)")
    p.add_argument("--vocab-size", type=_positive_int, default=defaults["vocab_size"], metavar="N",
                   help="sentencepiece pieces (default: %(default)s)")
    p.set_defaults(func=cmd_demo_data)


def cmd_demo_data(args: argparse.Namespace) -> int:
    from m2m100.cli import EXIT_USAGE, CLIError, require_extra
    from m2m100.demo.data import BuildOptions, build
    from m2m100.demo.sources import HELD_OUT_RULE, UnusableLanguage

    require_extra("demo-data", "demo", ["babel", "num2words"])
    if args.output is None:
        raise CLIError("demo-data needs -o/--output DIR, the folder to write", EXIT_USAGE)
    languages = [code for item in args.languages for code in item.split(",") if code]
    try:
        options = BuildOptions(languages=tuple(languages), seed=args.seed,
                               pairs_per_direction=args.pairs_per_direction, name_share=args.name_share,
                               all_names=args.all_names, calendar_repeats=args.calendar_repeats,
                               valid_per_direction=args.valid_per_direction,
                               test_per_direction=args.test_per_direction, max_number=args.max_number,
                               vocab_size=args.vocab_size)
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
    print(f"held out    {report.held_out_numbers} of the numbers 0..{options.max_number} "
          f"({HELD_OUT_RULE}): test only")
    for split, lines in report.lines.items():
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(report.kinds.get(split, {}).items()))
        print(f"{split:<11} {lines} lines ({lines / max(report.directions, 1):.0f} a direction): {kinds}")
    print(f"vocabulary  {report.vocabulary} tokens (pieces, specials, 100 language tokens)")
    print(f"model       {report.parameters:,} parameters ({report.parameters / 1e6:.1f} M)")
    print(f"wrote       {out}/{{train,valid,test}}.jsonl, tokenizer/, config.json, manifest.json")
    return 0
