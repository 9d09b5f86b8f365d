"""M2M100Config: defaults, validation and config.json round trips with transformers."""

from __future__ import annotations

import json

import pytest

from m2m100 import M2M100Config, M2M100ForConditionalGeneration
from m2m100.generation.config import GenerationConfig
from tests.bad_models import DEMO, bad_folder


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


def test_unknown_keywords_are_kept_as_transformers_does(tmp_path):
    from transformers import M2M100Config as HFConfig

    kwargs = dict(d_model=64, num_labels=3, torchscript=True, my_custom_key={"a": [1, 2]}, problem_type="regression")
    ours, ref = M2M100Config(**kwargs), HFConfig(**kwargs)
    for name in (
        "num_labels",
        "id2label",
        "label2id",
        "torchscript",
        "use_return_dict",
        "my_custom_key",
        "problem_type",
    ):
        assert getattr(ours, name) == getattr(ref, name), name
    assert ours.use_return_dict is False and ours.return_dict is True  # torchscript forces tuples
    ours.save_pretrained(tmp_path / "ours")
    back = HFConfig.from_pretrained(tmp_path / "ours")
    assert back.num_labels == 3 and back.torchscript and back.my_custom_key == {"a": [1, 2]} and back.d_model == 64
    again = M2M100Config.from_pretrained(tmp_path / "ours")
    assert again == ours and again.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    ref.save_pretrained(tmp_path / "ref")
    from_ref = M2M100Config.from_pretrained(tmp_path / "ref")
    assert from_ref.num_labels == 3 and from_ref.torchscript and from_ref.problem_type == "regression"
    # defaults of PretrainedConfig's common settings, and the label map's
    plain, plain_ref = M2M100Config(), HFConfig()
    for name in (
        "num_labels",
        "id2label",
        "torchscript",
        "is_decoder",
        "pruned_heads",
        "sep_token_id",
        "use_return_dict",
    ):
        assert getattr(plain, name) == getattr(plain_ref, name), name
    with pytest.raises(AttributeError, match="no attribute 'not_a_setting'"):
        plain.not_a_setting


def test_attribute_map_and_settable_attributes(tmp_path):
    from transformers import M2M100Config as HFConfig

    ours, ref = M2M100Config(), HFConfig()
    for config in (ours, ref):
        config.hidden_size = 64
        config.num_attention_heads = 8
        config.new_key = "kept"
        config.num_labels = 4
    for name in ("d_model", "hidden_size", "encoder_attention_heads", "num_attention_heads", "new_key", "id2label"):
        assert getattr(ours, name) == getattr(ref, name), name
    assert ours.num_hidden_layers == ref.num_hidden_layers == 12
    for config in (ours, ref):
        config.num_hidden_layers = 5  # a setting of its own in transformers: encoder_layers stays
    assert ours.num_hidden_layers == 5 and ours.encoder_layers == ref.encoder_layers == 12
    ours.save_pretrained(tmp_path)
    back = HFConfig.from_pretrained(tmp_path)
    assert back.d_model == 64 and back.encoder_attention_heads == 8 and back.new_key == "kept"
    assert back.num_hidden_layers == 5 and back.num_labels == 4
    assert M2M100Config.from_pretrained(tmp_path).num_hidden_layers == 5
    assert M2M100Config(hidden_size=48, encoder_attention_heads=4, decoder_attention_heads=4).d_model == 48
    assert M2M100Config(encoder_layers=3).num_hidden_layers == 3  # follows encoder_layers unless set
    del ours.new_key
    assert "new_key" not in ours.to_dict()
    ours.update({"dropout": 0.3, "other": 1})
    assert ours.dropout == 0.3 and ours.other == 1
    assert ours.get_text_config() is ours and ours.keys_to_ignore_at_inference == ref.keys_to_ignore_at_inference


def test_dict_and_json_round_trips(tmp_path):
    import torch
    from transformers import M2M100Config as HFConfig

    config = M2M100Config(d_model=64, encoder_layers=3, dtype=torch.float16, num_beams=4)
    data = config.to_dict()
    assert data["dtype"] == "float16" and data["model_type"] == "m2m_100" and data["num_hidden_layers"] == 3
    assert M2M100Config.from_dict(data) == config
    assert json.loads(config.to_json_string()) == data and json.loads(config.to_json_string(use_diff=False)) == data
    config.to_json_file(tmp_path / "c.json")
    assert M2M100Config.from_json_file(tmp_path / "c.json") == config
    assert HFConfig.from_json_file(tmp_path / "c.json").d_model == 64
    assert M2M100Config.from_pretrained(tmp_path / "c.json") == config  # a file, as transformers allows
    # keywords of from_dict: settings are set, others unused, as transformers
    ours, unused = M2M100Config.from_dict(data, dropout=0.25, hidden_size=32, foo=1, return_unused_kwargs=True)
    ref, ref_unused = HFConfig.from_dict(dict(data), dropout=0.25, hidden_size=32, foo=1, return_unused_kwargs=True)
    assert unused == ref_unused == {"foo": 1}
    assert ours.dropout == ref.dropout == 0.25 and ours.d_model == ref.d_model == 32


def test_from_pretrained_subfolder_and_loading_keywords(tmp_path):
    from transformers import M2M100Config as HFConfig

    HFConfig(d_model=64, encoder_layers=2).save_pretrained(tmp_path / "sub")
    config = M2M100Config.from_pretrained(
        tmp_path, subfolder="sub", proxies=None, trust_remote_code=False, resume_download=None, force_download=False
    )
    assert config.d_model == 64 and config.name_or_path == str(tmp_path)
    ref = HFConfig.from_pretrained(tmp_path, subfolder="sub")
    assert ref.d_model == config.d_model
    config, unused = M2M100Config.from_pretrained(
        tmp_path, subfolder="sub", dropout=0.0, foo=2, return_unused_kwargs=True
    )
    assert config.dropout == 0.0 and unused == {"foo": 2}
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        M2M100Config.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="d_model"):
        M2M100Config.from_pretrained(tmp_path, subfolder="sub", d_model=63)


def test_config_push_to_hub_without_the_hub_says_so(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(OSError, match="needs huggingface_hub"):
        M2M100Config().save_pretrained(tmp_path, push_to_hub=True, repo_id="me/m2m")
    assert (tmp_path / "config.json").is_file()


# The config.json of the largest public checkpoints (the sizes that matter), which must load.
NLLB_3B = dict(vocab_size=256206, d_model=2048, encoder_layers=24, decoder_layers=24, encoder_ffn_dim=8192)
NLLB_3B.update(decoder_ffn_dim=8192, encoder_attention_heads=16, decoder_attention_heads=16)
M2M100_12B = dict(vocab_size=128112, d_model=4096, encoder_layers=24, decoder_layers=24, encoder_ffn_dim=16384)
M2M100_12B.update(decoder_ffn_dim=16384, encoder_attention_heads=16, decoder_attention_heads=16)


@pytest.mark.parametrize("sizes", [NLLB_3B, M2M100_12B], ids=["nllb-3.3B", "m2m100-12B"])
def test_the_largest_real_configs_pass_the_range_checks(tmp_path, sizes):
    (tmp_path / "config.json").write_text(json.dumps({**sizes, "max_position_embeddings": 1024}))
    assert M2M100Config.from_pretrained(tmp_path).d_model == sizes["d_model"]


@pytest.mark.parametrize(
    ("field", "value", "valid"),
    [
        ("max_position_embeddings", 2_000_000, "[1, 65,536]"),
        ("max_position_embeddings", 10**9, "[1, 65,536]"),
        ("vocab_size", 10**8, "[1, 2,097,152]"),
        ("d_model", 2**20, "[1, 65,536]"),
        ("encoder_layers", 10**6, "[0, 1,024]"),
        ("decoder_ffn_dim", 10**7, "[1, 262,144]"),
        ("decoder_attention_heads", 0, "[1, 1,024]"),
        ("encoder_layers", -1, "[0, 1,024]"),
        ("d_model", 2.5, "[1, 65,536]"),
    ],
)
def test_a_hostile_size_is_refused_before_the_model_is_built(tmp_path, field, value, valid):
    folder = bad_folder(tmp_path, "positions")
    config = json.loads((folder / "config.json").read_text())
    config.update({"max_position_embeddings": 128, field: value})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError) as err:  # not after allocating a table of 2,000,000 positions
        M2M100ForConditionalGeneration.from_pretrained(folder)
    message = str(err.value)
    assert message.startswith(f"{folder / 'config.json'}: M2M100Config.{field} must be an integer in {valid}")
    assert "\n" not in message


@pytest.mark.parametrize(
    "text",
    [
        '[{"d_model": 8}]',
        '"m2m_100"',
        "{",
        '{"extra": 5}',
        '{"activation_function": ["relu"]}',
        '{"pad_token_id": "1"}',
    ],
)
def test_a_config_json_that_is_no_object_of_settings_names_the_file(tmp_path, text):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ValueError) as err:
        M2M100Config.from_pretrained(tmp_path)
    assert str(err.value).startswith(str(tmp_path / "config.json")) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[4]", "holds a JSON list"),
        ('{"num_beams": "four"}', "num_beams is 'four'; it should be a non-negative integer"),
        ('{"max_length": -5}', "max_length is -5"),
        ('{"do_sample": "yes"}', "do_sample is 'yes'; it should be true or false"),
        ('{"temperature": [1]}', "temperature is [1]; it should be a number"),
        ('{"top_k": 1.5}', "top_k is 1.5; it should be a non-negative integer or null"),
        ("\xff", "not valid JSON"),
    ],
)
def test_a_bad_generation_config_json_names_the_file_and_setting(tmp_path, text, words):
    (tmp_path / "generation_config.json").write_text(text, encoding="latin-1")
    with pytest.raises(ValueError) as err:
        GenerationConfig.from_pretrained(tmp_path)
    assert str(err.value).startswith(str(tmp_path / "generation_config.json")) and words in str(err.value)


def test_real_generation_configs_still_load(tmp_path):
    text = '{"decoder_start_token_id": [2, 2], "early_stopping": "never", "max_length": 200, "top_p": null}'
    (tmp_path / "generation_config.json").write_text(text)
    config = GenerationConfig.from_pretrained(tmp_path)
    assert config.early_stopping == "never" and config.max_length == 200
    assert GenerationConfig.from_pretrained(DEMO).num_beams >= 1
