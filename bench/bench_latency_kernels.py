"""Weight-only quantized linear kernels at the latency mode's shapes: 1 and 4 rows.

Greedy decoding at batch 1-4 reads every weight once per step, so the bytes of the weights
bound it. This compares, interleaved in one process (best of --repeats), the kernels a
latency mode could use on the shapes of the 418M model: a feed-forward layer (1024 -> 4096,
cycled over 24 distinct copies so the weights come from memory, not the 32 MB cache, as in a
decoding step) and the LM head (1024 -> 128112):

- fp32: oneDNN with the prepacked weight (m2m100.model.linear, the exact mode)
- bf16: oneDNN, bf16 weights and activations, prepacked
- int8-fbgemm: the dynamic int8 layer of quantize="int8" (fp32 in and out)
- int8-weight: torch's _weight_int8pack_mm (int8 weights per row, bf16 activations)
- int4-gN: torch's _weight_int4pack_mm_for_cpu (int4 weights, groups of N, bf16 activations)
- int4w-layer: quantize="int4-weight"'s layer (int4-g32, fp32 in and out, long matrices in slices)

The table gives microseconds per call, the weight bytes read per second, and the ratio to
int8-fbgemm.

    python bench/bench_latency_kernels.py --repeats 7
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from m2m100.model.linear import linear
from m2m100.model.quantize import _int8_linear
from m2m100.model.weight_only import Int4Linear, int4_quantize

COPIES = 24  # distinct feed-forward weights, 24 x 16 MB (fp32): larger than the cache


def int8_pack(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output row: (int8 weight (out x in), bf16 scale (out,))."""
    scale = (weight.abs().amax(dim=1) / 127).clamp(min=1e-12)
    return torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8), scale.bfloat16()


def int4_pack(weight: torch.Tensor, group: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's packed int4 weight (one call, no slices) and its (G, out, 2) bf16 scales and zeros."""
    codes, scale_and_zero = int4_quantize(weight, group)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes.to(torch.int32), 1)
    return packed, scale_and_zero.transpose(0, 1).contiguous().bfloat16()


def candidates(weights: list[torch.Tensor], rows: int) -> dict[str, tuple[Callable[[], object], int]]:
    """name -> (a call cycling over the weights, weight bytes per call)."""
    out_features, in_features = weights[0].shape
    x32 = torch.randn(rows, in_features)
    x16 = x32.bfloat16()
    made: dict[str, tuple[list[Callable[[], object]], int]] = {}

    def add(name: str, calls: list[Callable[[], object]], nbytes: int) -> None:
        made[name] = (calls, nbytes)

    fp32 = [torch.ops.mkldnn._reorder_linear_weight(w, None) for w in weights]
    add("fp32", [lambda p=p, w=w: linear(x32, w, packed=p) for p, w in zip(fp32, weights)], 4 * weights[0].numel())
    bf16_w = [w.bfloat16() for w in weights]
    bf16 = [torch.ops.mkldnn._reorder_linear_weight(w, None) for w in bf16_w]
    add("bf16", [lambda p=p, w=w: linear(x16, w, packed=p) for p, w in zip(bf16, bf16_w)], 2 * weights[0].numel())
    fb = [_int8_linear(w, None) for w in weights]
    add("int8-fbgemm", [lambda m=m: m(x32) for m in fb], weights[0].numel())
    i8 = [int8_pack(w) for w in weights]
    add(
        "int8-weight",
        [lambda q=q, s=s: torch.ops.aten._weight_int8pack_mm(x16, q, s) for q, s in i8],
        weights[0].numel(),
    )
    for group in (32, 64, 128):
        i4 = [int4_pack(w, group) for w in weights]
        add(
            f"int4-g{group}",
            [lambda q=q, sz=sz, g=group: torch.ops.aten._weight_int4pack_mm_for_cpu(x16, q, g, sz) for q, sz in i4],
            weights[0].numel() // 2 + 4 * weights[0].numel() // group,
        )
    layers = [Int4Linear.from_float(w, None) for w in weights]
    add("int4w-layer", [lambda m=m: m(x32) for m in layers], weights[0].numel() // 2 + weights[0].numel() // 8)
    result = {}
    for name, (calls, nbytes) in made.items():

        def run(calls: list[Callable[[], object]] = calls) -> None:
            for call in calls:
                call()

        result[name] = (run, nbytes * len(calls))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shapes = {
        "fc1 1024->4096": [torch.randn(4096, 1024) / 32 for _ in range(COPIES)],
        "fc2 4096->1024": [torch.randn(1024, 4096) / 64 for _ in range(COPIES)],
        "LM head 1024->128112": [torch.randn(128112, 1024) / 32],
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.repeats}, interleaved")
    with torch.inference_mode():
        for shape, weights in shapes.items():
            for rows in (1, 4):
                systems = candidates(weights, rows)
                best = {name: float("inf") for name in systems}
                for run, _ in systems.values():
                    run()  # warm-up
                for _ in range(args.repeats):
                    for name, (run, _) in systems.items():
                        start = time.perf_counter()
                        run()
                        best[name] = min(best[name], time.perf_counter() - start)
                calls = len(weights)
                base = best["int8-fbgemm"]
                print(f"\n{shape}, {rows} row(s): us/call, GB/s of weights, speed vs int8-fbgemm")
                for name, (_, nbytes) in systems.items():
                    us = best[name] / calls * 1e6
                    print(f"  {name:12s} {us:9.1f} us {nbytes / best[name] / 1e9:7.1f} GB/s {base / best[name]:6.2f}x")


if __name__ == "__main__":
    main()
