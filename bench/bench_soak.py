"""A soak of ``m2m100 serve``: --clients clients for --minutes against a real server subprocess
(the demo model by default). One 20-second window in five sends normal requests only (the
baseline, interleaved with the rest so that anything else the machine does weighs on both alike);
the others a mix of normal and hostile requests: oversized (a chunked body of 1 MB), costly (the
463-byte attack of 64 texts x 16 beams x 20000 new tokens), trickled (headers, then a body that
never completes), malformed JSON and a foreign Host header. Prints requests/s, p50/p99 latency of the
normal requests in both phases and their ratio (what the hostile ones cost the others), the answers
by status and kind, and the server's RSS at start, middle and end (sampled every 2 s) with its
growth over the second half: under a steady load it must stay flat.

    python bench/bench_soak.py                      # demo model, 8 clients, 2 minutes
    python bench/bench_soak.py -m /path/to/model --clients 32 --minutes 10
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

WORDS = "the a house river small old city people time year day water light green stone road book child".split()
WINDOW = 20  # seconds of one phase window
MIX = (("normal", 80), ("oversized", 4), ("costly", 4), ("trickled", 4), ("malformed", 4), ("foreign_host", 4))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client(
    url: str,
    port: int,
    seed: int,
    start: float,
    stop: float,
    record: collections.Counter,
    latencies: dict[str, list[float]],
) -> None:
    """Send requests until ``stop``: normal ones only in baseline windows, the MIX in the others."""
    rng = random.Random(seed)
    kinds, weights = zip(*MIX)
    with httpx.Client(base_url=url, timeout=60) as http:
        while (now := time.monotonic()) < stop:
            phase = "baseline" if int((now - start) / WINDOW) % 5 == 0 else "mixed"
            kind = "normal" if phase == "baseline" else rng.choices(kinds, weights)[0]
            text = " ".join(rng.choices(WORDS, k=rng.randint(3, 12)))  # every request a new text
            body = {"text": text, "src": "en", "tgt": "fr", "max_new_tokens": 16}
            sent = time.perf_counter()
            try:
                if kind == "normal":
                    r = http.post("/translate", json=body)
                    if r.status_code == 200:
                        latencies[phase].append(time.perf_counter() - sent)
                elif kind == "oversized":
                    r = http.post("/translate", content=iter([b"x" * 65536] * 16))  # chunked, 1 MB
                elif kind == "costly":
                    costly = {"texts": [text] * 64, "src": "en", "tgt": "fr", "beam_size": 16, "max_new_tokens": 20000}
                    r = http.post("/translate", json=costly)
                elif kind == "malformed":
                    r = http.post("/translate", content=b'{"text": "oops', headers={"content-type": "application/json"})
                elif kind == "foreign_host":
                    r = http.post("/translate", json=body, headers={"Host": f"evil.example:{port}"})
                else:
                    record[(kind, trickle(port))] += 1
                    continue
                record[(kind, r.status_code)] += 1
            except httpx.HTTPError as err:
                record[(kind, type(err).__name__)] += 1


def trickle(port: int) -> int | str:
    """Headers, then 5 bytes of a 100-byte body: the status the server answers when it gives up."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            f"POST /translate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            'Content-Length: 100\r\n\r\n{"tex'.encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split()[1]) if answer.startswith(b"HTTP/") else "closed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", help="checkpoint (default: the demo model)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--body-timeout", type=float, default=2.0, help="the server's --body-timeout")
    args = parser.parse_args()

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "m2m100",
        "serve",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--log-level",
        "warning",
    ]
    command += ["--body-timeout", str(args.body_timeout), *(["-m", args.model] if args.model else [])]
    server = subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)

        record: collections.Counter = collections.Counter()
        latencies: dict[str, list[float]] = {"baseline": [], "mixed": []}
        start = time.monotonic()
        stop = start + 60 * args.minutes
        threads = [
            threading.Thread(target=client, args=(url, port, seed, start, stop, record, latencies))
            for seed in range(args.clients)
        ]
        for t in threads:
            t.start()
        samples = []
        while any(t.is_alive() for t in threads):
            samples.append((time.monotonic() - start, rss_mib(server.pid)))
            time.sleep(2)
        elapsed = time.monotonic() - start
    finally:
        server.terminate()
        server.wait(timeout=60)

    total = sum(record.values()) + len(latencies["baseline"])
    print(f"{args.clients} clients, {elapsed:.0f} s, {total} requests: {total / elapsed:.1f} requests/s")
    percentiles = {}
    for phase, values in latencies.items():
        values.sort()
        if values:
            p50, p99 = values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]
            percentiles[phase] = p50, p99
            print(
                f"normal requests, {phase:8}: {len(values)} translated, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
            )
    if len(percentiles) == 2:
        (b50, b99), (m50, m99) = percentiles["baseline"], percentiles["mixed"]
        print(f"with hostile requests / without: p50 {m50 / b50:.2f}x, p99 {m99 / b99:.2f}x")
    for (kind, status), count in sorted(record.items(), key=str):
        print(f"  {kind:13} {status!s:>18}: {count}")
    first, middle, last = samples[0], samples[len(samples) // 2], samples[-1]
    print(
        f"server RSS: start {first[1]:.0f} MiB, middle ({middle[0]:.0f} s) {middle[1]:.0f} MiB, "
        f"end ({last[0]:.0f} s) {last[1]:.0f} MiB, max {max(s[1] for s in samples):.0f} MiB"
    )
    minutes = (last[0] - middle[0]) / 60
    if minutes > 0:
        print(f"RSS growth over the second half: {(last[1] - middle[1]) / minutes:+.1f} MiB/min")


if __name__ == "__main__":
    main()
