"""Linear layers and their CPU kernels.

On CPU, ``torch.nn.functional.linear`` goes through MKL, which takes its AVX2 path on AMD
processors and is slow on the skinny matrices of decoding (one row per beam). oneDNN, which
PyTorch ships too, is 1.5-2.5x faster on those shapes, so inference on CPU calls it directly, with
the same results up to float rounding. :func:`pack_weights` goes one step further: it reorders
each weight once into oneDNN's blocked layout, in place of the plain one (no second copy), which
saves the reorder oneDNN otherwise does at every call (up to 35% of a greedy batch's time).
Training, other devices and anything that needs gradients use ``F.linear`` on plain weights
(:func:`unpack_weights`, which ``train()`` and ``.to()`` call).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
_ONEDNN_DTYPES = (torch.float32, torch.bfloat16)


def use_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``linear(x, weight)`` may take the oneDNN path: CPU inference in fp32 or bf16."""
    return (
        _ONEDNN
        and x.device.type == "cpu"
        and x.dtype == weight.dtype
        and weight.dtype in _ONEDNN_DTYPES
        and not (torch.is_grad_enabled() and (weight.requires_grad or x.requires_grad))
    )


def linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor] = None, *,
           activation: Optional[str] = None) -> torch.Tensor:
    """``x @ weight.T + bias``, optionally followed by "relu" (fused into the GEMM on oneDNN).

    ``weight`` is a plain (out, in) tensor or one packed by :func:`pack_weights`.
    """
    if use_onednn(x, weight):
        if activation == "relu":
            return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight, bias, "relu", [None], "")
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight, bias, "none", [], "")
    if weight.is_mkldnn:  # e.g. gradients wanted for the input: compute from a plain copy
        weight = weight.to_dense()
    out = F.linear(x, weight, bias)
    return F.relu(out) if activation == "relu" else out


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, same state dict) whose CPU inference uses oneDNN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


def pack_weights(model: nn.Module) -> int:
    """Reorder the weight of every :class:`Linear` of a CPU fp32/bf16 model into oneDNN's
    blocked layout, replacing the plain weight (inference only; ``to_dense()`` gives it back
    bit for bit). A weight shared with another module (the LM head tied to the embedding) stays
    plain: packing it would need a second copy.

    Returns:
        The number of layers packed (0 where oneDNN or the device/dtype does not allow it).
    """
    if not _ONEDNN:
        return 0
    shared = _shared_weights(model)
    packed = 0
    for module in model.modules():
        if not isinstance(module, Linear) or module.weight.is_mkldnn or id(module.weight) in shared:
            continue
        weight = module.weight
        if weight.device.type != "cpu" or weight.dtype not in _ONEDNN_DTYPES:
            continue
        module.weight = nn.Parameter(torch.ops.mkldnn._reorder_linear_weight(weight.detach(), None),
                                     requires_grad=False)
        packed += 1
    return packed


def unpack_weights(model: nn.Module) -> None:
    """Give every packed :class:`Linear` its plain, trainable weight back."""
    for module in model.modules():
        if isinstance(module, Linear) and module.weight.is_mkldnn:
            module.weight = nn.Parameter(module.weight.to_dense())


def _shared_weights(model: nn.Module) -> set[int]:
    seen: dict[int, int] = {}
    for module in model.modules():
        for param in module.parameters(recurse=False):
            seen[id(param)] = seen.get(id(param), 0) + 1
    return {key for key, count in seen.items() if count > 1}
