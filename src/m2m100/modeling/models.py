"""The transformers-compatible surface: ``M2M100Model`` and ``M2M100ForConditionalGeneration``.

Everything numerical lives in :mod:`m2m100.model`; this module only translates the documented
arguments (``return_dict``, ``encoder_outputs``, ``past_key_values``, head masks, ...) into calls
of the encoder and decoder stacks, and adds ``from_pretrained`` / ``save_pretrained``.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, cast, overload

import torch
import torch.nn.functional as F
from torch import nn

from m2m100 import checkpoint
from m2m100.config import M2M100Config, is_setting
from m2m100.generation.config import GenerationConfig
from m2m100.generation.decoding import Generated, generate
from m2m100.model.attention import ATTENTION_BACKENDS, Attention
from m2m100.model.cache import DecoderCache
from m2m100.model.linear import Linear, pack_weights, unpack_weights
from m2m100.model.placement import check_placement
from m2m100.model.quantize import Int8Linear, quantize_int8
from m2m100.model.transformer import (
    Decoder,
    Encoder,
    Memory,
    Probe,
    ScaledEmbedding,
    SinusoidalPositions,
    StackOutput,
    embedding_scale,
)
from m2m100.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
)

logger = logging.getLogger(__name__)
ModelT = TypeVar("ModelT", bound="M2M100PreTrainedModel")

M2M100ScaledWordEmbedding = ScaledEmbedding  # transformers' name for the scaled token embedding


def shift_tokens_right(labels: torch.Tensor, pad_token_id: int, decoder_start_token_id: int) -> torch.Tensor:
    """Decoder inputs for teacher forcing: ``[start] + labels[:-1]``, with -100 turned into pad."""
    shifted = labels.new_zeros(labels.shape)
    shifted[:, 1:] = labels[:, :-1]
    shifted[:, 0] = decoder_start_token_id
    return shifted.masked_fill(shifted == -100, pad_token_id)


def check_attn_implementation(name: str, *, dtype: torch.dtype, device: torch.device) -> None:
    """Raise a ValueError saying why ``name`` cannot run here."""
    if name not in ATTENTION_BACKENDS:
        raise ValueError(f"attn_implementation {name!r} is not supported; valid: {', '.join(ATTENTION_BACKENDS)}")
    if name != "flash_attention_2":
        return
    try:
        import flash_attn  # noqa: F401
    except ImportError as err:
        raise ValueError(
            "attn_implementation='flash_attention_2' needs the flash-attn package "
            "(pip install flash-attn --no-build-isolation); use 'sdpa' otherwise"
        ) from err
    if device.type != "cuda":
        raise ValueError(f"attn_implementation='flash_attention_2' runs on CUDA only; the model is on {device}")
    if dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f"attn_implementation='flash_attention_2' needs float16 or bfloat16 weights, not {dtype}")


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


_INITIALIZED = "_m2m100_initialized"  # set on a module once _initialize has drawn its weights


def _initialize(root: nn.Module, std: float, *, again: bool = False) -> None:
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
        _initialize(self, config.init_std)

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
        return result if _return_dict(cfg, return_dict) else result.to_tuple()


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
        _initialize(self, config.init_std)

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
            cache = _as_cache(past_key_values, len(self.layers))
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
        return result if _return_dict(cfg, return_dict) else result.to_tuple()


def _return_dict(config: M2M100Config, return_dict: bool | None) -> bool:
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


def _resize_rows(module: nn.Module, rows: int, mean_resizing: bool, std: float) -> None:
    """Give ``module.weight`` (and a bias) ``rows`` rows in place, keeping the parameter objects:
    the first rows are kept, new ones are the old rows' mean or N(0, std) (biases: the mean, or 0)."""
    weight = cast(nn.Parameter, module.weight)
    old = weight.data
    new = old.new_empty((rows, *old.shape[1:]))
    kept = min(rows, old.shape[0])
    new[:kept] = old[:kept]
    if rows > kept:
        if mean_resizing:
            new[kept:] = old.float().mean(dim=0).to(old.dtype)
        else:
            new[kept:].normal_(0.0, std)
    weight.data = new
    bias = getattr(module, "bias", None)
    if isinstance(bias, torch.Tensor) and bias.shape[0] != rows:
        grown = bias.data.new_zeros(rows)
        grown[:kept] = bias.data[:kept]
        if rows > kept and mean_resizing:
            grown[kept:] = bias.data.float().mean().to(bias.dtype)
        bias.data = grown
    if hasattr(module, "out_features"):
        setattr(module, "out_features", rows)


# transformers 4.57's from_pretrained keywords that are harmless here: accepted and not used
# (loading never holds a second copy, nothing is offloaded, no remote code is run).
_IGNORED_LOADING_OPTIONS = (
    "low_cpu_mem_usage",
    "resume_download",
    "mirror",
    "_fast_init",
    "offload_state_dict",
    "offload_buffers",
    "offload_folder",
    "max_memory",
    "trust_remote_code",
    "_from_pipeline",
    "_from_auto",
    "_commit_hash",
    "adapter_kwargs",
    "adapter_name",
)
_NO_BITSANDBYTES = "bitsandbytes quantization is not supported; quantize='int8' gives int8 inference on CPU"
_ONE_DEVICE = "tensor parallelism is not supported: the model runs on one device"
# ... and those it can take only at their default, with the reason.
_UNSUPPORTED_LOADING_OPTIONS: dict[str, tuple[Any, str]] = {
    "from_tf": (False, "TensorFlow checkpoints are not supported: convert them to PyTorch with transformers"),
    "from_flax": (False, "Flax checkpoints are not supported: convert them to PyTorch with transformers"),
    "load_in_8bit": (False, _NO_BITSANDBYTES),
    "load_in_4bit": (False, _NO_BITSANDBYTES),
    "quantization_config": (None, _NO_BITSANDBYTES),
    "gguf_file": (None, "GGUF files are not supported; pass a folder with safetensors or .bin weights"),
    "tp_plan": (None, _ONE_DEVICE),
    "tp_size": (None, _ONE_DEVICE),
    "device_mesh": (None, _ONE_DEVICE),
    "distributed_config": (None, _ONE_DEVICE),
    "key_mapping": (None, "renaming checkpoint keys is not supported: M2M100 checkpoints need none"),
    "use_kernels": (False, "hub kernels are not supported"),
}


def _accept_loading_options(
    kwargs: dict[str, Any], token: str | bool | None, attn_implementation: str | None
) -> tuple[str | bool | None, str | None]:
    """Take transformers' loading keywords out of ``kwargs`` (what is left are config settings):
    drop the harmless ones, refuse the unsupported ones away from their default, and turn the
    deprecated spellings into the current ones. Returns (token, attn_implementation)."""
    for name in _IGNORED_LOADING_OPTIONS:
        kwargs.pop(name, None)
    for name, (default, reason) in _UNSUPPORTED_LOADING_OPTIONS.items():
        if name in kwargs and kwargs.pop(name) not in (default, None):
            raise ValueError(f"from_pretrained({name}=...): {reason}")
    use_auth_token = kwargs.pop("use_auth_token", None)
    if kwargs.pop("use_flash_attention_2", False):
        attn_implementation = attn_implementation or "flash_attention_2"
    return (token if token is not None else use_auth_token), attn_implementation


def _hf_device_map(device_map: str | dict | torch.device | int, device: torch.device) -> dict[str, Any]:
    """What transformers' ``hf_device_map`` holds for a one-device map: the map given, or
    {"": device} (a strategy such as "auto" gives "cpu" or the CUDA index)."""
    if isinstance(device_map, dict):
        return dict(device_map)
    if isinstance(device_map, str) and device_map in ("auto", "balanced", "balanced_low_0", "sequential"):
        return {"": (device.index or 0) if device.type == "cuda" else device.type}
    if isinstance(device_map, str):
        return {"": torch.device(device_map)}
    return {"": device_map}


def _materialize(model: nn.Module, device: torch.device, dtype: torch.dtype, std: float) -> None:
    """Give the parameters that loading left on the meta device (missing from the checkpoint, or
    of another shape there) real tensors with transformers' initialisation for their module."""
    for module in model.modules():
        for name, param in list(module.named_parameters(recurse=False)):
            if not param.is_meta:
                continue
            value = torch.empty(param.shape, device=device, dtype=dtype)
            with torch.no_grad():
                if isinstance(module, nn.LayerNorm):
                    value.fill_(1.0 if name == "weight" else 0.0)
                elif name == "bias":
                    value.zero_()
                else:
                    value.normal_(0.0, std)
                    padding = getattr(module, "padding_idx", None)
                    if isinstance(module, nn.Embedding) and padding is not None:
                        value[padding] = 0
            setattr(module, name, nn.Parameter(value, requires_grad=param.requires_grad))


class M2M100PreTrainedModel(nn.Module):
    """Loading, saving and the bookkeeping every M2M100 model class shares."""

    config: M2M100Config
    generation_config: GenerationConfig | None  # None for the bare model, which cannot generate

    # What transformers' PreTrainedModel declares and PEFT, accelerate and the Trainer read.
    config_class = M2M100Config
    base_model_prefix = "model"  # the attribute holding the bare model in the head class
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    is_parallelizable = False  # no model parallelism (the Trainer reads it with model_parallel)
    is_loaded_in_8bit = False  # bitsandbytes is not used (quantize="int8" is this package's own)
    is_loaded_in_4bit = False
    model_tags: list[str] | None = None
    _no_split_modules: ClassVar[list[str]] = ["EncoderLayer", "DecoderLayer"]  # our layer classes
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flash_attn_2 = True
    _supports_flex_attn = False
    _can_compile_fullgraph = False
    _keep_in_fp32_modules: ClassVar[list[str] | None] = None
    _keys_to_ignore_on_load_missing: ClassVar[list[str] | None] = None
    # computed sinusoid tables that old checkpoints stored; never loaded (regular expressions)
    _keys_to_ignore_on_load_unexpected: ClassVar[list[str] | None] = [
        r"embed_positions\.weights",
        r"embed_positions\._float_tensor",
    ]
    _keys_to_ignore_on_save: ClassVar[list[str] | None] = None
    _tied_weights_keys: ClassVar[list[str]] = []
    hf_device_map: dict[str, Any]  # set by from_pretrained(device_map=...) only, as transformers

    def __init__(self, config: M2M100Config) -> None:
        super().__init__()
        if not isinstance(config, M2M100Config):
            raise TypeError(f"config must be an M2M100Config, got {type(config).__name__}")
        self.config = config
        self.generation_config = GenerationConfig.from_model_config(config) if self.can_generate() else None
        self.name_or_path = ""
        self.warnings_issued: dict[str, Any] = {}

    @classmethod
    def can_generate(cls) -> bool:
        """Whether ``generate`` is available (the head class) or not (the bare model)."""
        return False

    # construction ---------------------------------------------------------------------------
    def init_weights(self) -> None:
        """transformers' initialisation, drawn again for every module: N(0, init_std) weights
        (the embedding's padding row zero), zero biases, unit layer norms; then the ties."""
        _initialize(self, self.config.init_std, again=True)
        self.tie_weights()

    def _post_init(self) -> None:
        _initialize(self, self.config.init_std)  # what the stacks did not draw yet (skipped on meta)
        self.tie_weights()

    def shared_embedding(self) -> nn.Module:
        raise NotImplementedError

    def _shared_weight(self) -> torch.Tensor:
        return cast(torch.Tensor, self.shared_embedding().weight)

    def _bare(self) -> M2M100Model:
        return cast(M2M100Model, self.base_model)

    def get_decoder(self) -> M2M100Decoder:
        raise NotImplementedError

    # embeddings -----------------------------------------------------------------------------
    @property
    def base_model(self) -> nn.Module:
        """The bare encoder-decoder (``self.model`` of the head class, the model itself otherwise)."""
        return getattr(self, self.base_model_prefix, self)

    def set_input_embeddings(self, value: nn.Module) -> None:
        """Use ``value`` as the token embedding of the model and both stacks (as transformers, no
        scaling is added: pass a :class:`M2M100ScaledWordEmbedding` to keep it). ``tie_weights``
        ties the head to it."""
        if self.base_model is self:
            raise NotImplementedError(f"{type(self).__name__} must define set_input_embeddings")
        self._bare().set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        """The LM head (None for the bare model)."""
        return None

    def set_output_embeddings(self, new_embeddings: nn.Module) -> None:
        raise AttributeError(f"{type(self).__name__} has no output embeddings (no lm_head)")

    def tie_weights(self) -> None:
        """transformers' ties, with ``tie_word_embeddings``: the stacks' token embeddings (when they
        are not the shared module itself) and the LM head take the shared matrix; with the config's
        ``torchscript`` they get a copy instead (TorchScript cannot share parameters)."""
        if not self.config.tie_word_embeddings:
            return
        base = self._bare()
        shared = base.get_input_embeddings()
        for stack in (base.encoder, base.decoder):
            if stack.embed_tokens is not shared:
                self._tie_or_clone(stack.embed_tokens, shared)
        head = self.get_output_embeddings()
        if head is not None and not isinstance(head, Int8Linear):  # a quantized head keeps its int8 copy
            self._tie_or_clone(head, shared)

    def _tie_or_clone(self, output: nn.Module, source: nn.Module) -> None:
        weight = cast(nn.Parameter, source.weight)
        output.weight = nn.Parameter(weight.clone()) if self.config.torchscript else weight
        if hasattr(output, "out_features") and hasattr(source, "num_embeddings"):
            output.out_features = source.num_embeddings

    def resize_token_embeddings(
        self,
        new_num_tokens: int | None = None,
        pad_to_multiple_of: int | None = None,
        mean_resizing: bool = True,
    ) -> nn.Embedding:
        """Give the vocabulary ``new_num_tokens`` rows (rounded up to ``pad_to_multiple_of``), as
        transformers does: the embedding is resized in place (the same module and parameter, so
        what is tied stays tied), an untied LM head gets as many rows, ``config.vocab_size``
        follows. Rows kept keep their values; new rows are the mean of the old ones
        (``mean_resizing``; transformers samples them within about 1e-5 of it) or drawn from
        N(0, init_std).

        Returns:
            The input embedding module.
        """
        embeddings = self.get_input_embeddings()
        if pad_to_multiple_of is not None:
            if not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of <= 0:
                raise ValueError(f"pad_to_multiple_of must be a positive integer, got {pad_to_multiple_of!r}")
            if new_num_tokens is None:
                new_num_tokens = self._shared_weight().shape[0]
            new_num_tokens = -(-new_num_tokens // pad_to_multiple_of) * pad_to_multiple_of
        if new_num_tokens is None:
            return cast(nn.Embedding, embeddings)
        if not isinstance(embeddings, nn.Embedding):
            raise TypeError(f"the input embeddings are a {type(embeddings).__name__}, not an nn.Embedding")
        if new_num_tokens <= 0:
            raise ValueError(f"new_num_tokens must be positive, got {new_num_tokens}")
        head = self.get_output_embeddings()
        if isinstance(head, Int8Linear):
            raise ValueError("an int8-quantized model cannot be resized; resize the float model, then quantize")
        std = self.config.init_std
        if embeddings.weight.shape[0] != new_num_tokens:  # an nn.Embedding from here on
            _resize_rows(embeddings, new_num_tokens, mean_resizing, std)
            embeddings.num_embeddings = new_num_tokens
            if embeddings.padding_idx is not None and embeddings.padding_idx >= new_num_tokens:
                embeddings.padding_idx = None
        untied_head = head is not None and not self.config.tie_word_embeddings
        if untied_head and not isinstance(head, nn.Linear):
            raise TypeError(f"the output embeddings are a {type(head).__name__}, not an nn.Linear")
        if untied_head and isinstance(head, nn.Linear) and head.out_features != new_num_tokens:
            new_head = Linear(head.in_features, head.out_features, bias=head.bias is not None, device="meta")
            new_head.weight = nn.Parameter(head.weight.data, requires_grad=head.weight.requires_grad)
            if head.bias is not None:
                new_head.bias = nn.Parameter(head.bias.data, requires_grad=head.bias.requires_grad)
            _resize_rows(new_head, new_num_tokens, mean_resizing, std)  # new storage: the old head is untouched
            self.set_output_embeddings(new_head)
        self.config.vocab_size = new_num_tokens
        self.tie_weights()
        return embeddings

    @property
    def device(self) -> torch.device:
        return self._shared_weight().device

    @property
    def dtype(self) -> torch.dtype:
        return self._shared_weight().dtype

    def get_input_embeddings(self) -> nn.Module:
        """The token embedding: a :class:`M2M100ScaledWordEmbedding` (it multiplies by
        sqrt(d_model) when the config's ``scale_embedding``), so that
        ``model(inputs_embeds=model.get_input_embeddings()(ids))`` is ``model(ids)``."""
        return self.shared_embedding()

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """The number of parameters, a tied matrix once (transformers' count): only those that
        require grad with ``only_trainable``, without the token embedding with ``exclude_embeddings``."""
        embeddings = {f"{n}.weight" for n, m in self.named_modules() if isinstance(m, nn.Embedding)}
        return sum(
            p.numel()
            for n, p in self.named_parameters()
            if (p.requires_grad or not only_trainable) and not (exclude_embeddings and n in embeddings)
        )

    @property
    def attn_implementation(self) -> str:
        return next(m.backend for m in self.modules() if isinstance(m, Attention))

    def set_attn_implementation(self, name: str) -> None:
        """Choose the attention backend: "eager", "sdpa" or "flash_attention_2"."""
        check_attn_implementation(name, dtype=self.dtype, device=self.device)
        for module in self.modules():
            if isinstance(module, Attention):
                module.backend = name
        self.config._attn_implementation = name  # where transformers' code reads it

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict[str, Any] | None = None) -> None:
        """Recompute each layer's activations in the backward pass instead of storing them.

        Args:
            gradient_checkpointing_kwargs: keywords of ``torch.utils.checkpoint.checkpoint``, but
                ``use_reentrant`` is always False (transformers defaults to True): the decoder
                layers take the cross-attention keys as keyword inputs, which re-entrant
                checkpointing cannot differentiate through; non-re-entrant checkpointing also
                needs no inputs that require grad.
        """
        options = {**(gradient_checkpointing_kwargs or {}), "use_reentrant": False}
        for module in self.modules():
            if isinstance(module, (Encoder, Decoder)):
                module.gradient_checkpointing = True
                module.checkpoint_options = dict(options)

    def gradient_checkpointing_disable(self) -> None:
        for module in self.modules():
            if isinstance(module, (Encoder, Decoder)):
                module.gradient_checkpointing = False

    @property
    def is_gradient_checkpointing(self) -> bool:
        return any(getattr(m, "gradient_checkpointing", False) for m in self.modules())

    def enable_input_require_grads(self) -> None:
        """Make the token embedding's output require grad (PEFT calls it when the embedding is
        frozen, so that gradients reach adapters through checkpointed layers)."""

        def make_inputs_require_grads(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            output.requires_grad_(True)

        self._require_grads_hook = self.get_input_embeddings().register_forward_hook(make_inputs_require_grads)

    def disable_input_require_grads(self) -> None:
        self._require_grads_hook.remove()

    # sizes ----------------------------------------------------------------------------------
    def get_memory_footprint(self, return_buffers: bool = True) -> int:
        """Bytes of the parameters (a tied matrix once) and, by default, the buffers."""
        size = sum(p.nelement() * p.element_size() for p in self.parameters())
        if return_buffers:
            size += sum(b.nelement() * b.element_size() for b in self.buffers())
        return size

    def estimate_tokens(self, input_dict: Mapping[str, Any]) -> int:
        """The number of tokens of ``input_dict[main_input_name]`` (0, with one warning, without it)."""
        if self.main_input_name in input_dict:
            return int(input_dict[self.main_input_name].numel())
        if "estimate_tokens" not in self.warnings_issued:
            logger.warning(
                "Could not estimate the number of tokens of the input, floating-point operations will not be computed"
            )
            self.warnings_issued["estimate_tokens"] = True
        return 0

    def floating_point_ops(self, input_dict: Mapping[str, Any], exclude_embeddings: bool = True) -> int:
        """transformers' estimate of the training FLOPs of one batch: 6 x tokens x parameters."""
        return 6 * self.estimate_tokens(input_dict) * self.num_parameters(exclude_embeddings=exclude_embeddings)

    def add_model_tags(self, tags: list[str] | str) -> None:
        """Tags for the model card of ``push_to_hub`` (existing ones are kept)."""
        if isinstance(tags, str):
            tags = [tags]
        if self.model_tags is None:
            self.model_tags = []
        for tag in tags:
            if tag not in self.model_tags:
                self.model_tags.append(tag)

    # checkpoints ----------------------------------------------------------------------------
    @overload
    @classmethod
    def from_pretrained(
        cls: type[ModelT],
        pretrained_model_name_or_path: str | os.PathLike[str] | None,
        *model_args: Any,
        output_loading_info: Literal[False] = False,
        **kwargs: Any,
    ) -> ModelT: ...

    @overload
    @classmethod
    def from_pretrained(
        cls: type[ModelT],
        pretrained_model_name_or_path: str | os.PathLike[str] | None,
        *model_args: Any,
        output_loading_info: Literal[True],
        **kwargs: Any,
    ) -> tuple[ModelT, dict[str, list[str]]]: ...

    @classmethod
    def from_pretrained(
        cls: type[ModelT],
        pretrained_model_name_or_path: str | os.PathLike[str] | None,
        *model_args: Any,
        config: M2M100Config | str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        ignore_mismatched_sizes: bool = False,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
        revision: str | None = None,
        use_safetensors: bool | None = None,
        weights_only: bool = True,
        state_dict: Mapping[str, torch.Tensor] | None = None,
        output_loading_info: bool = False,
        subfolder: str = "",
        variant: str | None = None,
        proxies: dict[str, str] | None = None,
        generation_config: GenerationConfig | None = None,
        dtype: str | torch.dtype | None = None,
        torch_dtype: str | torch.dtype | None = None,
        attn_implementation: str | None = None,
        device: str | torch.device | None = None,
        device_map: str | dict | torch.device | int | None = None,
        quantize: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Load a checkpoint folder written by transformers (or this package), or a hub id.

        Takes transformers 4.57's keywords: those that matter here (below), those that are
        harmless here (``low_cpu_mem_usage``: loading never holds a second copy;
        ``trust_remote_code``, ``resume_download``, ``offload_*``, ``max_memory``, ...), and those
        it cannot honour only at their defaults (``load_in_8bit``, ``from_tf``, ``tp_plan``, ...:
        a ValueError says why). Any other keyword must be a config setting, applied to the config
        (``dropout=0.0``, ``num_labels=3``); one that is neither raises a TypeError.

        Args:
            pretrained_model_name_or_path: a folder, a hub id, or None with ``config`` and
                ``state_dict``.
            config: the config to use (a copy), or where to read it, instead of the folder's.
            state_dict: the tensors to load instead of the folder's weight files.
            subfolder: the checkpoint lies in this subfolder of the folder or hub repository.
            use_safetensors: True: safetensors only; False: pytorch_model.bin only.
            variant: load ``model.<variant>.safetensors`` (and so on), as transformers names them.
            weights_only: unpickle .bin files with torch's safe loader (the default).
            output_loading_info: also return {"missing_keys", "unexpected_keys",
                "mismatched_keys", "error_msgs"}; loading is then lenient as in transformers
                (parameters the checkpoint lacks get transformers' initialisation). Without it,
                missing and unknown keys raise.
            ignore_mismatched_sizes: initialise (instead of refusing) parameters whose tensor in
                the checkpoint has another shape.
            generation_config: use it instead of the folder's generation_config.json.
            dtype: float32 (default), float16, bfloat16, their names, or "auto" (the checkpoint's).
            attn_implementation: "sdpa" (default), "eager" or "flash_attention_2".
            device, device_map: where the weights go (one device); ``device_map="auto"`` picks
                CUDA if present. With ``device_map``, ``model.hf_device_map`` says where.
            quantize: "int8" for int8 linear layers on CPU (fast mode: tokens may differ from fp32).

        Raises:
            FileNotFoundError: the folder, its config.json or its weights are missing.
            ValueError: the tensors do not fit the config (names and shapes listed), or an
                unsupported dtype / attention backend / loading option.
            TypeError: a keyword that is neither a loading option nor a config setting.
        """
        if model_args:
            raise TypeError(f"{cls.__name__}.from_pretrained() takes one positional argument (the path)")
        token, attn_implementation = _accept_loading_options(kwargs, token, attn_implementation)
        target_device = check_placement(
            device if device is not None else device_map, dtype if dtype is not None else torch_dtype, quantize
        )
        folder: Path | None = None
        if pretrained_model_name_or_path is not None:
            root = checkpoint.resolve_checkpoint_dir(
                pretrained_model_name_or_path,
                revision=revision,
                cache_dir=cache_dir,
                local_files_only=local_files_only,
                token=token,
                force_download=force_download,
                proxies=proxies,
            )
            folder = root / subfolder
            if not folder.is_dir():
                raise FileNotFoundError(f"{root} has no subfolder {subfolder!r}")
        elif config is None or state_dict is None:
            raise ValueError("from_pretrained(None, ...) needs both config= and state_dict=")
        cfg: M2M100Config
        if isinstance(config, M2M100Config):
            cfg = copy.deepcopy(config)  # as transformers: the model may change it (resizing)
        else:
            cfg = M2M100Config.from_pretrained(config if config is not None else cast(Path, folder))
        for key, value in kwargs.items():
            if not is_setting(cfg, key):
                raise TypeError(
                    f"{cls.__name__}.from_pretrained() got an unexpected keyword argument {key!r}: "
                    "it is neither a loading option nor an M2M100Config setting"
                )
            setattr(cfg, key, value)
        cfg.validate()
        if pretrained_model_name_or_path is not None:
            cfg.name_or_path = str(pretrained_model_name_or_path)
        if state_dict is not None:
            tensors, source = dict(state_dict), "state_dict"
        else:
            assert folder is not None
            files = checkpoint.weight_files(folder, use_safetensors=use_safetensors, variant=variant)
            tensors, source = checkpoint.read_tensors(files, weights_only=weights_only), str(folder)
        config_dtype = cfg.extra.get("dtype") or cfg.extra.get("torch_dtype")
        target_dtype = checkpoint.resolve_dtype(dtype if dtype is not None else torch_dtype, tensors, config_dtype)
        with torch.device("meta"):
            model = cls(cfg)
        has_prefix = any(k.startswith("model.") for k in tensors)
        dropped: list[str] = []
        if isinstance(model, M2M100Model) and has_prefix:  # the bare model reading a checkpoint with a head
            dropped = sorted(k for k in tensors if not k.startswith("model."))  # the head's: unexpected
            tensors = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        elif not isinstance(model, M2M100Model) and not has_prefix:  # the head class reading a bare model
            tensors = {f"model.{k}": v for k, v in tensors.items()}
        info = checkpoint.load_weights(
            model,
            tensors,
            dtype=target_dtype,
            device=target_device,
            source=source,
            strict=not output_loading_info,
            ignore_mismatched_sizes=ignore_mismatched_sizes,
        )
        del tensors  # the model holds the weights now; packing below frees each plain one it replaces
        _materialize(model, target_device, target_dtype, cfg.init_std)  # what the checkpoint lacked
        model.tie_weights()
        for module in model.modules():
            if isinstance(module, SinusoidalPositions):
                module.weights = torch.empty(0, device=target_device, dtype=target_dtype)
                module.reset_table(cfg.max_position_embeddings + module.OFFSET)
        model.set_attn_implementation(attn_implementation or "sdpa")
        if model.can_generate():
            if generation_config is not None:
                model.generation_config = copy.deepcopy(generation_config)
            elif folder is not None and (folder / "generation_config.json").is_file():
                model.generation_config = GenerationConfig.from_pretrained(folder)
        if pretrained_model_name_or_path is not None:
            model.name_or_path = str(pretrained_model_name_or_path)
        if device_map is not None:  # as transformers: set only when a device map was asked for
            model.hf_device_map = _hf_device_map(device_map, target_device)
        if quantize is not None:
            quantize_int8(model)
        else:
            model.pack_weights()  # CPU only; a no-op elsewhere
        model.eval()
        if output_loading_info:
            info.unexpected_keys = sorted(info.unexpected_keys + dropped)
            return model, info.as_dict()
        return model

    def pack_weights(self) -> int:
        """Keep the decoder's per-step linear weights also in oneDNN's layout, for fast CPU
        inference (``from_pretrained`` does it; the parameters stay plain tensors). ``train()``
        and ``.to()`` drop the copies; the next CPU inference call rebuilds them. Returns the
        number of layers packed."""
        return pack_weights(self.get_decoder().step_linears())

    def train(self: ModelT, mode: bool = True) -> ModelT:
        if mode:
            unpack_weights(self)  # training changes the weights: the packed copies go (memory back)
        return super().train(mode)

    def _apply(self: ModelT, fn: Any, recurse: bool = True) -> ModelT:
        unpack_weights(self)  # .to(), .half(), .cuda(): the packed copies are rebuilt from the new weights
        return super()._apply(fn, recurse)

    def save_pretrained(
        self,
        save_directory: str | os.PathLike[str],
        is_main_process: bool = True,
        state_dict: Mapping[str, torch.Tensor] | None = None,
        save_function: Callable[[Any, str], Any] = torch.save,
        push_to_hub: bool = False,
        max_shard_size: int | str = "5GB",
        safe_serialization: bool = True,
        variant: str | None = None,
        token: str | bool | None = None,
        save_peft_format: bool = True,
        **kwargs: Any,
    ) -> None:
        """Write a checkpoint folder as transformers does: config.json, generation_config.json
        (not for the bare model, which cannot generate) and the weights.

        Args:
            is_main_process: only the main process writes (distributed training).
            state_dict: the tensors to write instead of the model's own.
            safe_serialization: model.safetensors (the tied matrix once) or, with False,
                pytorch_model.bin written with ``save_function``.
            max_shard_size: past it, numbered shards and an index (e.g. "200MB" or bytes).
            variant: name the weight files ``model.<variant>.safetensors`` and so on.
            push_to_hub: then upload the folder (``repo_id`` — default the folder's name —,
                ``token``, ``private``, ``commit_message``, ``create_pr``); needs
                huggingface_hub and a reachable hub, else an OSError says so.
        """
        if any(isinstance(m, Int8Linear) for m in self.modules()):
            raise ValueError(
                "an int8-quantized model cannot be saved as a checkpoint; save the float model "
                "and pass quantize='int8' when loading it"
            )
        folder = Path(save_directory)
        if folder.is_file():
            raise ValueError(f"{folder} is a file; save_pretrained writes into a folder")
        if is_main_process:
            folder.mkdir(parents=True, exist_ok=True)
            config = copy.deepcopy(self.config)
            config.extra.pop("torch_dtype", None)
            config.dtype = str(self.dtype).split(".")[-1]
            config.architectures = [type(self).__name__]
            config.save_pretrained(folder)
            if self.can_generate() and self.generation_config is not None:
                self.generation_config.save_pretrained(folder)
            tensors = self.state_dict() if state_dict is None else state_dict
            tied = [k for k in checkpoint.TIED_EMBEDDING_KEYS if k in tensors]
            tied += [k[len("model.") :] for k in checkpoint.TIED_EMBEDDING_KEYS if k[len("model.") :] in tensors]
            if not self.config.tie_word_embeddings:
                tied = []  # transformers then expects every embedding name in the file
            checkpoint.save_state_dict(
                tensors,
                folder,
                safe_serialization=safe_serialization,
                max_shard_size=max_shard_size,
                variant=variant,
                save_function=save_function,
                tied_keys=tied[1:],
                total_parameters=self.num_parameters(),
            )
        if push_to_hub:
            checkpoint.push_folder_to_hub(
                folder,
                kwargs.get("repo_id") or folder.name,
                token=token,
                private=kwargs.get("private"),
                commit_message=kwargs.get("commit_message"),
                create_pr=kwargs.get("create_pr", False),
            )

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        private: bool | None = None,
        token: str | bool | None = None,
        max_shard_size: int | str = "5GB",
        create_pr: bool = False,
        safe_serialization: bool = True,
        revision: str | None = None,
        variant: str | None = None,
        **_: Any,
    ) -> str:
        """Save to a temporary folder and upload it to the hub repository ``repo_id`` (created if
        needed); returns the commit's URL.

        Raises:
            OSError: huggingface_hub is missing or the hub cannot be reached (offline, no token).
        """
        with tempfile.TemporaryDirectory() as tmp:
            self.save_pretrained(
                tmp, max_shard_size=max_shard_size, safe_serialization=safe_serialization, variant=variant
            )
            return checkpoint.push_folder_to_hub(
                Path(tmp),
                repo_id,
                token=token,
                private=private,
                commit_message=commit_message,
                create_pr=create_pr,
                revision=revision,
            )


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
        return_dict = _return_dict(cfg, return_dict)
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


def _probe(
    attentions: bool, hidden_states: bool, head_mask: torch.Tensor | None, cross_head_mask: torch.Tensor | None = None
) -> Probe | None:
    """The core's inspection argument for transformers' flags; None (the fast path) when unused."""
    if not (attentions or hidden_states) and head_mask is None and cross_head_mask is None:
        return None
    return Probe(bool(attentions), bool(hidden_states), head_mask, cross_head_mask)


def _as_cache(past: Any, num_layers: int) -> DecoderCache:
    if past is None:
        return DecoderCache(num_layers)
    if isinstance(past, DecoderCache):
        return past
    if hasattr(past, "to_legacy_cache"):  # a transformers EncoderDecoderCache
        past = past.to_legacy_cache()
    if isinstance(past, (tuple, list)):
        return DecoderCache.from_legacy_cache(tuple(past))
    raise TypeError(f"past_key_values must be a DecoderCache or legacy tuples, got {type(past).__name__}")


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
                input_ids = input_ids[:, _as_cache(past_key_values, self.config.decoder_layers).get_seq_length() :]
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
        return_dict = _return_dict(self.config, return_dict)
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
