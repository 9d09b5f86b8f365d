"""What each output control costs against plain translation, on the demo model, in one run.

The same lines are translated plainly and with each control, the runs interleaved round by
round (so that a loaded machine slows them alike); the table gives the median seconds of each
and its ratio to the plain run of the same rounds. Scoring is timed on the plain run's own
translations, in pairs per second.

    python bench/bench_control.py                 # 256 demo lines, en -> fr, beam 4, 5 rounds
    python bench/bench_control.py --lines 64 --rounds 3 --beam-size 2
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import torch

from m2m100.demo.sources import language_texts
from m2m100.translator import Segment, Translator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=256)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--beam-size", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    texts = sorted(set(language_texts("en").texts.values()))
    lines = random.Random(0).sample(texts, min(args.lines, len(texts)))
    translator = Translator(device="cpu")
    beam = args.beam_size

    def run(**controls: object) -> Callable[[], object]:
        segments = [Segment(t, "en", "fr", **controls) for t in lines]  # type: ignore[arg-type]
        return lambda: list(translator.translate_segments(segments, beam_size=beam))

    plain_out = [r.text for r in translator.translate_segments([Segment(t, "en", "fr") for t in lines], beam_size=beam)]
    prefixes = [" ".join(t.split()[:1]) for t in plain_out]  # each translation's first word
    runs: dict[str, Callable[[], object]] = {
        "plain": run(),
        "return_scores": run(return_scores=True),
        "prefix (first word)": lambda: list(
            translator.translate_segments(
                [Segment(t, "en", "fr", prefix=p) for t, p in zip(lines, prefixes)], beam_size=beam
            )
        ),
        "alternatives=4 (n-best)": run(alternatives=4),
        "alternatives=4 after prefix": lambda: list(
            translator.translate_segments(
                [Segment(t, "en", "fr", prefix=p, alternatives=4) for t, p in zip(lines, prefixes)], beam_size=beam
            )
        ),
        "replace_unknowns": run(replace_unknowns=True),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    score_times: list[float] = []
    for _ in range(args.rounds):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        translator.score(lines, plain_out, src="en", tgt="fr")
        score_times.append(time.perf_counter() - start)
    base = statistics.median(times["plain"])
    print(f"{len(lines)} demo lines en -> fr, beam {beam}, {args.rounds} interleaved rounds, {args.threads} threads")
    print(f"{'run':32} {'median s':>9} {'x plain':>8}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:32} {median:9.3f} {median / base:8.2f}")
    pairs = len(lines) / statistics.median(score_times)
    print(f"{'scoring (Translator.score)':32} {statistics.median(score_times):9.3f}   {pairs:.0f} pairs/s")


if __name__ == "__main__":
    main()
