"""The encoder and decoder stacks as transformers' ``M2M100Encoder`` and ``M2M100Decoder``:
the core stacks of :mod:`m2m100.model.transformer` with transformers' ``forward`` arguments and
output classes, transformers' weight initialisation, and the small helpers that turn those
arguments into the core's (``return_dict``, the ``Probe`` of the ``output_*`` flags and head
masks, a decoder cache from ``past_key_values``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from m2m100.config import M2M100Config
from m2m100.model.cache import DecoderCache
from m2m100.model.transformer import Decoder, Encoder, Probe, ScaledEmbedding
from m2m100.outputs import BaseModelOutput, BaseModelOutputWithPastAndCrossAttentions

M2M100ScaledWordEmbedding = ScaledEmbedding  # transformers' name for the scaled token embedding


def _init_module(module: nn.Module, std: float) -> None:
    """transformers' ``_init_weights`` for one module: N(0, std) weights (the padding row of an
    embedding zero), zero biases, unit layer norms."""
    with torch.no_grad():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


_INITIALIZED = "_m2m100_initialized"  # set on a module once initialize has drawn its weights


def initialize(root: nn.Module, std: float, *, again: bool = False) -> None:
    """Initialize every module of ``root`` that no constructor initialized yet (all with ``again``),
    so that a stack built inside a model and the model around it draw each matrix once, and a
    tied matrix keeps its first module's rule (the embedding's zero padding row, not the head's).
    Modules built on the meta device are left alone: loading fills them."""
    seen: set[int] = set()
    for module in root.modules():
        params = list(module.parameters(recurse=False))
        done = module.__dict__.get(_INITIALIZED) and not again
        if done or any(p.is_meta for p in params) or (params and all(id(p) in seen for p in params)):
            seen.update(id(p) for p in params)
            continue
        _init_module(module, std)
        seen.update(id(p) for p in params)
        module.__dict__[_INITIALIZED] = True


class M2M100Encoder(Encoder):
    """transformers' ``M2M100Encoder``: the encoder stack usable on its own, built from a config
    and an optional token embedding, whose ``forward`` takes transformers' arguments and returns a
    :class:`BaseModelOutput` (or its tuple).

    The numerical core's call stays reachable as :meth:`run` (``Encoder.run``: keyword arguments
    ``attention_mask``, ``inputs_embeds``, ``skip_padding``, ``probe``; returns a ``StackOutput``),
    which is what decoding calls.
    """

    main_input_name = "input_ids"

    def __init__(self, config: M2M100Config, embed_tokens: nn.Embedding | None = None) -> None:
        super().__init__(config, embed_tokens)
        initialize(self, config.init_std)

    def get_input_embeddings(self) -> nn.Module:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.embed_tokens = value

    def forward(  # type: ignore[override]  # transformers' arguments; the core's call is `run`
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        *,
        skip_padding: bool = False,
        probe: Probe | None = None,
    ) -> BaseModelOutput | tuple:
        """Encode (B, S) ids (or (B, S, D) ``inputs_embeds``, already scaled) into (B, S, D).

        Args:
            skip_padding, probe: the core's arguments (see :meth:`Encoder.run`); ``probe`` takes
                the place of ``output_attentions``, ``output_hidden_states`` and ``head_mask``.

        Returns:
            :class:`BaseModelOutput` (``last_hidden_state``, ``hidden_states``, ``attentions``)
            or, with ``return_dict=False``, the tuple of its non-None fields.
        """
        cfg = self.config
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("You cannot specify both input_ids and inputs_embeds at the same time")
        probe = _resolve_probe(probe, cfg, output_attentions, output_hidden_states, head_mask)
        out = self.run(
            input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            skip_padding=skip_padding,
            probe=probe,
        )
        result = BaseModelOutput(out.last_hidden_state, out.hidden_states, out.attentions)
        return result if use_return_dict(cfg, return_dict) else result.to_tuple()


class M2M100Decoder(Decoder):
    """transformers' ``M2M100Decoder``: the decoder stack usable on its own, whose ``forward``
    takes transformers' arguments (``past_key_values``, ``use_cache``, head masks, ...) and returns
    a :class:`BaseModelOutputWithPastAndCrossAttentions` (or its tuple). The cache it returns is a
    :class:`DecoderCache` (legacy tuples and transformers' ``EncoderDecoderCache`` are read).

    The numerical core's call stays reachable as :meth:`run` (``Decoder.run``: keyword arguments
    ``encoder_hidden_states``, ``encoder_attention_mask``, ``attention_mask``, ``inputs_embeds``,
    ``cache``, ``probe``; returns a ``StackOutput``), which is what decoding calls.
    """

    main_input_name = "input_ids"

    def __init__(self, config: M2M100Config, embed_tokens: nn.Embedding | None = None) -> None:
        super().__init__(config, embed_tokens)
        initialize(self, config.init_std)

    def get_input_embeddings(self) -> nn.Module:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.embed_tokens = value

    def forward(  # type: ignore[override]  # transformers' arguments; the core's call is `run`
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        cross_attn_head_mask: torch.Tensor | None = None,
        past_key_values: Any | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        cache_position: torch.Tensor | None = None,
        *,
        cache: DecoderCache | None = None,
        probe: Probe | None = None,
    ) -> BaseModelOutputWithPastAndCrossAttentions | tuple:
        """Decode (N, T) target ids (or ``inputs_embeds``) against the encoder output.

        ``cache_position`` is accepted and not needed: positions continue from the cache's length.

        Args:
            cache, probe: the core's arguments (see :meth:`Decoder.run`); ``cache`` is filled in
                place and returned as ``past_key_values``; ``probe`` takes the place of the
                ``output_*`` flags and the head masks.

        Returns:
            :class:`BaseModelOutputWithPastAndCrossAttentions` or, with ``return_dict=False``,
            the tuple of its non-None fields.
        """
        cfg = self.config
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("You cannot specify both decoder_input_ids and decoder_inputs_embeds at the same time")
        probe = _resolve_probe(probe, cfg, output_attentions, output_hidden_states, head_mask, cross_attn_head_mask)
        if cache is not None:
            if past_key_values is not None:
                raise ValueError("pass the decoder cache once: as cache or as past_key_values")
        elif past_key_values is not None:
            cache = as_cache(past_key_values, len(self.layers))
        else:
            use_cache = cfg.use_cache if use_cache is None else use_cache
            if use_cache and self.gradient_checkpointing and self.training:
                use_cache = False  # as transformers: recomputed layers would fill the cache twice
            cache = DecoderCache(len(self.layers)) if use_cache else None
        out = self.run(
            input_ids,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            cache=cache,
            probe=probe,
        )
        result = BaseModelOutputWithPastAndCrossAttentions(
            out.last_hidden_state, cache, out.hidden_states, out.attentions, out.cross_attentions
        )
        return result if use_return_dict(cfg, return_dict) else result.to_tuple()


def use_return_dict(config: M2M100Config, return_dict: bool | None) -> bool:
    return config.use_return_dict if return_dict is None else return_dict


def _resolve_probe(
    probe: Probe | None,
    config: M2M100Config,
    attentions: bool | None,
    hidden_states: bool | None,
    head_mask: torch.Tensor | None,
    cross_head_mask: torch.Tensor | None = None,
) -> Probe | None:
    """The stack's Probe: the one given, or the one transformers' flags (and the config's
    defaults for them) ask for."""
    if probe is not None:
        if attentions or hidden_states or head_mask is not None or cross_head_mask is not None:
            raise ValueError("pass either probe or output_attentions / output_hidden_states / head masks, not both")
        return probe
    attentions = config.output_attentions if attentions is None else attentions
    hidden_states = config.output_hidden_states if hidden_states is None else hidden_states
    return _probe(attentions, hidden_states, head_mask, cross_head_mask)


def _probe(
    attentions: bool, hidden_states: bool, head_mask: torch.Tensor | None, cross_head_mask: torch.Tensor | None = None
) -> Probe | None:
    """The core's inspection argument for transformers' flags; None (the fast path) when unused."""
    if not (attentions or hidden_states) and head_mask is None and cross_head_mask is None:
        return None
    return Probe(bool(attentions), bool(hidden_states), head_mask, cross_head_mask)


def as_cache(past: Any, num_layers: int) -> DecoderCache:
    if past is None:
        return DecoderCache(num_layers)
    if isinstance(past, DecoderCache):
        return past
    if hasattr(past, "to_legacy_cache"):  # a transformers EncoderDecoderCache
        past = past.to_legacy_cache()
    if isinstance(past, (tuple, list)):
        return DecoderCache.from_legacy_cache(tuple(past))
    raise TypeError(f"past_key_values must be a DecoderCache or legacy tuples, got {type(past).__name__}")
