"""``m2m100 translate --ray local`` with 1 and 2 workers against the single-process command, on
the same input and settings: the real commands in subprocesses, as a user runs them.

Each command runs twice: on the whole input and on its first line. The whole run's time is what a
user waits for; the difference between the two is the time of the translation work alone (Ray's
start, the actors' model loads, Python's and torch's imports cancel out), from which comes the
lines/s a longer job approaches, the figure to plan a cluster with. While a command runs, the
resident memory of its processes is sampled: the single-process command's, and each Ray actor's
(the ``ray::MapWorker`` processes under the command). Every output is compared with the
single-process command's, line for line.

    python bench/bench_ray.py                             # the demo model, 2,000 French lines to German
    python bench/bench_ray.py --quantize int8
    python bench/bench_ray.py --model DIR --lines 200 --max-new-tokens 32
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def demo_lines(count: int, seed: int) -> list[str]:
    """French lines of the demo model's training texts (numbers and CLDR names, 1-20 pieces)."""
    from m2m100.demo.sources import language_texts

    texts = sorted(set(language_texts("fr").texts.values()))
    return random.Random(seed).choices(texts, k=count)


class Watch:
    """Peak RSS (MiB) and CPU seconds of the process ``pid`` and of its Ray actor processes,
    sampled every 0.2 s until stopped."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rss: dict[int, float] = {}
        self.cpu: dict[int, float] = {}
        self.actors: set[int] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self._sample(self.pid)
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                pid = int(entry.name)
                if pid not in self.actors and _cmdline(entry).startswith("ray::MapWorker"):
                    if descends_from(pid, self.pid):
                        self.actors.add(pid)
                if pid in self.actors:
                    self._sample(pid)

    def _sample(self, pid: int) -> None:
        rss, cpu = usage(pid)
        if rss:
            self.rss[pid] = max(self.rss.get(pid, 0.0), rss)
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()

    def work_cpu(self) -> float:
        """CPU seconds of the processes that translate: the actors, else the command itself."""
        return sum(self.cpu[p] for p in self.actors) if self.actors else self.cpu.get(self.pid, 0.0)

    def memory(self) -> str:
        if not self.actors:
            return f"{self.rss.get(self.pid, 0.0):.0f} MiB"
        peak = max(self.rss[p] for p in self.actors)
        return f"{peak:.0f} MiB per actor, driver {self.rss.get(self.pid, 0.0):.0f} MiB"


def descends_from(pid: int, ancestor: int) -> bool:
    """Whether ``ancestor`` is among the parents of ``pid`` (a local cluster's workers are the
    children of its raylet, a child of the command that started it)."""
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rpartition(")")[2].split()[1])
        if pid == ancestor:
            return True
    return False


def _cmdline(entry: Path) -> str:
    try:
        return (entry / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def usage(pid: int) -> tuple[float, float]:
    """RSS (MiB) and CPU seconds (user + system) of a live process; zeros when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0, 0.0
    rss = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)
    return rss, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(command: list[str]) -> tuple[float, Watch]:
    """Run ``command``; its wall time, and the memory and CPU time it used."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    watch = Watch(process.pid)
    _, err = process.communicate()
    elapsed = time.perf_counter() - start
    watch.close()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{err.decode()}")
    return elapsed, watch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="checkpoint folder (default: the bundled demo model)")
    parser.add_argument("--input", help="lines to translate (default: the demo model's French texts)")
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("-s", "--src-lang", default="fr")
    parser.add_argument("-t", "--tgt-lang", default="de")
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int)
    parser.add_argument("--quantize", choices=("int8",))
    parser.add_argument("--workers", default="1,2", help="pool sizes to run, comma-separated")
    parser.add_argument("--shard-lines", type=int, default=250)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench_ray_"))
    lines = Path(args.input).read_text(encoding="utf-8").splitlines() if args.input else demo_lines(args.lines, 0)
    lines = lines[: args.lines]
    (folder / "all.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    (folder / "one.txt").write_text(f"{lines[0]}\n", encoding="utf-8")

    base = [sys.executable, "-m", "m2m100", "translate", "-s", args.src_lang, "-t", args.tgt_lang, "--device", "cpu"]
    base += ["--beam-size", str(args.beam_size), "--overwrite"]
    base += ["-m", args.model] if args.model else []
    base += ["--max-new-tokens", str(args.max_new_tokens)] if args.max_new_tokens else []
    base += ["--quantize", args.quantize] if args.quantize else []
    systems = {"single process": [], **{f"--ray local --workers {n}": ["--ray", "local", "--workers", str(n),
               "--shard-lines", str(args.shard_lines)] for n in map(int, args.workers.split(","))}}  # fmt: skip

    print(
        f"{len(lines)} lines {args.src_lang} -> {args.tgt_lang}, beam {args.beam_size}, "
        f"{args.quantize or 'float32'}, model {args.model or 'demo'}; {os.cpu_count()} CPUs, 1 thread per worker; "
        f"load average {os.getloadavg()[0]:.1f} at the start"
    )
    print("| system | whole run (s) | lines/s | start (s) | lines/s after start | vs single | translation CPU (s) "
          "| lines per CPU-second | RSS | lines equal |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    reference: list[str] = []
    single = 0.0
    for name, extra in systems.items():
        out = folder / f"{len(extra)}.txt"
        whole, watch = run([*base, *extra, str(folder / "all.txt"), "-o", str(out)])
        start, first = run([*base, *extra, str(folder / "one.txt"), "-o", str(folder / "start.txt")])
        rate = (len(lines) - 1) / max(whole - start, 1e-9)
        single = single or rate
        # CPU seconds of the translation alone: the whole run's, less a one-line run's (imports, model loads).
        cpu = watch.work_cpu() - first.work_cpu()
        translated = out.read_text(encoding="utf-8").splitlines()
        reference = reference or translated
        equal = sum(a == b for a, b in zip(translated, reference))
        print(
            f"| {name} | {whole:.1f} | {len(lines) / whole:.1f} | {start:.1f} | {rate:.1f} | {rate / single:.2f}x | "
            f"{cpu:.1f} | {(len(lines) - 1) / max(cpu, 1e-9):.1f} | {watch.memory()} | {equal}/{len(lines)} |"
        )


if __name__ == "__main__":
    main()
