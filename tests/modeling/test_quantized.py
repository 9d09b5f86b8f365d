"""int8 checkpoints on disk (m2m100.modeling.quantized): saved as they run, loaded without
quantizing, computing exactly what quantizing the float checkpoint at load computes."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
from safetensors.torch import load_file, save_file

from m2m100 import M2M100ForConditionalGeneration
from m2m100.model.quantize import Int8Linear
from m2m100.model.weight_only import Int4Linear
from tests.checkpoints import save_hf_checkpoint

INPUT = torch.tensor([[5, 6, 7, 8, 2], [9, 10, 2, 1, 1]])
MASK = (INPUT != 1).long()


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("int8")
    float_folder = save_hf_checkpoint(root / "float", tie_word_embeddings=True)
    quantized = M2M100ForConditionalGeneration.from_pretrained(float_folder, quantize="int8")
    quantized.save_pretrained(root / "int8")
    return float_folder, root / "int8"


def test_the_folder_says_it_is_int8_and_stores_int8_weights(folders):
    _, int8 = folders
    config = json.loads((int8 / "config.json").read_text())
    assert config["quantization_config"] == {"quant_method": "m2m100", "weights": "int8", "format": 1}
    tensors = load_file(int8 / "model.safetensors")
    assert tensors["model.decoder.layers.0.self_attn.qkv_proj.weight"].dtype == torch.int8
    assert tensors["model.decoder.layers.0.self_attn.qkv_proj.weight"].shape == (96, 32)  # q, k, v fused
    assert tensors["lm_head.weight"].dtype == torch.int8  # the head's own int8 matrix, not the tied embedding
    assert tensors["model.shared.weight"].dtype == torch.float32
    assert not any("self_attn.q_proj" in name for name in tensors)
    assert stat.S_IMODE((int8 / "model.safetensors").stat().st_mode) == 0o666 & ~_umask()  # not owner-only


def test_loading_it_equals_quantizing_at_load(folders):
    float_folder, int8 = folders
    at_load = M2M100ForConditionalGeneration.from_pretrained(float_folder, quantize="int8")
    from_disk = M2M100ForConditionalGeneration.from_pretrained(int8)
    assert isinstance(from_disk.lm_head, Int8Linear)
    assert not any(isinstance(m, torch.nn.Linear) for m in from_disk.modules())
    with torch.no_grad():
        decoder = torch.tensor([[2, 11, 12, 13], [2, 14, 15, 16]])
        expected = at_load(INPUT, MASK, decoder_input_ids=decoder).logits
        assert torch.equal(from_disk(INPUT, MASK, decoder_input_ids=decoder).logits, expected)
    for beams in (1, 3):
        assert torch.equal(
            from_disk.generate(INPUT, MASK, num_beams=beams, max_new_tokens=8),
            at_load.generate(INPUT, MASK, num_beams=beams, max_new_tokens=8),
        )


def test_saving_it_again_gives_the_same_tensors(folders, tmp_path):
    _, int8 = folders
    M2M100ForConditionalGeneration.from_pretrained(int8).save_pretrained(tmp_path)
    first, second = load_file(int8 / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_it_runs_only_on_cpu_in_float32(folders):
    _, int8 = folders
    with pytest.raises(ValueError, match="int8 checkpoint, which runs on CPU in float32 only"):
        M2M100ForConditionalGeneration.from_pretrained(int8, dtype="bfloat16")


def test_int8_models_save_as_safetensors_only(folders, tmp_path):
    _, int8 = folders
    with pytest.raises(ValueError, match="safetensors only"):
        M2M100ForConditionalGeneration.from_pretrained(int8).save_pretrained(tmp_path, safe_serialization=False)


def _damaged(int8, tmp_path, change):
    for name in os.listdir(int8):
        (tmp_path / name).write_bytes((int8 / name).read_bytes())
    tensors = load_file(int8 / "model.safetensors")
    change(tensors)
    save_file(tensors, tmp_path / "model.safetensors", metadata={"format": "pt"})
    return tmp_path


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda t: t.pop("model.encoder.layers.1.fc2.weight_scale"),
            "fc2 lacks model.encoder.layers.1.fc2.weight_scale",
        ),
        (lambda t: t.pop("model.encoder.layers.1.fc2.weight"), "no int8 weight for model.encoder.layers.1.fc2"),
        (
            lambda t: t.update({"model.encoder.layers.1.fc2.weight": torch.zeros(5, 5, dtype=torch.int8)}),
            r"fc2.weight has shape \(5, 5\), the model's layer \(32, 64\)",
        ),
        (
            lambda t: t.update({"model.encoder.layer_norm.weight": torch.zeros(32, dtype=torch.int8)}),
            "the int8 tensor model.encoder.layer_norm.weight names no linear layer",
        ),
    ],
    ids=["scale", "weight", "shape", "not-a-linear"],
)
def test_a_damaged_checkpoint_is_refused_by_name(folders, tmp_path, change, message):
    _, int8 = folders
    with pytest.raises(ValueError, match=message):
        M2M100ForConditionalGeneration.from_pretrained(_damaged(int8, tmp_path, change))


@pytest.mark.parametrize(
    "config, message",
    [
        ({"quant_method": "bitsandbytes", "load_in_8bit": True}, "quantized with 'bitsandbytes', which this package"),
        ({"quant_method": "m2m100", "weights": "int8", "format": 2}, "is not a format this version reads"),
    ],
)
def test_other_quantizations_are_refused(folders, tmp_path, config, message):
    float_folder, _ = folders
    for name in os.listdir(float_folder):
        (tmp_path / name).write_bytes((float_folder / name).read_bytes())
    data = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**data, "quantization_config": config}))
    with pytest.raises(ValueError, match=message):
        M2M100ForConditionalGeneration.from_pretrained(tmp_path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture(scope="module")
def int4_folder(folders, tmp_path_factory):
    float_folder, _ = folders
    out = tmp_path_factory.mktemp("int4") / "int4"
    M2M100ForConditionalGeneration.from_pretrained(float_folder, quantize="int4-weight").save_pretrained(out)
    return out


def test_an_int4_weight_folder_stores_two_codes_a_byte(int4_folder):
    config = json.loads((int4_folder / "config.json").read_text())
    assert config["quantization_config"] == {"quant_method": "m2m100", "weights": "int4-weight", "format": 1}
    tensors = load_file(int4_folder / "model.safetensors")
    qkv = "model.decoder.layers.0.self_attn.qkv_proj"
    assert tensors[f"{qkv}.weight"].dtype == torch.uint8
    assert tensors[f"{qkv}.weight"].shape == (96, 16)  # q, k, v fused; 32 inputs, two a byte
    assert tensors[f"{qkv}.weight_scale"].shape == tensors[f"{qkv}.weight_zero"].shape == (96, 1)  # groups of 32
    assert tensors["lm_head.weight"].dtype == torch.uint8
    assert tensors["model.shared.weight"].dtype == torch.float32


def test_loading_int4_weight_equals_quantizing_at_load(folders, int4_folder, tmp_path):
    float_folder, _ = folders
    at_load = M2M100ForConditionalGeneration.from_pretrained(float_folder, quantize="int4-weight")
    from_disk = M2M100ForConditionalGeneration.from_pretrained(int4_folder)
    assert isinstance(from_disk.lm_head, Int4Linear)
    assert not any(isinstance(m, (torch.nn.Linear, Int8Linear)) for m in from_disk.modules())
    with torch.no_grad():
        decoder = torch.tensor([[2, 11, 12, 13], [2, 14, 15, 16]])
        expected = at_load(INPUT, MASK, decoder_input_ids=decoder).logits
        assert torch.equal(from_disk(INPUT, MASK, decoder_input_ids=decoder).logits, expected)
    assert torch.equal(
        from_disk.generate(INPUT, MASK, max_new_tokens=8), at_load.generate(INPUT, MASK, max_new_tokens=8)
    )
    from_disk.save_pretrained(tmp_path)  # and saving it again writes the same tensors
    first, second = load_file(int4_folder / "model.safetensors"), load_file(tmp_path / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda t: t.pop("model.encoder.layers.1.fc2.weight_zero"),
            "the int4-weight layer model.encoder.layers.1.fc2 lacks model.encoder.layers.1.fc2.weight_zero",
        ),
        (
            lambda t: t.pop("model.encoder.layers.1.fc2.weight"),
            "no int4-weight weight for model.encoder.layers.1.fc2",
        ),
        (
            lambda t: t.update({"model.encoder.layers.1.fc2.weight": torch.zeros(32, 64, dtype=torch.uint8)}),
            r"fc2.weight has shape \(32, 64\), the model's layer \(32, 32\)",  # unpacked codes: one a byte
        ),
        (
            lambda t: t.update({"model.encoder.layers.1.fc2.weight_scale": torch.ones(32, 3)}),
            r"needs a scale and zero per output row and group of input columns \(32 x 64 / a group size of 32, ",
        ),
    ],
    ids=["zero", "weight", "shape", "groups"],
)
def test_a_damaged_int4_weight_checkpoint_is_refused_by_name(int4_folder, tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        M2M100ForConditionalGeneration.from_pretrained(_damaged(int4_folder, tmp_path, change))


def test_an_int4_weight_checkpoint_runs_only_on_cpu_in_float32(int4_folder):
    with pytest.raises(ValueError, match="is an int4-weight checkpoint, which runs on CPU in float32 only"):
        M2M100ForConditionalGeneration.from_pretrained(int4_folder, dtype="bfloat16")
