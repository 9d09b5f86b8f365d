"""The small operations of a decoding step, each against the way it was done before.

A decoding step of the 418M model is a few big matrix products and some 400 small operations
around them; at one row the small ones are a quarter of int8's step. This times, interleaved in
one process (best of --repeats), the choices the decoding loop makes for three of them:

- greedy's next token over 128,112 scores: ``torch.argmax`` against
  :func:`m2m100.generation.decoding.arg_max` (chunk maxima first, the same index);
- attention of a decoding step: :func:`m2m100.model.attention.attention` (two matmuls and a
  softmax for a few queries, SDPA's fused kernel for one query in up to 4 rows) against each
  of the two ways alone, on the step shapes of greedy and beam search (16 heads of 64);
- the int8 feed-forward's first layer (1024 -> 4096): FBGEMM's linear then relu, against relu
  in FBGEMM's output stage (what ``quantize="int8"`` calls);
- a beam step's log-softmax over 4 x 16 rows of 128,112 logits: into a new buffer, against in
  place over the logits (what beam search does when the raw logits are not returned);
- greedy's fp32 LM head (1024 -> 128,112, N(0, 0.02) as the benchmark checkpoint's, rows of
  layer-normed size): the full head against the int8 screen and the candidates' exact logits
  (:mod:`m2m100.model.screened_head`), checked to pick the same tokens.

Times are microseconds per call.

    python bench/bench_step_ops.py --repeats 7
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from m2m100.generation.decoding import arg_max
from m2m100.model.attention import attention, padding_mask
from m2m100.model.linear import Linear
from m2m100.model.quantize import _int8_linear
from m2m100.runtime import tune_malloc

VOCAB = 128112
HEADS, HEAD_DIM = 16, 64


def best_of(calls: dict[str, Callable[[], object]], repeats: int, inner: int) -> dict[str, float]:
    """name -> best microseconds per call, the calls interleaved."""
    for call in calls.values():
        call()
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(inner):
                call()
            best[name] = min(best[name], (time.perf_counter() - start) / inner * 1e6)
    return best


def show(title: str, times: dict[str, float]) -> None:
    first = next(iter(times.values()))
    cells = "  ".join(f"{name} {us:8.1f} us ({first / us:.2f}x)" for name, us in times.items())
    print(f"{title:<34} {cells}")


def explicit(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    scores = torch.matmul(q, k.transpose(2, 3)) * HEAD_DIM**-0.5
    if mask is not None:
        scores = scores + mask
    return torch.matmul(F.softmax(scores, dim=-1), v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    tune_malloc()  # as the m2m100 command does: freed buffers are reused, not page-faulted in again
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"{args.threads} threads, torch {torch.__version__}, best of {args.repeats}, microseconds per call")

    print("\ngreedy's next token over 128,112 scores (ratio: speed against torch.argmax)")
    for rows in (1, 16, 64):
        scores = torch.randn(rows, VOCAB)
        if not torch.equal(arg_max(scores), torch.argmax(scores, dim=-1)):
            raise SystemExit("arg_max differs from torch.argmax")
        times = best_of(
            {"argmax": lambda s=scores: torch.argmax(s, dim=-1), "arg_max": lambda s=scores: arg_max(s)},
            args.repeats,
            20,
        )
        show(f"  {rows} row(s)", times)

    print("\nattention of a decoding step (ratio: speed against two matmuls)")
    shapes = [  # rows, queries per row, keys, masked
        ("greedy, 1 row, self", 1, 1, 24, False),
        ("greedy, 1 row, cross", 1, 1, 30, True),
        ("greedy, 4 rows, cross", 4, 1, 30, True),
        ("greedy, 16 rows, cross", 16, 1, 30, True),
        ("beam 4 x 16, self", 64, 1, 24, False),
        ("beam 4 x 16, cross (grouped)", 16, 4, 30, True),
    ]
    with torch.inference_mode():
        for title, rows, queries, keys, masked in shapes:
            q = torch.randn(rows, HEADS, queries, HEAD_DIM)
            k, v = torch.randn(rows, HEADS, keys, HEAD_DIM), torch.randn(rows, HEADS, keys, HEAD_DIM)
            mask = padding_mask(torch.ones(rows, keys, dtype=torch.long), torch.float32) if masked else None
            calls: dict[str, Callable[[], object]] = {
                "matmuls": lambda q=q, k=k, v=v, m=mask: explicit(q, k, v, m),
                "sdpa": lambda q=q, k=k, v=v, m=mask: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                "chosen": lambda q=q, k=k, v=v, m=mask: attention(q, k, v, mask=m, scale=HEAD_DIM**-0.5),
            }
            show(f"  {title}", best_of(calls, args.repeats, 200))

    print("\nint8 fc1 (1024 -> 4096) and relu (ratio: speed against two calls)")
    layer = _int8_linear(torch.randn(4096, 1024) * 0.03, torch.zeros(4096))
    for rows in (1, 16, 64):
        x = torch.randn(rows, 1024)
        if not torch.equal(torch.relu(layer(x)), layer(x, activation="relu")):
            raise SystemExit("the fused relu differs from relu after the layer")
        times = best_of(
            {
                "linear, relu": lambda x=x: torch.relu(layer(x)),
                "fused": lambda x=x: layer(x, activation="relu"),
            },
            args.repeats,
            50,
        )
        show(f"  {rows} row(s)", times)

    print("\nbeam step's log-softmax over 64 x 128,112 logits (ratio: speed against a new buffer)")
    logits = torch.randn(64, VOCAB)
    expected = F.log_softmax(logits, dim=-1)
    in_place = logits.clone()
    if not torch.equal(torch._log_softmax(in_place, -1, False, out=in_place), expected):
        raise SystemExit("log-softmax in place differs from log_softmax")
    # in place rewrites its input with log-probabilities, whose log-softmax is themselves: the
    # repeated calls do the same work on the same kind of values
    times = best_of(
        {
            "new buffer": lambda: F.log_softmax(logits, dim=-1),
            "in place": lambda: torch._log_softmax(in_place, -1, False, out=in_place),
        },
        args.repeats,
        10,
    )
    show("  64 rows", times)

    print("\ngreedy's fp32 LM head, 1024 -> 128,112 (ratio: speed against the full head)")
    head = Linear(1024, VOCAB, bias=False).eval()
    head.requires_grad_(False)
    torch.nn.init.normal_(head.weight, 0.0, 0.02)
    head.screens = True
    with torch.inference_mode():
        start = time.perf_counter()
        head.screened(torch.randn(1, 1024))
        print(f"  the screen is built at the first call: {time.perf_counter() - start:.2f} s")
        for rows in (1, 4, 16):
            x = torch.randn(rows, 1024)
            screened = head.screened(x)
            if screened is None or not torch.equal(screened.logits.argmax(dim=1), head(x).argmax(dim=1)):
                raise SystemExit("the screened head picks other tokens than the full head")
            candidates = len(torch.nonzero(torch.isfinite(screened.logits).any(dim=0)))  # all rows together
            times = best_of({"full": lambda x=x: head(x), "screened": lambda x=x: head.screened(x)}, args.repeats, 5)
            show(f"  {rows} row(s), {candidates} tokens kept", times)


if __name__ == "__main__":
    main()
