"""Quantized inference on CPU: the surgery that swaps every linear layer for a quantized one.

Two modes: "int8", dynamically quantized int8 weights (per output channel) with FBGEMM's kernels,
called directly, for throughput (batches, beams); "int4-weight", int4 weights with bf16
activations (:mod:`m2m100.model.weight_only`), for latency (greedy, one to four sentences). In
both the three self-attention projections become one wider layer. It rewrites a built model, so it
sits beside the model rather than in it: the layers (:mod:`m2m100.model.transformer`) know
nothing of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantLinear
from torch.ao.quantization import per_channel_dynamic_qconfig

from m2m100.model.attention import Attention
from m2m100.model.weight_only import Int4Linear

QUANTIZATIONS = ("int8", "int4-weight")

# FBGEMM quantizes an int8 layer's input per call. Without AVX512-VNNI its kernels add pairs of
# uint8 x int8 products in int16 (vpmaddubsw), which saturates on 8-bit inputs, so torch keeps
# them to 7 bits ("reduce_range"). Its VNNI kernels (vpdpbusd) accumulate in int32: all 8 bits
# are safe there and halve the inputs' rounding error (on the random 418M checkpoint, beam 4 rows
# equal to float32 went from 63 to 75 of 96 over six batches, greedy from 67 to 71 of 80).
FULL_RANGE_INPUTS = bool(getattr(torch.cpu, "_is_vnni_supported", lambda: False)())


def quantize_model(model: nn.Module, mode: str) -> nn.Module:
    """Replace every linear layer of ``model`` by the ``mode`` one (one of :data:`QUANTIZATIONS`).

    Returns:
        ``model``, changed in place.
    """
    if mode == "int8":
        return quantize_int8(model)
    if mode == "int4-weight":
        return quantize_int4_weight(model)
    raise ValueError(f"quantize={mode!r} is not supported; valid: {', '.join(QUANTIZATIONS)}")


def quantize_int4_weight(model: nn.Module) -> nn.Module:
    """Replace every linear layer (attention, feed-forward, LM head) with an int4-weight one
    (:class:`~m2m100.model.weight_only.Int4Linear`: groups of 32 input columns, bf16
    activations), the self-attention projections fused as in :func:`quantize_int8`. CPU
    inference only; the token embedding stays in floating point.

    Returns:
        ``model``, changed in place.
    """
    return _swap_linears(model, "int4-weight", Int4Linear.from_float)


def quantize_int8(model: nn.Module) -> nn.Module:
    """Replace every linear layer (attention, feed-forward, LM head) with a dynamically quantized
    int8 one: weights int8 per output channel, activations quantized per call (FBGEMM, which uses
    VNNI where the CPU has it). The query, key and value projections of each self-attention
    become one layer of three times the width (one activation quantization and one kernel call
    instead of three, with the same results). CPU inference only; the token embedding stays in
    floating point.

    Returns:
        ``model``, changed in place.
    """
    return _swap_linears(model, "int8", _int8_linear)


def _swap_linears(
    model: nn.Module, mode: str, make: Callable[[torch.Tensor, torch.Tensor | None], nn.Module]
) -> nn.Module:
    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError(f"quantize={mode!r} runs on CPU only; load the model on cpu (or use dtype=bfloat16 on GPU)")
    for name, module in list(model.named_modules()):
        if isinstance(module, Attention) and name.rpartition(".")[2] == "self_attn":
            projections = (module.q_proj, module.k_proj, module.v_proj)
            module.qkv_proj = make(torch.cat([p.weight.detach() for p in projections]), _cat_bias(projections))
            for name in ("q_proj", "k_proj", "v_proj"):
                setattr(module, name, None)  # the fused qkv_proj replaces them
    targets = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, make(module.weight.detach(), module.bias))
    return model


class Int8Linear(nn.Module):
    """A dynamically quantized int8 linear layer: FBGEMM's packed weight, called directly (the
    ``torch.ao`` module's forward adds a dtype conversion and Python work to each of the ~100
    calls of a decoding step)."""

    def __init__(self, packed: Any, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.packed = packed

    @classmethod
    def from_int8(
        cls, weight: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bias: torch.Tensor | None
    ) -> Int8Linear:
        """The layer of an int8 checkpoint: ``weight`` int8 (out x in), one scale and zero point per
        output row, as :meth:`int8_tensors` gave them; packed as quantizing the float weight was."""
        out_features, in_features = weight.shape
        with warnings.catch_warnings():  # torch announces a new quantization API; this one is what 2.x ships
            warnings.simplefilter("ignore")
            quantized = torch._make_per_channel_quantized_tensor(weight, scale.double(), zero_point.long(), 0)
        packed = torch.ops.quantized.linear_prepack(quantized, None if bias is None else bias.float())
        return cls(packed, in_features, out_features)

    def int8_tensors(self) -> dict[str, torch.Tensor]:
        """What a checkpoint stores of the layer: ``weight`` (int8), ``weight_scale`` (float64, so
        that loading packs the same weight), ``weight_zero_point`` and ``bias`` if it has one."""
        quantized, bias = torch.ops.quantized.linear_unpack(self.packed)
        tensors = {
            "weight": quantized.int_repr(),
            "weight_scale": quantized.q_per_channel_scales(),
            "weight_zero_point": quantized.q_per_channel_zero_points().to(torch.int32),
        }
        if bias is not None:
            tensors["bias"] = bias.detach()
        return tensors

    fuses_relu = True  # forward takes activation="relu" (the feed-forward layers look on the class)

    def forward(self, x: torch.Tensor, *, activation: str | None = None) -> torch.Tensor:
        """``x @ weight.T + bias`` in int8, then ``activation`` ("relu", in FBGEMM's output stage) if given."""
        reduce_range = not FULL_RANGE_INPUTS  # 7-bit inputs where 8 bits could saturate
        if activation == "relu":
            return torch.ops.quantized.linear_relu_dynamic(x, self.packed, reduce_range)
        return torch.ops.quantized.linear_dynamic(x, self.packed, reduce_range)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


def _int8_linear(weight: torch.Tensor, bias: torch.Tensor | None) -> Int8Linear:
    out_features, in_features = weight.shape
    with torch.device("meta"):  # no throw-away random weights
        float_linear = nn.Linear(in_features, out_features, bias=bias is not None)
    float_linear.weight = nn.Parameter(weight.float(), requires_grad=False)
    if bias is not None:
        float_linear.bias = nn.Parameter(bias.detach().float(), requires_grad=False)
    setattr(float_linear, "qconfig", per_channel_dynamic_qconfig)  # what from_float reads
    with warnings.catch_warnings():  # torch announces a new quantization API; this one is what 2.x ships
        warnings.simplefilter("ignore")
        quantized = DynamicQuantLinear.from_float(float_linear)
    return Int8Linear(quantized._packed_params._packed_params, in_features, out_features)


def _cat_bias(layers: tuple[nn.Linear, ...]) -> torch.Tensor | None:
    if all(layer.bias is None for layer in layers):
        return None
    return torch.cat(
        [
            layer.bias.detach() if layer.bias is not None else layer.weight.new_zeros(layer.out_features)
            for layer in layers
        ]
    )
