"""What a training run is given and what it returns: :class:`TrainSettings`, :class:`TrainResult`.

The settings are checked in one place (:meth:`TrainSettings.check`), before any file is read; the
``m2m100 finetune`` flags map one to one onto their fields, and ``run.json`` keeps them resolved.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2m100.training.run_folder import SettingsError

SCHEDULES = ("inverse-sqrt", "linear", "constant")
PRECISIONS = ("fp32", "bf16", "fp16")
BEST_METRICS = ("loss", "bleu", "chrf")
DEFAULT_LR = {"finetune": 1e-4, "scratch": 5e-4}
# Padded source + target tokens of a batch, per process: a training budget, not the Translator's
# (m2m100.translator.DEFAULT_MAX_BATCH_TOKENS counts source tokens of one model call).
DEFAULT_TRAIN_BATCH_TOKENS = 4096


@dataclass(frozen=True)
class TrainSettings:
    """Everything a run needs; the CLI flags map one to one (``--max-batch-tokens`` ...)."""

    output: str  # the run folder: last/, best/, run.json, log.jsonl
    train_file: str  # TSV or JSONL sentence pairs
    model: str | None = None  # checkpoint folder (or hub id) to start from ...
    init_config: str | None = None  # ... or a config.json to start from random weights
    tokenizer: str | None = None  # tokenizer folder (default: the model folder)
    valid_file: str | None = None
    src_lang: str | None = None  # direction of TSV files (JSONL lines may carry their own)
    tgt_lang: str | None = None
    max_batch_tokens: int = DEFAULT_TRAIN_BATCH_TOKENS  # padded source + target tokens of a batch, per process
    max_length: int | None = None  # pairs with a longer side are skipped (default: the model's)
    max_steps: int | None = None  # stop after this many optimizer steps ...
    epochs: int | None = None  # ... or epochs, whichever comes first
    lr: float | None = None  # peak learning rate (default: DEFAULT_LR)
    warmup_steps: int = 100  # linear warmup from 0
    schedule: str = "inverse-sqrt"  # after warmup: one of SCHEDULES
    weight_decay: float = 0.0  # AdamW's, on matrices only (not biases or layer norms)
    grad_accum: int = 1  # batches per process per step
    clip_norm: float = 1.0  # max gradient norm; 0 turns clipping off
    label_smoothing: float = 0.1
    precision: str = "fp32"  # autocast dtype: one of PRECISIONS
    gradient_checkpointing: bool = False
    dropout: float | None = None  # overrides the config's dropout
    eval_every: int | None = None  # validate every N steps (default: save_every) and at the end
    save_every: int = 1000  # write OUTPUT/last every N steps and at the end
    log_every: int = 100  # a log.jsonl line every N steps
    bleu: bool = False  # validation BLEU/chrF by greedy decoding (needs sacrebleu)
    best_metric: str = "loss"  # what picks OUTPUT/best: one of BEST_METRICS
    seed: int = 1
    resume: bool = False  # continue the run in ``output``
    overwrite: bool = False  # replace the run in ``output``
    skip_bad_lines: bool = False
    device: str | None = None  # default: cuda when present

    def check(self) -> None:
        """Raise a SettingsError naming the first impossible or contradictory option."""
        if (self.model is None) == (self.init_config is None):
            raise SettingsError("give either --model DIR or --init-config CONFIG.json (with --tokenizer DIR)")
        if self.init_config is not None and self.tokenizer is None:
            raise SettingsError("--init-config needs --tokenizer DIR: a random model has no tokenizer of its own")
        if self.max_steps is None and self.epochs is None:
            raise SettingsError("give the length of the run: --max-steps N and/or --epochs N")
        choices = {"schedule": SCHEDULES, "precision": PRECISIONS, "best_metric": BEST_METRICS}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                raise SettingsError(f"{name} {getattr(self, name)!r} is not valid; choose one of {', '.join(valid)}")
        positive = (
            "max_batch_tokens",
            "max_length",
            "max_steps",
            "epochs",
            "grad_accum",
            "eval_every",
            "save_every",
            "log_every",
        )
        for name in positive:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise SettingsError(f"{name} must be at least 1, got {value}")
        for name in ("label_smoothing", "dropout"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise SettingsError(f"{name} must lie in [0, 1), got {value}")
        for name in ("lr", "weight_decay", "clip_norm", "warmup_steps"):
            value = getattr(self, name)
            if value is not None and (value < 0 or not math.isfinite(value)):
                raise SettingsError(f"{name} must be a finite number >= 0, got {value}")
        if self.best_metric != "loss" and not self.bleu:
            raise SettingsError(f"best_metric {self.best_metric!r} needs --bleu")
        if self.bleu and self.valid_file is None:
            raise SettingsError("--bleu scores the validation set: give --valid FILE")
        if self.resume and self.overwrite:
            raise SettingsError("--resume and --overwrite contradict each other; pass one")

    def resolved(self) -> TrainSettings:
        """The settings with defaults filled in and paths made absolute (what run.json keeps)."""

        def absolute(path: str | None) -> str | None:
            return os.path.abspath(path) if path is not None and os.path.exists(path) else path

        lr = self.lr if self.lr is not None else DEFAULT_LR["scratch" if self.init_config else "finetune"]
        paths: dict[str, Any] = {
            name: absolute(getattr(self, name))
            for name in ("model", "init_config", "tokenizer", "train_file", "valid_file")
        }
        return dataclasses.replace(
            self, lr=lr, eval_every=self.eval_every or self.save_every, output=os.path.abspath(self.output), **paths
        )


@dataclass
class TrainResult:
    step: int  # optimizer steps done
    epoch: float  # epochs done, fractional
    train_loss: float | None  # label-smoothed loss per target token of the last step
    best: dict[str, Any] | None  # {"metric", "value", "step"} of OUTPUT/best, if validated
    output: Path
    skipped_lines: int  # bad lines left out under skip_bad_lines
    skipped_pairs: int  # pairs longer than max_length or the batch budget
