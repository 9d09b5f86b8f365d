"""``m2m100 translate -s auto``: the detection options and the summary printed at the end.

Each line (or JSONL row with ``"src": "auto"``) gets its language detected
(:meth:`m2m100.translator.Translator.detect`); the options say what an untrusted detection and a
line already in the target language become. The summary on stderr counts the lines of this run
per detected language and those below the threshold.
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from m2m100.cli.common import CLIError, require_extra
from m2m100.languages.detection import AUTO, DEFAULT_MIN_CONFIDENCE
from m2m100.translator import Translation


def confidence(text: str) -> float:
    """An argparse ``type`` for a probability, 0..1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_arguments(p: Any) -> None:
    """The options of ``-s auto``."""
    group = p.add_argument_group("-s auto: detect each line's language (pip install 'm2m100[detect]')")
    group.add_argument(
        "--min-confidence",
        type=confidence,
        default=DEFAULT_MIN_CONFIDENCE,
        metavar="P",
        help=f"trust a detection of at least this probability, 0..1 (default: {DEFAULT_MIN_CONFIDENCE})",
    )
    group.add_argument(
        "--fallback-src",
        metavar="CODE",
        default=None,
        help="translate a line whose detection is not trusted from CODE (default: write it unchanged)",
    )
    group.add_argument(
        "--translate-same-language",
        action="store_true",
        help="translate lines detected in the target language too (default: write them unchanged)",
    )


def check_available(command: str) -> None:
    """Stop with the install command when ``src`` auto is used and py3langid is missing."""
    try:
        require_extra(command, "detect", ["py3langid"])
    except CLIError as err:
        raise CLIError(f"-s auto: {err}") from err


def options(args: argparse.Namespace, fallback: str | None) -> dict[str, Any]:
    """The Translator's options of ``src="auto"``, with the model's code of ``--fallback-src``."""
    return {
        "min_confidence": args.min_confidence,
        "fallback_src": fallback,
        "translate_same_language": args.translate_same_language,
    }


class Summary:
    """Counts of a run's detections, printed on stderr at its end."""

    def __init__(self, min_confidence: float, fallback: str | None) -> None:
        self.min_confidence, self.fallback = min_confidence, fallback
        self.languages: Counter[str] = Counter()
        self.untrusted = 0

    def add(self, translation: Translation) -> None:
        """Count one line's result (lines with a given source are not counted)."""
        if translation.confidence is None:
            return
        self.languages[translation.detected or "unknown"] += 1
        if translation.detected is None or translation.confidence < self.min_confidence:
            self.untrusted += 1

    def lines(self) -> list[str]:
        """The summary, or nothing when no line was detected."""
        if not self.languages:
            return []
        counts = ", ".join(f"{code} {n}" for code, n in self.languages.most_common())
        then = f"translated from {self.fallback}" if self.fallback else "written unchanged"
        return [
            f"m2m100: -s {AUTO}: detected {_lines(sum(self.languages.values()))}: {counts}",
            f"m2m100: -s {AUTO}: {_lines(self.untrusted)} below --min-confidence {self.min_confidence} ({then})",
        ]


def _lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"
