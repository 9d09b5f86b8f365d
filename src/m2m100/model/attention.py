"""Attention: the masks, one attention function with its backends, and the attention module.

:func:`attention` is the only place where queries meet keys; the backend ("eager", "sdpa",
"flash_attention_2") is an argument, not a class. :class:`Attention` adds transformers'
q/k/v/out projections (their parameter names, so checkpoints load without renaming), the
self-attention cache and the cross-attention keys shared by the beams of one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from m2m100.model.cache import KVCache
from m2m100.model.linear import Linear

ATTENTION_BACKENDS = ("eager", "sdpa", "flash_attention_2")
FEW_QUERIES = 16  # at most this many queries per head: explicit attention on CPU (see attention())
ONE_QUERY_ROWS = 4  # ...unless each of at most this many rows has a single query (see attention())


# --------------------------------------------------------------------------------------------
# Masks
# --------------------------------------------------------------------------------------------
def padding_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(B, S) 1/0 mask -> additive (B, 1, 1, S) mask: 0 where attended, the dtype's min where not."""
    keep = attention_mask[:, None, None, :].to(torch.bool)
    return torch.zeros(keep.shape, dtype=dtype, device=keep.device).masked_fill(~keep, torch.finfo(dtype).min)


def causal_mask(
    query_len: int,
    past: int,
    *,
    dtype: torch.dtype,
    device: torch.device,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Additive (B|1, 1, T, past+T) mask hiding future positions and, if given, padded keys."""
    total = past + query_len
    query_pos = torch.arange(past, total, device=device)[:, None]
    hidden = torch.arange(total, device=device)[None, :] > query_pos  # (T, past+T)
    hidden = hidden[None, None]
    if attention_mask is not None:
        hidden = hidden | ~attention_mask[:, None, None, :total].to(torch.bool)
    return torch.zeros(hidden.shape, dtype=dtype, device=device).masked_fill(hidden, torch.finfo(dtype).min)


# --------------------------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------------------------
def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None,
    scale: float,
    backend: str = "sdpa",
    is_causal: bool = False,
    dropout: float = 0.0,
    need_weights: bool = False,
    head_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Scaled dot-product attention over (B, H, T, hd) queries and (B, H, S, hd) keys/values.

    Args:
        mask: additive mask broadcastable to (B, H, T, S), or None.
        backend: "eager" (explicit softmax), "sdpa" (torch's fused kernels) or
            "flash_attention_2" (flash-attn, on CUDA in fp16/bf16, when nothing is masked).
        is_causal: hide future keys; only used when ``mask`` is None.
        need_weights, head_mask: both need the probabilities, so they take the eager path.
            On CPU, a few queries (a decoding step) also take it: two small matmuls beat the
            fused kernel's fixed cost there (a beam step's grouped cross-attention, a greedy
            step of 16 rows), except for one query in each of up to 4 rows (greedy decoding
            of one to four sentences), where the fused kernel is faster (12-14 against 20-23 us
            a call at one row, bench/bench_step_ops.py).

    Returns:
        The (B, H, T, hd) output and the (B, H, T, S) probabilities when ``need_weights``.
    """
    few_queries_on_cpu = (
        q.device.type == "cpu" and q.shape[2] <= FEW_QUERIES and not (q.shape[2] == 1 and q.shape[0] <= ONE_QUERY_ROWS)
    )
    if need_weights or head_mask is not None or backend == "eager" or few_queries_on_cpu:
        scores = torch.matmul(q, k.transpose(2, 3)) * scale  # (B, H, T, S)
        if mask is not None:
            scores = scores + mask
        elif is_causal and q.shape[2] > 1:  # one query sees every key
            t, s = scores.shape[-2:]
            future = torch.ones(t, s, dtype=torch.bool, device=q.device).triu(s - t + 1)
            scores = scores.masked_fill(future, torch.finfo(scores.dtype).min)
        probs = F.softmax(scores, dim=-1)
        if head_mask is not None:
            probs = probs * head_mask.view(1, -1, 1, 1)
        out = torch.matmul(apply_dropout(probs, dropout, dropout > 0), v)
        return out, (probs if need_weights else None)
    if backend == "flash_attention_2" and mask is None and q.is_cuda:
        from flash_attn import flash_attn_func  # checked importable when the backend was chosen

        out = flash_attn_func(  # flash-attn takes (B, T, H, hd)
            q.transpose(1, 2),
            k.transpose(1, 2),
            v.transpose(1, 2),
            dropout_p=dropout,
            softmax_scale=scale,
            causal=is_causal and q.shape[2] > 1,
        )
        return out.transpose(1, 2), None
    # Padded batches under flash_attention_2 also land here: SDPA's CUDA kernels take the mask.
    out = F.scaled_dot_product_attention(
        q,
        k,
        v,
        attn_mask=mask,
        dropout_p=dropout,
        scale=scale,
        is_causal=is_causal and mask is None and q.shape[2] > 1,
    )
    return out, None


def apply_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout``, without its call when it would do nothing (inference runs ~70 a step)."""
    return F.dropout(x, p=p, training=True) if training and p > 0 else x


@dataclass(frozen=True)
class TokenIndex:
    """The positions of a padded (B, S) batch that hold tokens, so that per-token work
    (projections, feed-forward, layer norms) skips the padding; only attention needs the
    padded layout."""

    index: torch.Tensor  # (N,) flat positions of the tokens in B * S
    batch: int
    length: int

    @classmethod
    def from_mask(cls, attention_mask: torch.Tensor) -> TokenIndex:
        b, s = attention_mask.shape
        return cls(attention_mask.reshape(-1).nonzero().squeeze(1), b, s)

    def unpad(self, x: torch.Tensor) -> torch.Tensor:
        """(B, S, D) -> (N, D)."""
        return x.reshape(-1, x.shape[-1]).index_select(0, self.index)

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (B, S, D), zeros at the padding."""
        out = x.new_zeros(self.batch * self.length, x.shape[-1]).index_copy_(0, self.index, x)
        return out.view(self.batch, self.length, -1)


class Attention(nn.Module):
    """Multi-head attention with q/k/v/out projections (transformers' parameter names)."""

    def __init__(self, d_model: int, heads: int, *, dropout: float, causal: bool = False) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, d_model // heads
        self.scale = self.head_dim**-0.5
        self.dropout, self.causal = dropout, causal
        self.backend = "sdpa"
        self.q_proj = Linear(d_model, d_model)
        self.k_proj = Linear(d_model, d_model)
        self.v_proj = Linear(d_model, d_model)
        self.out_proj = Linear(d_model, d_model)
        # int8 inference (quantize.quantize_int8) replaces the three self-attention projections by
        # one (3 * d_model) GEMM: one activation quantization and one kernel call instead of three
        self.qkv_proj: nn.Module | None = None

    def project_qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of ``x`` (..., D), each (..., D)."""
        if self.qkv_proj is not None:
            q, k, v = self.qkv_proj(x).chunk(3, dim=-1)
            return q, k, v
        return self.q_proj(x), self.k_proj(x), self.v_proj(x)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)

    def project_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of ``memory`` (B, S, D), each (B, H, S, hd) and contiguous: they are
        read at every decoding step, and a strided layout would be copied each time."""
        return self.split_heads(self.k_proj(memory)).contiguous(), self.split_heads(self.v_proj(memory)).contiguous()

    def forward(
        self,
        x: torch.Tensor,
        *,
        mask: torch.Tensor | None = None,
        kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        group: int = 1,
        cache: KVCache | None = None,
        pos: int = 0,
        tokens: TokenIndex | None = None,
        need_weights: bool = False,
        head_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Self-attention over ``x`` (B, T, D), or cross-attention to precomputed ``kv``.

        Args:
            kv: cross-attention keys/values, (B / group, H, S, hd).
            group: query rows that share one row of ``kv``; they are attended as one longer
                query so the keys are never copied per beam.
            cache: self-attention cache, written at ``pos``.
            tokens: ``x`` holds only these tokens of a padded batch, (N, D); so does the output.
        """
        if tokens is not None:
            b, t, d = tokens.batch, tokens.length, x.shape[-1]
            q, k, v = (self.split_heads(tokens.pad(y)) for y in self.project_qkv(x))
        elif kv is None:
            b, t, d = x.shape
            q, k, v = (self.split_heads(y) for y in self.project_qkv(x))
            if cache is not None:  # the cache copies them into its buffer
                k, v = cache.update(pos, k, v)
            else:
                k, v = k.contiguous(), v.contiguous()
        else:
            b, t, d = x.shape
            q = self.split_heads(self.q_proj(x))
            k, v = kv
        if group > 1:
            q = q.view(b // group, group, self.heads, t, self.head_dim).transpose(1, 2)
            q = q.reshape(b // group, self.heads, group * t, self.head_dim)  # (B/g, H, g*T, hd)
        out, weights = attention(
            q,
            k,
            v,
            mask=mask,
            scale=self.scale,
            backend=self.backend,
            is_causal=self.causal and kv is None,
            dropout=self.dropout if self.training else 0.0,
            need_weights=need_weights,
            head_mask=head_mask,
        )
        if group > 1:
            out = out.view(b // group, self.heads, group, t, self.head_dim).transpose(1, 2)
            out = out.reshape(b, self.heads, t, self.head_dim)
            if weights is not None:
                s = weights.shape[-1]
                weights = weights.view(b // group, self.heads, group, t, s).transpose(1, 2).reshape(b, self.heads, t, s)
        out = out.transpose(1, 2).reshape(b, t, d)  # (B, T, D)
        if tokens is not None:
            out = tokens.unpad(out)
        return self.out_proj(out), weights
