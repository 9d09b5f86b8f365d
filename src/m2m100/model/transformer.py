"""The M2M100 transformer: positions, encoder and decoder layers, and the two stacks.

This is the numerical core, with attention in :mod:`m2m100.model.attention`. It follows
transformers' ``modeling_m2m_100.py`` exactly where the numbers are concerned (scaled embeddings,
padding-aware sinusoidal positions with offset 2, pre-norm layers, final layer norms) and keeps
the transformers-compatible surface (``return_dict``, tuple outputs, ``from_pretrained``) out of
the way in :mod:`m2m100.modeling`.
Parameter names equal transformers' state-dict keys, so checkpoints load without renaming.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from m2m100.activations import ACTIVATIONS
from m2m100.config import M2M100Config
from m2m100.model.attention import Attention, TokenIndex, apply_dropout, causal_mask, padding_mask
from m2m100.model.cache import DecoderCache, KVCache
from m2m100.model.linear import Linear


# --------------------------------------------------------------------------------------------
# Positions
# --------------------------------------------------------------------------------------------
def make_positions(input_ids: torch.Tensor, padding_idx: int, past: int = 0) -> torch.Tensor:
    """Position ids counting only non-padding tokens, from ``padding_idx + 1`` (fairseq's rule);
    padding tokens get ``padding_idx``, whose sinusoid row is zero."""
    not_pad = input_ids.ne(padding_idx).int()
    return ((torch.cumsum(not_pad, dim=1).type_as(not_pad) + past) * not_pad).long() + padding_idx


def sinusoid_table(num_positions: int, dim: int, padding_idx: int) -> torch.Tensor:
    """The (num_positions, dim) fp32 table of tensor2tensor's sinusoids (sin half, then cos half)."""
    half = dim // 2
    freq = torch.exp(torch.arange(half, dtype=torch.int64).float() * -(math.log(10000) / (half - 1)))
    angles = torch.arange(num_positions, dtype=torch.int64).float().unsqueeze(1) * freq.unsqueeze(0)
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).view(num_positions, -1)
    if dim % 2 == 1:
        table = torch.cat([table, torch.zeros(num_positions, 1)], dim=1)
    table[padding_idx, :] = 0
    return table


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal position embeddings; the table grows when a position goes past it."""

    OFFSET = 2  # fairseq reserves rows 0..padding_idx
    weights: torch.Tensor  # (num_positions + OFFSET, dim), a non-persistent buffer

    def __init__(self, num_positions: int, dim: int, padding_idx: int) -> None:
        super().__init__()
        self.dim, self.padding_idx = dim, padding_idx
        self.register_buffer("weights", torch.empty(num_positions + self.OFFSET, dim), persistent=False)
        self.reset_table()

    def reset_table(self, num_rows: int | None = None) -> None:
        """(Re)compute the table, keeping the buffer's device and dtype (also after a meta build)."""
        if self.weights.is_meta:
            return  # built on the meta device: from_pretrained fills the table on the real one
        rows = num_rows or self.weights.shape[0]
        table = sinusoid_table(rows, self.dim, self.padding_idx)
        self.weights = table.to(device=self.weights.device, dtype=self.weights.dtype)

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) position ids -> (B, T, dim) embeddings."""
        needed = int(position_ids.max()) + 1
        if needed > self.weights.shape[0]:
            self.reset_table(needed + self.OFFSET)
        return self.weights[position_ids]


# --------------------------------------------------------------------------------------------
# Token embeddings
# --------------------------------------------------------------------------------------------
class ScaledEmbedding(nn.Embedding):
    """The token embedding, multiplied by ``embed_scale`` (sqrt(d_model) when the config's
    ``scale_embedding``): transformers' ``M2M100ScaledWordEmbedding``, so that what the model's
    input embedding returns is what the stacks add the positions to."""

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None, embed_scale: float = 1.0
    ) -> None:
        super().__init__(num_embeddings, embedding_dim, padding_idx)
        self.embed_scale = embed_scale

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return super().forward(input_ids) * self.embed_scale


def embedding_scale(config: M2M100Config) -> float:
    """What token embeddings are multiplied by: sqrt(d_model), or 1 without ``scale_embedding``."""
    return math.sqrt(config.d_model) if config.scale_embedding else 1.0


# --------------------------------------------------------------------------------------------
# Inspection: what transformers' flags ask of a stack (None on every fast path)
# --------------------------------------------------------------------------------------------
class LayerProbe(NamedTuple):
    """One layer's share of a :class:`Probe`."""

    need_weights: bool
    head_mask: torch.Tensor | None  # (heads,) of the self-attention
    cross_head_mask: torch.Tensor | None  # (heads,) of the cross-attention (decoder layers)


NO_PROBE = LayerProbe(False, None, None)


@dataclass(frozen=True)
class Probe:
    """Looking inside one stack call: attention probabilities and hidden states out, head
    masks in. Translation never asks for these; the transformers-compatible surface
    (:mod:`m2m100.modeling.stacks`) turns its ``output_*`` and ``*head_mask`` arguments into one."""

    attentions: bool = False
    hidden_states: bool = False
    head_mask: torch.Tensor | None = None  # (layers, heads): self-attention
    cross_head_mask: torch.Tensor | None = None  # (layers, heads): the decoder's cross-attention

    def check(self, layers: int, *, head_mask_name: str = "head_mask") -> None:
        for mask, name in ((self.head_mask, head_mask_name), (self.cross_head_mask, "cross_attn_head_mask")):
            if mask is not None and mask.shape[0] != layers:
                raise ValueError(f"{name} must have one row per layer ({layers}), got shape {tuple(mask.shape)}")

    def layer(self, i: int) -> LayerProbe:
        return LayerProbe(
            self.attentions,
            None if self.head_mask is None else self.head_mask[i],
            None if self.cross_head_mask is None else self.cross_head_mask[i],
        )


# --------------------------------------------------------------------------------------------
# Encoder and decoder layers
# --------------------------------------------------------------------------------------------
class _PreNormLayer(nn.Module):
    """What encoder and decoder layers share: the pre-norm feed-forward block and the dropouts."""

    def __init__(self, config: M2M100Config, ffn_dim: int) -> None:
        super().__init__()
        d = config.d_model
        self.fc1 = Linear(d, ffn_dim)
        self.fc2 = Linear(ffn_dim, d)
        self.final_layer_norm = nn.LayerNorm(d)
        self.activation = ACTIVATIONS[config.activation_function]
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """fc1 -> activation -> fc2 on the normalised input (without the residual)."""
        h = self.final_layer_norm(x)
        if self.activation is F.relu and getattr(type(self.fc1), "fuses_relu", False):  # fused in the GEMM
            h = self.fc1(h, activation="relu")
        else:
            h = self.activation(self.fc1(h))
        h = apply_dropout(h, self.activation_dropout, self.training)
        return apply_dropout(self.fc2(h), self.dropout, self.training)


class EncoderLayer(_PreNormLayer):
    """Pre-norm self-attention then feed-forward, each with a residual."""

    def __init__(self, config: M2M100Config) -> None:
        super().__init__(config, config.encoder_ffn_dim)
        d = config.d_model
        self.self_attn = Attention(d, config.encoder_attention_heads, dropout=config.attention_dropout)
        self.self_attn_layer_norm = nn.LayerNorm(d)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None,
        *,
        tokens: TokenIndex | None = None,
        probe: LayerProbe | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        p = probe or NO_PROBE
        h, weights = self.self_attn(
            self.self_attn_layer_norm(x), mask=mask, tokens=tokens, need_weights=p.need_weights, head_mask=p.head_mask
        )
        x = x + apply_dropout(h, self.dropout, self.training)
        x = x + self.feed_forward(x)
        if x.dtype == torch.float16:  # as transformers: keep fp16 activations finite
            limit = torch.finfo(x.dtype).max - 1000
            x = torch.clamp(x, min=-limit, max=limit)
        return x, weights


class DecoderLayer(_PreNormLayer):
    """Pre-norm causal self-attention, cross-attention to the encoder, then feed-forward."""

    def __init__(self, config: M2M100Config) -> None:
        super().__init__(config, config.decoder_ffn_dim)
        d, heads = config.d_model, config.decoder_attention_heads
        self.self_attn = Attention(d, heads, dropout=config.attention_dropout, causal=True)
        self.self_attn_layer_norm = nn.LayerNorm(d)
        self.encoder_attn = Attention(d, heads, dropout=config.attention_dropout)
        self.encoder_attn_layer_norm = nn.LayerNorm(d)

    def forward(
        self,
        x: torch.Tensor,
        *,
        self_mask: torch.Tensor | None,
        cross_kv: tuple[torch.Tensor, torch.Tensor],
        cross_mask: torch.Tensor | None,
        group: int = 1,
        cache: KVCache | None = None,
        pos: int = 0,
        probe: LayerProbe | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        p = probe or NO_PROBE
        h, self_weights = self.self_attn(
            self.self_attn_layer_norm(x),
            mask=self_mask,
            cache=cache,
            pos=pos,
            need_weights=p.need_weights,
            head_mask=p.head_mask,
        )
        x = x + apply_dropout(h, self.dropout, self.training)
        h, cross_weights = self.encoder_attn(
            self.encoder_attn_layer_norm(x),
            mask=cross_mask,
            kv=cross_kv,
            group=group,
            need_weights=p.need_weights,
            head_mask=p.cross_head_mask,
        )
        x = x + apply_dropout(h, self.dropout, self.training)
        return x + self.feed_forward(x), self_weights, cross_weights


# --------------------------------------------------------------------------------------------
# Encoder and decoder stacks
# --------------------------------------------------------------------------------------------
@dataclass
class StackOutput:
    """What a stack returns: the final hidden states and, when asked, per-layer extras."""

    last_hidden_state: torch.Tensor  # (B, T, D), after the final layer norm
    hidden_states: tuple[torch.Tensor, ...] | None = None  # embeddings + each layer's output
    attentions: tuple[torch.Tensor, ...] | None = None  # (B, H, T, T) per layer
    cross_attentions: tuple[torch.Tensor, ...] | None = None  # (B, H, T, S) per layer


@dataclass
class Memory:
    """The encoded source as decoding reads it. ``hidden`` is dropped (None) once the decoder
    cache holds its cross-attention keys and values; the mask is read at every step."""

    hidden: torch.Tensor | None  # (B, S, D)
    mask: torch.Tensor  # (B, S) 1/0

    def select(self, rows: torch.Tensor) -> Memory:
        """The memory of ``rows`` only (greedy search drops finished inputs)."""
        return Memory(None if self.hidden is None else self.hidden[rows], self.mask[rows])


class _Stack(nn.Module):
    """What encoder and decoder share: the tied token embedding, positions and the final norm.

    ``embed_tokens`` does the scaling. A :class:`ScaledEmbedding` passed in is used as is (the
    model passes its shared one to both stacks); any other ``nn.Embedding`` lends its weight to a
    new :class:`ScaledEmbedding` (transformers' rule); without one the stack makes its own.
    """

    def __init__(self, config: M2M100Config, embed_tokens: nn.Embedding | None = None) -> None:
        super().__init__()
        self.config = config
        if not isinstance(embed_tokens, ScaledEmbedding):
            sizes = (config.vocab_size, config.d_model, config.pad_token_id, embedding_scale(config))
            if embed_tokens is None:
                embed_tokens = ScaledEmbedding(*sizes)
            else:
                given = embed_tokens
                with torch.device("meta"):  # no matrix of its own: it takes the given one
                    embed_tokens = ScaledEmbedding(*sizes)
                embed_tokens.weight = given.weight
        self.embed_tokens: nn.Module = embed_tokens
        self.padding_idx = config.pad_token_id
        self.embed_positions = SinusoidalPositions(config.max_position_embeddings, config.d_model, self.padding_idx)
        self.layer_norm = nn.LayerNorm(config.d_model)
        self.gradient_checkpointing = False
        self.checkpoint_options: dict[str, Any] = {"use_reentrant": False}  # torch.utils.checkpoint's keywords

    def embed(self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None, past: int = 0) -> torch.Tensor:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of input_ids and inputs_embeds")
        if inputs_embeds is None:
            assert input_ids is not None
            inputs_embeds = self.embed_tokens(input_ids)
            positions = make_positions(input_ids, self.padding_idx, past)
        else:
            b, t = inputs_embeds.shape[:2]
            start = self.padding_idx + 1 + past  # embeddings carry no padding information
            positions = torch.arange(start, start + t, device=inputs_embeds.device).expand(b, t)
        x = inputs_embeds + self.embed_positions(positions).to(inputs_embeds.dtype)
        return apply_dropout(x, self.config.dropout, self.training)

    def skip_layer(self, layerdrop: float) -> bool:
        return self.training and layerdrop > 0 and bool(torch.rand([]) < layerdrop)

    def run_layer(self, layer: nn.Module, *args: object, **kwargs: object) -> tuple:
        if self.gradient_checkpointing and self.training:
            return checkpoint(partial(layer, **kwargs), *args, **self.checkpoint_options)
        return layer(*args, **kwargs)


class Encoder(_Stack):
    """The encoder stack: embeddings, ``encoder_layers`` pre-norm layers, final layer norm."""

    def __init__(self, config: M2M100Config, embed_tokens: nn.Embedding | None = None) -> None:
        super().__init__(config, embed_tokens)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.encoder_layers))

    def run(
        self,
        input_ids: torch.Tensor | None = None,
        *,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        skip_padding: bool = False,
        probe: Probe | None = None,
    ) -> StackOutput:
        """Encode (B, S) token ids (or (B, S, D) embeddings) into (B, S, D) hidden states.

        Args:
            skip_padding: run the per-token work on the real tokens only (generate's choice: a
                batch of mixed lengths is often a third padding); the output is then zero at
                padded positions instead of the values no one reads there.
            probe: attention probabilities, hidden states or head masks (:class:`Probe`).
        """
        x = self.embed(input_ids, inputs_embeds)
        mask = None if attention_mask is None else padding_mask(attention_mask, x.dtype)
        if probe is not None:
            probe.check(len(self.layers))
        tokens = None
        if skip_padding and attention_mask is not None and probe is None:
            tokens = TokenIndex.from_mask(attention_mask)
            x = tokens.unpad(x)  # (N, D)
        states: list[torch.Tensor] = []
        weights: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            if probe is not None and probe.hidden_states:
                states.append(x)
            if self.skip_layer(self.config.encoder_layerdrop):
                continue
            x, w = self.run_layer(layer, x, mask, tokens=tokens, probe=None if probe is None else probe.layer(i))
            if w is not None:
                weights.append(w)
        x = self.layer_norm(x)
        if tokens is not None:
            x = tokens.pad(x)
        if probe is None:
            return StackOutput(x)
        if probe.hidden_states:
            states.append(x)
        return StackOutput(
            x, tuple(states) if probe.hidden_states else None, tuple(weights) if probe.attentions else None
        )

    forward = run  # the transformers-compatible subclass (m2m100.modeling.stacks) overrides forward, never run


class Decoder(_Stack):
    """The decoder stack; with a :class:`DecoderCache` it decodes incrementally."""

    def __init__(self, config: M2M100Config, embed_tokens: nn.Embedding | None = None) -> None:
        super().__init__(config, embed_tokens)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.decoder_layers))

    def step_linears(self) -> list[nn.Module]:
        """The linear layers every decoding step calls: all but the cross-attention keys and
        values, which are computed once per input."""
        found: list[nn.Module] = []
        for layer in self.layers:
            assert isinstance(layer, DecoderLayer)
            a, c = layer.self_attn, layer.encoder_attn
            found += [a.q_proj, a.k_proj, a.v_proj, a.out_proj, c.q_proj, c.out_proj, layer.fc1, layer.fc2]
        return found

    def run(
        self,
        input_ids: torch.Tensor | None = None,
        *,
        encoder_hidden_states: torch.Tensor | None,
        encoder_attention_mask: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache: DecoderCache | None = None,
        probe: Probe | None = None,
    ) -> StackOutput:
        """Decode (N, T) target ids against the encoder output.

        Args:
            encoder_hidden_states: (N / g, S, D) with g = ``cache.cross_group``; may be None once
                the cache holds the cross keys/values.
            encoder_attention_mask: (N / g, S) 1/0 source mask.
            attention_mask: (N, past + T) 1/0 target mask; the causal mask is always applied.
            cache: filled in place; positions continue from ``cache.get_seq_length()``.
            probe: attention probabilities, hidden states or head masks (:class:`Probe`).
        """
        past = cache.get_seq_length() if cache is not None else 0
        x = self.embed(input_ids, inputs_embeds, past)
        t = x.shape[1]
        group = cache.cross_group if cache is not None else 1
        if attention_mask is None and (t == 1 or past == 0):
            # One new token sees every cached key; a fresh block is plain causal (is_causal).
            self_mask = None
        else:
            self_mask = causal_mask(t, past, dtype=x.dtype, device=x.device, attention_mask=attention_mask)
        cross_mask = None if encoder_attention_mask is None else padding_mask(encoder_attention_mask, x.dtype)
        if probe is not None:
            probe.check(len(self.layers), head_mask_name="decoder_head_mask")
        states: list[torch.Tensor] = []
        self_weights: list[torch.Tensor] = []
        cross_weights: list[torch.Tensor] = []
        for i, layer in enumerate(self.layers):
            if probe is not None and probe.hidden_states:
                states.append(x)
            if self.skip_layer(self.config.decoder_layerdrop):
                continue
            cross_kv = cache.cross[i] if cache is not None else None
            if cross_kv is None:
                if encoder_hidden_states is None:
                    raise ValueError("the decoder needs encoder_hidden_states (the cache holds no cross keys)")
                cross_kv = cast(DecoderLayer, layer).encoder_attn.project_kv(encoder_hidden_states)
                if cache is not None:
                    cache.cross[i] = cross_kv
            x, sw, cw = self.run_layer(
                layer,
                x,
                self_mask=self_mask,
                cross_kv=cross_kv,
                cross_mask=cross_mask,
                group=group,
                cache=None if cache is None else cache.self_attn[i],
                pos=past,
                probe=None if probe is None else probe.layer(i),
            )
            if sw is not None and cw is not None:
                self_weights.append(sw)
                cross_weights.append(cw)
        x = self.layer_norm(x)
        if probe is None:
            return StackOutput(x)
        if probe.hidden_states:
            states.append(x)
        attentions = probe.attentions
        return StackOutput(
            x,
            tuple(states) if probe.hidden_states else None,
            tuple(self_weights) if attentions else None,
            tuple(cross_weights) if attentions else None,
        )

    forward = run  # the transformers-compatible subclass (m2m100.modeling.stacks) overrides forward, never run
