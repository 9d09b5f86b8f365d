"""Build the demo model's data: parallel number words and CLDR names for every direction.

``build(out, options)`` writes, into ``out``:

* ``train.jsonl``, ``valid.jsonl``, ``test.jsonl``: one ``{"src_lang", "tgt_lang", "src", "tgt"}``
  object a line (test lines also carry ``"key"``, e.g. ``"ordinal:5037"``);
* ``tokenizer/``: a sentencepiece vocabulary trained on the training text, in the fairseq layout
  of the M2M100 checkpoints (see :mod:`m2m100.demo.vocab`);
* ``config.json``: the M2M100 architecture to train (see :func:`m2m100.demo.vocab.model_config`);
* ``manifest.json``: the options, so that the test set can be rebuilt without the files
  (:func:`held_out_pairs`).

Every ordered pair of distinct languages is a direction and gets the same number of training
pairs: non-English directions are trained directly, not through English. A direction's pairs
are drawn from the keys both languages have (:mod:`m2m100.demo.sources`) with a random generator
seeded by ``(seed, split, direction)`` alone, so a direction's data is the same whatever other
languages are built with it.

* train: ``pairs_per_direction`` pairs, a ``name_share`` of them CLDR names, the rest held-in
  numbers (cardinals and ordinals), weighted so that 15% are below 100, 25% below 1000 and the
  rest 1000 and above (uniform sampling would give 1% of one- and two-digit numbers); with
  ``all_names``, every name both languages have instead of the sampled ones (about 370 a
  direction: 7 weekdays, 12 months, 99 languages, 261 territories);
* valid: ``valid_per_direction`` held-in pairs not in that direction's training pairs;
* test: ``test_per_direction`` held-out numbers, alternately ending in 37 and from 5200-5299
  (:func:`m2m100.demo.sources.is_held_out`); none of their texts is in train or valid.

Languages checked and left out (num2words 0.5.14, babel 2.18): am (num2words fails from 1100 up),
sr (num2words writes Latin, CLDR's sr Cyrillic), and every M2M100 language num2words does not
have (zh, hi, el, bg ...). ar, cs, vi are trained on cardinals only (num2words' ordinals there are
missing or equal the cardinals). az, be, ca, kn, no, sl (with ordinals) and bn, cy, is, lt, lv,
sk, th (cardinals only) also pass and can be added with ``--languages``; the default 24 cover 6
scripts and keep the number of directions (552) trainable on one GPU in minutes.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2m100.demo.sources import (
    DEFAULT_LANGUAGES,
    HELD_OUT_BLOCK,
    HELD_OUT_RULE,
    MAX_NUMBER,
    NAME_KINDS,
    Key,
    LanguageTexts,
    check_codes,
    is_held_out,
    language_texts,
)
from m2m100.demo.vocab import model_config, parameter_count, write_tokenizer

MANIFEST = "manifest.json"
# Share of the training numbers below 100, below 1000, and from 1000 up.
_MAGNITUDE_SHARES = ((100, 0.15), (1000, 0.25), (math.inf, 0.60))


@dataclass(frozen=True)
class BuildOptions:
    """What ``m2m100 demo-data`` builds."""

    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    seed: int = 1
    pairs_per_direction: int = 500  # training pairs of each direction
    name_share: float = 0.2  # of those, the share of CLDR names (the rest are numbers)
    # Every CLDR name both languages have, in every direction, on top of the sampled pairs: names
    # are learnt by heart (no name can be composed from others), so each must be seen often.
    all_names: bool = False
    # Each weekday and month pair written this many times: they are few (19 a direction against
    # some 350 language and territory names) and the most asked for.
    calendar_repeats: int = 1
    valid_per_direction: int = 2
    test_per_direction: int = 10
    max_number: int = MAX_NUMBER  # numbers 0..max_number are written out
    # Sentencepiece pieces (fewer when the text is too small for them). Small on purpose: with
    # more, BPE learns pieces across the parts of a number ("五千", "miladue"), and a held-out
    # number then holds a piece pair no training text has (see m2m100.demo.vocab).
    vocab_size: int = 2000

    def __post_init__(self) -> None:
        object.__setattr__(self, "languages", tuple(self.languages))
        check_codes(list(self.languages))
        if not isinstance(self.calendar_repeats, int) or self.calendar_repeats < 1:
            raise ValueError(f"calendar_repeats must be a positive integer, got {self.calendar_repeats!r}")
        for name in ("pairs_per_direction", "valid_per_direction", "test_per_direction", "max_number"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if not 0.0 <= self.name_share <= 1.0:
            raise ValueError(f"name_share must lie in [0, 1], got {self.name_share!r}")
        if self.vocab_size < 300:
            raise ValueError(f"vocab_size must be at least 300 (byte pieces and characters), got {self.vocab_size}")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "languages": list(self.languages)}

    @classmethod
    def from_manifest(cls, path: Path) -> BuildOptions:
        """The options a build wrote into its ``manifest.json``."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data["options"].items() if k in known})


@dataclass
class BuildReport:
    """What a build wrote, for the command to print."""

    options: BuildOptions
    languages: list[LanguageTexts]
    lines: dict[str, int] = field(default_factory=dict)  # split -> lines written
    kinds: dict[str, Counter] = field(default_factory=dict)  # split -> lines per key kind
    held_out_numbers: int = 0
    vocabulary: int = 0  # len(tokenizer): pieces, specials and language tokens
    parameters: int = 0

    @property
    def directions(self) -> int:
        n = len(self.options.languages)
        return n * (n - 1)


def directions(languages: Sequence[str]) -> list[tuple[str, str]]:
    """Every ordered pair of distinct languages."""
    return list(itertools.permutations(languages, 2))


def _rng(seed: int, split: str, src: str, tgt: str) -> random.Random:
    # A string seed is hashed with SHA-512: the same on every run and platform.
    return random.Random(f"{seed}/{split}/{src}-{tgt}")


def _magnitude(number: int) -> int:
    """The row of ``_MAGNITUDE_SHARES`` a number falls in."""
    return next(i for i, (limit, _) in enumerate(_MAGNITUDE_SHARES) if number < limit)


@dataclass
class _Pool:
    """The keys both languages of a direction have, by use (in the first language's order,
    which is fixed: numbers ascending, then CLDR's order)."""

    names: list[Key] = field(default_factory=list)
    held_in: list[list[Key]] = field(default_factory=lambda: [[] for _ in _MAGNITUDE_SHARES])  # by magnitude
    held_out: list[list[Key]] = field(default_factory=lambda: [[], []])  # ending in 37 (outside the block); the block

    @classmethod
    def of(cls, src: LanguageTexts, tgt: LanguageTexts) -> _Pool:
        pool = cls()
        for key in src.texts:
            if key not in tgt.texts:
                continue
            kind, value = key
            if kind in NAME_KINDS:
                pool.names.append(key)
            elif not is_held_out(value):  # type: ignore[arg-type]
                pool.held_in[_magnitude(value)].append(key)  # type: ignore[arg-type]
            else:
                pool.held_out[value in HELD_OUT_BLOCK].append(key)
        return pool


def _stratified_sample(rng: random.Random, classes: list[list[Key]], shares: list[float], k: int) -> list[Key]:
    """``k`` keys without replacement, about ``shares[i] * k`` of them from ``classes[i]``; the
    share of a class too small (or empty) goes to the others."""
    counts = [0] * len(classes)
    left, share_left = k, sum(shares)
    for i in sorted(range(len(classes)), key=lambda i: len(classes[i])):  # smallest first
        counts[i] = min(len(classes[i]), round(left * shares[i] / share_left)) if share_left else 0
        left, share_left = left - counts[i], share_left - shares[i]
    return [key for keys, n in zip(classes, counts) for key in rng.sample(keys, n)]


def _train_keys(pool: _Pool, rng: random.Random, options: BuildOptions) -> list[Key]:
    n_names = min(len(pool.names), round(options.name_share * options.pairs_per_direction))
    numbers = _stratified_sample(
        rng, pool.held_in, [share for _, share in _MAGNITUDE_SHARES], options.pairs_per_direction - n_names
    )
    names = list(pool.names) if options.all_names else rng.sample(pool.names, n_names)
    calendar = [key for key in names if key[0] in ("weekday", "month")]
    return names + calendar * (options.calendar_repeats - 1) + numbers


def _valid_keys(pool: _Pool, rng: random.Random, options: BuildOptions, train: list[Key]) -> list[Key]:
    taken = set(train)
    held_in = [k for k in itertools.chain(pool.names, *pool.held_in) if k not in taken]
    return rng.sample(held_in, min(len(held_in), options.valid_per_direction))


def _test_keys(pool: _Pool, rng: random.Random, options: BuildOptions) -> list[Key]:
    """Held-out numbers, taken in turn from the two held-out groups (ending in 37 outside the
    block; the block) so that both are measured whatever their sizes."""
    groups = [list(group) for group in pool.held_out]
    for group in groups:
        rng.shuffle(group)
    interleaved = [k for pair in itertools.zip_longest(*groups) for k in pair if k is not None]
    return interleaved[: options.test_per_direction]


def _record(src: LanguageTexts, tgt: LanguageTexts, key: Key, *, with_key: bool = False) -> dict[str, str]:
    record = {"src_lang": src.code, "tgt_lang": tgt.code, "src": src.texts[key], "tgt": tgt.texts[key]}
    if with_key:
        record["key"] = f"{key[0]}:{key[1]}"
    return record


def load_languages(options: BuildOptions) -> list[LanguageTexts]:
    """The checked texts of every language of ``options`` (about a second a language)."""
    return [language_texts(code, options.max_number) for code in options.languages]


def held_out_pairs(options: BuildOptions) -> list[dict[str, str]]:
    """The test set of a build with these options, without building anything else.

    Returns:
        The lines of ``test.jsonl``, in the same order.
    """
    by_code = {t.code: t for t in load_languages(options)}
    records = []
    for s, t in directions(options.languages):
        keys = _test_keys(_Pool.of(by_code[s], by_code[t]), _rng(options.seed, "test", s, t), options)
        records += [_record(by_code[s], by_code[t], key, with_key=True) for key in keys]
    return records


def name_pairs(options: BuildOptions, *, per_kind: int = 2000, seed: int = 0) -> list[dict[str, str]]:
    """A fixed sample of CLDR name pairs of every kind, for measuring what the model knows.

    Names cannot be held out (a name is learnt, not composed), so these are training pairs when
    the model was trained with ``all_names``: the measure is whether it knows them all.

    Args:
        per_kind: Pairs of each kind (weekday, month, language, territory), drawn uniformly from
            every (direction, name) pair both languages have; all of them when there are fewer.
        seed: Seeds the draw.

    Returns:
        ``{"src_lang", "tgt_lang", "src", "tgt", "key"}`` records, kind by kind in NAME_KINDS' order.
    """
    by_code = {t.code: t for t in load_languages(options)}
    records = []
    for kind in NAME_KINDS:
        pairs = [
            (s, t, key)
            for s, t in directions(options.languages)
            for key in by_code[s].texts
            if key[0] == kind and key in by_code[t].texts
        ]
        if len(pairs) > per_kind:
            pairs = random.Random(f"{seed}/names/{kind}").sample(pairs, per_kind)
        records += [_record(by_code[s], by_code[t], key, with_key=True) for s, t, key in pairs]
    return records


def _splits(options: BuildOptions, languages: list[LanguageTexts]) -> Iterator[tuple[str, dict[str, str], str]]:
    """(split, record, key kind) for every line of every split, train in direction order."""
    by_code = {t.code: t for t in languages}
    for s, t in directions(options.languages):
        pool = _Pool.of(by_code[s], by_code[t])
        train = _train_keys(pool, _rng(options.seed, "train", s, t), options)
        valid = _valid_keys(pool, _rng(options.seed, "valid", s, t), options, train)
        test = _test_keys(pool, _rng(options.seed, "test", s, t), options)
        for split, keys in (("train", train), ("valid", valid), ("test", test)):
            for key in keys:
                yield split, _record(by_code[s], by_code[t], key, with_key=split == "test"), key[0]


def _write_jsonl(path: Path, records: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def build(out: Path, options: BuildOptions) -> BuildReport:
    """Write the data, the tokenizer folder and the model config into ``out`` (created if
    missing; files of an earlier build are replaced).

    Raises:
        ValueError: a language's num2words or CLDR data is unusable (the message says why).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    languages = load_languages(options)
    report = BuildReport(options, languages)
    records: dict[str, list[dict[str, str]]] = {"train": [], "valid": [], "test": []}
    for split, record, kind in _splits(options, languages):
        records[split].append(record)
        report.kinds.setdefault(split, Counter())[kind] += 1
    random.Random(f"{options.seed}/shuffle").shuffle(records["train"])
    for split, lines in records.items():
        _write_jsonl(out / f"{split}.jsonl", lines)
        report.lines[split] = len(lines)
    report.held_out_numbers = sum(is_held_out(n) for n in range(options.max_number + 1))

    texts = sorted({r[side] for r in records["train"] for side in ("src", "tgt")})
    tokenizer = write_tokenizer(out / "tokenizer", texts, vocab_size=options.vocab_size)
    config = model_config(len(tokenizer))
    config.save_pretrained(out)
    report.vocabulary, report.parameters = len(tokenizer), parameter_count(config)
    manifest = {"options": options.to_dict(), "lines": report.lines, "held_out": HELD_OUT_RULE}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return report
