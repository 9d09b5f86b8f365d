"""Checkpoint loading: the formats transformers writes, strict errors, dtypes and devices."""

from __future__ import annotations

import json
import sys

import pytest
import torch

import m2m100
from m2m100 import checkpoint
from tests.bad_models import BAD_FILES, DEMO, bad_folder, demo_header, raw_safetensors
from tests.bad_models import F32 as BAD_F32
from tests.checkpoints import build_hf_model, save_hf_checkpoint


def _logits(model, ids=torch.tensor([[5, 6, 7, 2]]), dec=torch.tensor([[2, 9, 10]])):
    with torch.no_grad():
        return model(input_ids=ids, decoder_input_ids=dec).logits


@pytest.fixture(scope="module")
def hf_model():
    return build_hf_model(seed=4)


def test_sharded_safetensors_and_pytorch_bin(hf_model, tmp_path):
    reference = _logits(hf_model)
    hf_model.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    assert (tmp_path / "sharded" / "model.safetensors.index.json").is_file()
    hf_model.save_pretrained(tmp_path / "bin", safe_serialization=False)
    assert (tmp_path / "bin" / "pytorch_model.bin").is_file()
    hf_model.save_pretrained(tmp_path / "binsharded", safe_serialization=False, max_shard_size="20KB")
    for name in ("sharded", "bin", "binsharded"):
        model = m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / name)
        torch.testing.assert_close(_logits(model), reference, atol=1e-5, rtol=0)


def test_tied_embedding_under_any_name(hf_model, tmp_path):
    from safetensors.torch import load_file, save_file

    hf_model.save_pretrained(tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    tensors["lm_head.weight"] = tensors.pop("model.shared.weight")
    tensors["model.encoder.embed_positions.weights"] = torch.zeros(3)  # old checkpoints stored the table
    save_file(tensors, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path)
    assert model.lm_head.weight is model.model.shared.weight
    torch.testing.assert_close(_logits(model), _logits(hf_model), atol=1e-5, rtol=0)


def test_strict_loading_lists_missing_unexpected_and_shapes(hf_model, tmp_path):
    from safetensors.torch import load_file, save_file

    hf_model.save_pretrained(tmp_path)
    tensors = load_file(str(tmp_path / "model.safetensors"))
    del tensors["model.decoder.layers.1.fc2.bias"]
    tensors["model.decoder.layers.9.fc2.bias"] = torch.zeros(32)
    tensors["model.encoder.layers.0.fc1.weight"] = torch.zeros(65, 32)
    save_file(tensors, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError) as err:
        m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path)
    message = str(err.value)
    assert "missing" in message and "model.decoder.layers.1.fc2.bias" in message
    assert "unknown to the model" in message and "model.decoder.layers.9.fc2.bias" in message
    assert "model.encoder.layers.0.fc1.weight: checkpoint (65, 32) vs model (64, 32)" in message


def test_missing_files_are_named(hf_model, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "nowhere")
    hf_model.save_pretrained(tmp_path / "ok")
    (tmp_path / "ok" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "ok")
    (tmp_path / "ok" / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "ok")


def test_hub_id_offline_says_how_to_use_a_local_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="local folder"):
        checkpoint.resolve_checkpoint_dir("facebook/m2m100_418M_not_cached", local_files_only=True)


def test_hub_id_without_huggingface_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(OSError, match="needs huggingface_hub"):
        checkpoint.resolve_checkpoint_dir("facebook/m2m100_418M")


def test_dtype_auto_device_map_and_model_device(tmp_path):
    build_hf_model(seed=1).to(torch.bfloat16).save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == "bfloat16"
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path, dtype="auto", device_map="auto")
    assert model.dtype == torch.bfloat16 and model.device.type == "cpu"
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(
        tmp_path, torch_dtype=torch.float32, device_map={"": "cpu"}
    )
    assert model.dtype == torch.float32
    with pytest.raises(ValueError, match="dtype 'float8'"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path, dtype="float8")
    with pytest.raises(ValueError, match="one device"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path, device_map={"a": "cpu", "b": "cuda:0"})


def test_no_second_copy_of_the_weights(tmp_path):
    folder = save_hf_checkpoint(tmp_path)
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    assert not any(p.is_meta for p in model.parameters())
    assert model.lm_head.weight.data_ptr() == model.model.shared.weight.data_ptr()
    assert model.model.encoder.embed_tokens is model.model.shared


def test_untied_head_round_trip(tmp_path):
    from transformers import M2M100ForConditionalGeneration as HF

    hf = build_hf_model(seed=2, tie_word_embeddings=False)
    with torch.no_grad():
        hf.lm_head.weight.normal_()
    hf.save_pretrained(tmp_path / "hf")
    ours = m2m100.M2M100ForConditionalGeneration.from_pretrained(tmp_path / "hf")
    assert ours.lm_head.weight is not ours.model.shared.weight
    torch.testing.assert_close(_logits(ours), _logits(hf), atol=1e-5, rtol=0)
    ours.save_pretrained(tmp_path / "ours")
    torch.testing.assert_close(_logits(HF.from_pretrained(tmp_path / "ours").eval()), _logits(hf), atol=1e-5, rtol=0)


SAFETENSORS_CASES = [case for case, (name, _, _) in BAD_FILES.items() if name == "model.safetensors"]


@pytest.mark.parametrize("case", SAFETENSORS_CASES)
def test_hostile_safetensors_header_is_refused_before_any_allocation(tmp_path, case):
    name, _, words = BAD_FILES[case]
    folder = bad_folder(tmp_path, case)
    with pytest.raises(ValueError) as err:
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    message = str(err.value)
    assert str(folder / name) in message and "\n" not in message
    assert all(word in message for word in words), message


def test_safetensors_header_checks_let_real_files_through(tmp_path):
    header, data = demo_header()
    tensors = checkpoint.read_safetensors(DEMO / "model.safetensors")
    assert set(tensors) == set(header) - {"__metadata__"}
    empty = {"a": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]}, "b": dict(BAD_F32)}
    raw_safetensors(tmp_path / "zero.safetensors", empty, b"\0" * 16)  # an empty tensor beside a real one
    loaded = checkpoint.read_safetensors(tmp_path / "zero.safetensors")
    assert loaded["a"].shape == (0, 4) and loaded["b"].shape == (2, 2)


def test_legacy_torch_bin_loads_with_the_safe_loader(tmp_path):
    from safetensors.torch import load_file

    reference = load_file(str(DEMO / "model.safetensors"))
    folder = tmp_path / "legacy"
    folder.mkdir()
    for name in ("config.json", "generation_config.json"):
        (folder / name).write_bytes((DEMO / name).read_bytes())
    # What torch < 1.6 wrote (and transformers still loads): no zip, so no mmap.
    torch.save(reference, folder / "pytorch_model.bin", _use_new_zipfile_serialization=False)
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, dtype="float16")
    torch.testing.assert_close(model.model.shared.weight, reference["model.shared.weight"], atol=0, rtol=0)
    torch.testing.assert_close(
        model.model.decoder.layers[2].fc2.weight, reference["model.decoder.layers.2.fc2.weight"], atol=0, rtol=0
    )


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "config.json").write_bytes((DEMO / "config.json").read_bytes())
    marker = tmp_path / "ran"
    torch.save({"x": _RunsCode(str(marker))}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"pytorch_model.bin cannot be read by torch's safe loader") as err:
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    assert "\n" not in str(err.value) and not marker.exists()


class _RunsCode:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_paths_that_name_no_folder_are_reported_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (tmp_path / "runs").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "weights.bin").write_bytes(b"")
    for path, problem in [
        ("runs/en-fr", "does not exist"),  # README's finetune output, before it was written
        ("en-fr", "does not exist"),  # one word: no hub id has that shape
        ("./facebook/m2m100_418M", "does not exist"),
        ("owner/name with spaces", "does not exist"),
        ("owner/-name", "does not exist"),
        ("loop", "symbolic link that loops or points nowhere"),
        ("weights.bin", "not a folder"),
    ]:
        with pytest.raises(FileNotFoundError, match=problem) as err:
            checkpoint.resolve_checkpoint_dir(path)
        assert repr(path) in str(err.value)
    assert checkpoint.is_hub_id("facebook/m2m100_418M") and checkpoint.is_hub_id("facebook/nllb-200-3.3B")
    assert not checkpoint.is_hub_id("runs/x") and not checkpoint.is_hub_id("a/b/c")
    with pytest.raises(OSError, match="'facebook/m2m100_1.2B' is not a local folder, and could not be downloaded"):
        checkpoint.resolve_checkpoint_dir("facebook/m2m100_1.2B", local_files_only=True)
