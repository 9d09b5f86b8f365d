"""``m2m100 languages``: the languages a model translates, or a checkpoint family's code set."""

from __future__ import annotations

import argparse
from typing import Any

from m2m100.checkpoint import resolve_checkpoint_dir
from m2m100.cli.common import EXIT_USAGE, CLIError, add_model_argument, resolve_model
from m2m100.config import M2M100Config
from m2m100.languages import NLLB_CODES, TRAINED_LANGUAGES_KEY, language_codes, language_name, trained_languages
from m2m100.tokenizer import AutoTokenizer

CODE_SETS = ("m2m100", "wmt21", "nllb")


def add_parser(commands: Any) -> None:
    """Register ``languages`` on the ``m2m100`` command's subparsers."""
    p = commands.add_parser("languages", help="list the languages a model translates (codes and names)")
    add_model_argument(p)
    p.add_argument(
        "--codes",
        choices=CODE_SETS,
        default=None,
        help="list a checkpoint family's code set instead of a model's languages (nllb: NLLB-200's 202)",
    )
    p.set_defaults(func=cmd_languages)


def cmd_languages(args: argparse.Namespace) -> int:
    if args.codes is not None:
        if args.model is not None:
            raise CLIError("give -m/--model (the languages of a model) or --codes (a code set), not both", EXIT_USAGE)
        codes = list(NLLB_CODES if args.codes == "nllb" else language_codes(args.codes))
    else:
        codes = loaded_languages(resolve_model(args))
    for code in codes:
        print(f"{code}\t{language_name(code, default=code)}")
    return 0


def loaded_languages(model: str) -> list[str]:
    """The languages of a model as its tokenizer and config say (no weights are read)."""
    try:
        folder = resolve_checkpoint_dir(model)
        known = list(AutoTokenizer.from_pretrained(folder).lang_code_to_id)
        return trained_languages(M2M100Config.from_pretrained(folder).extra.get(TRAINED_LANGUAGES_KEY), known)
    except (FileNotFoundError, ValueError, OSError) as err:
        raise CLIError(f"cannot read the model {model}: {err}") from err
