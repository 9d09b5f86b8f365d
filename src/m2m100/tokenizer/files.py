"""The tokenizer folder format of transformers 4.57, read and written byte for byte alike.

A folder holds its class's vocabulary files (M2M100: ``vocab.json`` and
``sentencepiece.bpe.model``; NLLB: ``sentencepiece.bpe.model``), ``tokenizer_config.json``
(constructor arguments; since transformers 4.34 also ``added_tokens_decoder``), and the legacy
``special_tokens_map.json``, ``added_tokens.json`` and ``tokenizer.json`` (of which only the
``"added_tokens"`` are read), which count only when the config has no ``added_tokens_decoder`` (as
in the original facebook/m2m100 and facebook/nllb-200 repositories).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sentencepiece

from m2m100.checkpoint import resolve_checkpoint_dir
from m2m100.tokenizer.added_tokens import AddedToken

VOCAB_FILE = "vocab.json"
SPM_FILE = "sentencepiece.bpe.model"
CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_FILE = "special_tokens_map.json"
ADDED_TOKENS_FILE = "added_tokens.json"
FAST_TOKENIZER_FILE = "tokenizer.json"
_HUB_FILES = [VOCAB_FILE, SPM_FILE, CONFIG_FILE, SPECIAL_TOKENS_FILE, ADDED_TOKENS_FILE, FAST_TOKENIZER_FILE]

# Config keys transformers refreshes from the live tokenizer when saving (it takes every
# attribute of that name; these are the ones both implementations share).
_LIVE_KEYS = {
    "src_lang",
    "tgt_lang",
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
    "additional_special_tokens",
    "language_codes",
    "legacy_behaviour",
    "sp_model_kwargs",
    "num_madeup_words",
    "model_max_length",
    "clean_up_tokenization_spaces",
    "padding_side",
    "truncation_side",
    "split_special_tokens",
    "model_input_names",
    "extra_special_tokens",
    "name_or_path",
}


def load_json(path: str | os.PathLike) -> Any:
    """Read a JSON file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: it is not JSON (the message names the file).
    """
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None


def load_object(path: Path, what: str) -> dict[str, Any]:
    """Read a JSON file that must hold an object; ``what`` says what its values are.

    Raises:
        ValueError: not JSON, or not an object (the message names the file).
    """
    data = load_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}; it should be an object of {what}")
    return data


def check_vocab(path: Path) -> None:
    """Stop on a vocab.json that is not a non-empty object of pieces to ids, before the
    tokenizer is built from it.

    Raises:
        ValueError: the first problem, naming the file.
    """
    vocab = load_object(path, "pieces to ids")
    if not vocab:
        raise ValueError(f"{path} is empty; it should map every piece of the vocabulary to its id")
    bad = next(((k, v) for k, v in vocab.items() if type(v) is not int or v < 0), None)
    if bad is not None:
        raise ValueError(f"{path}: the id of {bad[0]!r:.40} is {bad[1]!r:.40}; ids are non-negative integers")


def load_spm(path: str | os.PathLike, sp_model_kwargs: Mapping[str, Any]) -> sentencepiece.SentencePieceProcessor:
    """Load a sentencepiece model with encoding options such as sampling.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: it is not a sentencepiece model.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Sentencepiece model not found: {path}")
    processor = sentencepiece.SentencePieceProcessor(**sp_model_kwargs)
    try:
        processor.Load(str(path))
    except (RuntimeError, OSError) as err:  # sentencepiece: "INTERNAL: could not parse ModelProto ..."
        raise ValueError(f"{path} is not a sentencepiece model ({str(err).strip()})") from None
    return processor


def resolve_folder(
    name_or_path: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike | None,
    revision: str | None,
    local_files_only: bool,
    token: str | bool | None,
) -> Path:
    """The local folder of a tokenizer: a folder as is, or a hub id downloaded (tokenizer files only).

    Raises:
        FileNotFoundError: a local-looking path that does not exist.
        OSError: a hub id that could not be downloaded (no huggingface_hub, no network, no repo).
    """
    return resolve_checkpoint_dir(
        name_or_path,
        cache_dir=cache_dir,
        revision=revision,
        local_files_only=local_files_only,
        token=token,
        allow_patterns=_HUB_FILES,
    )


def read_init_kwargs(
    folder: Path,
    overrides: Mapping[str, Any],
    special_attributes: Sequence[str],
    *,
    class_name: str = "M2M100Tokenizer",
    required: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read a folder's constructor arguments as transformers' ``from_pretrained`` does.

    Args:
        folder: The tokenizer folder.
        overrides: The caller's keyword arguments; they win over the saved ones.
        special_attributes: Names of the special-token attributes, additional ones last.
        class_name: The tokenizer class reading it; a config naming another class is refused
            (its fast twin, ``NllbTokenizerFast``, is accepted).
        required: Constructor argument -> file name of the files the class needs (default:
            M2M100's vocab.json and sentencepiece.bpe.model).

    Returns:
        Keyword arguments for the constructor, ``added_tokens_decoder`` included.

    Raises:
        FileNotFoundError: A required file is missing (the message names it, and says when the
            folder holds only the fast tokenizer's tokenizer.json).
        ValueError: A file is malformed, or the config names another tokenizer class.
    """
    config = load_object(folder / CONFIG_FILE, "constructor arguments") if (folder / CONFIG_FILE).is_file() else {}
    named = config.get("tokenizer_class")
    if named not in (None, class_name, class_name + "Fast"):
        raise ValueError(f"{folder / CONFIG_FILE} names a {named}, not a {class_name}; load it with AutoTokenizer")
    names = list((required or {"vocab_file": VOCAB_FILE, "spm_file": SPM_FILE}).values())
    for name in names:
        if not (folder / name).is_file():
            raise FileNotFoundError(missing_file_message(folder, name, names, class_name))
    if VOCAB_FILE in names:
        check_vocab(folder / VOCAB_FILE)
    for key in ("tokenizer_class", "init_inputs", "tokenizer_file", "vocab_file", "spm_file"):
        config.pop(key, None)
    config.update(overrides)

    by_content: dict[str, AddedToken] = {}
    if "added_tokens_decoder" in config:
        decoder = _added_tokens_decoder(config["added_tokens_decoder"], folder / CONFIG_FILE)
        by_content = {t.content: t for t in decoder.values()}
    else:
        decoder = {}
        if (folder / SPECIAL_TOKENS_FILE).is_file():
            for key, value in load_object(folder / SPECIAL_TOKENS_FILE, "special tokens").items():
                if overrides.get(key):
                    continue
                if isinstance(value, dict):
                    value = AddedToken.coerce({**value, "special": True})
                elif key == "additional_special_tokens" and isinstance(value, list):
                    merged = list(config.pop("additional_special_tokens", None) or [])
                    for token in value:
                        token = AddedToken.coerce({**token, "special": True}) if isinstance(token, dict) else token
                        if token not in merged:
                            merged.append(token)
                    value = merged
                config[key] = value
        if (folder / ADDED_TOKENS_FILE).is_file():
            special: set[str] = set()
            for key in special_attributes:
                value = config.get(key)
                if value is not None:
                    special.update(map(str, value) if key == "additional_special_tokens" else [str(value)])
            for content, index in load_object(folder / ADDED_TOKENS_FILE, "tokens to ids").items():
                if type(index) is not int or index < 0:
                    raise ValueError(f"{folder / ADDED_TOKENS_FILE}: the id of {content!r:.40} is {index!r:.40}")
                decoder[index] = AddedToken(content, normalized=content not in special, special=content in special)
        if (folder / FAST_TOKENIZER_FILE).is_file():
            fast = _fast_added_tokens(folder / FAST_TOKENIZER_FILE)
            decoder.update(fast)
            by_content.update((t.content, t) for t in fast.values())
    config["added_tokens_decoder"] = decoder
    config = _from_json(config)
    # Special tokens take the flags their saved added token has.
    for key in special_attributes[:-1]:
        if by_content and config.get(key) is not None:
            config[key] = by_content.get(str(config[key]), config[key])
    return config


def missing_file_message(folder: Path, name: str, names: Sequence[str], class_name: str) -> str:
    """The one-line error for a tokenizer folder without ``name``, one of the files ``names``."""
    message = f"{folder / name} is missing: {class_name} needs {' and '.join(names)} in the folder ({CONFIG_FILE} is optional)"
    if name == SPM_FILE and (folder / FAST_TOKENIZER_FILE).is_file():
        message += (
            f"; this folder has only {FAST_TOKENIZER_FILE}, the fast tokenizer's file, which m2m100 does not "
            f"read: copy {SPM_FILE} from the model's repository"
        )
    return message


def _fast_added_tokens(path: Path) -> dict[int, AddedToken]:
    """The ``"added_tokens"`` of a fast tokenizer's tokenizer.json, by id: where the original
    facebook/nllb-200 folders record the ids of their language codes and ``<mask>``.

    Raises:
        ValueError: the file is not JSON, or its added tokens are malformed (the message names it).
    """
    data = load_object(path, "the fast tokenizer")
    try:
        return {
            int(t["id"]): AddedToken.coerce({k: v for k, v in t.items() if k != "id"}) for t in data["added_tokens"]
        }
    except (KeyError, AttributeError, TypeError, ValueError) as err:
        raise ValueError(f'{path}: "added_tokens" should be a list of tokens with ids ({err!r})') from None


def _added_tokens_decoder(data: Any, path: Path) -> dict[int, AddedToken]:
    """The ``added_tokens_decoder`` of a tokenizer_config.json: ids to added tokens.

    Raises:
        ValueError: it is not an object of ids to tokens (the message names the file).
    """
    try:
        return {int(i): AddedToken.coerce(t) for i, t in data.items()}
    except (AttributeError, TypeError, ValueError) as err:
        raise ValueError(f'{path}: "added_tokens_decoder" should map ids to tokens ({err})') from None


def save_folder(
    tokenizer: Any, directory: Path, prefix: str | None, special_attributes: Sequence[str]
) -> tuple[str, ...]:
    """Write a tokenizer folder exactly as transformers' ``save_pretrained`` does.

    Returns:
        Paths of tokenizer_config.json, special_tokens_map.json, vocab.json,
        sentencepiece.bpe.model and added_tokens.json (the last even when not written).

    Raises:
        NotADirectoryError: ``directory`` is an existing file.
    """
    if directory.is_file():
        raise NotADirectoryError(f"Cannot save a tokenizer into {directory}: it is a file.")
    directory.mkdir(parents=True, exist_ok=True)
    config_path, special_path, added_path = (
        _named(directory, prefix, name) for name in (CONFIG_FILE, SPECIAL_TOKENS_FILE, ADDED_TOKENS_FILE)
    )
    config = copy.deepcopy(tokenizer.init_kwargs)
    for key in (set(config) | {"model_max_length", "clean_up_tokenization_spaces"}) & _LIVE_KEYS:
        config[key] = getattr(tokenizer, key)
    config.update(tokenizer.special_tokens_map)
    if "extra_special_tokens" not in config:
        config["extra_special_tokens"] = tokenizer.extra_special_tokens
        config.update(tokenizer.extra_special_tokens)
    for key in ("vocab_file", "spm_file", "tokenizer_config_file", "device_map"):
        config.pop(key, None)
    config = _to_json(config, type_field=True)
    # Int keys: json sorts them numerically, as transformers' file has them.
    config["added_tokens_decoder"] = {i: t.to_dict() for i, t in tokenizer.added_tokens_decoder.items()}
    config["tokenizer_class"] = type(tokenizer).__name__
    if "name_or_path" in config:
        for key in ("name_or_path", "special_tokens_map_file", "tokenizer_file"):
            config.pop(key, None)
    _write_json(config_path, config)
    _write_json(special_path, _to_json(tokenizer.special_tokens_map_extended, type_field=False))

    added = {c: i for c, i in tokenizer.added_tokens_encoder.items() if i >= tokenizer.vocab_size}
    if added:
        _write_json(added_path, added)
    vocab_files = tokenizer.save_vocabulary(str(directory), filename_prefix=prefix)
    return (str(config_path), str(special_path), *vocab_files, str(added_path))


def save_vocabulary(tokenizer: Any, directory: Path, prefix: str | None) -> tuple[str, str]:
    """Write vocab.json and the sentencepiece model (M2M100's files) into an existing folder.

    Raises:
        OSError: ``directory`` is not a folder.
    """
    if not directory.is_dir():
        raise OSError(f"{directory} should be a directory")
    vocab_path = _named(directory, prefix, VOCAB_FILE)
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump(tokenizer.encoder, f, indent=2)
    return str(vocab_path), save_spm(tokenizer, directory, prefix, source=tokenizer.spm_file)


def save_spm(tokenizer: Any, directory: Path, prefix: str | None, *, source: str | None = None) -> str:
    """Write the sentencepiece model into an existing folder: a copy of the file it was read from
    (``source``, default ``tokenizer.vocab_file``), or its bytes when that file is gone.

    Raises:
        OSError: ``directory`` is not a folder.
    """
    if not directory.is_dir():
        raise OSError(f"{directory} should be a directory")
    source = tokenizer.vocab_file if source is None else source
    spm_path = _named(directory, prefix, SPM_FILE)
    if not os.path.isfile(source):
        spm_path.write_bytes(tokenizer.sp_model.serialized_model_proto())
    elif os.path.abspath(source) != os.path.abspath(spm_path):
        shutil.copyfile(source, spm_path)
    return str(spm_path)


def _named(directory: Path, prefix: str | None, name: str) -> Path:
    return directory / (f"{prefix}-{name}" if prefix else name)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _to_json(value: Any, *, type_field: bool) -> Any:
    """AddedTokens to dicts: tagged with ``__type`` in the config, without ``special`` in the map."""
    if isinstance(value, AddedToken):
        data = value.to_dict()
        if type_field:
            data["__type"] = "AddedToken"
        else:
            data.pop("special")
        return data
    if isinstance(value, (list, tuple)):
        return [_to_json(v, type_field=type_field) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v, type_field=type_field) for k, v in value.items()}
    return value


def _from_json(value: Any) -> Any:
    """Dicts tagged ``"__type": "AddedToken"`` (older configs) back to AddedTokens."""
    if isinstance(value, dict) and value.get("__type") == "AddedToken":
        return AddedToken.coerce(value)
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    return value
