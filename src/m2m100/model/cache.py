"""Key/value caches for incremental decoding.

Self-attention keys and values live in buffers written in place at the decoding position
(gpt-fast's ``KVCache.update``), so a step costs no concatenation; the buffers grow by doubling
with the positions written, so memory follows the tokens generated, not ``max_length``.
Cross-attention keys and values are computed once from the encoder output and never change; when
several decoder rows (the beams of one input) read the same source, the cross cache keeps one row
per source and the attention groups the query rows instead of copying keys (``cross_group``).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

# Positions a self-attention cache allocates first: a short translation fits, and a long one
# doubles from there (a handful of regrowths) instead of reserving max_length up front.
INITIAL_POSITIONS = 32


class KVCache:
    """Self-attention keys/values of one decoder layer, shaped ``(rows, heads, allocated, head_dim)``.

    The buffers grow with the positions actually written, not with the most that could be: they
    start at ``initial`` positions and double when a write goes past them, never beyond
    ``capacity`` (unless a write needs more), so a sequence that ends after 10 tokens costs what
    10 tokens cost whatever ``max_length`` says. Doubling keeps the copies amortised: all the
    regrowth of a sequence copies fewer positions than it ends with.

    Args:
        capacity: the most positions this cache is expected to hold (``max_length`` when
            generating); None: no bound, the buffers double as long as writes come.
        initial: positions allocated by the first write (or what it writes, if more).
    """

    def __init__(self, *, capacity: int | None = None, initial: int = INITIAL_POSITIONS) -> None:
        self.capacity = None if capacity is None else max(int(capacity), 1)
        self.initial = max(int(initial), 1)
        self.allocated = 0  # positions the buffers hold room for
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self.length = 0
        self._spare: tuple[torch.Tensor, torch.Tensor] | None = None  # select()'s second buffer

    def _grown(self, needed: int) -> int:
        """Positions to allocate for a write that ends at ``needed``."""
        size = max(needed, 2 * self.allocated if self.allocated else self.initial)
        if self.capacity is not None:
            size = min(size, max(self.capacity, needed))
        return size

    def _ensure(self, needed: int, like: torch.Tensor) -> None:
        if needed <= self.allocated:
            return
        size = self._grown(needed)
        if self.k is None:
            rows, heads, _, head_dim = like.shape
            self.k = like.new_empty(rows, heads, size, head_dim)
            self.v = like.new_empty(rows, heads, size, head_dim)
        else:
            for name in ("k", "v"):
                old = getattr(self, name)
                new = old.new_empty(old.shape[0], old.shape[1], size, old.shape[3])
                new[:, :, : self.length] = old[:, :, : self.length]
                setattr(self, name, new)
            self._spare = None
        self.allocated = size

    def nbytes(self) -> int:
        """Bytes of the key/value buffers, ``select()``'s spare pair included."""
        buffers = (self.k, self.v, *(self._spare or ()))
        return sum(t.nbytes for t in buffers if t is not None)

    def update(self, pos: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``k``/``v`` (rows, heads, T, head_dim) at positions ``pos..pos+T``.

        Returns:
            Views of all keys and values up to ``pos + T``.
        """
        end = pos + k.shape[2]
        self._ensure(end, k)
        assert self.k is not None and self.v is not None
        self.k[:, :, pos:end] = k
        self.v[:, :, pos:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]

    def select(self, index: torch.Tensor) -> None:
        """Keep (and reorder) rows: one ``index_select`` per buffer, of the filled positions only.

        Beam search reorders at every step, so the rows are gathered into a second buffer that is
        kept and swapped with the first: no allocation (and no page faults) per step.
        """
        if self.k is None:
            return
        assert self.v is not None
        rows, filled = index.shape[0], self.length
        if self._spare is None or self._spare[0].shape[0] != rows or self._spare[0].shape[2] != self.allocated:
            self._spare = (self.k.new_empty(rows, *self.k.shape[1:]), self.v.new_empty(rows, *self.v.shape[1:]))
        spare_k, spare_v = self._spare
        torch.index_select(self.k[:, :, :filled], 0, index, out=spare_k[:, :, :filled])
        torch.index_select(self.v[:, :, :filled], 0, index, out=spare_v[:, :, :filled])
        self._spare = (self.k, self.v) if self.k.shape[0] == rows else None
        self.k, self.v = spare_k, spare_v


class DecoderCache:
    """The decoder's ``past_key_values``: one self-attention :class:`KVCache` and one cross
    key/value pair per layer.

    Args:
        num_layers: decoder layers.
        capacity: the most self-attention positions expected (``max_length`` when generating);
            the buffers grow to it as tokens come (see :class:`KVCache`). None: no bound.
        cross_group: decoder rows that share one encoder row (the beam count); the cross cache
            holds ``rows // cross_group`` rows.
    """

    def __init__(self, num_layers: int, *, capacity: int | None = None, cross_group: int = 1) -> None:
        self.self_attn = [KVCache(capacity=capacity) for _ in range(num_layers)]
        self.cross: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * num_layers
        self.cross_group = cross_group

    def nbytes(self) -> int:
        """Bytes the cache holds: self-attention buffers (allocated room and beam-reorder spares
        included) and cross keys/values."""
        total = sum(layer.nbytes() for layer in self.self_attn)
        for kv in self.cross:
            total += 0 if kv is None else kv[0].nbytes + kv[1].nbytes
        return total

    def get_seq_length(self) -> int:
        """Positions already decoded (transformers' ``Cache.get_seq_length``)."""
        return self.self_attn[0].length if self.self_attn else 0

    def reorder(self, index: torch.Tensor) -> None:
        """Reorder self-attention rows after a beam step (``index`` into the flat row axis).

        Cross keys/values are not touched: beams are reordered within their own input, and all
        beams of an input read the same source.
        """
        for layer in self.self_attn:
            layer.select(index)

    def select(self, rows: torch.Tensor, groups: torch.Tensor | None = None) -> None:
        """Keep only ``rows`` of the self caches and ``groups`` of the cross caches (to drop
        inputs that finished); ``groups`` defaults to ``rows`` when ``cross_group`` is 1."""
        self.reorder(rows)
        if groups is None:
            if self.cross_group != 1:
                raise ValueError("select() needs the cross-cache groups when cross_group > 1")
            groups = rows
        self.cross = [
            None if kv is None else (kv[0].index_select(0, groups), kv[1].index_select(0, groups)) for kv in self.cross
        ]

    # transformers' legacy tuple format -----------------------------------------------------
    def to_legacy_cache(self) -> tuple[tuple[torch.Tensor, ...], ...]:
        """``((self_k, self_v, cross_k, cross_v), ...)`` per layer, cross rows expanded."""
        layers = []
        for kv, cross in zip(self.self_attn, self.cross):
            assert kv.k is not None and kv.v is not None and cross is not None
            ck, cv = (t.repeat_interleave(self.cross_group, dim=0) for t in cross)
            layers.append((kv.k[:, :, : kv.length], kv.v[:, :, : kv.length], ck, cv))
        return tuple(layers)

    @classmethod
    def from_legacy_cache(cls, past: tuple[tuple[torch.Tensor, ...], ...]) -> DecoderCache:
        cache = cls(len(past))
        for i, layer in enumerate(past):
            if len(layer) != 4:
                raise ValueError(
                    f"past_key_values layer {i} has {len(layer)} tensors; expected 4 "
                    "(self key, self value, cross key, cross value)"
                )
            cache.self_attn[i].update(0, layer[0], layer[1])
            cache.cross[i] = (layer[2], layer[3])
        return cache

    def __len__(self) -> int:
        return len(self.self_attn)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        return iter(self.to_legacy_cache())

    def __getitem__(self, layer: int) -> tuple[torch.Tensor, ...]:
        return self.to_legacy_cache()[layer]
