"""Throughput of ``m2m100 serve`` with dynamic batching on and off, one machine.

Starts the server on a checkpoint, once per mode, and fires --clients concurrent clients that
each send --requests requests back to back (one sentence of 6-30 words, a seeded mix, the same in
both modes; greedy, at most --max-new-tokens tokens). Batching on: requests that arrive within
--max-wait-ms share a model batch (up to 64 requests, 8192 source tokens); off: one request a
model call. Prints requests/s, p50/p99 latency and generated tokens/s for each, the ratio, and
whether both modes gave the same translations (they must: a translation depends on its input
alone).

    python bench/bench_serve.py tiny                  # the tests' tiny random model (CPU)
    python bench/bench_serve.py random-418m           # common.py's 418M-shaped random model
    python bench/bench_serve.py /path/to/checkpoint --device cuda --clients 64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import common

WORDS = (
    "the a house river small old city people time year day water light green stone road book child "
    "market morning evening window garden friend letter music train winter summer mountain bread "
    "walks sees brings writes opens finds keeps reads under over near before after quickly slowly"
).split()


@dataclass
class Result:
    seconds: float
    latencies: list[float]
    translations: list[list[str]]
    generated_tokens: float
    batches: float

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def tiny_checkpoint() -> Path:
    """A tiny random model with the tests' real tokenizer (built once, as tests/conftest.py does,
    without its tweak of the end-of-sequence weights: every translation runs to the limit)."""
    folder = common.CACHE / "tiny_translation"
    if (folder / "model.safetensors").is_file():
        return folder
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
    from checkpoints import build_hf_model
    from tokenizer_fixture import build_tokenizer_dir
    from transformers import M2M100Tokenizer

    build_tokenizer_dir(folder)
    model = build_hf_model(
        seed=1, std=0.3, vocab_size=len(M2M100Tokenizer.from_pretrained(str(folder))) + 4, max_position_embeddings=64
    )
    model.save_pretrained(folder)
    return folder


def workload(clients: int, requests: int, seed: int = 0) -> list[list[dict]]:
    """Each client's request bodies."""
    rng = random.Random(seed)
    return [
        [
            {"text": " ".join(rng.choices(WORDS, k=rng.randint(6, 30))).capitalize() + ".", "src": "en", "tgt": "fr"}
            for _ in range(requests)
        ]
        for _ in range(clients)
    ]


def start_server(model: str, options: list[str], *, device: str | None, threads: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "m2m100",
        "serve",
        "-m",
        model,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--max-queue",
        "4096",
        "--max-texts",
        "1",
        *options,
    ]
    if device:
        command += ["--device", device]
    process = subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return process, f"http://127.0.0.1:{port}"


async def wait_healthy(client, url: str, process: subprocess.Popen) -> None:
    import httpx

    while True:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            if (await client.get(url + "/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)


async def metric(client, url: str, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = (await client.get(url + "/metrics")).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


async def drive(url: str, process: subprocess.Popen, bodies: list[list[dict]], max_new_tokens: int) -> Result:
    import httpx

    limits = httpx.Limits(max_connections=len(bodies) + 4, max_keepalive_connections=len(bodies) + 4)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        await wait_healthy(client, url, process)
        for body in bodies[0][:3]:  # warm up
            (await client.post(url + "/translate", json={**body, "max_new_tokens": max_new_tokens})).raise_for_status()
        tokens_before = await metric(client, url, "m2m100_generated_tokens_total")
        batches_before = await metric(client, url, "m2m100_batch_requests_count")
        latencies: list[float] = []

        async def one_client(requests: list[dict]) -> list[str]:
            out = []
            for body in requests:
                start = time.perf_counter()
                response = await client.post(url + "/translate", json={**body, "max_new_tokens": max_new_tokens})
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)
                out.append(response.json()["translation"])
            return out

        start = time.perf_counter()
        translations = await asyncio.gather(*(one_client(requests) for requests in bodies))
        seconds = time.perf_counter() - start
        tokens = await metric(client, url, "m2m100_generated_tokens_total") - tokens_before
        batches = await metric(client, url, "m2m100_batch_requests_count") - batches_before
    return Result(seconds, latencies, list(translations), tokens, batches)


def run_mode(model: str, options: list[str], bodies: list[list[dict]], args: argparse.Namespace) -> Result:
    process, url = start_server(model, options, device=args.device, threads=args.threads)
    try:
        return asyncio.run(drive(url, process, bodies, args.max_new_tokens))
    finally:
        process.terminate()
        process.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a checkpoint folder or hub id, or 'tiny' or 'random-418m'")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=8, help="requests per client")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="batching on: the wait for company")
    parser.add_argument("--device", default=None, help="the server's --device (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=2, help="the server's OMP_NUM_THREADS")
    args = parser.parse_args()

    named = {"tiny": tiny_checkpoint, "random-418m": common.random_418m_checkpoint}
    model = named[args.model]() if args.model in named else args.model
    bodies = workload(args.clients, args.requests)
    modes = {
        "batching off": ["--max-batch-requests", "1", "--max-wait-ms", "0"],
        "batching on": [
            "--max-batch-requests",
            "64",
            "--max-wait-ms",
            str(args.max_wait_ms),
            "--max-batch-tokens",
            "8192",
        ],
    }
    results = {name: run_mode(str(model), options, bodies, args) for name, options in modes.items()}

    total = args.clients * args.requests
    print(
        f"\n{model}: {args.clients} clients x {args.requests} requests, one sentence each, greedy, "
        f"at most {args.max_new_tokens} new tokens, device {args.device or 'default'}, {args.threads} threads\n"
    )
    print("| mode | requests/s | p50 latency | p99 latency | generated tokens/s | requests per batch |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {total / r.seconds:.1f} | {1000 * r.percentile(0.5):.0f} ms | "
            f"{1000 * r.percentile(0.99):.0f} ms | {r.generated_tokens / r.seconds:.0f} | {total / r.batches:.1f} |"
        )
    off, on = results["batching off"], results["batching on"]
    print(
        f"\nthroughput ratio (on / off): {off.seconds / on.seconds:.2f}x; "
        f"same translations in both modes: {'yes' if off.translations == on.translations else 'NO'}"
    )


if __name__ == "__main__":
    main()
