"""A soak of ``m2m100 serve``: --clients clients for --minutes against a real server subprocess
(the demo model by default), sending a mix of normal and hostile requests: oversized (a chunked
body of 1 MB), trickled (headers, then a body that never completes), malformed JSON and a foreign
Host header. Prints requests/s, p50/p99 latency of the normal requests, the answers by status
and kind, and the server's RSS at start, middle and end (sampled every 2 s): under a steady load
it must stay flat.

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
MIX = (("normal", 80), ("oversized", 5), ("trickled", 5), ("malformed", 5), ("foreign_host", 5))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client(url: str, port: int, seed: int, stop: float, record: collections.Counter, latencies: list[float]) -> None:
    rng = random.Random(seed)
    kinds, weights = zip(*MIX)
    with httpx.Client(base_url=url, timeout=60) as http:
        while time.monotonic() < stop:
            kind = rng.choices(kinds, weights)[0]
            text = " ".join(rng.choices(WORDS, k=rng.randint(3, 12)))  # every request a new text
            body = {"text": text, "src": "en", "tgt": "fr", "max_new_tokens": 16}
            start = time.perf_counter()
            try:
                if kind == "normal":
                    r = http.post("/translate", json=body)
                    if r.status_code == 200:
                        latencies.append(time.perf_counter() - start)
                elif kind == "oversized":
                    r = http.post("/translate", content=iter([b"x" * 65536] * 16))  # chunked, 1 MB
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
        latencies: list[float] = []
        start = time.monotonic()
        stop = start + 60 * args.minutes
        threads = [
            threading.Thread(target=client, args=(url, port, seed, stop, record, latencies))
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

    total = sum(record.values())
    latencies.sort()
    print(f"{args.clients} clients, {elapsed:.0f} s, {total} requests: {total / elapsed:.1f} requests/s")
    if latencies:
        p50, p99 = latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"normal requests: {len(latencies)} translated, p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    for (kind, status), count in sorted(record.items(), key=str):
        print(f"  {kind:13} {status!s:>18}: {count}")
    first, middle, last = samples[0], samples[len(samples) // 2], samples[-1]
    print(
        f"server RSS: start {first[1]:.0f} MiB, middle ({middle[0]:.0f} s) {middle[1]:.0f} MiB, "
        f"end ({last[0]:.0f} s) {last[1]:.0f} MiB, max {max(s[1] for s in samples):.0f} MiB"
    )


if __name__ == "__main__":
    main()
