"""Checkpoint folders with one malformed file each: the attacks on loading, written for real.

Each is the demo model's folder (files copied, the 12 MB weights linked) with one file replaced.
``BAD_FILES`` maps a case's name to (the file it breaks, how, words the error must contain).
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

from m2m100.demo import model_path

DEMO = model_path()


def raw_safetensors(path: Path, header: object, data: bytes = b"", *, header_length: int | None = None) -> None:
    """A .safetensors file written byte by byte: the 8-byte length, the JSON header, the data."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    length = len(text) if header_length is None else header_length
    path.write_bytes(struct.pack("<Q", length) + text + data)


def demo_header() -> tuple[dict, bytes]:
    """The demo model's safetensors header (parsed) and its data bytes."""
    raw = (DEMO / "model.safetensors").read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def _overlapping(path: Path) -> None:
    header, data = demo_header()
    first, second = "model.encoder.layers.0.fc1.bias", "model.encoder.layers.1.fc1.bias"
    header[second]["data_offsets"] = header[first]["data_offsets"]  # two names, the same bytes
    raw_safetensors(path, header, data)


def _json(value: object) -> Callable[[Path], None]:
    return lambda path: path.write_text(json.dumps(value), encoding="utf-8")


def _config(**changes: object) -> Callable[[Path], None]:
    config = json.loads((DEMO / "config.json").read_text(encoding="utf-8"))
    return _json({**config, **changes})


def _safetensors(header: object, data: bytes = b"\0" * 16, **options: int) -> Callable[[Path], None]:
    return lambda path: raw_safetensors(path, header, data, **options)


def _plain_pickle(path: Path) -> None:
    path.with_name("model.safetensors").unlink()
    with open(path, "wb") as f:
        pickle.dump({"model.shared.weight": [1.0, 2.0]}, f)  # a pickle, but no torch.save file


F32 = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
BAD_FILES: dict[str, tuple[str, Callable[[Path], None], tuple[str, ...]]] = {
    "positions": ("config.json", _config(max_position_embeddings=2_000_000), ("max_position_embeddings", "65,536")),
    "billion_positions": ("config.json", _config(max_position_embeddings=10**9), ("max_position_embeddings",)),
    "heads": ("config.json", _config(encoder_attention_heads=3), ("divisible", "encoder_attention_heads")),
    "config_list": ("config.json", _json([1, 2]), ("holds a JSON list", "object")),
    "config_word": ("config.json", _config(d_model="big"), ("d_model", "'big'")),
    "header_length": ("model.safetensors", _safetensors({"a": F32}, header_length=2**62), ("header length",)),
    "header_not_json": ("model.safetensors", _safetensors(b"\xff\xfe not json"), ("header is not JSON",)),
    "header_list": ("model.safetensors", _safetensors([F32]), ("JSON list", "not an object")),
    "negative_shape": (
        "model.safetensors",
        _safetensors({"a": {**F32, "shape": [-1, 4]}}),
        ("'a'", "shape [-1, 4]", "non-negative"),
    ),
    "huge_shape": (
        "model.safetensors",
        _safetensors({"a": {**F32, "shape": [10**6, 10**6]}}),
        ("'a'", "holds 16 bytes", "4000000000000"),
    ),
    "entry_not_object": ("model.safetensors", _safetensors({"a": 5}), ("'a'", "must be an object")),
    "no_dtype": (
        "model.safetensors",
        _safetensors({"a": {"shape": [2, 2], "data_offsets": [0, 16]}}),
        ("'a'", "dtype, shape and data_offsets"),
    ),
    "offsets_outside": (
        "model.safetensors",
        _safetensors({"a": {**F32, "data_offsets": [8, 24]}}),
        ("'a'", "outside the file's 16 bytes"),
    ),
    "overlap": ("model.safetensors", _overlapping, ("layers.0.fc1.bias", "layers.1.fc1.bias", "overlap")),
    "plain_pickle": ("pytorch_model.bin", _plain_pickle, ("safe loader", "weights_only=True")),
    "bad_index": (
        "model.safetensors.index.json",
        lambda path: (path.with_name("model.safetensors").unlink(), _json({"weight_map": {"a": "../x"}})(path)),
        ("'../x'", "file name in the same folder"),
    ),
    "vocab_list": ("vocab.json", _json(["<s>", "<pad>"]), ("holds a JSON list", "pieces to ids")),
    "vocab_empty": ("vocab.json", _json({}), ("is empty",)),
    "vocab_word_id": ("vocab.json", _json({"<s>": "zero"}), ("'<s>'", "non-negative integers")),
    "spm_garbage": (
        "sentencepiece.bpe.model",
        lambda path: path.write_bytes(b"garbage" * 50),
        ("not a sentencepiece model",),
    ),
    "tokenizer_config_list": ("tokenizer_config.json", _json([]), ("holds a JSON list",)),
    "added_tokens_decoder": (
        "tokenizer_config.json",
        _json({"added_tokens_decoder": {"one": "<s>"}}),
        ("added_tokens_decoder", "map ids to tokens"),
    ),
    "generation_list": ("generation_config.json", _json([4]), ("holds a JSON list", "object of settings")),
    "generation_word": ("generation_config.json", _json({"num_beams": "four"}), ("num_beams", "non-negative integer")),
    "generation_not_json": (
        "generation_config.json",
        lambda path: path.write_text("{num_beams: 4"),
        ("not valid JSON",),
    ),
}


def bad_folder(root: Path, case: str) -> Path:
    """The demo checkpoint under ``root/case`` with the file of ``case`` broken."""
    folder = root / case
    folder.mkdir(parents=True)
    for file in DEMO.iterdir():
        if file.name == "model.safetensors":
            (folder / file.name).symlink_to(file)
        else:
            shutil.copy(file, folder / file.name)
    name, breaking, _ = BAD_FILES[case]
    target = folder / name
    if target.is_symlink():
        target.unlink()
    breaking(target)
    return folder
