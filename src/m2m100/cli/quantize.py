"""``m2m100 quantize``: write an int8 checkpoint folder, so that loading it quantizes nothing.

The folder holds the int8 model as it runs (:mod:`m2m100.modeling.quantized`) and the tokenizer;
every command, the Translator and ``from_pretrained`` load it as int8 without ``--quantize``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from m2m100.checkpoint import check_output_folder, staged_folder
from m2m100.cli.common import EXIT_USAGE, CLIError, add_model_argument, resolve_model
from m2m100.model.quantize import QUANTIZATIONS


def add_parser(commands: Any) -> None:
    """Register ``quantize`` on the ``m2m100`` command's subparsers."""
    p = commands.add_parser(
        "quantize",
        help="write an int8 (or int4-weight) checkpoint that loads without quantizing",
        description="Quantize a checkpoint's linear layers once (--mode int8 or int4-weight) and write the "
        "result (model and tokenizer) to a folder: loading it takes less time and memory than --quantize "
        "at every load, "
        "with the same results. CPU only; other tools (transformers) cannot read the folder.",
    )
    add_model_argument(p, help="the float checkpoint to quantize")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="the folder to write")
    p.add_argument("--mode", choices=QUANTIZATIONS, default="int8", help="the quantization (default: int8)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --output")
    p.set_defaults(func=cmd_quantize)


def cmd_quantize(args: argparse.Namespace) -> int:
    from m2m100.modeling import M2M100ForConditionalGeneration
    from m2m100.tokenizer import AutoTokenizer

    model = resolve_model(args)
    out = Path(args.output)
    try:
        check_output_folder(out, args.overwrite)
    except FileExistsError as err:
        raise CLIError(str(err), EXIT_USAGE) from err
    start = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        quantized = M2M100ForConditionalGeneration.from_pretrained(model, device="cpu", quantize=args.mode)
    except (OSError, ValueError) as err:
        raise CLIError(f"cannot load the model {model}: {err}") from err
    try:
        with staged_folder(out) as staging:
            tokenizer.save_pretrained(staging)
            quantized.save_pretrained(staging)
    except OSError as err:
        raise CLIError(f"cannot write {out}: {err.strerror or err}") from err
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    print(
        f"m2m100: wrote {out}: {args.mode} weights, {size / 2**20:.1f} MiB, in {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    print(out)
    return 0
