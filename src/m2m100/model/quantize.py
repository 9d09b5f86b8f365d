"""int8 inference on CPU: the surgery that swaps every linear layer for a quantized one.

Dynamically quantized int8 weights (per output channel) with FBGEMM's kernels, called directly;
the three self-attention projections become one wider layer. It rewrites a built model, so it
sits beside the model rather than in it: the layers (:mod:`m2m100.model.transformer`) know
nothing of it.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantLinear
from torch.ao.quantization import per_channel_dynamic_qconfig

from m2m100.model.attention import Attention

QUANTIZATIONS = ("int8",)


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
    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError("quantize='int8' runs on CPU only; load the model on cpu (or use dtype=bfloat16 on GPU)")
    for name, module in list(model.named_modules()):
        if isinstance(module, Attention) and name.rpartition(".")[2] == "self_attn":
            projections = (module.q_proj, module.k_proj, module.v_proj)
            module.qkv_proj = _int8_linear(torch.cat([p.weight.detach() for p in projections]), _cat_bias(projections))
            for name in ("q_proj", "k_proj", "v_proj"):
                setattr(module, name, None)  # the fused qkv_proj replaces them
    targets = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _int8_linear(module.weight.detach(), module.bias))
    return model


class Int8Linear(nn.Module):
    """A dynamically quantized int8 linear layer: FBGEMM's packed weight, called directly (the
    ``torch.ao`` module's forward adds a dtype conversion and Python work to each of the ~100
    calls of a decoding step)."""

    def __init__(self, quantized: DynamicQuantLinear) -> None:
        super().__init__()
        self.in_features, self.out_features = quantized.in_features, quantized.out_features
        self.packed = quantized._packed_params._packed_params

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self.packed, True)  # reduce_range, as torch.ao does

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
        return Int8Linear(DynamicQuantLinear.from_float(float_linear))


def _cat_bias(layers: tuple[nn.Linear, ...]) -> torch.Tensor | None:
    if all(layer.bias is None for layer in layers):
        return None
    return torch.cat(
        [
            layer.bias.detach() if layer.bias is not None else layer.weight.new_zeros(layer.out_features)
            for layer in layers
        ]
    )
