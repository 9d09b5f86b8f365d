"""The model classes: ``M2M100Model`` (the bare encoder-decoder) and
``M2M100ForConditionalGeneration`` (with the language-modelling head, its loss, ``generate``,
and the decoding seam ``encode`` / ``new_cache`` / ``decode_step`` / ``next_token_logits``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from m2m100.config import M2M100Config
from m2m100.generation.config import GenerationConfig
from m2m100.generation.decoding import Generated, generate
from m2m100.model.cache import DecoderCache
from m2m100.model.linear import Linear
from m2m100.model.screened_head import Screened
from m2m100.model.transformer import Memory, Probe, ScaledEmbedding, StackOutput, embedding_scale
from m2m100.modeling.pretrained import M2M100PreTrainedModel
from m2m100.modeling.stacks import M2M100Decoder, M2M100Encoder, as_cache, use_return_dict
from m2m100.outputs import BaseModelOutput, Seq2SeqLMOutput, Seq2SeqModelOutput


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Decoder inputs for teacher forcing: ``[start] + labels[:-1]``, with -100 turned into pad."""
    shifted = labels.new_zeros(labels.shape)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


class M2M100Model(M2M100PreTrainedModel):
    """The bare encoder-decoder, returning the decoder's last hidden states."""

    _tied_weights_keys: ClassVar[list[str]] = ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"]

    def __init__(self, config: M2M100Config) -> None:
        super().__init__(config)
        self.shared: nn.Module = ScaledEmbedding(
            config.vocab_size, config.d_model, config.pad_token_id, embedding_scale(config)
        )
        self.encoder = M2M100Encoder(config, self.shared)
        self.decoder = M2M100Decoder(config, self.shared)
        self._post_init()

    def shared_embedding(self) -> nn.Module:
        return self.shared

    def get_encoder(self) -> M2M100Encoder:
        return self.encoder

    def get_decoder(self) -> M2M100Decoder:
        return self.decoder

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.shared = self.encoder.embed_tokens = self.decoder.embed_tokens = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        decoder_head_mask: torch.Tensor | None = None,
        cross_attn_head_mask: torch.Tensor | None = None,
        encoder_outputs: Any | None = None,
        past_key_values: Any | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        cache_position: torch.Tensor | None = None,
    ) -> Seq2SeqModelOutput | tuple:
        """Encode the source (unless ``encoder_outputs`` is given) and decode the target.

        Returns:
            :class:`Seq2SeqModelOutput` (or its tuple when ``return_dict=False``);
            ``last_hidden_state`` is (B, T, d_model).
        """
        cfg = self.config
        output_attentions = cfg.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = cfg.output_hidden_states if output_hidden_states is None else output_hidden_states
        return_dict = use_return_dict(cfg, return_dict)
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            if inputs_embeds is None:
                raise ValueError("pass decoder_input_ids (or labels, or decoder_inputs_embeds) to run the decoder")
            decoder_inputs_embeds = inputs_embeds  # transformers' documented fallback
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                head_mask=head_mask,
                inputs_embeds=inputs_embeds,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        elif not isinstance(encoder_outputs, BaseModelOutput):
            if hasattr(encoder_outputs, "last_hidden_state"):  # e.g. transformers' own output class
                encoder_outputs = BaseModelOutput(
                    encoder_outputs.last_hidden_state,
                    getattr(encoder_outputs, "hidden_states", None),
                    getattr(encoder_outputs, "attentions", None),
                )
            else:  # a tuple: (last_hidden_state[, hidden_states[, attentions]])
                parts = tuple(encoder_outputs) + (None, None)
                encoder_outputs = BaseModelOutput(parts[0], parts[1], parts[2])
        dec = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs.last_hidden_state,
            encoder_attention_mask=attention_mask,
            head_mask=decoder_head_mask,
            cross_attn_head_mask=cross_attn_head_mask,
            past_key_values=past_key_values,
            inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        out = Seq2SeqModelOutput(
            last_hidden_state=dec.last_hidden_state,
            past_key_values=dec.past_key_values,
            decoder_hidden_states=dec.hidden_states,
            decoder_attentions=dec.attentions,
            cross_attentions=dec.cross_attentions,
            encoder_last_hidden_state=encoder_outputs.last_hidden_state,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )
        return out if return_dict else out.to_tuple()


class M2M100ForConditionalGeneration(M2M100PreTrainedModel):
    """The encoder-decoder with its language-modelling head: translation and its loss."""

    generation_config: GenerationConfig
    _tied_weights_keys: ClassVar[list[str]] = [
        "encoder.embed_tokens.weight",
        "decoder.embed_tokens.weight",
        "lm_head.weight",
    ]

    @classmethod
    def can_generate(cls) -> bool:
        return True

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The decoder inputs of teacher forcing for ``labels``: what ``forward(labels=...)`` uses
        (``DataCollatorForSeq2Seq`` calls it when the model has it)."""
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.Tensor,
        past_key_values: Any | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        cache_position: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """transformers' ``GenerationMixin.prepare_inputs_for_generation`` for an encoder-decoder:
        ``input_ids`` are the decoder's tokens so far (cut to those the cache has not seen),
        ``attention_mask`` the source mask; other keywords (``encoder_outputs``, ``use_cache``,
        ...) pass through, ``labels`` are dropped. (``generate`` itself does not use it; PEFT's
        prompt-learning wrappers do.)"""
        inputs: dict[str, Any] = {"cache_position": cache_position}
        if past_key_values is not None:
            inputs["past_key_values"] = past_key_values
            if cache_position is not None:
                input_ids = input_ids[:, -cache_position.shape[0] :]
            else:
                input_ids = input_ids[:, as_cache(past_key_values, self.config.decoder_layers).get_seq_length() :]
        inputs["decoder_input_ids"] = input_ids.clone(memory_format=torch.contiguous_format)
        decoder_attention_mask = kwargs.pop("decoder_attention_mask", None)
        if decoder_attention_mask is not None:
            inputs["decoder_attention_mask"] = decoder_attention_mask
        if attention_mask is not None:
            inputs["attention_mask"] = attention_mask
        for key, value in kwargs.items():
            inputs.setdefault(key, value)
        inputs.pop("labels", None)
        return inputs

    def __init__(self, config: M2M100Config) -> None:
        super().__init__(config)
        self.model = M2M100Model(config)
        self.lm_head: nn.Module = Linear(config.d_model, config.vocab_size, bias=False)
        self._post_init()

    def shared_embedding(self) -> nn.Module:
        return self.model.shared

    def get_encoder(self) -> M2M100Encoder:
        return self.model.encoder

    def get_decoder(self) -> M2M100Decoder:
        return self.model.decoder

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Module) -> None:
        self.lm_head = new_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        decoder_head_mask: torch.Tensor | None = None,
        cross_attn_head_mask: torch.Tensor | None = None,
        encoder_outputs: Any | None = None,
        past_key_values: Any | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        cache_position: torch.Tensor | None = None,
    ) -> Seq2SeqLMOutput | tuple:
        """Logits over the vocabulary for every target position; with ``labels``, the mean
        cross-entropy over labels that are not -100 (decoder inputs are labels shifted right).

        Returns:
            :class:`Seq2SeqLMOutput` with ``logits`` (B, T, vocab_size), or its tuple.
        """
        return_dict = use_return_dict(self.config, return_dict)
        if labels is not None and decoder_input_ids is None and decoder_inputs_embeds is None:
            decoder_input_ids = shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)
        out = self.model(
            input_ids,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            head_mask=head_mask,
            decoder_head_mask=decoder_head_mask,
            cross_attn_head_mask=cross_attn_head_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.lm_head(out.last_hidden_state)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, self.config.vocab_size), labels.to(logits.device).view(-1))
        result = Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            past_key_values=out.past_key_values,
            decoder_hidden_states=out.decoder_hidden_states,
            decoder_attentions=out.decoder_attentions,
            cross_attentions=out.cross_attentions,
            encoder_last_hidden_state=out.encoder_last_hidden_state,
            encoder_hidden_states=out.encoder_hidden_states,
            encoder_attentions=out.encoder_attentions,
        )
        return result if return_dict else result.to_tuple()

    # the decoding seam (m2m100.generation.decoding.Seq2SeqLM) --------------------------------
    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, probe: Probe | None = None
    ) -> StackOutput:
        """Encode (B, S) source ids once for decoding. Without a ``probe`` the per-token work skips
        the padding (the output is zero there). With one, even an empty ``Probe()``, every
        position is computed as transformers' encoder does, and the attentions and hidden states
        it asks for come back too."""
        return self.model.encoder.run(input_ids, attention_mask=attention_mask, skip_padding=True, probe=probe)

    def new_cache(self, *, capacity: int, cross_group: int = 1) -> DecoderCache:
        """An empty decoder cache for sequences of up to ``capacity`` tokens."""
        return DecoderCache(self.config.decoder_layers, capacity=capacity, cross_group=cross_group)

    def decode_step(
        self,
        tokens: torch.Tensor,
        memory: Memory,
        cache: DecoderCache,
        *,
        attention_mask: torch.Tensor | None = None,
        probe: Probe | None = None,
    ) -> StackOutput:
        """Feed (N, T) new target tokens (a forced prefix at once, then one per step); returns the
        (N, T, d_model) hidden states and what ``probe`` asks for. The first step fills the cache's
        cross keys/values from ``memory.hidden``.

        Args:
            attention_mask: (N, past + T) 1/0 over the cached and the new tokens, for a prefix
                with padding; None when every target token is real.
        """
        return self.model.decoder.run(
            tokens,
            encoder_hidden_states=memory.hidden,
            encoder_attention_mask=memory.mask,
            attention_mask=attention_mask,
            cache=cache,
            probe=probe,
        )

    def next_token_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(N, d_model) -> (N, vocab_size) float32 logits."""
        return self.lm_head(hidden).to(torch.float32)

    def screened_logits(self, hidden: torch.Tensor) -> Screened | None:
        """Greedy search's (N, d_model) -> (N, vocab_size) logits: exact for the tokens that can
        win, -inf for the rest, with each row's floor (:meth:`Linear.screened`); None when the
        head does not screen, and :meth:`next_token_logits` is what to call."""
        head = self.lm_head
        return head.screened(hidden) if isinstance(head, Linear) else None

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        *,
        generation_config: GenerationConfig | None = None,
        **kwargs: Any,
    ) -> Generated:
        """Translate with greedy search, sampling or beam search (transformers' ``generate``);
        see :func:`m2m100.generation.decoding.generate` for the arguments and outputs."""
        return generate(self, input_ids, attention_mask, generation_config=generation_config, **kwargs)
