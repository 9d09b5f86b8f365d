"""Source-language detection (``-s auto``): py3langid, which m2m100 uses, against other offline
detectors on the same short texts, and its cost per line next to translation's.

The sample: GNOME's user-interface messages as Debian installs them (GLib's ``glib20.mo`` and
GTK's ``gtk30.mo`` under /usr/share/locale, from the libglib2.0-data and libgtk-3-common
packages): per language, the first ``--per-language`` translated messages of at least 25
characters (by a fixed hash of the message, after removing placeholders such as ``%s``, ``_``
mnemonics and markup), and the English source messages for English. One locale per language
(``pt`` not ``pt_BR``, ``zh_CN`` for Chinese); languages neither model family has, or that the
detector under test cannot answer, are left out of its figures and named.

A detection is right when the detector's answer means the same code of the model as the
locale's language (through :func:`m2m100.languages.detection.model_code`): for the M2M100
languages among M2M100's 100 codes, for the NLLB-only languages (NLLB-200 has them, M2M100 does
not) among NLLB's 202. py3langid is restricted to the model's languages, as
:class:`~m2m100.languages.LanguageDetector` runs it; the others answer among all of theirs.

Candidates other than py3langid live in another environment: ``--site DIR`` adds its
site-packages (e.g. /work/venv_detect/lib/python3.11/site-packages, with ``pip install
langdetect lingua-language-detector``).

Run: ``python bench/bench_detection.py --site /work/venv_detect/lib/python3.11/site-packages``
"""

from __future__ import annotations

import argparse
import gettext
import hashlib
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from m2m100.languages import M2M100_CODES, NLLB_CODES
from m2m100.languages.detection import LanguageDetector, model_code

LOCALE = Path("/usr/share/locale")
DOMAINS = ("glib20", "gtk30")
# One locale per language where several exist; the rest of a language's variants are skipped.
PREFERRED = {"zh": "zh_CN", "pt": "pt", "sr": "sr", "en": "en"}
MIN_CHARS = 25
_NOISE = re.compile(r"%(\d+\$)?[-#0 +']*\d*(\.\d+)?[lhjzt]*[sdiufgxXcp%]|\{[^}]*\}|<[^>]+>|_(?=\w)|\\n|[“”\"'«»]")


def clean(message: str) -> str:
    return " ".join(_NOISE.sub(" ", message).split())


def read_messages(locale: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) of every singular message of the DOMAINS in ``locale``."""
    pairs: list[tuple[str, str]] = []
    for domain in DOMAINS:
        path = LOCALE / locale / "LC_MESSAGES" / f"{domain}.mo"
        if not path.exists():
            continue
        with open(path, "rb") as handle:
            try:
                catalog = gettext.GNUTranslations(handle)
            except (IndexError, ValueError, OSError):  # a catalog with a malformed header: left out
                continue
        for key, value in catalog._catalog.items():  # type: ignore[attr-defined]
            if isinstance(key, str) and key and value and value != key:
                pairs.append((key.split("\x04")[-1], value))
    return pairs


def sample(per_language: int) -> dict[str, list[str]]:
    """Language (the locale's) -> its texts."""
    locales: dict[str, str] = {}
    for folder in sorted(p.name for p in LOCALE.iterdir() if (p / "LC_MESSAGES" / "glib20.mo").exists()):
        if "@" in folder:
            continue
        language = folder.split("_")[0]
        if PREFERRED.get(language, folder) == folder or (language not in PREFERRED and language not in locales):
            locales.setdefault(language, folder)
            if PREFERRED.get(language) == folder:
                locales[language] = folder
    texts: dict[str, list[str]] = {}
    english: dict[str, str] = {}
    for language, locale in sorted(locales.items()):
        chosen: dict[str, str] = {}
        for msgid, msgstr in read_messages(locale):
            text = clean(msgstr)
            if len(text) >= MIN_CHARS and clean(msgid) != text:
                chosen.setdefault(hashlib.sha256(msgid.encode()).hexdigest(), text)
                english.setdefault(hashlib.sha256(msgid.encode()).hexdigest(), clean(msgid))
        if len(chosen) >= per_language:
            texts[language] = [chosen[k] for k in sorted(chosen)[:per_language]]
    texts["en"] = [english[k] for k in sorted(english) if len(english[k]) >= MIN_CHARS][:per_language]
    return texts


def py3langid(languages: Sequence[str]) -> tuple[Callable[[list[str]], list[str | None]], set[str]]:
    detector = LanguageDetector(languages)
    return (lambda texts: [d.code for d in detector.detect(texts)]), set(detector.labels)


def langdetect(languages: Sequence[str]) -> tuple[Callable[[list[str]], list[str | None]], set[str]]:
    from langdetect import DetectorFactory, detect
    from langdetect.detector_factory import init_factory
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0  # langdetect samples at random
    init_factory()
    from langdetect.detector_factory import _factory

    def one(text: str) -> str | None:
        try:
            label = detect(text)
        except LangDetectException:
            return None
        return model_code(label.split("-")[0], languages)

    labels = {label.split("-")[0] for label in _factory.get_lang_list()}  # type: ignore[union-attr]
    return (lambda texts: [one(t) for t in texts]), labels


def lingua(languages: Sequence[str]) -> tuple[Callable[[list[str]], list[str | None]], set[str]]:
    from lingua import Language, LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

    def iso(language: Language | None) -> str | None:
        return None if language is None else language.iso_code_639_1.name.lower()

    def run(texts: list[str]) -> list[str | None]:
        found = detector.detect_languages_in_parallel_of(texts)
        return [None if (code := iso(f)) is None else model_code(code, languages) for f in found]

    return run, {lang.iso_code_639_1.name.lower() for lang in Language.all()}


CANDIDATES = {"py3langid": py3langid, "langdetect": langdetect, "lingua": lingua}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-language", type=int, default=40)
    parser.add_argument("--site", action="append", default=[], help="a site-packages with more candidates")
    parser.add_argument("--candidates", default="py3langid,langdetect,lingua")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds; 0: no translation timing")
    args = parser.parse_args()
    sys.path.extend(args.site)

    texts = sample(args.per_language)
    groups = {
        "M2M100": (M2M100_CODES, {k: v for k, v in texts.items() if model_code(k, M2M100_CODES) is not None}),
        "NLLB-only": (
            NLLB_CODES,
            {
                k: v
                for k, v in texts.items()
                if model_code(k, M2M100_CODES) is None and model_code(k, NLLB_CODES) is not None
            },
        ),
    }
    others = sorted(k for k in texts if all(k not in g[1] for g in groups.values()))
    print(f"sample: {sum(map(len, texts.values()))} GLib/GTK messages, {args.per_language} per language")
    print(f"languages of neither model, left out: {', '.join(others)}")
    results: dict[str, dict[str, dict[str, float]]] = {}
    seconds: dict[str, list[float]] = {}  # candidate -> [seconds, lines]
    for name in args.candidates.split(","):
        try:
            CANDIDATES[name](M2M100_CODES)
        except ImportError as err:
            print(f"{name}: not installed ({err})")
            continue
        results[name] = {}
        for group, (codes, languages) in groups.items():
            run, labels = CANDIDATES[name](codes)
            for language, lines in languages.items():
                want = model_code(language, codes)
                if not any(model_code(label, codes) == want for label in labels):
                    continue  # the detector cannot answer this language
                start = time.perf_counter()
                found = run(lines)
                spent = seconds.setdefault(name, [0.0, 0.0])
                spent[0] += time.perf_counter() - start
                spent[1] += len(lines)
                results[name][f"{group}:{language}"] = {"right": sum(f == want for f in found), "n": len(lines)}

    names = list(results)
    for group in groups:
        keys = sorted({k for r in results.values() for k in r if k.startswith(group + ":")})
        print(f"\n{group} languages: accuracy per language (blank: the detector does not know it)")
        print(f"{'lang':<6}" + "".join(f"{n:>12}" for n in names))
        for key in keys:
            row = [results[n].get(key) for n in names]
            cells = "".join(f"{'' if r is None else format(r['right'] / r['n'], '.2f'):>12}" for r in row)
            print(f"{key.split(':')[1]:<6}{cells}")
        for n in names:
            mine = [v for k, v in results[n].items() if k.startswith(group + ":")]
            shared = [results[n][k] for k in keys if all(k in results[m] for m in names)]
            print(
                f"{group} overall {n}: {sum(r['right'] for r in mine) / max(1, sum(r['n'] for r in mine)):.3f} "
                f"over {len(mine)} languages; on the {len(shared)} all candidates know: "
                f"{sum(r['right'] for r in shared) / max(1, sum(r['n'] for r in shared)):.3f}"
            )
    thresholds(groups["M2M100"][1])
    print()
    for n, (spent, count) in seconds.items():
        print(f"{n}: {1000 * spent / count:.3f} ms per line (one pass over the sample)")
    if args.rounds:
        cost(texts, args.rounds)


def thresholds(texts: dict[str, list[str]]) -> None:
    """How py3langid's confidence separates its right answers from its wrong ones (the M2M100
    languages it knows): per threshold, the lines trusted and the accuracy among them."""
    detector = LanguageDetector(M2M100_CODES)
    known = {model_code(label, M2M100_CODES) for label in detector.labels}
    found = [
        (d, want)
        for lang, lines in texts.items()
        if (want := model_code(lang, M2M100_CODES)) in known
        for d in detector.detect(lines)
    ]
    print("\npy3langid's confidence, M2M100 languages: lines at or above a threshold, and their accuracy")
    for threshold in (0.0, 0.3, 0.5, 0.7, 0.9):
        kept = [d.code == want for d, want in found if d.confidence >= threshold]
        print(
            f"min_confidence {threshold:.1f}: {len(kept) / len(found):.3f} of lines trusted, "
            f"accuracy {sum(kept) / max(1, len(kept)):.3f}; wrong answers below it: "
            f"{sum(d.code != w and d.confidence < threshold for d, w in found) / max(1, sum(d.code != w for d, w in found)):.3f}"
        )


def cost(texts: dict[str, list[str]], rounds: int) -> None:
    """Detection's cost per line against the demo model's translation of the same lines,
    interleaved rounds, medians."""
    from m2m100.demo import model_path
    from m2m100.translator import Segment, Translator

    translator = Translator(model_path(), device="cpu")
    codes = translator.languages
    lines = [t for lang in sorted(texts) if lang in codes for t in texts[lang][:10]]
    sources = [lang for lang in sorted(texts) if lang in codes for _ in texts[lang][:10]]
    detector = LanguageDetector(codes)
    translator.translate(lines[:8], src="en", tgt="fr")  # warm up
    detect_ms, translate_ms, auto_ms = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        detector.detect(lines)
        detect_ms.append((time.perf_counter() - start) * 1000 / len(lines))
        start = time.perf_counter()
        list(translator.translate_segments([Segment(t, s, "en") for t, s in zip(lines, sources)]))
        translate_ms.append((time.perf_counter() - start) * 1000 / len(lines))
        start = time.perf_counter()
        # Every line translated (none passed through), so that the two runs do the same work.
        list(translator.translate_segments(lines, src="auto", tgt="en", translate_same_language=True, min_confidence=0))
        auto_ms.append((time.perf_counter() - start) * 1000 / len(lines))
    d, t, a = statistics.median(detect_ms), statistics.median(translate_ms), statistics.median(auto_ms)
    print(f"\ncost per line ({len(lines)} lines of the demo model's {len(set(sources))} languages, into English, CPU):")
    print(f"py3langid detection: {d:.3f} ms; translation, src given: {t:.2f} ms; translation, src auto: {a:.2f} ms")
    print(f"detection / translation: {d / t:.3f}; src auto / src given: {a / t:.2f}")


if __name__ == "__main__":
    main()
