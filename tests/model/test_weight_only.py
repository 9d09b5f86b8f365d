"""The latency mode's int4-weight layer (m2m100.model.weight_only) and quantize="int4-weight"."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import m2m100
from m2m100.model.quantize import Int8Linear, quantize_model
from m2m100.model.weight_only import Int4Linear, int4_quantize, pack_nibbles, unpack_nibbles
from tests.checkpoints import save_hf_checkpoint


def _dequantized(codes: torch.Tensor, scale_and_zero: torch.Tensor) -> torch.Tensor:
    out_features, in_features = codes.shape
    groups = codes.float().reshape(out_features, scale_and_zero.shape[1], -1)  # (N, G, g)
    return ((groups - 8) * scale_and_zero[..., :1] + scale_and_zero[..., 1:]).reshape(out_features, in_features)


@pytest.mark.parametrize(
    "out_features, in_features",
    [(96, 64), (2103, 256), (20000, 32)],  # plain; rows not a multiple of 16; rows over one slice of the kernel
)
def test_the_layer_computes_its_dequantized_weight_in_bf16(out_features, in_features):
    weight = torch.randn(out_features, in_features) / in_features**0.5
    bias = torch.randn(out_features)
    layer = Int4Linear.from_float(weight, bias)
    x = torch.randn(3, 2, in_features)
    codes, scale_and_zero = int4_quantize(weight)
    exact = F.linear(x, _dequantized(codes, scale_and_zero), bias)
    out = layer(x)
    assert out.shape == (3, 2, out_features) and out.dtype == torch.float32
    # bf16 activations: about 2-3 significant digits
    assert (out - exact).norm() / exact.norm() < 0.01
    # and int4 weights are near the float ones: within the rounding of 16 levels a group
    float_out = F.linear(x, weight, bias)
    assert 0.01 < (out - float_out).norm() / float_out.norm() < 0.1


def test_codes_pack_two_a_byte_and_unpack_to_the_same():
    codes = torch.randint(0, 16, (5, 8), dtype=torch.uint8)
    packed = pack_nibbles(codes)
    assert packed.shape == (5, 4) and packed.dtype == torch.uint8
    assert packed[0, 0] == codes[0, 0] | (codes[0, 1] << 4)
    assert torch.equal(unpack_nibbles(packed), codes)


def test_group_quantization_keeps_the_extremes_of_each_group():
    weight = torch.randn(4, 64)
    codes, scale_and_zero = int4_quantize(weight)
    assert scale_and_zero.shape == (4, 2, 2)
    restored = _dequantized(codes, scale_and_zero)
    groups, back = weight.reshape(4, 2, 32), restored.reshape(4, 2, 32)
    torch.testing.assert_close(back.amin(-1), groups.amin(-1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(back.amax(-1), groups.amax(-1), atol=1e-5, rtol=1e-5)
    step = (groups.amax(-1) - groups.amin(-1)) / 15
    assert ((back - groups).abs() <= step[..., None] / 2 + 1e-5).all()


def test_input_features_must_fill_whole_groups():
    with pytest.raises(ValueError, match="int4 needs input features in multiples of 32, got 48"):
        Int4Linear.from_float(torch.randn(16, 48), None)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save_hf_checkpoint(tmp_path_factory.mktemp("int4"), d_model=64, encoder_ffn_dim=128, decoder_ffn_dim=128)


def test_int4_weight_model_stays_close_to_float_and_generates(folder):
    full = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)
    int4 = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, quantize="int4-weight")
    assert isinstance(int4.lm_head, Int4Linear)
    assert isinstance(int4.model.decoder.layers[0].self_attn.qkv_proj, Int4Linear)  # q, k, v fused
    assert not any(isinstance(m, (nn.Linear, Int8Linear)) for m in int4.modules())
    ids = torch.tensor([[150, 5, 6, 7, 8, 2], [151, 9, 10, 2, 1, 1]])
    mask = (ids != 1).long()
    dec = torch.tensor([[2, 150, 7, 8], [2, 151, 9, 10]])
    with torch.no_grad():
        a = full(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        b = int4(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
    error = (a - b).norm() / a.norm()
    # each int4 layer is ~5% off on random weights, and the errors of 4 layers compound; a wrong
    # layout or scale gives errors of 100% and more
    assert 0 < error < 0.3, error
    for beams in (1, 2):
        out = int4.generate(
            input_ids=ids, attention_mask=mask, num_beams=beams, max_new_tokens=5, forced_bos_token_id=150
        )
        assert out.shape == (2, 6) and (out[:, 1] == 150).all()
    # the cached step computes what the whole sequence computes
    uncached = int4.generate(input_ids=ids, attention_mask=mask, max_new_tokens=5, use_cache=False)
    assert torch.equal(int4.generate(input_ids=ids, attention_mask=mask, max_new_tokens=5), uncached)


def test_int4_weight_refuses_other_devices_and_dtypes(folder):
    model = m2m100.M2M100ForConditionalGeneration.from_pretrained(folder).to("meta")
    with pytest.raises(ValueError, match="quantize='int4-weight' runs on CPU only"):
        quantize_model(model, "int4-weight")
    if torch.cuda.is_available():  # elsewhere "cuda" is refused before the quantization is looked at
        with pytest.raises(ValueError, match="quantize='int4-weight' runs on CPU only, not on 'cuda'"):
            m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, device="cuda", quantize="int4-weight")
    with pytest.raises(ValueError, match="quantize='int4-weight' quantizes float32 weights"):
        m2m100.M2M100ForConditionalGeneration.from_pretrained(folder, dtype="bfloat16", quantize="int4-weight")
