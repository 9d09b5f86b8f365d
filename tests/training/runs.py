"""What the training tests share: the tiny model's config, the sentence pairs, the arguments of a
short run, and readers of what a run leaves in its folder."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from m2m100 import cli

PAIRS = [  # (src_lang, tgt_lang, src, tgt): two directions in one file, the many-to-many case
    ("en", "fr", "the life is like a box", "la vie est comme une boîte"),
    ("en", "fr", "UN chief says there", "élève été où déjà"),
    ("en", "fr", "we translate many languages", "très côté fenêtre naïve"),
    ("en", "fr", "every day and night", "cœur l'homme qu'il"),
    ("de", "es", "das Leben ist wie", "la vida es como una caja"),
    ("de", "es", "eine Schachtel Pralinen", "mañana niño corazón"),
    ("de", "es", "über schön Straße", "¿qué ¡hola! canción"),
    ("de", "es", "Mädchen Größe fährt", "de bombones"),
]
EN_FR = [p for p in PAIRS if p[0] == "en"] + [
    ("en", "fr", "no military solution", "garçon Noël français"),
    ("en", "fr", "in Syria quickly", "de chocolat"),
]
TINY = dict(
    d_model=64,
    encoder_layers=1,
    decoder_layers=1,
    encoder_ffn_dim=128,
    decoder_ffn_dim=128,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    max_position_embeddings=64,
    dropout=0.0,
    attention_dropout=0.0,
    encoder_layerdrop=0.0,
    decoder_layerdrop=0.0,
)
# Short runs: every step logged, several batches an epoch (so epochs shuffle), a fast learning rate.
QUICK = ["--lr", "3e-3", "--warmup-steps", "2", "--max-batch-tokens", "64", "--log-every", "1", "--device", "cpu"]


def finetune(tiny: SimpleNamespace, output: Path, *extra: Any, train: Any = None) -> list[str]:
    """Arguments of a short en->fr TSV run of the tiny model."""
    return [
        "finetune",
        "-m",
        tiny.model,
        "--train",
        train or tiny.tsv,
        "-s",
        "en",
        "-t",
        "fr",
        "-o",
        output,
        *QUICK,
        *extra,
    ]


def run_cli(args: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The command run in this process: (exit status, stderr)."""
    capsys.readouterr()
    status = cli.main([str(a) for a in args])
    return status, capsys.readouterr().err


def train_log(output: Path) -> dict[int, dict[str, Any]]:
    """The training records of log.jsonl by step (validation records left out)."""
    records = [json.loads(line) for line in (output / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    return {r["step"]: r for r in records if "loss" in r}


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")
