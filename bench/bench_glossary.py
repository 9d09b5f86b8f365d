"""The cost of glossaries: constrained against unconstrained beam search on the same workload.

The demo model translates lines it was trained on (English number words and CLDR names) into
French with the Translator, in rounds that interleave the workloads (the machine is shared, so
each ratio is taken against a baseline of the same round):

- ``plain``: no glossary;
- ``half``: every other line has a glossary term (its first word -> the French word of another
  line: a term the model would not have written);
- ``all``: every line has one.

each with greedy search (``--beam-size 1``; a constrained batch then runs as a one-beam beam
search) and beam search of 4. The table gives the median seconds, the ratio to ``plain`` and how
many terms the outputs lack. Then placeholders: how many of ``{user}``, ``%s`` and ``<b>`` come
out unchanged with and without ``Glossary(placeholders=True)``.

``--full-size`` adds ``generate`` on the random facebook/m2m100_418M-shaped checkpoint
(bench/common.py): 8 sources, two 2-token constraints per row, against the same call without them
(about 10 minutes on a shared 2-core machine, so it is not run by default).

    python bench/bench_glossary.py [--lines 64] [--rounds 5] [--full-size]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

from m2m100 import demo
from m2m100.glossary import Glossary
from m2m100.translator import Segment, Translator


def workload(count: int, seed: int) -> tuple[list[str], list[Glossary]]:
    """English lines and, per line, a glossary forcing its first word to another line's French word."""
    from m2m100.demo.sources import language_texts

    english, french = language_texts("en").texts, language_texts("fr").texts
    keys = sorted(k for k in english if k in french and len(english[k].split()) > 1)
    rng = random.Random(seed)
    picked = rng.sample(keys, count)
    glossaries = []
    for key in picked:
        other = french[rng.choice(keys)].split()[0]
        glossaries.append(Glossary({english[key].split()[0]: other}))
    return [english[k] for k in picked], glossaries


def run(translator: Translator, lines: list[str], glossaries: list[Glossary | None], beams: int) -> tuple[float, int]:
    segments = [Segment(text, "en", "fr", glossary) for text, glossary in zip(lines, glossaries)]
    start = time.perf_counter()
    results = list(translator.translate_segments(segments, beam_size=beams))
    return time.perf_counter() - start, sum(len(r.glossary_missed) for r in results)


def bench_demo(lines_count: int, rounds: int) -> None:
    translator = Translator(demo.model_path(), device="cpu")
    lines, glossaries = workload(lines_count, seed=0)
    workloads = {
        "plain": [None] * len(lines),
        "half": [g if i % 2 == 0 else None for i, g in enumerate(glossaries)],
        "all": list(glossaries),
    }
    print(
        f"demo model, {len(lines)} lines en -> fr, {rounds} interleaved rounds, torch threads {torch.get_num_threads()}"
    )
    print(f"{'search':<8}{'rows with a term':<18}{'best s':>8}{'x plain':>9}{'terms missed':>14}")
    for beams in (1, 4):
        run(translator, lines[:8], workloads["all"][:8], beams)  # warm up
        times: dict[str, list[float]] = {name: [] for name in workloads}
        missed: dict[str, int] = {}
        for r in range(rounds):
            names = list(workloads)
            for name in names[r % 3 :] + names[: r % 3]:  # rotate the order: no workload always first
                seconds, missed[name] = run(translator, lines, workloads[name], beams)
                times[name].append(seconds)
        for name in workloads:
            best = min(times[name])
            # per round against that round's plain run, then the median: load that comes and goes
            # on a shared machine moves both sides of a ratio alike
            ratio = statistics.median(t / p for t, p in zip(times[name], times["plain"]))
            terms = sum(g is not None for g in workloads[name])
            label = "greedy" if beams == 1 else f"beam {beams}"
            print(f"{label:<8}{f'{name} ({terms})':<18}{best:>8.3f}{ratio:>9.2f}{missed[name]:>14}")


def bench_placeholders(translator: Translator, count: int) -> None:
    marks = ["{user}", "%s", "<b>"]
    lines, _ = workload(count, seed=1)
    texts = [f"{marks[i % 3]} {line}" for i, line in enumerate(lines)]
    for label, glossary in (("without", None), ("placeholders=True", Glossary(placeholders=True))):
        out = translator.translate(texts, src="en", tgt="fr", beam_size=4, glossary=glossary)
        kept = sum(marks[i % 3] in text for i, text in enumerate(out))
        print(f"placeholders kept, beam 4, {label}: {kept}/{len(texts)}")


def bench_full_size(rounds: int) -> None:
    from bench.common import random_418m_checkpoint, source_batch
    from m2m100.modeling import M2M100ForConditionalGeneration

    model = M2M100ForConditionalGeneration.from_pretrained(random_418m_checkpoint()).eval()
    ids, mask = source_batch(8, max_len=24)
    g = torch.Generator().manual_seed(0)
    constraints = [[torch.randint(4, 128000, (2,), generator=g).tolist() for _ in range(2)] for _ in range(8)]
    settings = dict(num_beams=4, max_new_tokens=24, forced_bos_token_id=128028)
    times: dict[str, list[float]] = {"plain": [], "constrained": []}
    for _ in range(rounds):
        for name in times:
            extra = {"lexical_constraints": constraints} if name == "constrained" else {}
            start = time.perf_counter()
            model.generate(ids, mask, **settings, **extra)
            times[name].append(time.perf_counter() - start)
    plain, constrained = statistics.median(times["plain"]), statistics.median(times["constrained"])
    print(
        f"418M-shaped random checkpoint, 8 rows x beam 4 x 24 tokens: plain {plain:.2f} s, "
        f"constrained {constrained:.2f} s, x{constrained / plain:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--full-size", action="store_true", help="also the 418M-shaped random checkpoint")
    args = parser.parse_args()
    bench_demo(args.lines, args.rounds)
    bench_placeholders(Translator(demo.model_path(), device="cpu"), 48)
    if args.full_size:
        bench_full_size(args.rounds)


if __name__ == "__main__":
    main()
