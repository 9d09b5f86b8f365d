"""Generation speed: m2m100 against transformers (and CTranslate2 when installed), in one run.

Random weights shaped like facebook/m2m100_418M (built once by common.py), 16 sources of 12-40
tokens (or one of 20), exactly 32 new tokens per input (the language token and 31 more; EOS is
held off with a minimum length, as in every system's options). Systems run interleaved, each
workload best of --repeats. The table gives tokens/s, the ratio to transformers sdpa fp32, and
whether the tokens equal transformers fp32's.

Each system runs in a process of its own (spawned once, driven in turn by this one), as a user
runs one engine: in one shared process CTranslate2's OpenMP thread team slows torch's small
parallel regions (m2m100 int8 at one row took 33 ms a token beside it, 25 ms alone).
``--one-process`` runs them all in this process, as this benchmark did before.

    python bench/bench_generate.py                       # all systems and workloads
    python bench/bench_generate.py --systems hf-fp32,m2m100-fp32 --workloads greedy-16
    python bench/bench_generate.py --device cuda     # GPU: fp32/fp16/bf16, sdpa (flash kernels)
    python bench/bench_generate.py --systems m2m100-int8,m2m100-int4w,ct2-int8 --workloads greedy-1,greedy-4
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import common
import torch

NEW_TOKENS = 32
TARGET = "fr"


@dataclass(frozen=True)
class Workload:
    name: str
    beams: int
    batch: int
    source_len: tuple[int, int]


WORKLOADS = {
    "beam4-16": Workload("beam 4, batch 16", 4, 16, (12, 40)),
    "greedy-16": Workload("greedy, batch 16", 1, 16, (12, 40)),
    "greedy-1": Workload("greedy, batch 1 (20-token input)", 1, 1, (20, 20)),
    "greedy-4": Workload("greedy, batch 4", 1, 4, (12, 40)),
    "beam4-64": Workload("beam 4, batch 64", 4, 64, (12, 40)),
    "greedy-64": Workload("greedy, batch 64", 1, 64, (12, 40)),
}
DEFAULT_WORKLOADS = "beam4-16,greedy-16,greedy-1"
DEVICE = torch.device("cpu")


def generate_runner(model) -> Callable:
    """The workload's call of a transformers-style ``generate``; rows of ids after the start token."""

    def run(ids, mask, beams):
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                num_beams=beams,
                max_new_tokens=NEW_TOKENS,
                min_new_tokens=NEW_TOKENS,
                forced_bos_token_id=128028,
                early_stopping=True,
            )
        return [row[1:].tolist() for row in out]

    return run


def hf_system(folder, dtype: torch.dtype, attn: str = "sdpa") -> Callable:
    from transformers import M2M100ForConditionalGeneration

    model = M2M100ForConditionalGeneration.from_pretrained(folder, dtype=dtype, attn_implementation=attn)
    return generate_runner(model.to(DEVICE).eval())


def m2m100_system(folder, dtype: torch.dtype, quantize=None, attn: str = "sdpa") -> Callable:
    import m2m100

    return generate_runner(
        m2m100.M2M100ForConditionalGeneration.from_pretrained(
            folder, dtype=dtype, quantize=quantize, device=DEVICE, attn_implementation=attn
        )
    )


def ct2_system(folder, quantization: str) -> Callable:
    import ctranslate2

    if DEVICE.type != "cpu":
        raise ImportError("the CTranslate2 baseline runs on CPU here")

    converted = common.CACHE / f"ct2_{quantization}"
    if not (converted / "model.bin").is_file():
        from ctranslate2.converters import TransformersConverter

        TransformersConverter(str(folder)).convert(str(converted), quantization=quantization, force=True)
    translator = ctranslate2.Translator(
        str(converted), device="cpu", compute_type=quantization, inter_threads=1, intra_threads=torch.get_num_threads()
    )
    vocab = common.token_strings(folder)
    index = {token: i for i, token in enumerate(vocab)}
    lang = f"__{TARGET}__"

    def run(ids, mask, beams):
        sources = [[vocab[i] for i in row[m.bool()].tolist()] for row, m in zip(ids, mask)]
        results = translator.translate_batch(
            sources,
            target_prefix=[[lang]] * len(sources),
            beam_size=beams,
            max_decoding_length=NEW_TOKENS,
            min_decoding_length=NEW_TOKENS,
            max_batch_size=0,
            return_scores=False,
        )
        return [[index[t] for t in r.hypotheses[0]] for r in results]

    return run


SYSTEMS: dict[str, Callable] = {
    "hf-fp32": lambda f: hf_system(f, torch.float32),
    "m2m100-fp32": lambda f: m2m100_system(f, torch.float32),
    "ct2-fp32": lambda f: ct2_system(f, "float32"),
    "hf-bf16": lambda f: hf_system(f, torch.bfloat16),
    "m2m100-bf16": lambda f: m2m100_system(f, torch.bfloat16),
    "m2m100-int8": lambda f: m2m100_system(f, torch.float32, quantize="int8"),
    "m2m100-int4w": lambda f: m2m100_system(f, torch.float32, quantize="int4-weight"),  # the latency mode
    "ct2-int8": lambda f: ct2_system(f, "int8"),
    # GPU systems (--device cuda); flash_attention_2 needs the flash-attn package
    "hf-fp16": lambda f: hf_system(f, torch.float16),
    "m2m100-fp16": lambda f: m2m100_system(f, torch.float16),
    "hf-fa2-bf16": lambda f: hf_system(f, torch.bfloat16, attn="flash_attention_2"),
    "m2m100-fa2-bf16": lambda f: m2m100_system(f, torch.bfloat16, attn="flash_attention_2"),
}


class InProcess:
    """A system run in this process; called as the system is, it returns the tokens and keeps
    the seconds the run took in ``seconds``."""

    def __init__(self, run: Callable) -> None:
        self.run, self.seconds = run, 0.0

    def __call__(self, ids, mask, beams):
        start = time.perf_counter()
        tokens = self.run(ids, mask, beams)  # .tolist() waits for the device
        self.seconds = time.perf_counter() - start
        return tokens

    def close(self) -> None:
        pass


class Isolated:
    """A system built and run in a spawned process of its own, as :class:`InProcess` there; the
    seconds are measured in that process, without the pipe's time."""

    def __init__(self, name: str, folder, threads: int, device: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=serve_system, args=(name, str(folder), threads, device, child))
        self.process.start()
        child.close()
        ready = self.connection.recv()
        if ready is not None:  # the reason it could not be built
            self.process.join()
            raise ImportError(ready)
        self.seconds = 0.0

    def __call__(self, ids, mask, beams):
        self.connection.send((ids, mask, beams))
        error, tokens, self.seconds = self.connection.recv()
        if error is not None:
            raise RuntimeError(error)
        return tokens

    def close(self) -> None:
        self.connection.send(None)
        self.process.join()


def serve_system(name: str, folder: str, threads: int, device: str, connection) -> None:
    """The worker of :class:`Isolated`: build ``name``, then run what the parent sends, timed here."""
    global DEVICE
    DEVICE = torch.device(device)
    torch.set_num_threads(threads)
    try:
        run = InProcess(SYSTEMS[name](Path(folder)))
    except (ImportError, ValueError) as err:
        connection.send(f"{type(err).__name__}: {err}")
        return
    connection.send(None)
    while (request := connection.recv()) is not None:
        try:
            tokens = run(*request)
            connection.send((None, tokens, run.seconds))
        except Exception:
            connection.send((traceback.format_exc(), None, 0.0))


CPU_SYSTEMS = "hf-fp32,m2m100-fp32,ct2-fp32,hf-bf16,m2m100-bf16,m2m100-int8,m2m100-int4w,ct2-int8"
GPU_SYSTEMS = "hf-fp32,m2m100-fp32,hf-fp16,m2m100-fp16,hf-bf16,m2m100-bf16,hf-fa2-bf16,m2m100-fa2-bf16"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--systems",
        help=f"comma-separated, of: {', '.join(SYSTEMS)} (default on CPU: {CPU_SYSTEMS}; on CUDA: {GPU_SYSTEMS})",
    )
    parser.add_argument("--workloads", default=DEFAULT_WORKLOADS, help=f"comma-separated, of: {', '.join(WORKLOADS)}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--one-process", action="store_true", help="run every system in this process instead of one process each"
    )
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.set_num_threads(args.threads)
    systems_arg = args.systems or (GPU_SYSTEMS if DEVICE.type == "cuda" else CPU_SYSTEMS)
    names = [s for s in systems_arg.split(",") if s]
    unknown = [n for n in names if n not in SYSTEMS] + [
        w for w in args.workloads.split(",") if w and w not in WORKLOADS
    ]
    if unknown:
        parser.error(f"unknown system or workload: {', '.join(unknown)}")
    if "hf-fp32" not in names:
        names.insert(0, "hf-fp32")  # the baseline of every ratio and the token reference
    workloads = [WORKLOADS[w] for w in args.workloads.split(",") if w]
    folder = common.random_418m_checkpoint()

    systems = {}
    for name in names:
        try:
            if args.one_process:
                systems[name] = InProcess(SYSTEMS[name](folder))
            else:
                systems[name] = Isolated(name, folder, args.threads, args.device)
        except (ImportError, ValueError) as err:  # ctranslate2 / flash-attn missing, or not on this device
            print(f"skipping {name}: {err}")
        gc.collect()

    results: dict[tuple[str, str], tuple[float, list]] = {}
    for workload in workloads:
        ids, mask = common.source_batch(workload.batch, min_len=workload.source_len[0], max_len=workload.source_len[1])
        ids, mask = ids.to(DEVICE), mask.to(DEVICE)
        # warm-up: first-call allocations and kernel selection (on a GPU the whole workload, so
        # the caching allocator and cuBLAS have seen every shape)
        warm = (ids, mask, workload.beams) if DEVICE.type == "cuda" else (ids[:1], mask[:1], 1)
        for name, run in list(systems.items()):
            try:
                run(*warm)
            except Exception:  # report it and go on with the others: one run on a lent GPU is all there is
                traceback.print_exc()
                print(f"dropping {name}: it failed on {workload.name}")
                run.close()
                del systems[name]
        best = {name: float("inf") for name in systems}
        tokens = {}
        for _ in range(args.repeats):  # interleaved, so that a slow moment hits every system alike
            for name, run in systems.items():
                tokens[name] = run(ids, mask, workload.beams)
                best[name] = min(best[name], run.seconds)
        for name in systems:
            results[(workload.name, name)] = (best[name], tokens[name])

    for run in systems.values():
        run.close()
    where = torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else f"{torch.get_num_threads()} threads"
    layout = "all systems in one process" if args.one_process else "each system in its own process"
    print(
        f"\n{where}, torch {torch.__version__}, {NEW_TOKENS} new tokens per input, best of {args.repeats}, {layout}\n"
    )
    header = "| workload | system | time (s) | tok/s | vs transformers fp32 | tokens equal fp32 reference |"
    print(header)
    print("|---|---|---|---|---|---|")
    for workload in workloads:
        if (workload.name, "hf-fp32") not in results:
            continue
        base_time, reference = results[(workload.name, "hf-fp32")]
        for name in names:
            if (workload.name, name) not in results:
                continue
            seconds, out = results[(workload.name, name)]
            produced = workload.batch * NEW_TOKENS
            same = sum(a == b for a, b in zip(out, reference))
            print(
                f"| {workload.name} | {name} | {seconds:.2f} | {produced / seconds:.1f} | "
                f"{base_time / seconds:.2f}x | {same}/{len(reference)} rows |"
            )
        if workload.batch <= 4:
            for name in names:
                if (workload.name, name) not in results:
                    continue
                seconds, _ = results[(workload.name, name)]
                print(f"|   latency per token | {name} | | {1000 * seconds / NEW_TOKENS:.1f} ms | | |")


if __name__ == "__main__":
    main()
