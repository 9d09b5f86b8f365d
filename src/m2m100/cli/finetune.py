"""``m2m100 finetune``: the command-line face of :func:`m2m100.training.loop.train`.

It turns flags into a :class:`~m2m100.training.settings.TrainSettings`, shows a progress bar, and turns
every error into a message and an exit status (2 for options that cannot work together, an input
file that does not exist or a language code the tokenizer does not know; 1 for a file or
checkpoint that cannot be used, a missing extra or a run that diverged). Under ``torchrun`` only
rank 0 prints.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
from typing import Any

from m2m100.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    CLIError,
    add_model_argument,
    check_inputs,
    check_placement_options,
    int_at_least,
    non_negative_float,
    positive_int,
    require_extra,
    resolve_model,
)
from m2m100.training.settings import DEFAULT_TRAIN_BATCH_TOKENS


def add_parser(commands: Any) -> None:
    """Register the ``finetune`` subcommand on the ``m2m100`` command's subparsers."""
    p = commands.add_parser(
        "finetune",
        help="fine-tune a checkpoint (or train one from scratch) on parallel text",
        description="Train on sentence pairs: TSV (source<TAB>target, with -s/--src-lang, -t/--tgt-lang) or JSONL "
        '({"src_lang", "tgt_lang", "src", "tgt"} a line). Writes OUTPUT/last, OUTPUT/best, '
        "OUTPUT/log.jsonl. Run it under `torchrun --nproc_per_node N` for data-parallel training.",
    )
    start = p.add_argument_group("what to start from")
    add_model_argument(start, help="the model to fine-tune")
    start.add_argument("--init-config", metavar="CONFIG.json", help="start from random weights of this config")
    start.add_argument("--tokenizer", metavar="DIR", help="tokenizer folder (needed with --init-config)")
    files = p.add_argument_group("data and output")
    files.add_argument("--train", required=True, metavar="FILE", help="training pairs, .tsv or .jsonl")
    files.add_argument("--valid", metavar="FILE", help="validation pairs, same formats")
    files.add_argument("-o", "--output", required=True, metavar="DIR", help="the run folder")
    # dest src_lang/tgt_lang: the names of TrainSettings (and of run.json).
    files.add_argument(
        "-s",
        "--src-lang",
        dest="src_lang",
        metavar="CODE",
        help="source language of TSV files (JSONL lines may carry their own)",
    )
    files.add_argument("-t", "--tgt-lang", dest="tgt_lang", metavar="CODE", help="target language of TSV files")
    files.add_argument("--skip-bad-lines", action="store_true", help="leave out malformed lines instead of stopping")
    files.add_argument("--max-length", type=positive_int, help="skip pairs with a longer side (default: the model's)")
    run = p.add_argument_group("training")
    run.add_argument(
        "--max-batch-tokens",
        type=positive_int,
        default=DEFAULT_TRAIN_BATCH_TOKENS,
        help="padded source + target tokens of a batch, per process (default %(default)s)",
    )
    run.add_argument("--max-steps", type=positive_int, help="optimizer steps to train")
    run.add_argument("--epochs", type=positive_int, help="epochs to train (the first limit reached stops)")
    run.add_argument("--lr", type=non_negative_float, help="peak learning rate (default 1e-4; 5e-4 from scratch)")
    run.add_argument("--warmup-steps", type=int_at_least(0), default=100, help="linear warmup (default 100)")
    run.add_argument(
        "--schedule",
        choices=("inverse-sqrt", "linear", "constant"),
        default="inverse-sqrt",
        help="learning rate after warmup (default inverse-sqrt, as fairseq)",
    )
    run.add_argument("--weight-decay", type=non_negative_float, default=0.0, help="AdamW weight decay (default 0)")
    run.add_argument("--grad-accum", type=positive_int, default=1, help="batches per process per step")
    run.add_argument("--clip-norm", type=non_negative_float, default=1.0, help="max gradient norm; 0: no clipping")
    run.add_argument("--label-smoothing", type=non_negative_float, default=0.1, help="fairseq's epsilon (0.1)")
    run.add_argument("--dropout", type=non_negative_float, help="override the model's dropout")
    run.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        default="fp32",
        help="autocast dtype (fp16: CUDA only, with loss scaling)",
    )
    run.add_argument("--gradient-checkpointing", action="store_true", help="recompute activations: less memory")
    run.add_argument("--seed", type=int, default=1, help="seeds shuffling, dropout and random weights (default 1)")
    run.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when present)")
    report = p.add_argument_group("validation, checkpoints, logs")
    report.add_argument("--eval-every", type=positive_int, help="validate every N steps (default: --save-every)")
    report.add_argument("--save-every", type=positive_int, default=1000, help="write OUTPUT/last every N steps")
    report.add_argument("--log-every", type=positive_int, default=100, help="a log.jsonl line every N steps")
    report.add_argument(
        "--bleu", action="store_true", help="validation BLEU and chrF (greedy; needs the [eval] extra: sacrebleu)"
    )
    report.add_argument(
        "--best-metric",
        choices=("loss", "bleu", "chrf"),
        default="loss",
        help="what picks OUTPUT/best (bleu/chrf need --bleu)",
    )
    report.add_argument("--resume", action="store_true", help="continue the run in --output from OUTPUT/last")
    report.add_argument("--overwrite", action="store_true", help="replace the run in --output")
    report.add_argument(
        "--progress", action="store_true", help="show the progress bar even when stderr is not a terminal"
    )
    report.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.set_defaults(func=cmd_finetune)


def cmd_finetune(args: argparse.Namespace) -> int:
    # Here, not at the top: the training library (torch.distributed ...) is not needed for --help.
    from m2m100.training.data import DataError, UnknownLanguageError
    from m2m100.training.loop import DivergedError, train
    from m2m100.training.run_folder import SettingsError
    from m2m100.training.settings import TrainSettings

    main_rank = os.environ.get("RANK", "0") == "0"
    if not main_rank:  # every rank reads the same data and would repeat each warning
        logging.getLogger("m2m100").setLevel(logging.ERROR)
    try:
        # Every rank checks; rank 0 alone says so (the demo notice too).
        with contextlib.redirect_stderr(io.StringIO()) if not main_rank else contextlib.nullcontext():
            _check_arguments(args)
    except CLIError as err:
        raise _quiet_unless(main_rank, err) from err
    settings = TrainSettings(
        output=args.output,
        train_file=args.train,
        model=args.model,
        init_config=args.init_config,
        tokenizer=args.tokenizer,
        valid_file=args.valid,
        src_lang=args.src_lang,
        tgt_lang=args.tgt_lang,
        max_batch_tokens=args.max_batch_tokens,
        max_length=args.max_length,
        max_steps=args.max_steps,
        epochs=args.epochs,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        schedule=args.schedule,
        weight_decay=args.weight_decay,
        grad_accum=args.grad_accum,
        clip_norm=args.clip_norm,
        label_smoothing=args.label_smoothing,
        precision=args.precision,
        gradient_checkpointing=args.gradient_checkpointing,
        dropout=args.dropout,
        eval_every=args.eval_every,
        save_every=args.save_every,
        log_every=args.log_every,
        bleu=args.bleu,
        best_metric=args.best_metric,
        seed=args.seed,
        resume=args.resume,
        overwrite=args.overwrite,
        skip_bad_lines=args.skip_bad_lines,
        device=args.device,
    )
    bar = _ProgressBar(enabled=main_rank and (args.progress or sys.stderr.isatty()) and not args.no_progress)
    try:
        result = train(settings, on_step=bar.update)
    except (SettingsError, UnknownLanguageError) as err:
        raise _quiet_unless(main_rank, CLIError(str(err), EXIT_USAGE)) from err
    except (DataError, DivergedError, FileNotFoundError) as err:
        raise _quiet_unless(main_rank, CLIError(str(err), EXIT_FAILURE)) from err
    except (ValueError, OSError) as err:  # e.g. a checkpoint whose tensors do not fit its config
        raise _quiet_unless(main_rank, CLIError(f"cannot train: {err}", EXIT_FAILURE)) from err
    finally:
        bar.close()
    if main_rank:
        best = result.best
        resumed = f"; resumed at step {bar.first_step - 1}" if args.resume and bar.first_step else ""
        summary = f"m2m100: finetune: {result.step} steps ({result.epoch:.2f} epochs{resumed})"
        if result.train_loss is not None:
            summary += f", last train loss {result.train_loss:.4f}"
        if best is not None:
            summary += f", best valid {best['metric']} {best['value']:.4f} at step {best['step']}"
        skipped = [
            f"{n} {what}{'s' if n != 1 else ''}"
            for n, what in ((result.skipped_lines, "bad line"), (result.skipped_pairs, "over-long pair"))
            if n
        ]
        if skipped:
            summary += f"; left out {' and '.join(skipped)} of {args.train}"
        print(
            f"{summary}\nm2m100: checkpoints: {result.output / 'last'}"
            + (f", {result.output / 'best'}" if best is not None else ""),
            file=sys.stderr,
        )
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    """The checks made before any work: the extra --bleu needs, the device, the input files, and
    the model (the bundled demo model when neither -m nor --init-config is given)."""
    if args.bleu:
        require_extra("finetune --bleu", "eval", ["sacrebleu"])
    # --precision is finetune's dtype, checked with the device by TrainSettings.
    check_placement_options(args)
    check_inputs([path for path in (args.train, args.valid, args.init_config) if path is not None])
    if args.model is None and args.init_config is None:
        resolve_model(args)


def _quiet_unless(main_rank: bool, error: Exception) -> BaseException:
    """The error to raise: as is on rank 0; on other ranks an exit with its status but no message
    (each rank meets the same error, and one message is enough)."""
    return error if main_rank else SystemExit(getattr(error, "status", 1))


class _ProgressBar:
    """A tqdm bar over the steps, with loss, learning rate and tokens/s."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any | None = None
        self.first_step: int | None = None  # the first step of this process (> 1 on --resume)

    def update(self, step: int, total: int, record: dict[str, Any]) -> None:
        if self.first_step is None:
            self.first_step = step
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=step - 1, unit="step", file=sys.stderr, dynamic_ncols=True)
        if "loss" in record:
            self.bar.set_postfix_str(
                f"loss {record['loss']:.3f}, lr {record['lr']:.2e}, {record['tokens_per_s']:.0f} tok/s", refresh=False
            )
            self.bar.update(step - self.bar.n)
        else:
            self.bar.write(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
