"""Decoding memory follows the tokens generated, not ``max_new_tokens``.

The attack: a huge ``max_new_tokens`` on short translations. Sequence buffers, beam bookkeeping
and the self-attention cache used to be allocated for ``max_length`` up front (texts x beams x
max_length: 100000 new tokens asked for ~100 GB before the first token); now they grow with the
tokens, so the call costs what a max_new_tokens=50 call costs and returns the same tokens.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from m2m100.generation.decoding import INITIAL_TOKENS
from m2m100.model.cache import INITIAL_POSITIONS
from tests.generation.parity import EOS, LANG, strip

ROOT = Path(__file__).resolve().parents[2]


def short_sources() -> torch.Tensor:
    """Six sources whose translations by the tiny checkpoint all end within 50 tokens."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(4, 150, (6, 9), generator=g)
    ids[:, -1] = EOS
    return ids


@pytest.mark.parametrize("num_beams", [1, 4])
def test_huge_max_new_tokens_costs_what_the_tokens_cost(ours, num_beams):
    ids = short_sources()
    kwargs = dict(num_beams=num_beams, forced_bos_token_id=LANG, return_dict_in_generate=True)
    small = ours.generate(ids, max_new_tokens=50, **kwargs)
    huge = ours.generate(ids, max_new_tokens=100000, **kwargs)

    assert strip(huge.sequences) == strip(small.sequences)  # every row, in order, token for token
    assert huge.sequences.shape == small.sequences.shape
    lengths = [len(row) for row in strip(small.sequences)]
    assert max(lengths) < 50 and all(row[-1] == EOS for row in strip(small.sequences))

    longest = small.sequences.shape[1]
    rows = ids.shape[0] * num_beams
    # The returned sequences are views of the decoder's buffers: their storage is the buffer.
    room = 2 * max(longest, INITIAL_TOKENS + 1)
    held = huge.sequences.untyped_storage().nbytes()
    assert held <= rows * room * 8, f"the sequence buffer holds {held} bytes"
    if num_beams > 1:
        held = huge.beam_indices.untyped_storage().nbytes()
        assert held <= rows * room * 4, f"the beam indices hold {held} bytes"
    cache = huge.past_key_values
    for layer in cache.self_attn:
        assert layer.length == small.past_key_values.self_attn[0].length < 50  # the search stopped by itself
        assert layer.allocated <= 2 * max(layer.length, INITIAL_POSITIONS)
        assert layer.k.shape[2] == layer.allocated
    assert cache.nbytes() <= 2 * small.past_key_values.nbytes()


ATTACK = """
import json, resource, sys
import torch
import m2m100
from m2m100.demo import model_path

torch.set_num_threads(1)
path = model_path()
model = m2m100.M2M100ForConditionalGeneration.from_pretrained(path)
tok = m2m100.M2M100Tokenizer.from_pretrained(path)
tok.src_lang = "en"
texts = [f"the sea is calm {i}" for i in range(16)]
batch = tok(texts, return_tensors="pt", padding=True)
settings = dict(num_beams=8, forced_bos_token_id=tok.get_lang_id("fr"))
small = model.generate(**batch, max_new_tokens=50, **settings)
# What 100000 tokens would have cost up front (the KV cache alone is ~77 GB) cannot be had here.
with open("/proc/self/status") as status:
    vm = next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + (2 << 30), resource.RLIM_INFINITY))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
huge = model.generate(**batch, max_new_tokens=100000, **settings)
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
print(json.dumps({"small": small.tolist(), "huge": huge.tolist(), "grew_kib": grew}))
"""


def test_attack_in_a_fresh_process_on_the_demo_model(tmp_path):
    """16 texts x 8 beams x max_new_tokens=100000 under an address-space limit of 2 GiB more
    than the process holds: the up-front buffers failed with "can't allocate"."""
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", ATTACK], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["huge"] == result["small"]  # the same tokens for all 16 texts, in order
    assert len(result["huge"]) == 16 and len(result["huge"][0]) < 50
    assert result["grew_kib"] < 64 * 1024  # the peak of the max_new_tokens=50 call was not exceeded by 64 MiB
