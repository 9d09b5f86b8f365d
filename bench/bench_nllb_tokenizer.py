"""NllbTokenizer against transformers 4.57's slow NllbTokenizer at NLLB-200's real size (256,204 ids):
loading the folder, encoding a batch of sentences with padding, and decoding it back.

The folder is the original hub layout (sentencepiece.bpe.model, the language ids in
tokenizer.json) with a sentencepiece model grown to 256,000 pieces, built once under bench/.cache.
Both tokenizers must give the same ids and texts; the table prints the times and the ratio.

    python bench/bench_nllb_tokenizer.py [--texts 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import CACHE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test fixtures build the folder

from tests.nllb_fixture import pad_spm, train_spm, write_hub_folder  # noqa: E402
from tests.tokenizer_fixture import _sentences  # noqa: E402


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000, help="sentences to encode and decode")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step; the fastest counts")
    args = parser.parse_args()

    import transformers

    from m2m100 import NllbTokenizer

    folder = CACHE / "nllb_tokenizer_real_size"
    if not (folder / "tokenizer.json").is_file():
        write_hub_folder(folder, pad_spm(train_spm()))
    texts = _sentences(args.texts, seed=7)
    rows = []
    results = {}
    for name, cls in (("transformers", transformers.NllbTokenizer), ("m2m100", NllbTokenizer)):
        load, tokenizer = best_of(args.repeat, lambda cls=cls: cls.from_pretrained(str(folder), src_lang="fra_Latn"))
        encode, batch = best_of(args.repeat, lambda t=tokenizer: t(texts, padding=True))
        decode, decoded = best_of(
            args.repeat, lambda t=tokenizer, b=batch: t.batch_decode(b["input_ids"], skip_special_tokens=True)
        )
        results[name] = (batch["input_ids"], decoded)
        rows.append((name, load, encode, decode))
    assert results["m2m100"] == results["transformers"], "the two tokenizers disagree"

    print(f"{args.texts} sentences, {len(tokenizer)} ids; best of {args.repeat} (seconds)")
    print(f"{'tokenizer':<14}{'load':>8}{'encode':>9}{'decode':>9}")
    for name, *times in rows:
        print(f"{name:<14}" + "".join(f"{t:>9.3f}" for t in times))
    base, ours = rows[0][1:], rows[1][1:]
    print(f"{'speed-up':<14}" + "".join(f"{b / o:>8.2f}x" for b, o in zip(base, ours)))


if __name__ == "__main__":
    main()
