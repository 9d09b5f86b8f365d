"""Convert an original fairseq M2M-100 checkpoint into a checkpoint folder (``m2m100 convert-fairseq``).

Fairseq ships three files: the model (a ``torch.save``'d dict with the ``"model"`` state dict
and the architecture in ``"args"`` or ``"cfg"``), ``dict.txt`` (its Dictionary: ``<s> <pad> </s>
<unk>`` implied in front, then one ``token count`` a line) and the sentencepiece model. The
folder written holds what ``from_pretrained`` reads (ours and transformers'): config.json,
generation_config.json, model.safetensors and the tokenizer files.

Fairseq's key names are ours without the ``model.`` prefix, but the mapping is spelled out below
so that a key this converter does not know is reported, never carried along silently.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
from argparse import Namespace  # the class of the "args" that fairseq pickles into its checkpoints
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sentencepiece
import torch

from m2m100.checkpoint import DTYPES, check_output_folder, load_weights, staged_folder
from m2m100.config import M2M100Config
from m2m100.generation.config import GenerationConfig
from m2m100.languages import LANGUAGE_CODES
from m2m100.modeling import M2M100ForConditionalGeneration
from m2m100.tokenizer import M2M100Tokenizer

logger = logging.getLogger(__name__)

# fairseq module -> our module; "{}" is the layer index. Each module has a .weight and a .bias.
MODULE_MAP: dict[str, str] = {
    "encoder.layers.{}.self_attn.q_proj": "model.encoder.layers.{}.self_attn.q_proj",
    "encoder.layers.{}.self_attn.k_proj": "model.encoder.layers.{}.self_attn.k_proj",
    "encoder.layers.{}.self_attn.v_proj": "model.encoder.layers.{}.self_attn.v_proj",
    "encoder.layers.{}.self_attn.out_proj": "model.encoder.layers.{}.self_attn.out_proj",
    "encoder.layers.{}.self_attn_layer_norm": "model.encoder.layers.{}.self_attn_layer_norm",
    "encoder.layers.{}.fc1": "model.encoder.layers.{}.fc1",
    "encoder.layers.{}.fc2": "model.encoder.layers.{}.fc2",
    "encoder.layers.{}.final_layer_norm": "model.encoder.layers.{}.final_layer_norm",
    "encoder.layer_norm": "model.encoder.layer_norm",
    "decoder.layers.{}.self_attn.q_proj": "model.decoder.layers.{}.self_attn.q_proj",
    "decoder.layers.{}.self_attn.k_proj": "model.decoder.layers.{}.self_attn.k_proj",
    "decoder.layers.{}.self_attn.v_proj": "model.decoder.layers.{}.self_attn.v_proj",
    "decoder.layers.{}.self_attn.out_proj": "model.decoder.layers.{}.self_attn.out_proj",
    "decoder.layers.{}.self_attn_layer_norm": "model.decoder.layers.{}.self_attn_layer_norm",
    "decoder.layers.{}.encoder_attn.q_proj": "model.decoder.layers.{}.encoder_attn.q_proj",
    "decoder.layers.{}.encoder_attn.k_proj": "model.decoder.layers.{}.encoder_attn.k_proj",
    "decoder.layers.{}.encoder_attn.v_proj": "model.decoder.layers.{}.encoder_attn.v_proj",
    "decoder.layers.{}.encoder_attn.out_proj": "model.decoder.layers.{}.encoder_attn.out_proj",
    "decoder.layers.{}.encoder_attn_layer_norm": "model.decoder.layers.{}.encoder_attn_layer_norm",
    "decoder.layers.{}.fc1": "model.decoder.layers.{}.fc1",
    "decoder.layers.{}.fc2": "model.decoder.layers.{}.fc2",
    "decoder.layers.{}.final_layer_norm": "model.decoder.layers.{}.final_layer_norm",
    "decoder.layer_norm": "model.decoder.layer_norm",
}
EMBEDDING = ("encoder.embed_tokens.weight", "model.shared.weight")
# The same matrix as the encoder's embedding in M2M-100 (share_all_embeddings).
TIED = ("decoder.embed_tokens.weight", "decoder.output_projection.weight")
# Computed or bookkeeping entries, never weights.
DROPPED = (
    "encoder.embed_positions._float_tensor",
    "decoder.embed_positions._float_tensor",
    "encoder.version",
    "decoder.version",
)

# Our config field <- fairseq argument names (first present wins) and the default when absent;
# a default of None means the argument is required.
CONFIG_MAP: dict[str, tuple[tuple[str, ...], Any]] = {
    "d_model": (("encoder_embed_dim",), None),
    "encoder_layers": (("encoder_layers",), None),
    "encoder_ffn_dim": (("encoder_ffn_embed_dim",), None),
    "encoder_attention_heads": (("encoder_attention_heads",), None),
    "decoder_layers": (("decoder_layers",), None),
    "decoder_ffn_dim": (("decoder_ffn_embed_dim",), None),
    "decoder_attention_heads": (("decoder_attention_heads",), None),
    "max_position_embeddings": (("max_source_positions",), 1024),
    "activation_function": (("activation_fn",), "relu"),
    "dropout": (("dropout",), 0.1),
    "attention_dropout": (("attention_dropout",), 0.0),
    "activation_dropout": (("activation_dropout", "relu_dropout"), 0.0),
    "encoder_layerdrop": (("encoder_layerdrop",), 0.0),
    "decoder_layerdrop": (("decoder_layerdrop",), 0.0),
}
# Architecture options our model implements in one way only: (argument, required value, default).
FIXED_ARGS = (
    ("encoder_normalize_before", True, False),
    ("decoder_normalize_before", True, False),
    ("encoder_learned_pos", False, False),
    ("decoder_learned_pos", False, False),
    ("layernorm_embedding", False, False),
    ("no_token_positional_embeddings", False, False),
    ("cross_self_attention", False, False),
    ("adaptive_softmax_cutoff", None, None),
)

FAIRSEQ_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")  # ids 0-3, implied in front of dict.txt
_LANGUAGE_TOKEN = re.compile(r"__([a-z]+)__")
_MADEUP_WORD = re.compile(r"madeupword\d+")


# ------------------------------------------------------------------------------------------
# Reading the fairseq files
# ------------------------------------------------------------------------------------------
def load_checkpoint(path: Path, *, trust: bool = False) -> dict[str, Any]:
    """The checkpoint dict, read without running code from it unless ``trust``.

    Raises:
        ValueError: the file needs classes a safe load refuses (named, with the way out), or
            it is not a fairseq checkpoint.
    """
    try:
        if trust:
            data = torch.load(path, map_location="cpu", weights_only=False)
        else:
            with torch.serialization.safe_globals([Namespace]):
                data = torch.load(path, map_location="cpu", weights_only=True)
    except ModuleNotFoundError as err:
        raise ValueError(
            f"{path} needs the module {err.name!r} to be read; install it (pip install {err.name})"
        ) from err
    except Exception as err:  # a damaged or foreign file fails in many ways inside the unpickler
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if not isinstance(err, pickle.UnpicklingError) or refused is None or trust:
            raise ValueError(
                f"cannot read {path} as a PyTorch checkpoint: the file is damaged or was not written "
                f"by torch.save ({type(err).__name__})"
            ) from err
        raise ValueError(
            f"{path} holds a {refused.group(1)} object, which a safe load refuses: fairseq stores its configuration "
            "as such objects (omegaconf, fairseq classes). If the file comes from a source you trust (e.g. "
            "dl.fbaipublicfiles.com), pass --trust-checkpoint to load it with full pickle, which runs code from "
            "the file and needs the modules it names"
        ) from err
    if not isinstance(data, Mapping) or not isinstance(data.get("model"), Mapping):
        raise ValueError(f"{path} is not a fairseq checkpoint: expected a dict with a 'model' state dict")
    return dict(data)


def architecture(data: Mapping[str, Any]) -> Any:
    """The checkpoint's architecture arguments: ``args`` (fairseq < 0.10) or ``cfg["model"]``."""
    args = data.get("args")
    if args is None and data.get("cfg") is not None:
        args = _get(data["cfg"], "model")
    if args is None:
        raise ValueError("the checkpoint has neither 'args' nor 'cfg' with a 'model' entry: no architecture")
    return args


def _get(args: Any, name: str, default: Any = None) -> Any:
    """An argument of an argparse.Namespace, a dict or an omegaconf DictConfig."""
    if isinstance(args, Mapping):
        value = args.get(name, default)
    else:
        value = getattr(args, name, default)
    return default if value is None else value


def build_config(args: Any, *, vocab_size: int) -> Any:
    """Our config for the fairseq architecture ``args``.

    Raises:
        ValueError: a required argument is missing, or the architecture uses an option the
            M2M100 model does not have (post-norm layers, learned positions ...).
    """
    fields, missing = {}, []
    for field, (names, default) in CONFIG_MAP.items():
        value = next((_get(args, n) for n in names if _get(args, n) is not None), default)
        if value is None:
            missing.append(names[0])
        fields[field] = value
    if missing:
        raise ValueError(f"the checkpoint's architecture lacks {', '.join(missing)}")
    for name, required, default in FIXED_ARGS:
        value = _get(args, name, default)
        if value != required:
            raise ValueError(f"the checkpoint has {name}={value!r}; M2M100 needs {name}={required!r}")
    for name in ("decoder_embed_dim", "decoder_input_dim", "decoder_output_dim"):
        if _get(args, name, fields["d_model"]) != fields["d_model"]:
            raise ValueError(
                f"the checkpoint has {name}={_get(args, name)} but encoder_embed_dim={fields['d_model']}; "
                "M2M100 has one model width"
            )
    return M2M100Config(vocab_size=vocab_size, scale_embedding=not _get(args, "no_scale_embedding", False), **fields)


@dataclass(frozen=True)
class Vocabulary:
    """What the tokenizer files need: vocab.json, which language codes follow it, fillers after."""

    vocab: dict[str, int]  # the specials and the pieces (vocab.json)
    language_codes: str  # "m2m100" or "wmt21": tokens len(vocab) + i, in that list's order
    num_madeup_words: int  # embedding rows after the language tokens


@dataclass(frozen=True)
class Conversion:
    """What :func:`convert` wrote, for its caller to report."""

    out: Path  # the checkpoint folder
    encoder_layers: int
    decoder_layers: int
    vocabulary: int  # entries of vocab.json: the specials and the pieces
    languages: int  # language tokens after them
    fillers: int  # madeupword rows after the language tokens
    foreign_pieces: tuple[str, ...]  # pieces of dict.txt the spm model lacks (a few are tolerated)

    def summary(self) -> str:
        return (
            f"{self.encoder_layers} + {self.decoder_layers} layers, vocabulary {self.vocabulary} + "
            f"{self.languages} languages + {self.fillers} fillers"
        )


def read_dictionary(path: Path) -> list[str]:
    """The symbols of a fairseq dict.txt in id order, the four implied specials included.

    Raises:
        ValueError: a line is not ``token count [flags]`` or a token appears twice.
    """
    symbols = list(FAIRSEQ_SPECIALS)
    seen = set(symbols)
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.rstrip().rsplit(" ", 2 if line.rstrip().endswith("#fairseq:overwrite") else 1)
            if len(parts) < 2 or not parts[1].isdigit():
                raise ValueError(f"{path}:{number}: expected '<token> <count> [flags]', got {line.rstrip()!r}")
            if parts[0] in seen:
                raise ValueError(f"{path}:{number}: {parts[0]!r} is already in the dictionary; each token needs one id")
            seen.add(parts[0])
            symbols.append(parts[0])
    return symbols


_KIND_ORDER = ("piece", "language", "filler")  # the order dict.txt must keep


def _kind(symbol: str) -> str:
    match = _LANGUAGE_TOKEN.fullmatch(symbol)
    if match and match.group(1) in LANGUAGE_CODES["m2m100"]:
        return "language"
    return "filler" if _MADEUP_WORD.fullmatch(symbol) else "piece"


def split_vocabulary(
    symbols: list[str], *, embedding_rows: int, language_codes: str | None = None, source: str = "dict.txt"
) -> Vocabulary:
    """Check that the dictionary is laid out as the tokenizer numbers it, and split it.

    The tokenizer gives vocab.json ids 0..N-1 and the i-th language code id N + i; fairseq's
    dictionary must hold the pieces first, then the ``__xx__`` tokens in that order (or none: the
    translation task appends them), then ``madeupwordNNNN`` fillers.

    Args:
        symbols: the dictionary (:func:`read_dictionary`).
        embedding_rows: rows of the checkpoint's embedding.
        language_codes: "m2m100" or "wmt21"; default: the list the dictionary's tokens follow
            ("m2m100" when it has none).

    Raises:
        ValueError: a language token or filler out of place, a language order that is neither
            list's, or an embedding too small for the vocabulary and the languages.
    """
    kinds = [_kind(symbol) for symbol in symbols]
    for index in range(1, len(symbols)):
        if _KIND_ORDER.index(kinds[index]) < _KIND_ORDER.index(kinds[index - 1]):
            raise ValueError(
                f"{source}: {symbols[index]!r} (id {index}) follows {symbols[index - 1]!r}; the tokenizer "
                "needs the pieces first, then the __xx__ language tokens, then the madeupword fillers"
            )
    pieces = kinds.count("piece")
    found = tuple(symbol[2:-2] for symbol, kind in zip(symbols, kinds) if kind == "language")
    if not found and "filler" in kinds:
        raise ValueError(
            f"{source} has madeupword fillers but no language tokens: fairseq then appends the language "
            "tokens after the fillers, where the tokenizer does not put them"
        )
    if language_codes is None:  # the list whose first code the tokens start with (checked below)
        language_codes = next((k for k, codes in LANGUAGE_CODES.items() if codes[:1] == found[:1]), "m2m100")
    codes = LANGUAGE_CODES[language_codes]
    if found and found != codes:
        position = next((i for i, (a, b) in enumerate(zip(found, codes)) if a != b), min(len(found), len(codes)))
        if position < min(len(found), len(codes)):
            where = f"__{found[position]}__ has id {pieces + position}, where the tokenizer puts __{codes[position]}__"
        else:
            where = f"it has {len(found)} language tokens, the {language_codes} list {len(codes)}"
        raise ValueError(
            f"{source}: the language tokens are not where the tokenizer puts them: {where}. The "
            f"tokenizer gives __xx__ the id {pieces} (the entries before the language tokens) + the "
            f"index of xx in the {language_codes} list of m2m100.languages ({', '.join(codes[:5])}, ...)"
        )
    needed = pieces + len(codes) + kinds.count("filler")
    if embedding_rows < needed:
        raise ValueError(
            f"the checkpoint's embedding has {embedding_rows} rows, but {source} has {pieces} entries, "
            f"{len(codes)} language tokens and {kinds.count('filler')} fillers ({needed} rows)"
        )
    return Vocabulary(
        vocab={s: i for i, s in enumerate(symbols[:pieces])},
        language_codes=language_codes,
        num_madeup_words=embedding_rows - pieces - len(codes),
    )


# ------------------------------------------------------------------------------------------
# Weights
# ------------------------------------------------------------------------------------------
def key_pairs(config: Any) -> list[tuple[str, str]]:
    """(fairseq name, our name) of every tensor of a model with ``config``'s layer counts."""
    pairs = [EMBEDDING]
    for source, target in MODULE_MAP.items():
        count = config.encoder_layers if source.startswith("encoder") else config.decoder_layers
        for layer in range(count) if "{}" in source else [""]:
            pairs += [
                (f"{source.format(layer)}.{param}", f"{target.format(layer)}.{param}") for param in ("weight", "bias")
            ]
    return pairs


def convert_state_dict(state: Mapping[str, Any], config: Any) -> dict[str, Any]:
    """Rename fairseq's tensors to ours, dropping computed buffers and the tied copies.

    Raises:
        ValueError: keys this conversion does not know, or keys it needs that are missing (all
            listed by their fairseq names), or tied matrices that differ.
    """
    pairs = key_pairs(config)
    needed = {source for source, _ in pairs}
    missing = sorted(needed - set(state))
    unexpected = sorted(set(state) - needed - set(TIED) - set(DROPPED))
    problems = [
        f"{what} ({len(names)}): {', '.join(names)}"
        for what, names in (("missing", missing), ("unknown to the conversion", unexpected))
        if names
    ]
    if problems:
        raise ValueError("the fairseq state dict does not fit M2M100:\n  " + "\n  ".join(problems))
    for name in TIED:
        if name in state and not torch.equal(state[name], state[EMBEDDING[0]]):
            raise ValueError(
                f"{name} differs from {EMBEDDING[0]}: M2M100 shares one embedding matrix "
                "(share_all_embeddings), and this checkpoint does not"
            )
    return {target: state[source] for source, target in pairs}


# ------------------------------------------------------------------------------------------
# The conversion
# ------------------------------------------------------------------------------------------
def convert(
    checkpoint: os.PathLike[str] | str,
    *,
    dictionary: os.PathLike[str] | str,
    spm: os.PathLike[str] | str,
    out: os.PathLike[str] | str,
    overwrite: bool = False,
    dtype: str | None = None,
    language_codes: str | None = None,
    trust: bool = False,
) -> Conversion:
    """Write a checkpoint folder for a fairseq M2M-100 model.

    Args:
        checkpoint: the fairseq model file (.pt).
        dictionary: its dict.txt.
        spm: its sentencepiece model.
        out: the folder to write; it appears complete or not at all.
        overwrite: replace a non-empty ``out``.
        dtype: "float32", "float16" or "bfloat16" (default: the checkpoint's).
        language_codes: "m2m100" or "wmt21" (default: what dict.txt holds, else "m2m100").
        trust: load the checkpoint with full pickle (runs code from the file).

    Returns:
        The folder and what it holds; ``foreign_pieces`` lists the pieces of dict.txt that the
        spm model lacks (refused when they are most of them, logged as a warning when a few).

    Raises:
        FileNotFoundError: an input file is missing.
        FileExistsError: ``out`` is a non-empty folder (or a file) and not ``overwrite``.
        ValueError: the checkpoint, dictionary and spm model do not make an M2M100 checkpoint
            (the message says what does not fit).
    """
    paths = {"checkpoint": Path(checkpoint), "dict": Path(dictionary), "spm model": Path(spm)}
    for what, path in paths.items():
        if not path.is_file():
            raise FileNotFoundError(f"the {what} {path} does not exist")
    out = Path(out)
    check_output_folder(out, overwrite)
    if dtype is not None and dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not supported; valid: {', '.join(DTYPES)}")

    data = load_checkpoint(paths["checkpoint"], trust=trust)
    state = data["model"]
    if EMBEDDING[0] not in state:
        raise ValueError(f"{paths['checkpoint']} has no {EMBEDDING[0]}: not a fairseq transformer checkpoint")
    rows = state[EMBEDDING[0]].shape[0]
    config = build_config(architecture(data), vocab_size=rows)
    vocabulary = split_vocabulary(
        read_dictionary(paths["dict"]), embedding_rows=rows, language_codes=language_codes, source=str(paths["dict"])
    )
    foreign = _foreign_pieces(vocabulary, paths["spm model"])
    tensors = convert_state_dict(state, config)
    target_dtype = DTYPES[dtype] if dtype else tensors[EMBEDDING[1]].dtype

    with torch.device("meta"):
        model = M2M100ForConditionalGeneration(config)
    load_weights(model, tensors, dtype=target_dtype, source=f"converted {paths['checkpoint']}")
    model.tie_weights()
    # As the facebook/m2m100_* repositories: fairseq's evaluation settings.
    model.generation_config = GenerationConfig(
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        num_beams=5,
        max_length=200,
        early_stopping=True,
    )

    with staged_folder(out) as staging:
        vocab_json = json.dumps(vocabulary.vocab, ensure_ascii=False, indent=2)
        (staging / "vocab.json").write_text(vocab_json, encoding="utf-8")
        shutil.copyfile(paths["spm model"], staging / "sentencepiece.bpe.model")
        codes = LANGUAGE_CODES[vocabulary.language_codes]
        tokenizer = M2M100Tokenizer(
            staging / "vocab.json",
            staging / "sentencepiece.bpe.model",
            language_codes=vocabulary.language_codes,
            num_madeup_words=vocabulary.num_madeup_words,
            model_max_length=config.max_position_embeddings,
            additional_special_tokens=[f"__{code}__" for code in codes],
        )
        tokenizer.save_pretrained(staging)
        model.save_pretrained(staging)
    done = Conversion(
        out,
        config.encoder_layers,
        config.decoder_layers,
        len(vocabulary.vocab),
        len(codes),
        vocabulary.num_madeup_words,
        tuple(foreign),
    )
    logger.info("wrote %s: %s", out, done.summary())
    return done


def _foreign_pieces(vocabulary: Vocabulary, spm: Path) -> list[str]:
    """The pieces of dict.txt that the spm model lacks. A dict.txt of another spm model would map
    most text to <unk>: refuse it."""
    try:
        processor = sentencepiece.SentencePieceProcessor(model_file=str(spm))
    except (OSError, RuntimeError) as err:
        raise ValueError(f"{spm} is not a sentencepiece model ({err})") from err
    known = {processor.id_to_piece(i) for i in range(processor.get_piece_size())}
    pieces = [p for p in vocabulary.vocab if p not in FAIRSEQ_SPECIALS]
    foreign = [p for p in pieces if p not in known]
    if pieces and len(foreign) > len(pieces) // 2:
        raise ValueError(
            f"{len(foreign)} of the {len(pieces)} pieces of dict.txt are not in {spm} "
            f"(e.g. {', '.join(map(repr, foreign[:5]))}): the two files do not belong together"
        )
    if foreign:
        logger.warning("%d pieces of dict.txt are not in %s (e.g. %s)", len(foreign), spm, foreign[:5])
    return foreign
