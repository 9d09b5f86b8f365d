"""Peak memory and time of loading the 418M-shaped checkpoint, m2m100 against transformers, and
an int8 checkpoint written by ``m2m100 quantize`` against quantizing the float one at load.

Each measurement runs in a fresh subprocess: resident memory after the imports is the baseline,
the peak resident memory (VmHWM) after loading minus that baseline is what loading cost. The
ratio is to the bytes of the float weights on disk (model.safetensors).

    python bench/bench_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys

import common

PROBE = r"""
import json, sys, time, torch
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
system, folder = sys.argv[1], sys.argv[2]
if system.startswith("m2m100"):
    import m2m100
else:
    import transformers
base = rss()
start = time.perf_counter()
if system == "m2m100-fp32":
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
elif system == "m2m100-int8":
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, quantize="int8")
elif system == "m2m100-int8-checkpoint":
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(sys.argv[3])
else:
    model = transformers.M2M100ForConditionalGeneration.from_pretrained(folder)
def high_water_mark():  # VmHWM: the peak of this program (ru_maxrss would count the parent's at fork)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
peak = high_water_mark()
seconds = time.perf_counter() - start
print(json.dumps({"peak": peak - base, "resident": rss() - base, "seconds": seconds}))
"""


def measure(system: str, folder: str, quantized: str) -> dict:
    command = [sys.executable, "-c", PROBE, system, folder, quantized]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    folder = common.random_418m_checkpoint()
    quantized = common.random_418m_int8_checkpoint()
    weights = (folder / "model.safetensors").stat().st_size
    int8_weights = (quantized / "model.safetensors").stat().st_size
    print(f"weights on disk: {weights / 2**30:.2f} GiB float32, {int8_weights / 2**30:.2f} GiB int8 checkpoint\n")
    print("| system | load time | peak while loading | ratio to float weight bytes | resident after loading |")
    print("|---|---|---|---|---|")
    results = {}
    for system in ("transformers-fp32", "m2m100-fp32", "m2m100-int8", "m2m100-int8-checkpoint"):
        result = results[system] = measure(system, str(folder), str(quantized))
        print(
            f"| {system} | {result['seconds']:.2f} s | {result['peak'] / 2**30:.2f} GiB | "
            f"{result['peak'] / weights:.2f}x | {result['resident'] / 2**30:.2f} GiB |"
        )
    at_load, from_disk = results["m2m100-int8"], results["m2m100-int8-checkpoint"]
    print(
        f"\nint8 checkpoint against quantizing at load: {at_load['seconds'] / from_disk['seconds']:.2f}x faster, "
        f"{at_load['peak'] / from_disk['peak']:.2f}x less peak memory"
    )
    print("\ntransformers maps the file and reads it lazily: its pages become resident as the model first runs.")


if __name__ == "__main__":
    main()
