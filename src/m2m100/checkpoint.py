"""Checkpoint I/O: find a checkpoint folder, read its tensors, load them strictly, save them.

Our parameter names are transformers' state-dict keys, so a transformers checkpoint needs no
renaming: the only rules are that the tied embedding may be stored under any of its names and
that the sinusoidal tables are computed, never stored.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

logger = logging.getLogger(__name__)

SAFE_WEIGHTS = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"
TORCH_WEIGHTS = "pytorch_model.bin"
TORCH_INDEX = "pytorch_model.bin.index.json"
WEIGHT_FILES = (SAFE_WEIGHTS, SAFE_INDEX, TORCH_WEIGHTS, TORCH_INDEX)

# One matrix, four names: transformers may store any subset of them.
TIED_EMBEDDING_KEYS = (
    "model.shared.weight",
    "model.encoder.embed_tokens.weight",
    "model.decoder.embed_tokens.weight",
    "lm_head.weight",
)
# Computed buffers that older checkpoints stored; never loaded.
IGNORED_KEY_PARTS = ("embed_positions.weights", "embed_positions._float_tensor")

DTYPES = {
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "fp32": torch.float32,
    "fp16": torch.float16,
    "bf16": torch.bfloat16,
}

PathLike = str | os.PathLike


def _file_mode() -> int:
    """The mode ``open()`` gives a new file under this process's umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def resolve_checkpoint_dir(
    name_or_path: PathLike,
    *,
    revision: str | None = None,
    cache_dir: PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    allow_patterns: Sequence[str] | None = None,
    force_download: bool = False,
    proxies: dict[str, str] | None = None,
) -> Path:
    """A local folder as is, or a hub id ("facebook/m2m100_418M") downloaded with huggingface_hub.

    Args:
        allow_patterns: the files to fetch from the hub (default: config, tokenizer and weight
            files, safetensors preferred over .bin).
        force_download, proxies: passed to huggingface_hub's download.

    Raises:
        FileNotFoundError: a path that is no folder: missing, a file, a broken symbolic link, or
            not shaped as a hub id (see :func:`is_hub_id`).
        OSError: a hub id that cannot be fetched (no huggingface_hub, offline, unknown id).
    """
    text = str(name_or_path)
    path = Path(os.path.expanduser(text))
    if path.is_dir():
        return path
    if os.path.lexists(path):
        what = "a symbolic link that loops or points nowhere" if path.is_symlink() else "not a folder"
        raise FileNotFoundError(f"folder {text!r} cannot be read: it is {what}")
    if not is_hub_id(text):
        raise FileNotFoundError(f"folder {text!r} not found: it does not exist")
    local_hint = "pass the path of a local folder instead (for example one written by save_pretrained)"
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise OSError(
            f"{text!r} is not a local folder; fetching it from the Hugging Face Hub needs huggingface_hub "
            f"(pip install 'm2m100[hub]'), and huggingface_hub is not installed: {local_hint}"
        ) from None
    if allow_patterns is None:
        allow_patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.spm"]
        if not _has_safetensors_on_hub(text, revision, local_files_only):
            allow_patterns.append("*.bin")
    try:
        folder = snapshot_download(
            repo_id=text,
            revision=revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            local_files_only=local_files_only,
            token=token,
            allow_patterns=list(allow_patterns),
            force_download=force_download,
            proxies=proxies,
        )
    except Exception as err:  # network, auth and unknown-repo errors all end here
        raise OSError(
            f"{text!r} is not a local folder, and could not be downloaded from the Hugging Face Hub: the hub "
            f"could not be reached or has no such repository ({type(err).__name__}: {err}). If this machine is offline, {local_hint}"
        ) from err
    return Path(folder)


# huggingface_hub's repository ids: "owner/name" of letters, digits, "-", "_" and ".".
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")


def is_hub_id(text: str) -> bool:
    """Whether ``text``, which names no local folder, is meant as a hub id: it has a hub id's
    shape, and its owner part is no local folder (``runs/en-fr`` beside a ``runs`` folder is a
    local path that does not exist; so is a lone ``en-fr``)."""
    if not _HUB_ID.fullmatch(text) or ".." in text or "--" in text or text.endswith((".", ".git")):
        return False
    return not os.path.lexists(text.partition("/")[0])


def push_folder_to_hub(
    folder: Path,
    repo_id: str,
    *,
    token: str | bool | None = None,
    private: bool | None = None,
    commit_message: str | None = None,
    create_pr: bool = False,
    revision: str | None = None,
) -> str:
    """Upload the files of ``folder`` to the hub repository ``repo_id`` (created if needed) with
    huggingface_hub; returns the commit's URL.

    Raises:
        OSError: huggingface_hub is not installed, or the hub cannot be reached (offline, no
            token, no rights); the message says which.
    """
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise OSError(
            "push_to_hub needs huggingface_hub (pip install 'm2m100[hub]'), which is not installed; "
            "save_pretrained writes the same files to a local folder"
        ) from None
    try:
        api = HfApi(token=token if isinstance(token, str) else None)
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            commit_message=commit_message or "Upload M2M100 checkpoint",
            create_pr=create_pr,
            revision=revision,
        )
    except Exception as err:  # network, auth and permission errors all end here
        raise OSError(
            f"could not push to the Hugging Face Hub repository {repo_id!r}: the hub could not be reached or "
            f"refused the upload ({type(err).__name__}: {err}). Offline, save_pretrained writes the same files "
            "to a local folder."
        ) from err
    return str(getattr(info, "commit_url", info))


def _has_safetensors_on_hub(repo_id: str, revision: str | None, local_only: bool) -> bool:
    if local_only:
        return True
    try:
        from huggingface_hub import list_repo_files

        return any(name.endswith(".safetensors") for name in list_repo_files(repo_id, revision=revision))
    except Exception:  # the download that follows reports the real problem
        return True


def add_variant(name: str, variant: str | None) -> str:
    """transformers' variant file names: model.safetensors -> model.fp16.safetensors,
    model.safetensors.index.json -> model.safetensors.index.fp16.json."""
    if variant is None:
        return name
    stem, ext = name.rsplit(".", 1)
    return f"{stem}.{variant}.{ext}"


def weight_files(folder: Path, *, use_safetensors: bool | None = None, variant: str | None = None) -> list[Path]:
    """The tensor files of a checkpoint folder, shards in index order; safetensors preferred.

    Args:
        use_safetensors: True: safetensors only; False: pytorch_model.bin only; None: either.
        variant: the files of that variant (``model.fp16.safetensors``, ...), as transformers.
    """
    formats = [(SAFE_INDEX, SAFE_WEIGHTS), (TORCH_INDEX, TORCH_WEIGHTS)]
    if use_safetensors is not None:
        formats = formats[:1] if use_safetensors else formats[1:]
    for index_name, single_name in formats:
        index_name, single_name = add_variant(index_name, variant), add_variant(single_name, variant)
        if (folder / single_name).is_file():
            return [folder / single_name]
        if (folder / index_name).is_file():
            shards = _index_shards(folder / index_name)
            missing = [name for name in shards if not (folder / name).is_file()]
            if missing:
                raise FileNotFoundError(f"{folder / index_name} lists shards that are missing: {', '.join(missing)}")
            return [folder / name for name in shards]
    expected = [add_variant(name, variant) for pair in formats for name in pair[::-1]]
    raise FileNotFoundError(f"{folder} holds no weights: expected one of {', '.join(expected)}")


def _index_shards(path: Path) -> list[str]:
    """The shard file names of a sharded checkpoint's index, each a plain name in its folder."""
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise ValueError(f'{path} needs a "weight_map" object of tensor names to shard file names')
    shards = sorted(set(weight_map.values()))
    for name in shards:
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"{path} names the shard {name!r}; a shard is a file name in the same folder")
    return shards


def read_tensors(files: Iterable[Path], *, weights_only: bool = True) -> dict[str, torch.Tensor]:
    """All tensors of the files, memory-mapped where the format allows (no eager copy).

    Args:
        weights_only: unpickle .bin files with torch's safe loader (a pickle from the internet
            must not run code); False only for a trusted file that needs more.
    """
    tensors: dict[str, torch.Tensor] = {}
    for file in files:
        tensors.update(read_safetensors(file) if file.suffix == ".safetensors" else _read_pickle(file, weights_only))
    return tensors


def _read_pickle(file: Path, weights_only: bool) -> dict[str, torch.Tensor]:
    """A torch.save file: memory-mapped when it is a zip (torch >= 1.6), read whole when it is
    the older format (mmap cannot read it; transformers loads both)."""
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before it fails
            warnings.simplefilter("ignore")
            state = torch.load(file, map_location="cpu", weights_only=weights_only, mmap=zipfile.is_zipfile(file))
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError... for a bad file
        text = str(err).partition("WeightsUnpickler error:")
        lines = [line.strip() for line in (text[2] or text[0]).splitlines() if line.strip()]
        problem = lines[0] if lines else type(err).__name__
        if text[2]:
            raise ValueError(
                f"{file} cannot be read by torch's safe loader (weights_only=True): {problem}; it is not a "
                "torch.save file of tensors, or it holds objects that could run code"
            ) from err
        raise ValueError(f"{file} is not a readable PyTorch checkpoint: {problem}") from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{file} holds a {type(state).__name__}, not a dict of tensor names to tensors")
    return state


_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}


def read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file, each read into its own memory with plain reads.

    A memory map (what safetensors' loaders use) keeps the whole file mapped while any tensor
    lives, and its pages count as resident once touched: packing the layers would then hold the
    file and the packed copy at once. Here each tensor owns its bytes, so replacing one frees it.
    The format (an 8-byte header size, a JSON header of dtype/shape/offsets, then the data) is
    the documented safetensors layout.
    """
    with open(file, "rb") as handle:
        entries, start = _safetensors_header(file, handle)
        tensors = {}
        for name, (dtype, shape, begin, end) in entries:
            tensor = torch.empty(shape, dtype=dtype)
            handle.seek(start + begin)
            if tensor.numel() and handle.readinto(tensor.view(-1).view(torch.uint8).numpy().data) != end - begin:
                raise ValueError(f"{file} ends inside tensor {name}: the file is truncated")
            tensors[name] = tensor
    return tensors


def _safetensors_header(
    file: Path, handle: Any
) -> tuple[list[tuple[str, tuple[torch.dtype, list[int], int, int]]], int]:
    """The checked header of a .safetensors file: (name, (dtype, shape, begin, end)) by offset,
    and where the data starts. Everything is checked before any tensor is allocated, so that a
    hostile header costs no memory: sizes against the file's, shapes against their byte counts,
    offsets inside the data and not overlapping."""
    size = os.fstat(handle.fileno()).st_size
    header_size = int.from_bytes(handle.read(8), "little")
    if size < 8 or header_size > size - 8:
        raise ValueError(f"{file} is not a safetensors file: its header length ({header_size}) exceeds its size")
    try:
        header = json.loads(handle.read(header_size).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{file} is not a safetensors file: its header is not JSON ({err})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{file}: the safetensors header is a JSON {type(header).__name__}, not an object")
    data_size = size - 8 - header_size
    entries = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        where = f"{file}: tensor {name!r}"
        if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
            raise ValueError(f"{where} must be an object with dtype, shape and data_offsets, got {entry!r:.80}")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _SAFETENSORS_DTYPES:
            raise ValueError(f"{where} has dtype {dtype!r:.40}; valid: {', '.join(_SAFETENSORS_DTYPES)}")
        if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
            raise ValueError(f"{where} has shape {shape!r:.80}; a shape is a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(n) is int for n in offsets)):
            raise ValueError(f"{where} has data_offsets {offsets!r:.80}; expected [begin, end]")
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            raise ValueError(f"{where} has data_offsets {offsets} outside the file's {data_size} bytes of data")
        nbytes = math.prod(shape) * _SAFETENSORS_DTYPES[dtype].itemsize
        if end - begin != nbytes:
            raise ValueError(f"{where} holds {end - begin} bytes, but shape {shape} of {dtype} needs {nbytes}")
        entries.append((name, (_SAFETENSORS_DTYPES[dtype], shape, begin, end)))
    entries.sort(key=lambda item: item[1][2:])
    for (before, (*_, end)), (name, (_, _, begin, _)) in zip(entries, entries[1:]):
        if begin < end:
            raise ValueError(f"{file}: tensors {before!r} and {name!r} overlap in the file's data")
    return entries, 8 + header_size


def resolve_dtype(
    dtype: str | torch.dtype | None, tensors: Mapping[str, torch.Tensor], config_dtype: str | None
) -> torch.dtype:
    """``None`` -> float32 (as transformers); "auto" -> the checkpoint's own dtype."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        if config_dtype in DTYPES:
            return DTYPES[config_dtype]
        floating = [t.dtype for t in tensors.values() if t.is_floating_point()]
        return floating[0] if floating else torch.float32
    if dtype in DTYPES:
        return DTYPES[dtype]
    raise ValueError(f"dtype {dtype!r} is not supported; valid: 'auto', {', '.join(sorted(DTYPES))} or a torch.dtype")


@dataclass
class LoadingInfo:
    """What loading found, as transformers' ``output_loading_info`` reports it."""

    missing_keys: list[str] = field(default_factory=list)  # parameters the checkpoint lacks
    unexpected_keys: list[str] = field(default_factory=list)  # tensors the model has no place for
    mismatched_keys: list[str] = field(default_factory=list)  # tensors of another shape (not loaded)
    error_msgs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "missing_keys": self.missing_keys,
            "unexpected_keys": self.unexpected_keys,
            "mismatched_keys": self.mismatched_keys,
            "error_msgs": self.error_msgs,
        }


def load_weights(
    model: nn.Module,
    tensors: Mapping[str, torch.Tensor],
    *,
    dtype: torch.dtype,
    device: str | torch.device | None = None,
    source: str = "checkpoint",
    strict: bool = True,
    ignore_mismatched_sizes: bool = False,
) -> LoadingInfo:
    """Assign ``tensors`` to ``model`` (built on the meta device) without a second copy.

    Args:
        strict: raise on keys missing from or unknown to the checkpoint; with False they are
            reported, and the parameters not loaded stay on the meta device for the caller to fill.
        ignore_mismatched_sizes: report tensors whose shape differs from the parameter's (left
            unloaded) instead of raising.

    Raises:
        ValueError: keys missing from or unknown to the model, or a tensor whose shape differs
            from the parameter's; every offending name is listed with both shapes.
    """
    expected = model.state_dict()
    given = {k: v for k, v in tensors.items() if not any(part in k for part in IGNORED_KEY_PARTS)}
    bare = [k[len("model.") :] for k in TIED_EMBEDDING_KEYS if k.startswith("model.")]
    tied = [k for k in (*TIED_EMBEDDING_KEYS, *bare) if k in expected]
    if getattr(getattr(model, "config", None), "tie_word_embeddings", True) is False:
        tied = [k for k in tied if k != "lm_head.weight"]
    stored = next((given[k] for k in tied if k in given), None)
    if stored is not None:
        for key in tied:
            given.setdefault(key, stored)
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    mismatched = sorted(k for k in set(given) & set(expected) if given[k].shape != expected[k].shape)
    problems = []
    if missing and strict:
        problems.append(f"missing from the {source} ({len(missing)}): {_listing(missing)}")
    if unexpected and strict:
        problems.append(f"unknown to the model ({len(unexpected)}): {_listing(unexpected)}")
    if mismatched and not ignore_mismatched_sizes:
        shapes = [f"{k}: checkpoint {tuple(given[k].shape)} vs model {tuple(expected[k].shape)}" for k in mismatched]
        problems.append(f"shapes that do not fit the config ({len(mismatched)}): {_listing(shapes)}")
    if problems:
        raise ValueError(f"cannot load the {source}:\n  " + "\n  ".join(problems))
    target = torch.device(device) if device is not None else torch.device("cpu")
    skip = set(unexpected) | set(mismatched)
    converted = {k: _convert(v, dtype, target) for k, v in given.items() if k not in skip}
    model.load_state_dict(converted, assign=True, strict=not (missing or mismatched))
    return LoadingInfo(missing, unexpected, mismatched)


def _convert(tensor: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if tensor.is_floating_point():
        tensor = tensor.to(dtype=dtype)
    return tensor.to(device=device)


def _listing(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... and {len(names) - limit} more" if len(names) > limit else "")


SIZE_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


def parse_size(size: int | str) -> int:
    """Bytes from an int or a string such as "5GB" or "200MB" (huggingface_hub's units)."""
    if isinstance(size, int):
        return size
    text = size.strip()
    unit = text[-2:].upper()
    try:
        return int(float(text[:-2].strip()) * SIZE_UNITS[unit])
    except (KeyError, ValueError):
        raise ValueError(f"cannot read the size {size!r}: give bytes or a number with KB, MB, GB or TB") from None


def _storage_key(tensor: torch.Tensor) -> tuple[Any, ...]:
    return (tensor.device, tensor.untyped_storage().data_ptr())


def split_into_shards(tensors: Mapping[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    """Split in order into shards of at most ``max_bytes`` (a bigger tensor gets a shard of its
    own); tensors sharing storage go into the same shard (huggingface_hub's rule)."""
    shards: list[dict[str, torch.Tensor]] = []
    current: dict[str, torch.Tensor] = {}
    size = 0
    placed: dict[tuple[Any, ...], dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        key = _storage_key(tensor)
        if key in placed:
            placed[key][name] = tensor
            continue
        nbytes = tensor.numel() * tensor.element_size()
        if nbytes > max_bytes:
            shards.append({name: tensor})
            placed[key] = shards[-1]
            continue
        if current and size + nbytes > max_bytes:
            shards.append(current)
            current, size = {}, 0
        current[name] = tensor
        size += nbytes
        placed[key] = current
    if current:
        shards.append(current)
    return shards


def save_state_dict(
    tensors: Mapping[str, torch.Tensor],
    folder: Path,
    *,
    safe_serialization: bool = True,
    max_shard_size: int | str = "5GB",
    variant: str | None = None,
    save_function: Callable[[Any, str], Any] = torch.save,
    tied_keys: Iterable[str] = (),
    total_parameters: int | None = None,
) -> list[Path]:
    """Write ``tensors`` as transformers does: model.safetensors (``tied_keys`` left out, the tied
    matrix stored once) or, with ``safe_serialization=False``, pytorch_model.bin (every name:
    torch.save keeps shared storage shared); past ``max_shard_size``, numbered shards and an
    index ({"metadata": {"total_size", "total_parameters"}, "weight_map"}). Weight files of an
    earlier save in the same format that this one does not write are removed.

    Returns:
        The files written (weights and index).
    """
    single = add_variant(SAFE_WEIGHTS if safe_serialization else TORCH_WEIGHTS, variant)
    index_name = add_variant(SAFE_INDEX if safe_serialization else TORCH_INDEX, variant)
    skip = set(tied_keys) if safe_serialization else set()
    state: dict[str, torch.Tensor] = {}
    seen: set[tuple[Any, ...]] = set()
    for key, value in tensors.items():
        if key in skip:
            continue
        value = value.detach()
        if safe_serialization:
            value = value.contiguous()
            if _storage_key(value) in seen:  # safetensors refuses two names for one storage
                value = value.clone()
            seen.add(_storage_key(value))
        state[key] = value
    shards = split_into_shards(state, parse_size(max_shard_size))
    stem, ext = single.rsplit(".", 1)
    names = (
        [single]
        if len(shards) == 1
        else [f"{stem}-{i:05d}-of-{len(shards):05d}.{ext}" for i in range(1, len(shards) + 1)]
    )
    shard_pattern = re.compile(re.escape(stem) + r"-\d{5}-of-\d{5}\." + re.escape(ext))
    for old in folder.iterdir():
        if old.name not in names and (shard_pattern.fullmatch(old.name) or old.name in (single, index_name)):
            old.unlink()
    written = []
    for name, shard in zip(names, shards):
        path = folder / name
        tmp = path.with_name(path.name + ".tmp")
        if safe_serialization:
            save_file({k: v.contiguous() for k, v in shard.items()}, str(tmp), metadata={"format": "pt"})
        else:
            save_function(shard, str(tmp))
        os.chmod(tmp, _FILE_MODE)  # safetensors creates its file owner-only; others may read a checkpoint
        os.replace(tmp, path)  # never leave a half-written checkpoint behind
        written.append(path)
    if len(shards) > 1:
        total = sum(t.numel() * t.element_size() for t in {_storage_key(t): t for t in state.values()}.values())
        metadata: dict[str, int] = {"total_size": total}
        if total_parameters is not None:
            metadata["total_parameters"] = total_parameters
        weight_map = {key: name for name, shard in zip(names, shards) for key in shard}
        index = {"metadata": metadata, "weight_map": dict(sorted(weight_map.items()))}
        (folder / index_name).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(folder / index_name)
    return written


def check_output_folder(out: Path, overwrite: bool) -> None:
    """Refuse to write a checkpoint folder over a file, or over a non-empty folder unless ``overwrite``.

    Raises:
        FileExistsError: naming the folder and ``--overwrite``.
    """
    if (out.exists() and not out.is_dir()) or (out.is_dir() and any(out.iterdir()) and not overwrite):
        raise FileExistsError(f"{out} exists and is not empty; pass --overwrite (overwrite=True) to replace it")


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A folder beside ``out`` to write a checkpoint into, renamed to ``out`` once the block ends
    without an error (removed if it raises), so that ``out`` appears complete or not at all; an old
    ``out`` is removed only once the new one is in place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()  # not mkdtemp: its 0700 mode would stay on the folder
    try:
        yield staging
        if out.is_dir() and any(out.iterdir()):
            old = staging.with_suffix(".old")
            os.replace(out, old)
            os.replace(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out)  # an empty folder is replaced in one step
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
