"""The model configuration: a typed dataclass that reads and writes transformers' config.json."""

from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from m2m100.activations import ACTIVATIONS
from m2m100.checkpoint import push_folder_to_hub, resolve_checkpoint_dir

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.json"

# What transformers' PretrainedConfig has for every model (read here when a config.json did not
# set it): settable, and written back once set.
COMMON_DEFAULTS: dict[str, Any] = {
    "torchscript": False,
    "pruned_heads": {},
    "chunk_size_feed_forward": 0,
    "is_decoder": False,
    "cross_attention_hidden_size": None,
    "add_cross_attention": False,
    "tie_encoder_decoder": False,
    "architectures": None,
    "finetuning_task": None,
    "task_specific_params": None,
    "problem_type": None,
    "tokenizer_class": None,
    "prefix": None,
    "sep_token_id": None,
    "dtype": None,
    "transformers_version": None,
    "tf_legacy_loss": False,
    "use_bfloat16": False,
    "_attn_implementation": None,
}

# The range of each size: generous (facebook/m2m100-12B has d_model 4096, ffn 16384, 24 layers;
# NLLB 256,206 tokens), yet small enough that a hostile config.json cannot ask for a position
# table or layer stack that exhausts memory before the weights are read.
SIZE_LIMITS: dict[str, tuple[int, int]] = {
    "vocab_size": (1, 2**21),
    "max_position_embeddings": (1, 2**16),
    "d_model": (1, 2**16),
    "encoder_ffn_dim": (1, 2**18),
    "decoder_ffn_dim": (1, 2**18),
    "encoder_attention_heads": (1, 2**10),
    "decoder_attention_heads": (1, 2**10),
    "encoder_layers": (0, 2**10),
    "decoder_layers": (0, 2**10),
}

# Keyword arguments of transformers' config from_pretrained that choose how to read, not what.
_LOADING_OPTIONS = (
    "subfolder",
    "proxies",
    "resume_download",
    "trust_remote_code",
    "_from_auto",
    "_from_pipeline",
    "_commit_hash",
    "gguf_file",
)


@dataclass(init=False)
class M2M100Config:
    """Architecture and defaults of an M2M100 model; the defaults are facebook/m2m100_418M's.

    As transformers' ``PretrainedConfig``: keyword arguments and keys of a config.json that this
    class does not model (generation defaults such as ``num_beams``, ``num_labels``, ``dtype``,
    your own) are kept in ``extra``, readable and settable as attributes, and written back by
    :meth:`save_pretrained`; ``hidden_size`` and ``num_attention_heads`` read and set ``d_model``
    and ``encoder_attention_heads`` (``attribute_map``).

    Raises:
        ValueError: a field has an impossible value (the message names the field).
    """

    model_type: ClassVar[str] = "m2m_100"
    attribute_map: ClassVar[dict[str, str]] = {
        "num_attention_heads": "encoder_attention_heads",
        "hidden_size": "d_model",
    }
    keys_to_ignore_at_inference: ClassVar[list[str]] = ["past_key_values"]  # the Trainer reads it
    is_composition: ClassVar[bool] = False
    sub_configs: ClassVar[dict[str, Any]] = {}
    base_config_key: ClassVar[str] = ""

    vocab_size: int  # rows of the shared embedding and the LM head
    max_position_embeddings: int  # sinusoidal table size; grows on demand past it
    encoder_layers: int
    encoder_ffn_dim: int
    encoder_attention_heads: int
    decoder_layers: int
    decoder_ffn_dim: int
    decoder_attention_heads: int
    encoder_layerdrop: float  # probability of skipping a whole encoder layer in training
    decoder_layerdrop: float
    use_cache: bool  # return past_key_values from the decoder by default
    is_encoder_decoder: bool
    activation_function: str  # one of m2m100.activations.ACTIVATIONS
    d_model: int  # hidden size
    dropout: float  # residual and embedding dropout
    attention_dropout: float  # dropout on attention probabilities
    activation_dropout: float  # dropout after the feed-forward activation
    init_std: float  # std of the normal init of Linear and Embedding weights
    decoder_start_token_id: int  # M2M100 starts decoding from </s>
    scale_embedding: bool  # multiply token embeddings by sqrt(d_model)
    pad_token_id: int
    bos_token_id: int
    eos_token_id: int
    tie_word_embeddings: bool  # lm_head shares the embedding matrix
    output_attentions: bool  # default of the forward flag of the same name
    output_hidden_states: bool
    return_dict: bool
    extra: dict[str, Any] = field(default_factory=dict)  # keys this class does not model

    def __init__(
        self,
        vocab_size: int = 128112,
        max_position_embeddings: int = 1024,
        encoder_layers: int = 12,
        encoder_ffn_dim: int = 4096,
        encoder_attention_heads: int = 16,
        decoder_layers: int = 12,
        decoder_ffn_dim: int = 4096,
        decoder_attention_heads: int = 16,
        encoder_layerdrop: float = 0.05,
        decoder_layerdrop: float = 0.05,
        use_cache: bool = True,
        is_encoder_decoder: bool = True,
        activation_function: str = "relu",
        d_model: int = 1024,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        activation_dropout: float = 0.0,
        init_std: float = 0.02,
        decoder_start_token_id: int = 2,
        scale_embedding: bool = True,
        pad_token_id: int = 1,
        bos_token_id: int = 0,
        eos_token_id: int = 2,
        tie_word_embeddings: bool = True,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        return_dict: bool = True,
        extra: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """The fields as transformers' ``M2M100Config`` takes them; any other keyword (an alias
        such as ``hidden_size``, a ``PretrainedConfig`` setting such as ``num_labels`` or
        ``torchscript``, or your own key) is set as an attribute, as transformers does."""
        self.__dict__["extra"] = dict(extra or {})
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.encoder_layers = encoder_layers
        self.encoder_ffn_dim = encoder_ffn_dim
        self.encoder_attention_heads = encoder_attention_heads
        self.decoder_layers = decoder_layers
        self.decoder_ffn_dim = decoder_ffn_dim
        self.decoder_attention_heads = decoder_attention_heads
        self.encoder_layerdrop = encoder_layerdrop
        self.decoder_layerdrop = decoder_layerdrop
        self.use_cache = use_cache
        self.is_encoder_decoder = is_encoder_decoder
        self.activation_function = activation_function
        self.d_model = d_model
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation_dropout = activation_dropout
        self.init_std = init_std
        self.decoder_start_token_id = decoder_start_token_id
        self.scale_embedding = scale_embedding
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.tie_word_embeddings = tie_word_embeddings
        self.output_attentions = output_attentions
        self.output_hidden_states = output_hidden_states
        self.return_dict = return_dict
        self._name_or_path = str(kwargs.pop("name_or_path", ""))
        if kwargs.get("num_labels") is not None and "id2label" in kwargs:
            kwargs.pop("num_labels")  # the map says it (transformers warns when they disagree)
        for key, value in kwargs.items():
            setattr(self, key, value)
        self.validate()

    def validate(self) -> None:
        """Check every field; raises ValueError naming the first impossible one."""
        for name, (least, most) in SIZE_LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most:
                raise ValueError(f"M2M100Config.{name} must be an integer in [{least}, {most:,}], got {value!r:.60}")
        for heads in ("encoder_attention_heads", "decoder_attention_heads"):
            if self.d_model % getattr(self, heads):
                raise ValueError(
                    f"M2M100Config.d_model ({self.d_model}) must be divisible by {heads} ({getattr(self, heads)})"
                )
        probabilities = (
            "dropout",
            "attention_dropout",
            "activation_dropout",
            "encoder_layerdrop",
            "decoder_layerdrop",
        )
        for name in probabilities:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"M2M100Config.{name} must be a probability in [0, 1], got {value!r:.60}")
        if not isinstance(self.activation_function, str) or self.activation_function not in ACTIVATIONS:
            raise ValueError(
                f"M2M100Config.activation_function {self.activation_function!r} is not supported; "
                f"valid: {', '.join(sorted(ACTIVATIONS))}"
            )
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or not 0 <= value < self.vocab_size):
                raise ValueError(f"M2M100Config.{name} ({value}) must lie in the vocabulary [0, {self.vocab_size})")

    # transformers-compatible names -------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        name = self.attribute_map.get(name, name)
        if name.startswith("_") or name in self.__dataclass_fields__ or hasattr(type(self), name):
            object.__setattr__(self, name, value)  # fields, properties (with their setters), private state
        else:
            self.__dict__["extra"][name] = value

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: keys kept from config.json or keywords, then
        # PretrainedConfig's defaults, as transformers' config has them as attributes.
        extra = self.__dict__.get("extra")
        if extra is not None and name in extra:
            return extra[name]
        if extra is not None and name in COMMON_DEFAULTS:
            return copy.deepcopy(COMMON_DEFAULTS[name])
        raise AttributeError(f"'M2M100Config' has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__.get("extra", {}):
            del self.__dict__["extra"][name]
        else:
            object.__delattr__(self, name)

    @property
    def num_attention_heads(self) -> int:
        return self.encoder_attention_heads

    @num_attention_heads.setter
    def num_attention_heads(self, value: int) -> None:
        self.encoder_attention_heads = value

    @property
    def hidden_size(self) -> int:
        return self.d_model

    @hidden_size.setter
    def hidden_size(self, value: int) -> None:
        self.d_model = value

    @property
    def num_hidden_layers(self) -> int:
        """``encoder_layers``, unless set to something else (transformers keeps it apart)."""
        return int(self.__dict__.get("_num_hidden_layers", self.encoder_layers))

    @num_hidden_layers.setter
    def num_hidden_layers(self, value: int) -> None:
        self._num_hidden_layers = value

    @property
    def use_return_dict(self) -> bool:
        """Whether forward returns output objects: ``return_dict``, and never under torchscript."""
        return bool(self.return_dict) and not self.torchscript

    @property
    def id2label(self) -> dict[int, str]:
        found = self.extra.get("id2label")
        return dict(found) if found is not None else {0: "LABEL_0", 1: "LABEL_1"}

    @id2label.setter
    def id2label(self, value: dict[Any, str] | None) -> None:
        if value is None:
            self.extra.pop("id2label", None)
        else:
            self.extra["id2label"] = {int(k): v for k, v in value.items()}  # JSON keys are strings

    @property
    def label2id(self) -> dict[str, int]:
        found = self.extra.get("label2id")
        return dict(found) if found is not None else {v: k for k, v in self.id2label.items()}

    @label2id.setter
    def label2id(self, value: dict[str, int] | None) -> None:
        if value is None:
            self.extra.pop("label2id", None)
        else:
            self.extra["label2id"] = {k: int(v) for k, v in value.items()}

    @property
    def num_labels(self) -> int:
        """The number of labels: the size of ``id2label`` (2 by default), as transformers."""
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, value: int) -> None:
        if value != self.num_labels:
            self.id2label = {i: f"LABEL_{i}" for i in range(value)}
            self.label2id = {f"LABEL_{i}": i for i in range(value)}

    @property
    def name_or_path(self) -> str:
        """Where the config was read from (set by from_pretrained; not written to config.json)."""
        return str(self.__dict__.get("_name_or_path", ""))

    @name_or_path.setter
    def name_or_path(self, value: str | os.PathLike[str]) -> None:
        self._name_or_path = str(value)

    def get_text_config(self, decoder: bool | None = None, encoder: bool | None = None) -> M2M100Config:
        """The config of the text model: this one (transformers' API for composite models)."""
        return self

    def update(self, config_dict: dict[str, Any]) -> None:
        """Set every key of ``config_dict`` as an attribute."""
        for key, value in config_dict.items():
            setattr(self, key, value)

    # JSON ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> Any:
        """Build a config from a config.json dict (unknown keys are kept, as attributes); then set
        the ``kwargs`` that are settings of the config (transformers' rule: one that is not is
        unused, returned with ``return_unused_kwargs=True`` and otherwise logged and dropped).

        Returns:
            The config, or ``(config, unused_kwargs)`` with ``return_unused_kwargs=True``.
        """
        return_unused = kwargs.pop("return_unused_kwargs", False)
        data = {k: v for k, v in config_dict.items() if k != "model_type"}
        if data.get("num_hidden_layers") == data.get("encoder_layers", 12):
            data.pop("num_hidden_layers")  # derived: it follows encoder_layers
        if "_name_or_path" in data:
            data["name_or_path"] = data.pop("_name_or_path")
        extra = dict(data.pop("extra", None) or {})
        config = cls(**data, extra=extra)
        unused = {}
        for key, value in kwargs.items():
            if is_setting(config, key):
                setattr(config, key, value)
            else:
                unused[key] = value
        config.validate()
        if return_unused:
            return config, unused
        if unused:
            logger.warning("M2M100Config: ignoring keyword arguments that are not settings: %s", ", ".join(unused))
        return config

    def to_dict(self) -> dict[str, Any]:
        """The dict that config.json holds: every field plus the kept extra keys."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        data.update(self.extra)
        data["model_type"] = self.model_type
        data["num_hidden_layers"] = self.num_hidden_layers
        data.setdefault("architectures", ["M2M100ForConditionalGeneration"])
        if data.get("dtype") is not None and not isinstance(data["dtype"], (str, int)):
            data["dtype"] = str(data["dtype"]).split(".")[-1]  # torch.float16 -> "float16"
        return dict(sorted(data.items()))

    def to_json_string(self, use_diff: bool = True) -> str:
        """config.json's text (every key: ``use_diff`` is accepted for transformers' signature)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, json_file_path: str | os.PathLike[str], use_diff: bool = True) -> None:
        Path(json_file_path).write_text(self.to_json_string(use_diff), encoding="utf-8")

    @classmethod
    def from_json_file(cls, json_file: str | os.PathLike[str]) -> M2M100Config:
        """Read a config.json.

        Raises:
            ValueError: not a JSON object, another model type, or an impossible value; the message
                names the file.
        """
        path = Path(json_file)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} holds a JSON {type(data).__name__}; a config.json is an object of settings")
        if data.get("model_type", "m2m_100") != "m2m_100":
            raise ValueError(f"{path} describes a {data['model_type']!r:.60} model, not 'm2m_100'")
        try:
            config: M2M100Config = cls.from_dict(data)
        except (TypeError, ValueError, AttributeError) as err:  # a value of the wrong type or range
            raise ValueError(f"{path}: {err}") from None
        return config

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike[str],
        cache_dir: str | os.PathLike[str] | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
        revision: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Read config.json from a checkpoint folder (its ``subfolder``), a hub id (with
        huggingface_hub) or a JSON file; keyword arguments that are settings override the file's
        (see :meth:`from_dict` for the others and ``return_unused_kwargs``). transformers'
        loading keywords (``proxies``, ``trust_remote_code``, ...) are accepted.

        Raises:
            FileNotFoundError: no such folder, or no config.json in it.
            ValueError: not valid JSON, another model type, or an impossible value.
        """
        options = {key: kwargs.pop(key) for key in _LOADING_OPTIONS if key in kwargs}
        if options.get("gguf_file") is not None:
            raise ValueError("GGUF files are not supported; pass a folder with config.json")
        path = Path(os.path.expanduser(str(pretrained_model_name_or_path)))
        if path.is_file():
            config: M2M100Config = cls.from_json_file(path)
        else:
            folder = resolve_checkpoint_dir(
                pretrained_model_name_or_path,
                revision=None if revision == "main" else revision,
                cache_dir=cache_dir,
                local_files_only=local_files_only,
                token=token,
                force_download=force_download,
                proxies=options.get("proxies"),
            )
            folder = folder / (options.get("subfolder") or "")
            path = folder / CONFIG_NAME
            if not path.is_file():
                raise FileNotFoundError(f"{folder} has no {CONFIG_NAME}; is it an M2M100 checkpoint folder?")
            config = cls.from_json_file(path)
        config.name_or_path = str(pretrained_model_name_or_path)
        return cls.from_dict(config.to_dict(), name_or_path=config.name_or_path, **kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike[str], push_to_hub: bool = False, **kwargs: Any) -> Path:
        """Write config.json into ``save_directory`` (created if needed); returns the file's path.
        With ``push_to_hub``, also upload the folder (``repo_id``, ``token``, ``private``,
        ``commit_message``, ``create_pr`` as transformers; needs huggingface_hub and the hub)."""
        folder = Path(save_directory)
        if folder.is_file():
            raise ValueError(f"{folder} is a file; save_pretrained writes into a folder")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CONFIG_NAME
        path.write_text(self.to_json_string(), encoding="utf-8")
        if push_to_hub:
            push_folder_to_hub(
                folder,
                kwargs.get("repo_id") or folder.name,
                token=kwargs.get("token"),
                private=kwargs.get("private"),
                commit_message=kwargs.get("commit_message"),
                create_pr=kwargs.get("create_pr", False),
            )
        return path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, M2M100Config) and self.to_dict() == other.to_dict()


def is_setting(config: M2M100Config, name: str) -> bool:
    """Whether ``name`` names a setting of ``config`` (a field, an alias, a property, a kept key or
    one of PretrainedConfig's common settings): what a ``from_pretrained`` keyword may override."""
    if name in config.__dataclass_fields__ or name in config.attribute_map or name in config.extra:
        return name != "extra"
    return isinstance(getattr(type(config), name, None), property) or name in COMMON_DEFAULTS
