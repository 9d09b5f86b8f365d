"""``m2m100 convert-fairseq``: a tiny fairseq-format checkpoint (fairseq's key names, dict.txt,
spm model) converted, then compared with the transformers model it was made from."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from m2m100 import fairseq
from m2m100.languages import M2M100_CODES

ROWS_AFTER_VOCAB = len(M2M100_CODES) + 8  # language tokens, then 8 madeupword fillers

# fairseq's TransformerEncoderLayer / TransformerDecoderLayer parameter names, written out as the
# specification of the state dict the test builds.
FAIRSEQ_ENCODER_LAYER = [f"self_attn.{p}_proj.{w}" for p in "kvq" for w in ("weight", "bias")] + [
    "self_attn.out_proj.weight",
    "self_attn.out_proj.bias",
    "self_attn_layer_norm.weight",
    "self_attn_layer_norm.bias",
    "fc1.weight",
    "fc1.bias",
    "fc2.weight",
    "fc2.bias",
    "final_layer_norm.weight",
    "final_layer_norm.bias",
]
FAIRSEQ_DECODER_LAYER = (
    FAIRSEQ_ENCODER_LAYER
    + [f"encoder_attn.{p}_proj.{w}" for p in ("k", "v", "q", "out") for w in ("weight", "bias")]
    + ["encoder_attn_layer_norm.weight", "encoder_attn_layer_norm.bias"]
)
FAIRSEQ_OTHERS = [
    "encoder.version",
    "encoder.embed_tokens.weight",
    "encoder.embed_positions._float_tensor",
    "encoder.layer_norm.weight",
    "encoder.layer_norm.bias",
    "decoder.version",
    "decoder.embed_tokens.weight",
    "decoder.embed_positions._float_tensor",
    "decoder.layer_norm.weight",
    "decoder.layer_norm.bias",
    "decoder.output_projection.weight",
]


def fairseq_args(**overrides: object) -> argparse.Namespace:
    """The architecture as fairseq saves it (transformer_wmt_en_de_big style names), TINY sizes."""
    args = dict(
        arch="transformer_wmt_en_de_big",
        encoder_embed_dim=32,
        encoder_layers=2,
        encoder_ffn_embed_dim=64,
        encoder_attention_heads=4,
        decoder_embed_dim=32,
        decoder_layers=2,
        decoder_ffn_embed_dim=64,
        decoder_attention_heads=4,
        decoder_output_dim=32,
        decoder_input_dim=32,
        max_source_positions=64,
        max_target_positions=64,
        activation_fn="relu",
        share_all_embeddings=True,
        share_decoder_input_output_embed=True,
        encoder_normalize_before=True,
        decoder_normalize_before=True,
        encoder_learned_pos=False,
        decoder_learned_pos=False,
        layernorm_embedding=False,
        no_scale_embedding=False,
        dropout=0.1,
        attention_dropout=0.1,
        relu_dropout=0.0,
        encoder_layerdrop=0.05,
        decoder_layerdrop=0.05,
        adaptive_softmax_cutoff=None,
        task="translation_multi_simple_epoch",
    )
    return argparse.Namespace(**{**args, **overrides})


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> types.SimpleNamespace:
    """The transformers model and tokenizer folder, and the fairseq files made from them by hand."""
    from tests.checkpoints import build_hf_model
    from tests.tokenizer_fixture import build_tokenizer_dir

    root = tmp_path_factory.mktemp("fairseq")
    tokenizer_dir = build_tokenizer_dir(root / "reference")
    vocab = json.loads((tokenizer_dir / "vocab.json").read_text(encoding="utf-8"))
    reference = build_hf_model(seed=3, vocab_size=len(vocab) + ROWS_AFTER_VOCAB, max_position_embeddings=64)

    hf = reference.state_dict()
    state = {k[len("model.") :]: v.clone() for k, v in hf.items() if k.startswith("model.") and "shared" not in k}
    state["decoder.embed_tokens.weight"] = state["encoder.embed_tokens.weight"]  # one tensor, as fairseq saves it
    state["decoder.output_projection.weight"] = state["encoder.embed_tokens.weight"]
    for side in ("encoder", "decoder"):
        state[f"{side}.embed_positions._float_tensor"] = torch.tensor([1.0])
        state[f"{side}.version"] = torch.tensor([3.0])
    expected = (
        FAIRSEQ_OTHERS
        + [f"encoder.layers.{i}.{n}" for i in range(2) for n in FAIRSEQ_ENCODER_LAYER]
        + [f"decoder.layers.{i}.{n}" for i in range(2) for n in FAIRSEQ_DECODER_LAYER]
    )
    assert sorted(state) == sorted(expected)
    checkpoint = root / "model.pt"
    torch.save({"args": fairseq_args(), "model": state, "optimizer_history": [], "extra_state": {}}, checkpoint)

    ordered = sorted(vocab, key=vocab.get)
    assert ordered[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    pieces = [f"{token} {1000 - i}" for i, token in enumerate(ordered[4:])]
    languages = [f"__{code}__ 1" for code in M2M100_CODES]
    fillers = [f"madeupword{i:04d} 0" for i in range(8)]
    dictionary = root / "dict.txt"
    dictionary.write_text("\n".join(pieces + languages + fillers) + "\n", encoding="utf-8")
    return types.SimpleNamespace(
        root=root,
        reference=reference,
        tokenizer_dir=tokenizer_dir,
        state=state,
        checkpoint=checkpoint,
        dictionary=dictionary,
        pieces=pieces,
        languages=languages,
        fillers=fillers,
        spm=tokenizer_dir / "sentencepiece.bpe.model",
    )


# The optional extras of the other commands (and transformers, a test dependency): convert-fairseq
# needs none of them.
OPTIONAL_MODULES = (
    "sacrebleu",
    "babel",
    "num2words",
    "fastapi",
    "uvicorn",
    "prometheus_client",
    "huggingface_hub",
    "transformers",
)


def run_cli(*args: object, hide: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """The command in a new process, with the modules ``hide`` names made unimportable."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    code = (
        f"import sys; sys.modules.update(dict.fromkeys({list(hide)!r})); "
        "from m2m100.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def converted(source: types.SimpleNamespace) -> Path:
    out = source.root / "converted"
    result = run_cli(
        "convert-fairseq",
        source.checkpoint,
        "--dict",
        source.dictionary,
        "--spm",
        source.spm,
        "-o",
        out,
        hide=OPTIONAL_MODULES,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    # The command's own report, and no log line of the library.
    assert (
        result.stderr == f"m2m100: wrote {out}: 2 + 2 layers, vocabulary {len(source.pieces) + 4} + "
        f"{len(M2M100_CODES)} languages + 8 fillers\n"
    )
    return out


def test_folder_layout(source: types.SimpleNamespace, converted: Path) -> None:
    names = {p.name for p in converted.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "vocab.json",
        "sentencepiece.bpe.model",
        "tokenizer_config.json",
        "special_tokens_map.json",
    } <= names
    assert not [p.name for p in source.root.iterdir() if p.name.startswith(".")]  # no staging folder left
    config = json.loads((converted / "config.json").read_text())
    assert (config["d_model"], config["encoder_layers"], config["decoder_ffn_dim"], config["vocab_size"]) == (
        32,
        2,
        64,
        len(source.reference.model.shared.weight),
    )
    assert (config["max_position_embeddings"], config["scale_embedding"], config["dropout"]) == (64, True, 0.1)
    generation = json.loads((converted / "generation_config.json").read_text())
    assert (generation["num_beams"], generation["decoder_start_token_id"]) == (5, 2)
    assert json.loads((converted / "vocab.json").read_text()) == json.loads(
        (source.tokenizer_dir / "vocab.json").read_text()
    )


def test_logits_match_the_weights_rearranged_by_hand(source: types.SimpleNamespace, converted: Path) -> None:
    import transformers

    from m2m100 import M2M100ForConditionalGeneration

    rows = source.reference.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(4, rows, (2, 9), generator=generator)
    input_ids[:, -1] = 2
    input_ids[1, 6:] = 1  # padding
    attention_mask = (input_ids != 1).long()
    decoder_input_ids = torch.randint(4, rows, (2, 5), generator=generator)
    decoder_input_ids[:, 0] = 2
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids)
    with torch.no_grad():
        expected = source.reference(**inputs).logits
        theirs = transformers.M2M100ForConditionalGeneration.from_pretrained(converted).eval()(**inputs).logits
        ours = M2M100ForConditionalGeneration.from_pretrained(converted)(**inputs).logits
    assert expected.abs().max() > 1.0  # far from flat: a misplaced tensor would show
    torch.testing.assert_close(theirs, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_tokenization_matches(source: types.SimpleNamespace, converted: Path) -> None:
    import transformers

    from m2m100 import M2M100Tokenizer
    from tests.tokenizer_fixture import SAMPLE_TEXTS

    reference = transformers.M2M100Tokenizer.from_pretrained(str(source.tokenizer_dir), src_lang="fr", tgt_lang="de")
    theirs = transformers.M2M100Tokenizer.from_pretrained(str(converted), src_lang="fr", tgt_lang="de")
    ours = M2M100Tokenizer.from_pretrained(converted, src_lang="fr", tgt_lang="de")
    texts = [t for t in SAMPLE_TEXTS if len(t) < 200][::3]
    expected = reference(texts, text_target=texts)
    for tokenizer in (theirs, ours):
        got = tokenizer(texts, text_target=texts)
        assert got["input_ids"] == expected["input_ids"]
        assert got["labels"] == expected["labels"]
        assert [tokenizer.get_lang_id(c) for c in M2M100_CODES] == [reference.get_lang_id(c) for c in M2M100_CODES]
        assert tokenizer.batch_decode(expected["labels"], skip_special_tokens=True) == reference.batch_decode(
            expected["labels"], skip_special_tokens=True
        )
    assert theirs.get_lang_id("af") == len(source.pieces) + 4  # the first row after the pieces


def _convert(
    source: types.SimpleNamespace,
    out: Path,
    *,
    dictionary: list[str] | None = None,
    data: dict | None = None,
    **options: object,
) -> fairseq.Conversion:
    """convert() in this process, with a changed dict.txt or checkpoint dict."""
    dict_path, checkpoint = source.dictionary, source.checkpoint
    if dictionary is not None:
        dict_path = out.parent / f"{out.name}.dict.txt"
        dict_path.write_text("\n".join(dictionary) + "\n", encoding="utf-8")
    if data is not None:
        checkpoint = out.parent / f"{out.name}.pt"
        torch.save(data, checkpoint)
    return fairseq.convert(checkpoint, dictionary=dict_path, spm=source.spm, out=out, **options)


def test_dictionary_without_language_tokens(source: types.SimpleNamespace, tmp_path: Path) -> None:
    out = _convert(source, tmp_path / "out", dictionary=source.pieces).out  # the task appends them
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert (config["language_codes"], config["num_madeup_words"]) == ("m2m100", 8)
    assert json.loads((out / "vocab.json").read_text()) == json.loads((source.tokenizer_dir / "vocab.json").read_text())


def test_wmt21_language_tokens(source: types.SimpleNamespace, tmp_path: Path) -> None:
    from m2m100.languages import WMT21_CODES

    out = _convert(source, tmp_path / "out", dictionary=source.pieces + [f"__{c}__ 1" for c in WMT21_CODES]).out
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert (config["language_codes"], config["num_madeup_words"]) == ("wmt21", len(M2M100_CODES) + 8 - 8)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p, c, f: p + [c[1], c[0]] + c[2:] + f, "__am__ has id 403, where the tokenizer puts __af__"),
        (lambda p, c, f: p[:10] + c[:1] + p[10:] + c[1:] + f, "'__af__'"),
        (lambda p, c, f: p + c[:50] + f, "50 language tokens"),
        (lambda p, c, f: p + f, "fillers but no language tokens"),
        (lambda p, c, f: p + c + f + ["zzz 1"], "'zzz' (id 511) follows 'madeupword0007'"),
        (lambda p, c, f: p + p[:1] + c, "already in the dictionary"),
        (lambda p, c, f: p + ["oops"], "expected '<token> <count> [flags]'"),
    ],
)
def test_dictionary_errors(source: types.SimpleNamespace, tmp_path: Path, change, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _convert(source, tmp_path / "out", dictionary=change(source.pieces, source.languages, source.fillers))
    assert not (tmp_path / "out").exists()


def test_strict_keys_listed_by_name(source: types.SimpleNamespace, tmp_path: Path) -> None:
    state = dict(source.state)
    del state["decoder.layers.1.fc2.bias"]
    state["encoder.layers.0.self_attn.in_proj_weight"] = torch.zeros(96, 32)
    state["encoder.layers.2.fc1.weight"] = torch.zeros(64, 32)  # a third layer the config does not have
    with pytest.raises(ValueError) as err:
        _convert(source, tmp_path / "out", data={"args": fairseq_args(), "model": state})
    assert "missing (1): decoder.layers.1.fc2.bias" in str(err.value)
    assert "encoder.layers.0.self_attn.in_proj_weight, encoder.layers.2.fc1.weight" in str(err.value)


def test_architecture_errors(source: types.SimpleNamespace, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="decoder_normalize_before=False"):
        _convert(
            source, tmp_path / "a", data={"args": fairseq_args(decoder_normalize_before=False), "model": source.state}
        )
    untied = {**source.state, "decoder.output_projection.weight": source.state["encoder.embed_tokens.weight"] + 1}
    with pytest.raises(ValueError, match="decoder.output_projection.weight differs"):
        _convert(source, tmp_path / "b", data={"args": fairseq_args(), "model": untied})
    args = vars(fairseq_args())
    del args["encoder_ffn_embed_dim"]
    with pytest.raises(ValueError, match="lacks encoder_ffn_embed_dim"):
        _convert(source, tmp_path / "c", data={"args": None, "cfg": {"model": args}, "model": source.state})


def test_cfg_objects_need_trust(source: types.SimpleNamespace, tmp_path: Path) -> None:
    # A cfg of objects a safe load refuses (fairseq stores omegaconf's), read only when trusted.
    data = {"args": None, "cfg": {"model": types.SimpleNamespace(**vars(fairseq_args()))}, "model": source.state}
    with pytest.raises(ValueError, match="--trust-checkpoint"):
        _convert(source, tmp_path / "out", data=data)
    out = _convert(source, tmp_path / "out", data=data, trust=True, dtype="bfloat16").out
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"


def test_a_few_foreign_pieces_are_a_warning(
    source: types.SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from m2m100.cli import main

    pieces = ["zzforeign1 5", "zzforeign2 5", *source.pieces[2:]]  # two pieces the spm model lacks
    assert _convert(source, tmp_path / "lib", dictionary=pieces + source.languages).foreign_pieces == (
        "zzforeign1",
        "zzforeign2",
    )
    dictionary = tmp_path / "dict.txt"
    dictionary.write_text("\n".join(pieces + source.languages) + "\n", encoding="utf-8")
    assert (
        main(
            [
                "convert-fairseq",
                str(source.checkpoint),
                "--dict",
                str(dictionary),
                "--spm",
                str(source.spm),
                "-o",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"m2m100: warning: 2 pieces of {dictionary} are not in {source.spm} (e.g. 'zzforeign1', "
        "'zzforeign2'); the tokenizer never produces them"
    )
    assert err[1].startswith(f"m2m100: wrote {tmp_path / 'out'}: 2 + 2 layers")


def test_refuses_a_non_empty_out_unless_overwrite(source: types.SimpleNamespace, tmp_path: Path, capsys) -> None:
    from m2m100.cli import main

    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old")
    args = [
        "convert-fairseq",
        str(source.checkpoint),
        "--dict",
        str(source.dictionary),
        "--spm",
        str(source.spm),
        "--out",
        str(out),
    ]  # --out: the spelling of earlier versions, kept
    assert main(args) == 2
    assert "exists and is not empty; pass --overwrite" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert main([*args, "--overwrite"]) == 0
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    capsys.readouterr()
    # Usage errors, found before any work: 2.
    assert main(["convert-fairseq", str(tmp_path / "nope.pt"), *args[2:-1], str(tmp_path / "x")]) == 2
    assert f"input file {tmp_path / 'nope.pt'} does not exist" in capsys.readouterr().err
    assert main(args[:-2]) == 2
    assert "convert-fairseq needs -o/--output DIR" in capsys.readouterr().err
    # Files that do not make a checkpoint: 1, with one line.
    assert main([*args[:4], "--spm", str(source.dictionary), "-o", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "is not a sentencepiece model" in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert main(["convert-fairseq", str(source.dictionary), *args[2:-2], "-o", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "as a PyTorch checkpoint" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()
