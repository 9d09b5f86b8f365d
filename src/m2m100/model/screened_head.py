"""An exact argmax over the LM head that reads a quarter of its bytes.

At batch 1 a greedy step of the fp32 model spends about a third of its time streaming the
(vocabulary x d_model) head, 525 MB for M2M100, to find one token. :class:`ScreenedHead` keeps an
int8 copy of the head (per-row scales, 131 MB) and computes every logit from it with FBGEMM, with a
proven bound on how far each of those logits can be from the exact one. Only the tokens that the
bound cannot rule out (the candidates) get their logits computed in fp32 from the real weights; the
others are -inf. The argmax of the exact fp32 logits is always among the candidates, so greedy
search picks the same token as it would from the full head.

The bound, for a row ``x`` and vocabulary row ``w = w_hat + e`` (``w_hat`` the dequantized int8 row),
with ``x = x_hat + d`` (``x_hat`` the activation as FBGEMM quantizes it, with qparams chosen here)::

    |x_hat . w_hat - x . w| = |x . e + d . w_hat| <= |x| |e| + |d| |w_hat|   (Cauchy-Schwarz)

plus the rounding of fp32 dot products of length K (``K u / (1 - K u) |x| |w|``, u = 2^-24), which
the exact logits have too, and of FBGEMM's fp32 output. The activations are quantized to 7 bits
(0..127), so FBGEMM's int16 pair sums cannot saturate on any CPU and its int32 accumulator is exact.

Rules that only lower scores (bans, penalties of at least 1) keep the guarantee: the decoder checks
that the chosen score is at least the row's floor, above which no screened-out token can be, and
falls back to the full head when it is not (a rule banned every candidate).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, NamedTuple

import torch

_U = 2.0**-24  # unit roundoff of fp32
_SAFETY = 1.0 + 1e-4  # covers the rounding of the norms and of the bound itself
_QMAX = 127  # 7-bit activations


class Screened(NamedTuple):
    """Logits for greedy search: exact for the candidate tokens, -inf for the rest, and each row's
    floor (see :class:`Screen`)."""

    logits: torch.Tensor  # (N, V)
    floor: torch.Tensor  # (N,)


class Screen(NamedTuple):
    """What the screen keeps of a (N, V) head: the candidate token ids (each row's candidates are
    among them) and, per row, the floor: the best token's exact logit is at least the floor, and
    no token left out can reach it."""

    ids: torch.Tensor  # (C,) ascending
    floor: torch.Tensor  # (N,)


@functools.cache
def available() -> bool:
    """Whether this build of torch has the FBGEMM kernels the screen needs (asked once: greedy
    search asks at every step)."""
    return "fbgemm" in torch.backends.quantized.supported_engines and hasattr(
        torch.ops.quantized, "linear_with_input_q_dq_qweight_dq_output_fp32"
    )


class ScreenedHead:
    """The int8 screen of one fp32 head weight (V, K), built once from it.

    Args:
        weight: the head's fp32 weight on CPU.
        most: the most candidates a row may have before the screen gives up and returns None
            (the caller then computes the full head: on a flat distribution the screen saves nothing).
    """

    def __init__(self, weight: torch.Tensor, *, most: int = 4096, block: int = 16384) -> None:
        w = weight.detach()
        self.most = most
        k = w.shape[1]
        error_norms, dequantized_norms, weight_norms = [], [], []
        self.blocks: list[Any] = []  # FBGEMM's packed int8 weights, one per block of rows
        with torch.no_grad():
            for part in w.split(block):  # block by block: no temporaries the size of the head
                scale = (part.abs().amax(dim=1) / 127).clamp_min(1e-12)
                q = torch.round(part / scale[:, None]).clamp_(-127, 127)
                dequantized = q * scale[:, None]
                error_norms.append((part - dequantized).norm(dim=1))
                dequantized_norms.append(dequantized.norm(dim=1))
                weight_norms.append(part.norm(dim=1))
                zeros = torch.zeros(part.shape[0], dtype=torch.long)
                with warnings.catch_warnings():  # torch announces a new quantization API; 2.x ships this one
                    warnings.simplefilter("ignore")
                    qweight = torch._make_per_channel_quantized_tensor(q.to(torch.int8), scale.double(), zeros, 0)
                self.blocks.append(torch.ops.quantized.linear_prepack(qweight, None))
        gamma = k * _U / (1 - k * _U)  # fp32 dot-product rounding, per unit of |x| |w_j|
        # (2, V): per token, what a unit of |x| and a unit of |d| can move its logit
        self.reach = torch.stack(
            [torch.cat(error_norms) + gamma * torch.cat(weight_norms), torch.cat(dequantized_norms)]
        ).mul_(_SAFETY)
        self.largest_row = float(self.reach[1].max())  # max_j |w_hat_j| (with the safety factor)

    def __call__(self, x: torch.Tensor) -> Screen | None:
        """(N, K) fp32 rows -> their candidates, or None when a row has more than ``most``."""
        x = x.contiguous()
        lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
        if not (hi > lo) or not torch.isfinite(x).all():
            return None
        x_scale = (hi - lo) / _QMAX
        zero = min(max(round(-lo / x_scale), 0), _QMAX)
        op = torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32
        approx = torch.cat([op(x, x_scale, zero, b) for b in self.blocks], dim=1)
        d = x - torch.fake_quantize_per_tensor_affine(x, x_scale, zero, 0, _QMAX)
        norms = torch.stack([x.norm(dim=1), d.norm(dim=1)], dim=1) * _SAFETY  # (N, 2)
        # FBGEMM rounds its fp32 output, and so do the sums below: 8 u of the largest logit covers
        # both, and |x_hat . w_hat| <= (|x| + |d|) max |w_hat| bounds that logit without a pass over it
        largest = norms.sum(dim=1, keepdim=True) * self.largest_row
        bound = torch.mm(norms, self.reach).add_((8 * _U) * largest)  # (N, V)
        floor = (approx - bound).amax(dim=1)  # the best token's exact logit is at least this
        keep = approx.add_(bound) >= floor[:, None]  # a token below cannot reach the floor
        if int(torch.count_nonzero(keep, dim=1).max()) > self.most:
            return None
        return Screen(torch.nonzero(keep.any(dim=0)).squeeze(1), floor)
