"""Weight-only int4 for low-latency CPU decoding: int4 weights in groups, bf16 activations.

Greedy decoding of one to four sentences reads every weight once per step and does little
arithmetic with it, so the bytes of the weights set its speed. :class:`Int4Linear` keeps each
weight as 4-bit codes with a scale and zero per group of input columns (0.56 bytes a weight with
groups of 32, against 4 in float32 and 1 in int8) and multiplies with torch's CPU int4 kernel
(``_weight_int4pack_mm_for_cpu``, bf16 activations, the codes unpacked in registers). The rest of
the model (embeddings, norms, attention) stays in float32: the layer takes and returns float32.

Measured on the 418M shapes at one row (bench/bench_latency_kernels.py), the kernel reads
weights at 30-40 GB/s where FBGEMM's dynamic int8 layer reads 9; at four rows they are close.
"""

from __future__ import annotations

import torch
from torch import nn

GROUP_SIZE = 32  # input columns sharing a scale and zero: 64 and 128 read a little less, lose more
GROUP_SIZES = (32, 64, 128, 256)  # what the kernel takes (a checkpoint may hold any of them)
_ROWS_MULTIPLE = 16  # the packed layout holds output rows in blocks of 16
_CHUNK_ROWS = 16384  # the kernel reads a long matrix (the LM head) 2.5x faster in slices of this many rows


def int4_quantize(weight: torch.Tensor, group_size: int = GROUP_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """Asymmetric int4 per group of ``group_size`` input columns.

    Args:
        weight: (out, in) float, ``in`` a multiple of ``group_size``.

    Returns:
        ``(codes, scale_and_zero)``: codes uint8 in 0..15, (out, in); scale_and_zero float32
        (out, in / group_size, 2), so that ``w = (code - 8) * scale + zero``.
    """
    w = weight.detach().float()
    out_features, in_features = w.shape
    if in_features % group_size:
        raise ValueError(f"int4 needs input features in multiples of {group_size}, got {in_features}")
    groups = w.reshape(out_features, in_features // group_size, group_size)  # (N, G, g)
    low = groups.amin(dim=-1, keepdim=True)
    high = groups.amax(dim=-1, keepdim=True)
    scale = ((high - low) / 15).clamp(min=1e-6)
    codes = torch.round((groups - low) / scale).clamp(0, 15).to(torch.uint8).reshape(out_features, in_features)
    zero = low + 8 * scale
    return codes, torch.cat([scale, zero], dim=-1)  # (N, G, 2)


def pack_nibbles(codes: torch.Tensor) -> torch.Tensor:
    """Codes (out, in) in 0..15 as bytes (out, in / 2): even columns in the low nibble."""
    return codes[:, 0::2] | (codes[:, 1::2] << 4)


def unpack_nibbles(packed: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`pack_nibbles`: codes (out, 2 * packed.shape[1])."""
    return torch.stack([packed & 15, packed >> 4], dim=-1).reshape(packed.shape[0], -1)


class Int4Linear(nn.Module):
    """A linear layer with int4 weights (groups of input columns) and bf16 activations, for CPU
    inference; float32 in and out."""

    def __init__(self, codes: torch.Tensor, scale_and_zero: torch.Tensor, bias: torch.Tensor | None) -> None:
        """
        Args:
            codes: uint8 (out, in) in 0..15, as :func:`int4_quantize` gives them.
            scale_and_zero: (out, in / group_size, 2).
            bias: (out,) or None.
        """
        super().__init__()
        self.out_features, self.in_features = codes.shape
        self.group_size = self.in_features // scale_and_zero.shape[1]
        self.nibbles = pack_nibbles(codes)  # the checkpoint's form (int4_tensors)
        self.scale_and_zero = scale_and_zero.float()
        self.bias = None if bias is None else bias.detach().float()
        padded = -(-self.out_features // _ROWS_MULTIPLE) * _ROWS_MULTIPLE
        codes32 = nn.functional.pad(codes.to(torch.int32), (0, 0, 0, padded - self.out_features))
        sz = nn.functional.pad(self.scale_and_zero, (0, 0, 0, 0, 0, padded - self.out_features))
        self._chunks = [  # (packed codes, (G, rows, 2) bf16 scales and zeros), slices of output rows
            (
                torch.ops.aten._convert_weight_to_int4pack_for_cpu(codes32[start : start + _CHUNK_ROWS], 1),
                sz[start : start + _CHUNK_ROWS].transpose(0, 1).contiguous().bfloat16(),
            )
            for start in range(0, padded, _CHUNK_ROWS)
        ]

    @classmethod
    def from_float(cls, weight: torch.Tensor, bias: torch.Tensor | None) -> Int4Linear:
        codes, scale_and_zero = int4_quantize(weight)
        return cls(codes, scale_and_zero, bias)

    def int4_tensors(self) -> dict[str, torch.Tensor]:
        """What a checkpoint stores of the layer: ``weight`` (uint8, two codes a byte, out x in/2),
        ``weight_scale`` and ``weight_zero`` (float32, out x in/group_size) and ``bias`` if any."""
        tensors = {
            "weight": self.nibbles,
            "weight_scale": self.scale_and_zero[..., 0].contiguous(),
            "weight_zero": self.scale_and_zero[..., 1].contiguous(),
        }
        if self.bias is not None:
            tensors["bias"] = self.bias
        return tensors

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).bfloat16()  # (M, K)
        parts = [
            torch.ops.aten._weight_int4pack_mm_for_cpu(rows, packed, self.group_size, sz) for packed, sz in self._chunks
        ]
        out = (parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1))[:, : self.out_features].float()
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int4 groups of {self.group_size}"
