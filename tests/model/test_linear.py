"""The CPU linear kernels: oneDNN inference path and int8 quantization."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import m2m100
from m2m100.model.linear import Linear, linear, unpack_weights, use_onednn
from m2m100.model.quantize import Int8Linear
from tests.checkpoints import save_hf_checkpoint


@pytest.mark.parametrize("shape", [(1, 64), (3, 5, 64), (64, 1, 64)])
def test_onednn_path_equals_f_linear(shape):
    torch.manual_seed(0)
    layer = Linear(64, 96)
    x = torch.randn(*shape)
    with torch.no_grad():
        assert use_onednn(x, layer.weight) == torch.backends.mkldnn.is_available()
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(
            linear(x, layer.weight, layer.bias, activation="relu"),
            F.relu(F.linear(x, layer.weight, layer.bias)),
            atol=1e-5,
            rtol=1e-5,
        )


def test_gradients_take_the_autograd_path():
    layer = Linear(8, 4)
    x = torch.randn(2, 8, requires_grad=True)
    assert not use_onednn(x, layer.weight)
    layer(x).sum().backward()
    torch.testing.assert_close(x.grad, layer.weight.sum(0).expand(2, 8))


def test_int8_model_stays_close_to_float(tmp_path):
    folder = save_hf_checkpoint(tmp_path, d_model=64, encoder_ffn_dim=128, decoder_ffn_dim=128)
    full = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    int8 = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, quantize="int8")
    assert isinstance(int8.lm_head, Int8Linear)
    ids = torch.tensor([[150, 5, 6, 7, 8, 2], [151, 9, 10, 2, 1, 1]])
    mask = (ids != 1).long()
    dec = torch.tensor([[2, 150, 7, 8], [2, 151, 9, 10]])
    with torch.no_grad():
        a = full(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        b = int8(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
    error = (a - b).abs().max() / a.abs().max()
    assert 0 < error < 0.05, error  # quantized (not the same numbers) yet close
    out = int8.generate(input_ids=ids, attention_mask=mask, num_beams=2, max_new_tokens=5, forced_bos_token_id=150)
    assert out.shape[0] == 2 and (out[:, 1] == 150).all()
    with pytest.raises(ValueError, match="valid: int8"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, quantize="int4")


@pytest.mark.parametrize("activation", [None, "relu"])
def test_int8_inputs_are_never_saturated(activation):
    """Inputs at the top of their range against weights of one sign: the worst case for FBGEMM's
    int16 pair sums. The layer uses 8-bit inputs only where its kernels accumulate in int32
    (AVX512-VNNI), so its output is the exact product of the quantized operands either way."""
    from m2m100.model.quantize import FULL_RANGE_INPUTS, _int8_linear

    g = torch.Generator().manual_seed(0)
    weight = torch.rand(64, 256, generator=g) + 0.5  # every weight near its row's int8 maximum
    layer = _int8_linear(weight, None)
    x = torch.rand(4, 256, generator=g) * 0.1 + 3.0  # inputs near the top of the quantized range
    x[:, 0] = -1.0  # a negative value, so the zero point is not 0
    scale, zero = torch._choose_qparams_per_tensor(x, not FULL_RANGE_INPUTS)
    levels = 127 if not FULL_RANGE_INPUTS else 255
    x_hat = (torch.clamp(torch.round(x / scale) + zero, 0, levels) - zero) * scale
    quantized, _ = torch.ops.quantized.linear_unpack(layer.packed)
    expected = x_hat.double() @ quantized.dequantize().double().T
    if activation == "relu":
        expected = expected.clamp_min(0)
    out = layer(x, activation=activation)
    torch.testing.assert_close(out.double(), expected, rtol=1e-4, atol=1e-3)


def test_int8_fused_qkv_equals_separate_quantized_projections(tmp_path, monkeypatch):
    """Self-attention q/k/v run as one int8 GEMM; torch.ao's per-layer modules on the same float
    weights give the same logits (one activation scale either way, weights per output channel).
    torch.ao's modules always take 7-bit inputs, so ours do too here."""
    import warnings

    monkeypatch.setattr("m2m100.model.quantize.FULL_RANGE_INPUTS", False)

    from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig

    folder = save_hf_checkpoint(tmp_path, d_model=64, encoder_ffn_dim=128, decoder_ffn_dim=128)
    fused = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, quantize="int8")
    separate = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    unpack_weights(separate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, module in [(n, m) for n, m in separate.named_modules() if isinstance(m, torch.nn.Linear)]:
            plain = torch.nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
            plain.load_state_dict(module.state_dict())
            plain.qconfig = per_channel_dynamic_qconfig
            parent, _, child = name.rpartition(".")
            setattr(separate.get_submodule(parent) if parent else separate, child, DynamicQuantLinear.from_float(plain))
    attn = fused.model.decoder.layers[0].self_attn
    assert isinstance(attn.qkv_proj, Int8Linear) and attn.qkv_proj.out_features == 3 * 64 and attn.q_proj is None
    assert fused.model.decoder.layers[0].encoder_attn.qkv_proj is None  # cross-attention: q and k/v differ
    ids = torch.tensor([[150, 5, 6, 7, 8, 2], [151, 9, 10, 2, 1, 1]])
    dec = torch.tensor([[2, 150, 7, 8], [2, 151, 9, 10]])
    with torch.no_grad():
        a = fused(input_ids=ids, attention_mask=(ids != 1).long(), decoder_input_ids=dec).logits
        b = separate(input_ids=ids, attention_mask=(ids != 1).long(), decoder_input_ids=dec).logits
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def _logits(model, ids=((5, 6, 7, 2),), dec=((2, 9, 10),)):
    with torch.no_grad():
        return model(input_ids=torch.tensor(ids), decoder_input_ids=torch.tensor(dec)).logits


def test_loaded_weights_are_plain_tensors(tmp_path):
    """Every parameter works with any torch operation and every way of saving it, while the
    decoder's per-step layers keep a packed copy beside it for CPU inference."""
    import copy
    import io

    from safetensors.torch import load_file, load_model, save_model

    folder = save_hf_checkpoint(tmp_path / "hf")
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    if torch.backends.mkldnn.is_available():
        layer = model.model.decoder.layers[0].fc1
        assert layer.pack and layer.packed_weight() is not None and layer.packed_weight().is_mkldnn
        assert not model.model.encoder.layers[0].fc1.pack  # run once per batch: the reorder is amortised
        assert not model.model.decoder.layers[0].encoder_attn.k_proj.pack  # once per input
    assert not any(p.is_mkldnn for p in model.parameters())
    state = model.state_dict()
    assert all(torch.equal(v, v.clone()) and (v == v).all() for v in state.values() if v.is_floating_point())
    assert float(sum(p.detach().sum() for p in model.parameters())) == pytest.approx(
        float(sum(p.detach().numpy().sum() for p in model.parameters())), rel=1e-4
    )
    save_model(model, str(tmp_path / "x.safetensors"))  # safetensors' own helper for tied weights
    load_model(m2m100.M2M100ForConditionalGeneration(model.config), str(tmp_path / "x.safetensors"))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    reloaded = torch.load(buffer, weights_only=True)
    original = load_file(str(folder / "model.safetensors"))
    assert all(torch.equal(reloaded[k], original[k]) for k in original)
    torch.save(model, io.BytesIO())  # the whole module pickles (the packed copies are left out)
    twin = copy.deepcopy(model)
    fresh = m2m100.M2M100ForConditionalGeneration(model.config).eval()
    fresh.load_state_dict(state)
    expected = _logits(model)
    torch.testing.assert_close(_logits(twin), expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(_logits(fresh), expected, atol=1e-4, rtol=0)
    model.save_pretrained(tmp_path / "ours")
    saved = load_file(str(tmp_path / "ours" / "model.safetensors"))
    assert saved.keys() == original.keys() and all(torch.equal(saved[k], original[k]) for k in saved)


@pytest.mark.parametrize("edit", ["data", "no_grad", "load_state_dict", "assign"])
def test_weight_edits_reach_the_packed_copy(tmp_path, edit):
    """However a packed layer's weight changes, the next call computes with the new values."""
    folder = save_hf_checkpoint(tmp_path / "hf")
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    reference = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    unpack_weights(reference)
    for m in reference.modules():
        if isinstance(m, Linear):
            m.pack = False
    _logits(model)  # the packed copies are in use
    delta = torch.randn_like(model.model.decoder.layers[0].fc1.weight) * 0.05
    for m in (model, reference):
        layer = m.model.decoder.layers[0].fc1
        if edit == "data":  # as PEFT merges a LoRA adapter
            layer.weight.data += delta
        elif edit == "no_grad":
            with torch.no_grad():
                layer.weight.add_(delta)
        elif edit == "load_state_dict":
            layer.load_state_dict({"weight": layer.weight.detach() + delta, "bias": layer.bias.detach()})
        else:
            layer.weight = torch.nn.Parameter(layer.weight.detach() + delta)
    assert not torch.allclose(_logits(reference), _logits(reference.__class__(reference.config).eval()))
    torch.testing.assert_close(_logits(model), _logits(reference), atol=1e-4, rtol=0)


def test_training_drops_the_packed_copies_and_inference_rebuilds_them(tmp_path):
    folder = save_hf_checkpoint(tmp_path / "hf")
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    if not torch.backends.mkldnn.is_available():
        pytest.skip("this torch build has no oneDNN")
    layer = model.model.decoder.layers[0].fc1
    model.train()
    assert layer._packed is None
    model.eval()
    _logits(model)
    assert layer._packed is not None
    model.to(torch.bfloat16)
    assert model.dtype == torch.bfloat16 and layer._packed is None
    _logits(model)
    assert layer._packed is not None and layer._packed.dtype == torch.bfloat16
