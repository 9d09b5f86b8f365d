"""The self-attention cache grows with the positions written: doubling, capped at its capacity,
contents kept through growth and beam reorders."""

from __future__ import annotations

import torch

from m2m100.model.cache import INITIAL_POSITIONS, DecoderCache, KVCache


def steps(cache: KVCache, count: int, *, rows: int = 3, start: int = 0) -> torch.Tensor:
    """Write ``count`` single positions; returns every key written, (rows, 2, count, 4)."""
    g = torch.Generator().manual_seed(start)
    written = torch.randn(rows, 2, count, 4, generator=g)
    for i in range(count):
        cache.update(start + i, written[:, :, i : i + 1], -written[:, :, i : i + 1])
    return written


def test_allocation_starts_small_and_doubles_up_to_the_capacity():
    cache = KVCache(capacity=100000)
    sizes = []
    for pos in range(300):
        steps(cache, 1, start=pos)
        sizes.append(cache.allocated)
    assert sizes[0] == INITIAL_POSITIONS  # not the 100000 the caller might need
    assert sorted(set(sizes)) == [INITIAL_POSITIONS * 2**i for i in range(5)]  # 32, 64, ..., 512
    assert cache.k is not None and cache.k.shape == (3, 2, 512, 4)

    capped = KVCache(capacity=40)
    steps(capped, 40)
    assert capped.allocated == 40  # doubling stops at the capacity: no room past max_length
    steps(capped, 3, start=40)  # a write past the capacity still fits, in exactly the room it needs
    assert capped.allocated == 43 and capped.length == 43


def test_growth_and_reorders_keep_every_position():
    cache = KVCache(capacity=1000, initial=2)
    first = steps(cache, 5)
    order = torch.tensor([2, 0, 1])
    cache.select(order)  # reorder into the spare buffer, then grow past it
    second = steps(cache, 20, start=5)
    k, v = cache.update(25, torch.zeros(3, 2, 1, 4), torch.zeros(3, 2, 1, 4))
    expected = torch.cat((first[order], second, torch.zeros(3, 2, 1, 4)), dim=2)
    torch.testing.assert_close(k, expected, rtol=0, atol=0)
    torch.testing.assert_close(v, -expected, rtol=0, atol=0)
    assert cache.allocated == 32 and cache.nbytes() == 2 * 3 * 2 * 32 * 4 * 4  # k and v; the spare was dropped


def test_decoder_cache_bytes_follow_the_positions_written():
    cache = DecoderCache(2, capacity=100000)
    assert cache.nbytes() == 0
    for layer in cache.self_attn:
        steps(layer, 10)
    cache.cross = [(torch.zeros(3, 2, 7, 4), torch.zeros(3, 2, 7, 4))] * 2
    per_position = 2 * 3 * 2 * 4 * 4  # k and v, rows x heads x head_dim floats
    assert cache.nbytes() == 2 * (INITIAL_POSITIONS * per_position + 2 * 3 * 2 * 7 * 4 * 4)
