"""M2M100Config: defaults, validation and config.json round trips with transformers."""

from __future__ import annotations

import json

import pytest

from m2m100 import M2M100Config


def test_defaults_are_the_documented_418m_shape():
    from transformers import M2M100Config as HFConfig

    ours, ref = M2M100Config(), HFConfig()
    for name in (
        "vocab_size",
        "d_model",
        "encoder_layers",
        "decoder_layers",
        "encoder_ffn_dim",
        "decoder_ffn_dim",
        "encoder_attention_heads",
        "decoder_attention_heads",
        "activation_function",
        "scale_embedding",
        "encoder_layerdrop",
        "decoder_layerdrop",
        "dropout",
        "attention_dropout",
        "activation_dropout",
        "pad_token_id",
        "bos_token_id",
        "eos_token_id",
        "decoder_start_token_id",
        "max_position_embeddings",
        "use_cache",
        "init_std",
        "is_encoder_decoder",
        "tie_word_embeddings",
    ):
        assert getattr(ours, name) == getattr(ref, name), name
    assert ours.hidden_size == 1024 and ours.num_attention_heads == 16 and ours.num_hidden_layers == 12


def test_reads_transformers_config_and_keeps_unknown_keys(tmp_path):
    from transformers import M2M100Config as HFConfig

    HFConfig(
        d_model=64, encoder_layers=3, num_beams=5, max_length=200, early_stopping=True, my_custom_key={"a": 1}
    ).save_pretrained(tmp_path)
    config = M2M100Config.from_pretrained(tmp_path)
    assert config.d_model == 64 and config.encoder_layers == 3
    assert config.num_beams == 5 and config.my_custom_key == {"a": 1}
    out = tmp_path / "ours"
    config.save_pretrained(out)
    written = json.loads((out / "config.json").read_text())
    assert written["my_custom_key"] == {"a": 1} and written["num_beams"] == 5
    assert written["model_type"] == "m2m_100" and written["num_hidden_layers"] == 3
    back = HFConfig.from_pretrained(out)
    assert back.d_model == 64 and back.encoder_layers == 3 and back.my_custom_key == {"a": 1}
    assert M2M100Config.from_pretrained(out) == config


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("d_model", 100, "divisible by encoder_attention_heads"),
        ("decoder_attention_heads", 7, "divisible by decoder_attention_heads"),
        ("activation_function", "swishy", "activation_function 'swishy'"),
        ("encoder_ffn_dim", -1, "encoder_ffn_dim"),
        ("vocab_size", 0, "vocab_size"),
        ("encoder_layers", -2, "encoder_layers"),
        ("dropout", 1.5, "dropout"),
        ("pad_token_id", 10**9, "pad_token_id"),
    ],
)
def test_impossible_values_name_the_field(field, value, words):
    with pytest.raises(ValueError, match=words):
        M2M100Config(**{field: value})


def test_unknown_activation_lists_valid_ones():
    with pytest.raises(ValueError, match="valid: .*gelu.*relu"):
        M2M100Config(activation_function="nope")


def test_wrong_model_type_and_bad_json(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bart"}))
    with pytest.raises(ValueError, match="'bart' model"):
        M2M100Config.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        M2M100Config.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        M2M100Config.from_pretrained(tmp_path / "..")
