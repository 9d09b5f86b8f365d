"""The glossary options of ``m2m100 translate``: ``--glossary FILE``, ``--do-not-translate TERM|FILE``,
``--keep-placeholders``, and the ``glossary``/``do_not_translate`` fields of a jsonl line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from m2m100.cli.common import CLIError
from m2m100.glossary import Glossary


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--glossary",
        metavar="FILE",
        default=None,
        help="terms whose translation is fixed: a .tsv ('source<TAB>target', 'src<TAB>tgt<TAB>source<TAB>target' "
        'or a lone \'term\' kept as is) or .json ({"en-fr": {"three": "trois"}}) file',
    )
    p.add_argument(
        "--do-not-translate",
        metavar="TERM|FILE",
        action="append",
        default=None,
        help="a term kept unchanged in the translation (names, product codes), or a file of such terms, one a "
        "line; may be repeated",
    )
    p.add_argument(
        "--keep-placeholders",
        action="store_true",
        help="keep placeholders such as {user}, {{x}}, %%s and <b> unchanged in the translation",
    )


def load(args: argparse.Namespace) -> Glossary | None:
    """The glossary of the command's options (None when none is given).

    Raises:
        CLIError: a missing or malformed file, in one line naming the file and line.
    """
    if args.glossary is None and not args.do_not_translate and not args.keep_placeholders:
        return None
    try:
        glossary = Glossary.load(args.glossary) if args.glossary is not None else Glossary()
        terms: list[str] = []
        for value in args.do_not_translate or []:
            path = Path(value)
            if path.is_file():
                text = path.read_text(encoding="utf-8-sig")
                terms.extend(line.strip() for line in text.splitlines() if line.strip())
            else:
                terms.append(value)
        glossary = glossary.merged(Glossary(do_not_translate=terms, placeholders=args.keep_placeholders))
    except (OSError, ValueError) as err:
        raise CLIError(f"--glossary/--do-not-translate: {err}") from err
    return glossary


def row_glossary(record: dict[str, Any], where: str) -> Glossary | None:
    """The glossary of a jsonl line: its ``"glossary"`` ({source: target}, for the line's
    direction) and ``"do_not_translate"`` ([term, ...]) fields, or None when it has neither."""
    mapping, keep = record.get("glossary"), record.get("do_not_translate")
    if mapping is None and keep is None:
        return None
    if mapping is not None and not isinstance(mapping, dict):
        raise CLIError(f'{where}: "glossary" must be an object of source term: target term, got {mapping!r}')
    if keep is not None and not (isinstance(keep, list) and all(isinstance(t, str) for t in keep)):
        raise CLIError(f'{where}: "do_not_translate" must be a list of strings, got {keep!r}')
    try:
        return Glossary(mapping, do_not_translate=keep or [], where='"glossary"')
    except ValueError as err:
        raise CLIError(f"{where}: {err}") from err


def report_missed(missed: list[tuple[str, list[str]]]) -> None:
    """One stderr line per input whose translation lacks glossary terms (the length limit)."""
    for where, terms in missed:
        print(f"m2m100: {where}: glossary terms not in the translation: {', '.join(terms)}", file=sys.stderr)
