"""Peak memory while loading the 418M-shaped checkpoint, m2m100 against transformers.

Each measurement runs in a fresh subprocess: resident memory after the imports is the baseline,
the peak resident memory (ru_maxrss) after loading minus that baseline is what loading cost. The
ratio is to the bytes of the weights on disk (model.safetensors).

    python bench/bench_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys

import common

PROBE = r"""
import json, resource, sys, torch
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
system, folder = sys.argv[1], sys.argv[2]
if system.startswith("m2m100"):
    import m2m100
else:
    import transformers
base = rss()
if system == "m2m100-fp32":
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
elif system == "m2m100-int8":
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, quantize="int8")
else:
    model = transformers.M2M100ForConditionalGeneration.from_pretrained(folder)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"peak": peak - base, "resident": rss() - base}))
"""


def measure(system: str, folder: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, system, folder], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    folder = common.random_418m_checkpoint()
    weights = (folder / "model.safetensors").stat().st_size
    print(f"weights on disk: {weights / 2**30:.2f} GiB\n")
    print("| system | peak while loading | ratio to weight bytes | resident after loading |")
    print("|---|---|---|---|")
    for system in ("transformers-fp32", "m2m100-fp32", "m2m100-int8"):
        result = measure(system, str(folder))
        print(
            f"| {system} | {result['peak'] / 2**30:.2f} GiB | {result['peak'] / weights:.2f}x | "
            f"{result['resident'] / 2**30:.2f} GiB |"
        )
    print("\ntransformers maps the file and reads it lazily: its pages become resident as the model first runs.")


if __name__ == "__main__":
    main()
