"""Translator throughput on real lines: sorted token-budget batching against a plain batch loop.

The lines are what the demo model was trained on, in the source language (number words and CLDR
names, 1-20 pieces, shuffled), so translations really end with EOS at many lengths. Three ways to
translate them all, each with the same model weights and the same beam size:

- ``transformers loop``: transformers' generate over fixed batches of ``--batch`` lines in
  input order, as its documentation shows (the usual way to translate a file);
- ``m2m100 loop``: the same loop with m2m100's generate;
- ``m2m100 Translator``: ``Translator.translate``: lines sorted by length, batches filled up to
  a token budget, finished rows dropped from the batch, results put back in input order.

Every loop gives each batch the Translator's default length limit for its longest line, so that
all three do the same work; the table says how many lines equal transformers' translation.

    python bench/bench_translator.py                          # the shipped demo model, fr -> de
    python bench/bench_translator.py --model DIR --input lines.txt -s en -t fr
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

import torch

from m2m100.translator import DEFAULT_MAX_BATCH_TOKENS


def demo_lines(src: str, count: int, seed: int) -> list[str]:
    from m2m100.demo.sources import language_texts

    texts = sorted(set(language_texts(src).texts.values()))
    return random.Random(seed).sample(texts, min(count, len(texts)))


def loop_runner(model, tokenizer, *, batch: int, beams: int, limit: Callable[[int], int]) -> Callable:
    """Translate ``lines`` in input order, ``batch`` at a time, with ``model.generate``."""

    def run(lines: list[str], src: str, tgt: str) -> list[str]:
        tokenizer.src_lang = src
        out: list[str] = []
        for start in range(0, len(lines), batch):
            enc = tokenizer(lines[start : start + batch], padding=True, return_tensors="pt")
            with torch.inference_mode():
                ids = model.generate(
                    **enc,
                    forced_bos_token_id=tokenizer.get_lang_id(tgt),
                    num_beams=beams,
                    max_new_tokens=limit(enc["input_ids"].shape[1]),
                )
            out += tokenizer.batch_decode(ids, skip_special_tokens=True)
        return out

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="checkpoint folder (default: the shipped demo model)")
    parser.add_argument("--input", help="a file of lines (default: demo training texts in --src)")
    parser.add_argument("-s", "--src", default="fr")
    parser.add_argument("-t", "--tgt", default="de")
    parser.add_argument("--lines", type=int, default=1500, help="lines drawn from the demo texts")
    parser.add_argument("--batch", type=int, default=32, help="lines per batch of the plain loops")
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument(
        "--max-batch-tokens", type=int, default=DEFAULT_MAX_BATCH_TOKENS, help="the Translator's budget"
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import transformers

    from m2m100 import Translator
    from m2m100.demo import model_or_demo

    folder = Path(model_or_demo(args.model))
    lines = (
        Path(args.input).read_text(encoding="utf-8").splitlines()
        if args.input
        else demo_lines(args.src, args.lines, seed=0)
    )
    translator = Translator(folder, device="cpu", dtype="float32", max_batch_tokens=args.max_batch_tokens)
    limit = translator._default_limit  # the same length limit for every system
    hf_model = transformers.M2M100ForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
    hf_tokenizer = transformers.M2M100Tokenizer.from_pretrained(str(folder))
    systems: dict[str, Callable] = {
        "transformers loop": loop_runner(hf_model, hf_tokenizer, batch=args.batch, beams=args.beam_size, limit=limit),
        "m2m100 loop": loop_runner(
            translator.model, translator.tokenizer, batch=args.batch, beams=args.beam_size, limit=limit
        ),
        "m2m100 Translator": lambda lines, src, tgt: translator.translate(
            lines, src=src, tgt=tgt, beam_size=args.beam_size
        ),
    }
    for run in systems.values():
        run(lines[:4], args.src, args.tgt)  # warm-up

    best = {name: float("inf") for name in systems}
    outputs: dict[str, list[str]] = {}
    for _ in range(args.repeats):  # interleaved, so that a slow moment hits every system alike
        for name, run in systems.items():
            start = time.perf_counter()
            outputs[name] = run(lines, args.src, args.tgt)
            best[name] = min(best[name], time.perf_counter() - start)

    pieces = sum(len(translator.tokenizer.encode(t, add_special_tokens=False)) for t in outputs["m2m100 Translator"])
    print(
        f"\n{len(lines)} lines {args.src}->{args.tgt}, beam {args.beam_size}, {torch.get_num_threads()} threads, "
        f"loops of {args.batch} lines, Translator budget {args.max_batch_tokens} tokens, best of {args.repeats}\n"
    )
    print(
        "| system | time (s) | lines/s | output pieces/s | vs transformers loop | vs m2m100 loop "
        "| lines equal transformers |"
    )
    print("|---|---|---|---|---|---|---|")
    reference = outputs["transformers loop"]
    for name in systems:
        seconds = best[name]
        same = sum(a == b for a, b in zip(outputs[name], reference))
        print(
            f"| {name} | {seconds:.2f} | {len(lines) / seconds:.1f} | {pieces / seconds:.0f} | "
            f"{best['transformers loop'] / seconds:.2f}x | {best['m2m100 loop'] / seconds:.2f}x | "
            f"{same}/{len(lines)} |"
        )


if __name__ == "__main__":
    main()
