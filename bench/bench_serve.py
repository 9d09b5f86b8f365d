"""Throughput of ``m2m100 serve`` with dynamic batching on and off, one machine.

Starts the server on a checkpoint, once per mode, and fires --clients concurrent clients that
each send --requests requests back to back (one sentence of 6-30 words, a seeded mix, the same in
both modes; greedy, at most --max-new-tokens tokens). Batching on: requests that arrive within
--max-wait-ms share a model batch (up to 64 requests, 8192 source tokens); off: one request a
model call. Prints requests/s, p50/p99 latency and generated tokens/s for each, the ratio, and
whether both modes gave the same translations (they must: a translation depends on its input
alone).

Then, on one server with batching on, the same load through each API in turn (interleaved,
--rounds times, so that the machine's load falls on all alike): the native ``POST /translate``
(the baseline), LibreTranslate's ``/libretranslate/translate``, DeepL's ``/v2/translate`` and
the streaming ``/translate/stream`` (time to its first token, p50/p99). These requests set no
length limit (the compatible APIs have none): each translation gets the model's default length.

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


def api_request(api: str, body: dict) -> tuple[str, dict, dict]:
    """(path, JSON body, headers) of ``body`` (one text, en->fr) in ``api``'s shape."""
    text, src, tgt = body["text"], body["src"], body["tgt"]
    if api == "libretranslate":
        return "/libretranslate/translate", {"q": text, "source": src, "target": tgt}, {}
    if api == "deepl":
        body = {"text": [text], "source_lang": src.upper(), "target_lang": tgt.upper(), "split_sentences": "0"}
        return "/v2/translate", body, {"Authorization": "DeepL-Auth-Key bench"}
    if api == "stream":
        return "/translate/stream", {"text": text, "src": src, "tgt": tgt, "beam_size": 1}, {}
    return "/translate", {"text": text, "src": src, "tgt": tgt, "beam_size": 1}, {}


def translation_of(api: str, answer: dict) -> str:
    if api == "libretranslate":
        return answer["translatedText"]
    if api == "deepl":
        return answer["translations"][0]["text"]
    return answer["translation"]


@dataclass
class ApiResult:
    seconds: float
    latencies: list[float]
    first_token: list[float]  # streaming: seconds to the first token event
    translations: list[list[str]]


async def drive_api(client, url: str, api: str, bodies: list[list[dict]]) -> ApiResult:
    import json

    latencies: list[float] = []
    first_token: list[float] = []

    async def one(body: dict) -> str:
        path, payload, headers = api_request(api, body)
        start = time.perf_counter()
        if api != "stream":
            response = await client.post(url + path, json=payload, headers=headers)
            response.raise_for_status()
            latencies.append(time.perf_counter() - start)
            return translation_of(api, response.json())
        first, event, done = None, None, None
        async with client.stream("POST", url + path, json=payload) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "token" and first is None:
                        first = time.perf_counter() - start
                elif line.startswith("data: ") and event == "done":
                    done = json.loads(line[6:])["translation"]
                elif line.startswith("data: ") and event == "error":
                    raise SystemExit(f"the stream failed: {line[6:]}")
        latencies.append(time.perf_counter() - start)
        first_token.append(first if first is not None else latencies[-1])  # an empty translation has no token
        assert done is not None, "the stream ended without its done event"
        return done

    async def one_client(requests: list[dict]) -> list[str]:
        return [await one(body) for body in requests]

    start = time.perf_counter()
    translations = await asyncio.gather(*(one_client(requests) for requests in bodies))
    return ApiResult(time.perf_counter() - start, latencies, first_token, list(translations))


def run_apis(model: str, options: list[str], bodies: list[list[dict]], args: argparse.Namespace) -> dict:
    import httpx

    async def drive_all() -> dict[str, list[ApiResult]]:
        limits = httpx.Limits(max_connections=len(bodies) + 4, max_keepalive_connections=len(bodies) + 4)
        results: dict[str, list[ApiResult]] = {api: [] for api in APIS}
        async with httpx.AsyncClient(timeout=600, limits=limits) as client:
            await wait_healthy(client, url, process)
            for api in APIS:  # warm up
                await drive_api(client, url, api, [bodies[0][:2]])
            for _ in range(args.rounds):
                for api in APIS:
                    results[api].append(await drive_api(client, url, api, bodies))
        return results

    options = [*options, "--max-texts", "4", "--request-timeout", "600"]  # a loaded machine is slow, not broken
    process, url = start_server(model, options, device=args.device, threads=args.threads)
    try:
        return asyncio.run(drive_all())
    finally:
        process.terminate()
        process.wait(timeout=120)


APIS = ("native", "libretranslate", "deepl", "stream")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_apis(results: dict, total: int) -> None:
    print("\n| API | requests/s | p50 latency | p99 latency | first token p50 | first token p99 |")
    print("|---|---|---|---|---|---|")
    rate = {}
    for api, runs in results.items():
        seconds = sum(r.seconds for r in runs)
        rate[api] = total * len(runs) / seconds
        latencies = [x for r in runs for x in r.latencies]
        first = [x for r in runs for x in r.first_token]
        tokens = (
            f"{1000 * percentile(first, 0.5):.0f} ms | {1000 * percentile(first, 0.99):.0f} ms" if first else "- | -"
        )
        print(
            f"| {api} | {rate[api]:.1f} | {1000 * percentile(latencies, 0.5):.0f} ms | "
            f"{1000 * percentile(latencies, 0.99):.0f} ms | {tokens} |"
        )
    native = results["native"][0].translations
    same = {api: all(r.translations == native for r in runs) for api, runs in results.items()}
    print(
        "\nthroughput / native: "
        + ", ".join(f"{api} {rate[api] / rate['native']:.2f}x" for api in APIS if api != "native")
        + "; same translations as native: "
        + ", ".join(f"{api} {'yes' if same[api] else 'NO'}" for api in APIS if api != "native")
    )


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
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the APIs, interleaved")
    parser.add_argument("--apis-only", action="store_true", help="skip batching on / off")
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
    total = args.clients * args.requests
    if args.apis_only:
        print(f"\n{model}: {args.clients} clients x {args.requests} requests, one sentence each, greedy")
        print_apis(run_apis(str(model), modes["batching on"], bodies, args), total)
        return
    results = {name: run_mode(str(model), options, bodies, args) for name, options in modes.items()}

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
    print_apis(run_apis(str(model), modes["batching on"], bodies, args), total)


if __name__ == "__main__":
    main()
