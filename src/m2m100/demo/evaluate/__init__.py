"""Exact-match accuracy of a demo model: held-out numbers per direction, and names per kind.

    python -m m2m100.demo.evaluate                      # the shipped model, its regenerated test set
    python -m m2m100.demo.evaluate -m build/demo/run/best --test-file build/demo/test.jsonl
    python -m m2m100.demo.evaluate --quantize int8 --beam-size 4 --json

Without ``--test-file`` the test set is rebuilt from the options in the model folder's
``demo_data.json`` (the data build's manifest, copied there by scripts/train_demo.sh; the
defaults when absent), so no build folder is needed. A translation counts when it equals the
reference after NFC and whitespace normalization. The summary is the mean over directions
(each direction weighs the same), with the mean per source and per target language, per kind
(cardinal, ordinal) and per held-out group (ending in 37; the block 5200-5299).

Names (weekdays, months, languages, territories) cannot be held out: a name is learnt, not
composed. What the model claims is that it knows them, so ``--names N`` (default 2000) adds a fixed
sample of N name pairs of each kind, drawn uniformly over every direction
(:func:`m2m100.demo.data.name_pairs`), scored per kind.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2m100.demo.data import BuildOptions, held_out_pairs, name_pairs
from m2m100.demo.sources import BLOCK_NAME, HELD_OUT_BLOCK, HELD_OUT_ENDING, NAME_KINDS, normalize

MANIFEST_IN_MODEL = "demo_data.json"


@dataclass
class Scores:
    """Correct and total counts, by direction and by test-line group."""

    directions: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    groups: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(self, record: dict[str, str], hypothesis: str) -> bool:
        correct = normalize(hypothesis) == normalize(record["tgt"])
        tallies = [self.directions[record["src_lang"], record["tgt_lang"]]] + [self.groups[g] for g in _groups(record)]
        for counts in tallies:
            counts[0] += correct
            counts[1] += 1
        return correct

    def accuracy(self) -> dict[tuple[str, str], float]:
        return {d: c / n for d, (c, n) in self.directions.items()}

    def mean(self) -> float:
        """Mean of the directions' accuracies."""
        acc = self.accuracy()
        return sum(acc.values()) / len(acc) if acc else 0.0

    def by_language(self, side: int) -> dict[str, float]:
        """Mean accuracy of the directions from (side 0) or into (side 1) each language."""
        grouped: dict[str, list[float]] = defaultdict(list)
        for direction, acc in self.accuracy().items():
            grouped[direction[side]].append(acc)
        return {lang: sum(v) / len(v) for lang, v in grouped.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean(),
            "lines": sum(n for _, n in self.directions.values()),
            "source": self.by_language(0),
            "target": self.by_language(1),
            "groups": {g: c / n for g, (c, n) in sorted(self.groups.items())},
            "directions": {f"{s}-{t}": acc for (s, t), acc in self.accuracy().items()},
        }


def _groups(record: dict[str, str]) -> list[str]:
    """The kind ("cardinal", "ordinal") and held-out group of a test line with a "key"."""
    if "key" not in record:
        return []
    kind, _, value = record["key"].partition(":")
    group = BLOCK_NAME if value.isdigit() and int(value) in HELD_OUT_BLOCK else f"ending in {HELD_OUT_ENDING}"
    return [kind, group]


@dataclass
class KindScores:
    """Correct and total counts of name pairs, by kind (weekday, month, language, territory)."""

    kinds: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(self, record: dict[str, str], hypothesis: str) -> bool:
        correct = normalize(hypothesis) == normalize(record["tgt"])
        counts = self.kinds[record["key"].partition(":")[0]]
        counts[0] += correct
        counts[1] += 1
        return correct

    def to_dict(self) -> dict[str, float]:
        return {kind: c / n for kind, (c, n) in self.kinds.items()}


def is_name(record: dict[str, str]) -> bool:
    return record.get("key", "").partition(":")[0] in NAME_KINDS


def load_names(model: Path, per_kind: int) -> list[dict[str, str]]:
    """``per_kind`` name pairs of each kind, drawn for the languages of the model's data build."""
    if per_kind == 0:
        return []
    manifest = model / MANIFEST_IN_MODEL
    options = BuildOptions.from_manifest(manifest) if manifest.is_file() else BuildOptions()
    return name_pairs(options, per_kind=per_kind)


def format_kinds(scores: Scores, names: KindScores) -> str:
    """One line per kind: the held-out numbers (mean over directions), then each kind of name."""
    lines = [f"{'numbers':<10} {100 * scores.mean():5.1f}%  held out, mean over {len(scores.directions)} directions"]
    for kind in NAME_KINDS:
        if kind in names.kinds:
            correct, total = names.kinds[kind]
            lines.append(f"{kind:<10} {100 * correct / total:5.1f}%  of {total} pairs, every direction")
    return "\n".join(lines)


def load_test(path: Path | None, model: Path) -> list[dict[str, str]]:
    """The test lines: from ``path``, or rebuilt with the options of the model's data build."""
    if path is not None:
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    manifest = model / MANIFEST_IN_MODEL
    options = BuildOptions.from_manifest(manifest) if manifest.is_file() else BuildOptions()
    return held_out_pairs(options)


def per_direction(records: list[dict[str, str]], limit: int | None) -> list[dict[str, str]]:
    """The first ``limit`` lines of each direction (all when None)."""
    if limit is None:
        return records
    seen: dict[tuple[str, str], int] = defaultdict(int)
    kept = []
    for record in records:
        direction = (record["src_lang"], record["tgt_lang"])
        if seen[direction] < limit:
            seen[direction] += 1
            kept.append(record)
    return kept


def format_report(scores: Scores, *, seconds: float, lines: int) -> str:
    """The direction matrix (rows: source, columns: target, accuracy in %) and the means."""
    acc = scores.accuracy()
    sources, targets = scores.by_language(0), scores.by_language(1)
    languages = list(dict.fromkeys([*sources, *targets]))
    out = [
        "exact match (%) by direction: rows source, columns target",
        "     " + "".join(f"{lang:>5}" for lang in languages) + "  mean",
    ]
    for src in languages:
        cells = "".join(f"{100 * acc[src, tgt]:5.0f}" if (src, tgt) in acc else "    -" for tgt in languages)
        out.append(f"{src:<5}{cells}{100 * sources.get(src, 0.0):6.1f}")
    out.append("mean " + "".join(f"{100 * targets.get(t, 0.0):5.0f}" for t in languages))
    out.append("")
    for group, (correct, total) in sorted(scores.groups.items()):
        out.append(f"{group:<13} {100 * correct / total:5.1f}% of {total}")
    out.append(
        f"mean over {len(acc)} directions: {100 * scores.mean():.1f}% exact match "
        f"({lines} lines in {seconds:.1f} s, {lines / max(seconds, 1e-9):.0f} lines/s)"
    )
    return "\n".join(out)
