"""``M2M100PreTrainedModel``: what both model classes share, as transformers'
``PreTrainedModel``: ``from_pretrained`` / ``save_pretrained`` / ``push_to_hub``, weight
initialisation and ties, embeddings and their resizing, the attention backend, gradient
checkpointing, and the attributes PEFT, accelerate and the Trainer read.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeVar, cast, overload

import torch
from torch import nn

from m2m100 import checkpoint
from m2m100.config import M2M100Config, is_setting
from m2m100.generation.config import GenerationConfig
from m2m100.model.attention import Attention
from m2m100.model.linear import Linear, pack_weights, screen_head, unpack_weights
from m2m100.model.placement import check_placement
from m2m100.model.quantize import quantize_model
from m2m100.model.transformer import Decoder, Encoder, SinusoidalPositions
from m2m100.modeling.loading import (
    accept_loading_options,
    check_attn_implementation,
    hf_device_map_for,
    materialize,
    resize_rows,
)
from m2m100.modeling.quantized import (
    QUANTIZED_LAYERS,
    check_quantization_config,
    install_quantized_layers,
    quantization_config,
    quantization_of,
    quantized_state_dict,
)
from m2m100.modeling.stacks import M2M100Decoder, M2M100Encoder, initialize

logger = logging.getLogger(__name__)
ModelT = TypeVar("ModelT", bound="M2M100PreTrainedModel")


class _BareModel(Protocol):
    """What the shared code reads of the bare model (``M2M100Model``, whose module imports this one)."""

    encoder: M2M100Encoder
    decoder: M2M100Decoder

    def get_input_embeddings(self) -> nn.Module: ...

    def set_input_embeddings(self, value: nn.Module) -> None: ...


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
        initialize(self, self.config.init_std, again=True)
        self.tie_weights()

    def _post_init(self) -> None:
        initialize(self, self.config.init_std)  # what the stacks did not draw yet (skipped on meta)
        self.tie_weights()

    def shared_embedding(self) -> nn.Module:
        raise NotImplementedError

    def _shared_weight(self) -> torch.Tensor:
        return cast(torch.Tensor, self.shared_embedding().weight)

    def _bare(self) -> _BareModel:
        return cast(_BareModel, self.base_model)

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
        if head is not None and not isinstance(head, QUANTIZED_LAYERS):  # a quantized head keeps its own copy
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
        if isinstance(head, QUANTIZED_LAYERS):
            raise ValueError("a quantized model cannot be resized; resize the float model, then quantize")
        std = self.config.init_std
        if embeddings.weight.shape[0] != new_num_tokens:  # an nn.Embedding from here on
            resize_rows(embeddings, new_num_tokens, mean_resizing, std)
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
            resize_rows(new_head, new_num_tokens, mean_resizing, std)  # new storage: the old head is untouched
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
            quantize: "int8" for int8 linear layers on CPU (fast mode: tokens may differ from fp32);
                "int4-weight" for int4 weights with bf16 activations on CPU (latency mode, for
                greedy decoding of one to four sentences). A checkpoint saved from such a model
                (``m2m100 quantize``) loads quantized without it.

        Raises:
            FileNotFoundError: the folder, its config.json or its weights are missing.
            ValueError: the tensors do not fit the config (names and shapes listed), or an
                unsupported dtype / attention backend / loading option.
            TypeError: a keyword that is neither a loading option nor a config setting.
        """
        if model_args:
            raise TypeError(f"{cls.__name__}.from_pretrained() takes one positional argument (the path)")
        token, attn_implementation = accept_loading_options(kwargs, token, attn_implementation)
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
        bare = model.base_model is model  # M2M100Model (the head class holds it as .model)
        dropped: list[str] = []
        if bare and has_prefix:  # the bare model reading a checkpoint with a head
            dropped = sorted(k for k in tensors if not k.startswith("model."))  # the head's: unexpected
            tensors = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        elif not bare and not has_prefix:  # the head class reading a bare model
            tensors = {f"model.{k}": v for k, v in tensors.items()}
        quantized = cfg.extra.get("quantization_config") is not None
        if quantized:  # a quantized checkpoint: its layers are built from their quantized tensors
            mode = check_quantization_config(cfg.extra["quantization_config"])
            if target_device.type != "cpu" or target_dtype != torch.float32:
                raise ValueError(
                    f"{source} is an {mode} checkpoint, which runs on CPU in float32 only; "
                    "load the float checkpoint for another device or dtype"
                )
            install_quantized_layers(model, tensors, source, mode)
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
        materialize(model, target_device, target_dtype, cfg.init_std)  # what the checkpoint lacked
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
            model.hf_device_map = hf_device_map_for(device_map, target_device)
        if quantized:
            pass  # quantized already, and its layers need no packing
        elif quantize is not None:
            quantize_model(model, quantize)
        else:
            model.pack_weights()  # CPU only; a no-op elsewhere
        model.eval()
        if output_loading_info:
            info.unexpected_keys = sorted(info.unexpected_keys + dropped)
            return model, info.as_dict()
        return model

    def pack_weights(self) -> int:
        """Keep the decoder's per-step linear weights also in oneDNN's layout, for fast CPU
        inference (``from_pretrained`` does it; the parameters stay plain tensors), and let
        greedy search screen the LM head (:func:`screen_head`). ``train()`` and ``.to()`` drop the
        copies; the next CPU inference call rebuilds them. Returns the number of layers packed."""
        head = self.get_output_embeddings()
        if head is not None:
            screen_head(head, self)
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
        mode = quantization_of(self)
        quantized = mode is not None
        if quantized and not safe_serialization:
            raise ValueError(f"an {mode} model is saved as safetensors only; leave safe_serialization=True")
        folder = Path(save_directory)
        if folder.is_file():
            raise ValueError(f"{folder} is a file; save_pretrained writes into a folder")
        if is_main_process:
            folder.mkdir(parents=True, exist_ok=True)
            config = copy.deepcopy(self.config)
            config.extra.pop("torch_dtype", None)
            config.dtype = str(self.dtype).split(".")[-1]
            config.architectures = [type(self).__name__]
            if mode is not None:
                config.quantization_config = quantization_config(mode)  # how loading knows to read quantized layers
            config.save_pretrained(folder)
            if self.can_generate() and self.generation_config is not None:
                self.generation_config.save_pretrained(folder)
            if state_dict is not None:
                tensors = state_dict
            else:
                tensors = quantized_state_dict(self) if quantized else self.state_dict()
            tied = [k for k in checkpoint.TIED_EMBEDDING_KEYS if k in tensors]
            tied += [k[len("model.") :] for k in checkpoint.TIED_EMBEDDING_KEYS if k[len("model.") :] in tensors]
            if not self.config.tie_word_embeddings:
                tied = []  # transformers then expects every embedding name in the file
            if quantized:
                tied = [k for k in tied if k != "lm_head.weight"]  # the quantized head is its own matrix
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
