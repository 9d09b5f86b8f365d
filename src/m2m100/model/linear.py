"""Linear layers and their CPU kernels.

On CPU, ``torch.nn.functional.linear`` goes through MKL, which takes its AVX2 path on AMD
processors and is slow on the skinny matrices of decoding (one row per beam). oneDNN, which
PyTorch ships too, is 1.5-2.5x faster on those shapes, so inference on CPU calls it directly, with
the same results up to float rounding. For the layers a decoding step calls, :func:`pack_weights`
goes one step further: it keeps a copy of the weight in oneDNN's blocked layout beside the
parameter, which saves the reorder oneDNN otherwise does at every call (up to 35% of a greedy
batch's time).

The parameters themselves stay ordinary tensors (``state_dict``, ``torch.save``, safetensors,
``deepcopy``, LoRA adapters and in-place edits all see plain weights). The packed copy is derived
data: it is rebuilt when the weight is replaced or changed in place (its version counter moves,
or its ``.data`` was touched, see :class:`PackedParameter`), and dropped by training and ``.to()``.
Training, other devices and anything that needs gradients use ``F.linear`` on the plain weight.

The LM head keeps no packed copy (it is tied to the embedding, and 525 MB), but greedy search may
screen it: :meth:`Linear.screened` finds the tokens that can win from an int8 copy, a quarter of the
bytes, and computes only theirs exactly (:mod:`m2m100.model.screened_head`). That copy is derived
data too, built at the first screened step and dropped or rebuilt as the packed copies are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from m2m100.model import screened_head

_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
_ONEDNN_DTYPES = (torch.float32, torch.bfloat16)
_TENSOR_DATA: Any = torch.Tensor.data  # the C descriptor behind Tensor.data
WeightKey = tuple[int, int, int, int]
SCREEN_MISSES = 16  # a head whose screen gave up this many calls in a row is no longer screened


def _weight_key(w: torch.Tensor) -> WeightKey:
    """What changes when a weight is replaced or edited (in place, or through ``.data``)."""
    return (id(w), w.data_ptr(), w._version, getattr(w, "_data_touches", 0))


def use_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether ``linear(x, weight)`` may take the oneDNN path: CPU inference in fp32 or bf16."""
    return (
        _ONEDNN
        and x.device.type == "cpu"
        and x.dtype == weight.dtype
        and weight.dtype in _ONEDNN_DTYPES
        and not (torch.is_grad_enabled() and (weight.requires_grad or x.requires_grad))
    )


def linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    activation: str | None = None,
    packed: torch.Tensor | None = None,
) -> torch.Tensor:
    """``x @ weight.T + bias``, optionally followed by "relu" (fused into the GEMM on oneDNN).

    Args:
        packed: ``weight`` in oneDNN's layout (:meth:`Linear.packed_weight`), used on the oneDNN path.
    """
    if use_onednn(x, weight):
        w = packed if packed is not None else weight
        if activation == "relu":
            return torch.ops.mkldnn._linear_pointwise(x.contiguous(), w, bias, "relu", [None], "")
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), w, bias, "none", [], "")
    out = F.linear(x, weight, bias)
    return F.relu(out) if activation == "relu" else out


class PackedParameter(nn.Parameter):
    """An ordinary parameter that tells its layer when its ``.data`` is read or replaced.

    In-place changes through ``.data`` (``weight.data += delta``, as PEFT merges LoRA adapters)
    bypass the version counter that :class:`Linear` checks before using its packed copy, so any
    use of ``.data`` marks the copy stale. Everything else about the tensor is plain.
    """

    _data_touches: int

    def __new__(cls, data: torch.Tensor, requires_grad: bool = True) -> PackedParameter:
        param = super().__new__(cls, data, requires_grad)
        param._data_touches = 0
        return param

    @property
    def data(self) -> torch.Tensor:
        self._data_touches += 1
        return _TENSOR_DATA.__get__(self)

    @data.setter
    def data(self, value: torch.Tensor) -> None:
        self._data_touches += 1
        _TENSOR_DATA.__set__(self, value)

    def raw(self) -> torch.Tensor:
        """``.data`` without marking the packed copy stale."""
        return _TENSOR_DATA.__get__(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> PackedParameter:
        if id(self) not in memo:
            memo[id(self)] = PackedParameter(self.raw().clone(memory_format=torch.preserve_format), self.requires_grad)
        return memo[id(self)]

    def __reduce_ex__(self, protocol: Any) -> Any:  # pickles (torch.save) as a plain nn.Parameter
        return nn.Parameter(self.raw(), self.requires_grad).__reduce_ex__(protocol)


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters, same state dict) whose CPU inference uses oneDNN, with a
    packed copy of the weight when :func:`pack_weights` chose the layer."""

    _packed: torch.Tensor | None = None
    _packed_key: WeightKey | None = None
    pack: bool = False  # keep a packed copy (set by pack_weights)
    _screen: screened_head.ScreenedHead | None = None
    _screen_key: WeightKey | None = None
    _screen_misses = 0  # screened calls in a row that gave up (a head too flat to screen)
    screens: bool = False  # greedy search may screen this layer, an LM head (set by screen_head)
    fuses_relu = True  # forward takes activation="relu" (the feed-forward layers look on the class)

    def packed_weight(self) -> torch.Tensor | None:
        """The weight in oneDNN's layout, (re)built when the weight changed; None when the layer
        does not pack or oneDNN cannot take this weight."""
        if not self.pack:
            return None
        w = self.weight
        key = _weight_key(w)
        if key != self._packed_key:
            if not _ONEDNN or w.device.type != "cpu" or w.dtype not in _ONEDNN_DTYPES:
                return None
            with torch.no_grad():
                self._packed = torch.ops.mkldnn._reorder_linear_weight(w.detach(), None)
            self._packed_key = key
        return self._packed

    def screened(self, x: torch.Tensor) -> screened_head.Screened | None:
        """Greedy search's logits: exact (as :meth:`forward`'s, up to float rounding) for the
        tokens that can win, -inf for the rest, and each row's floor. None where the layer does
        not screen (not chosen by :func:`screen_head`, training, a bias, not fp32 on CPU, no
        FBGEMM) or the screen gives up on these rows (too many candidates)."""
        w = self.weight
        if (
            not self.screens
            or self.training
            or self.bias is not None
            or w.device.type != "cpu"
            or w.dtype != torch.float32
            or x.dtype != torch.float32
            or (torch.is_grad_enabled() and w.requires_grad)
            or not screened_head.available()
        ):
            return None
        key = _weight_key(w)
        if key != self._screen_key:
            self._screen, self._screen_key, self._screen_misses = screened_head.ScreenedHead(w), key, 0
        if self._screen_misses >= SCREEN_MISSES:  # this head's logits are too flat: stop paying for it
            return None
        assert self._screen is not None
        screen = self._screen(x)
        self._screen_misses = 0 if screen is not None else self._screen_misses + 1
        if screen is None:
            return None
        logits = x.new_full((x.shape[0], w.shape[0]), float("-inf"))
        logits[:, screen.ids] = linear(x, w.index_select(0, screen.ids))
        return screened_head.Screened(logits, screen.floor)

    def unpack(self) -> None:
        """Drop the packed copy and the screen (memory back; the next call that uses one rebuilds it)."""
        self._packed = self._packed_key = None
        self._screen = self._screen_key = None

    def __getstate__(self) -> dict[str, Any]:  # deepcopy and pickle: the copies are derived data
        state = self.__dict__.copy()
        for name in ("_packed", "_packed_key", "_screen", "_screen_key"):
            state.pop(name, None)
        return state

    def forward(self, x: torch.Tensor, *, activation: str | None = None) -> torch.Tensor:
        """``x @ weight.T + bias``, then ``activation`` ("relu", fused into oneDNN's GEMM) if given."""
        packed = self.packed_weight() if self.pack and not self.training else None
        return linear(x, self.weight, self.bias, activation=activation, packed=packed)


def pack_weights(layers: Iterable[nn.Module]) -> int:
    """Keep a packed copy of the weight of each :class:`Linear` in ``layers`` (CPU, fp32/bf16),
    for inference. Each weight becomes a :class:`PackedParameter` (same values, a new object), so
    call it before handing parameters to an optimizer. The caller chooses the layers: m2m100 packs
    those a decoding step calls, never a weight tied to another module (the copy would be as large
    as the embedding).

    Returns:
        The number of layers packed (0 where oneDNN or the device/dtype does not allow it).
    """
    if not _ONEDNN:
        return 0
    packed = 0
    for module in layers:
        if not isinstance(module, Linear):
            continue
        w = module.weight
        if type(w) is nn.Parameter:  # so that edits through .data are seen too
            module.weight = PackedParameter(_TENSOR_DATA.__get__(w), w.requires_grad)
        module.pack = True
        if module.packed_weight() is None:
            module.pack = False
            continue
        packed += 1
    return packed


def screen_head(head: nn.Module, model: nn.Module) -> bool:
    """Let greedy search screen ``head``, the LM head of ``model`` (:meth:`Linear.screened`; the
    screen is built at the first step that uses it). Its weight becomes a :class:`PackedParameter`
    in every module of ``model`` that shares it, so ties hold and edits through ``.data`` are seen;
    as with :func:`pack_weights`, call it before handing parameters to an optimizer.

    Returns:
        Whether ``head`` screens (only a :class:`Linear` can).
    """
    if not isinstance(head, Linear):
        return False
    w = head.weight
    if type(w) is nn.Parameter:
        tracked = PackedParameter(_TENSOR_DATA.__get__(w), w.requires_grad)
        for module in model.modules():
            for name, param in module._parameters.items():
                if param is w:
                    module._parameters[name] = tracked
    head.screens = True
    return True


def unpack_weights(model: nn.Module) -> None:
    """Drop every packed copy and screen of ``model``'s :class:`Linear` layers (training,
    ``.to()``); a layer builds its copy again at its next inference call on CPU."""
    for module in model.modules():
        if isinstance(module, Linear):
            module.unpack()
