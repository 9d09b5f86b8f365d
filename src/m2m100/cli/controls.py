"""The output controls of ``m2m100 translate`` (see README's "Controlling the output"): options
for every line, the same as fields of a jsonl line, and what they add to a jsonl output line.

Options: ``--prefix TEXT``, ``--alternatives N``, ``--scores``, ``--replace-unknowns``; jsonl
fields: ``"prefix"``, ``"alternatives"``, ``"return_scores"``, ``"replace_unknowns"`` (a line's
own value wins). Output fields: ``"score"``, ``"alternatives"`` (``[{"text", "score"}]``, best
first) when asked, and ``"unknowns"`` (characters of the input the vocabulary lacks) when it has any.
"""

from __future__ import annotations

import argparse
from typing import Any

from m2m100.cli.common import EXIT_USAGE, CLIError, int_at_least
from m2m100.translator import Translation

# jsonl field -> (the option's attribute, the type the field must have, what is valid)
FIELDS: dict[str, tuple[str, type, str]] = {
    "prefix": ("prefix", str, "a string"),
    "alternatives": ("alternatives", int, "an integer of at least 0"),
    "return_scores": ("scores", bool, "true or false"),
    "replace_unknowns": ("replace_unknowns", bool, "true or false"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prefix", default=None, metavar="TEXT", help="every translation starts with TEXT")
    p.add_argument(
        "--alternatives",
        type=int_at_least(0),
        default=0,
        metavar="N",
        help="N hypotheses per line, with scores (jsonl output only): the n-best, or after --prefix its continuations",
    )
    p.add_argument("--scores", action="store_true", help="add each translation's score (jsonl output only)")
    p.add_argument(
        "--replace-unknowns",
        action="store_true",
        help="put the most attended source piece in place of each <unk> the model emits (else dropped)",
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Scores and alternatives have no place in a text line: refuse them there, before any work."""
    if args.format == "text" and (args.alternatives or args.scores):
        raise CLIError(
            "--alternatives and --scores need --format jsonl (a text line holds one translation)", EXIT_USAGE
        )


def line_controls(record: dict[str, Any], where: str) -> dict[str, Any]:
    """The controls a jsonl line sets itself, checked.

    Raises:
        CLIError: "file:line: ..." naming the field and what would be valid.
    """
    controls: dict[str, Any] = {}
    for name, (_, kind, valid) in FIELDS.items():
        if name not in record or record[name] is None:
            continue
        value = record[name]
        if kind is int and not isinstance(value, bool):  # numbers arrive as JSONNumber text
            try:
                value = int(repr(value))
            except ValueError:
                value = None
            if value is not None and value < 0:
                value = None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise CLIError(f'{where}: "{name}" must be {valid}, got {record[name]!r}')
        controls[name] = value
    return controls


def segment_controls(args: argparse.Namespace, own: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :class:`~m2m100.translator.Segment`: the line's own, else the options'."""
    values = {name: own.get(name, getattr(args, attribute)) for name, (attribute, _, _) in FIELDS.items()}
    if values["prefix"] == "":
        values["prefix"] = None
    return values


def output_fields(translation: Translation) -> dict[str, Any]:
    """What a jsonl output line holds beyond the translation."""
    fields: dict[str, Any] = {}
    if translation.score is not None:
        fields["score"] = round(translation.score, 6)
    if translation.alternatives:
        fields["alternatives"] = [{"text": a.text, "score": round(a.score, 6)} for a in translation.alternatives]
    if translation.unknowns:  # only then, so that the lines of clean input keep their shape
        fields["unknowns"] = translation.unknowns
    return fields


def unknowns_summary(characters: int, lines: int) -> str | None:
    """The stderr line after a run whose inputs held characters the vocabulary lacks."""
    if not characters:
        return None
    return (
        f"{characters} input character(s) in {lines} line(s) are not in the model's vocabulary "
        "(read as <unk> or spelled in bytes); --replace-unknowns puts back the <unk> the model emits"
    )
