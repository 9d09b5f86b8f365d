"""``m2m100 convert-fairseq``: an original fairseq M2M-100 checkpoint (model, dict.txt, spm model)
into a checkpoint folder, with :func:`m2m100.fairseq.convert`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from m2m100.cli.common import EXIT_USAGE, CLIError, check_inputs
from m2m100.languages import LANGUAGE_CODES


def add_parser(commands: Any) -> None:
    """Register ``convert-fairseq`` on the ``m2m100`` command's subparsers."""
    p = commands.add_parser(
        "convert-fairseq",
        help="turn an original fairseq M2M-100 checkpoint into a checkpoint folder",
        description="Convert a fairseq M2M-100 model (.pt), its dict.txt and its spm model into a folder that "
        "from_pretrained (this package's and transformers') loads.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="the fairseq model file, e.g. 418M.pt")
    p.add_argument("--dict", required=True, metavar="DICT", help="its dictionary, e.g. model_dict.128k.txt")
    p.add_argument("--spm", required=True, metavar="SPM", help="its sentencepiece model, e.g. spm.128k.model")
    p.add_argument("-o", "--output", metavar="DIR", help="the folder to write (required)")
    p.add_argument("--out", dest="output", help=argparse.SUPPRESS)  # the spelling of earlier versions
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --output")
    p.add_argument(
        "--dtype",
        choices=("float32", "float16", "bfloat16"),
        default=None,
        help="weight dtype (default: the checkpoint's)",
    )
    p.add_argument(
        "--language-codes",
        choices=tuple(LANGUAGE_CODES),
        default=None,
        help="the language list of the model (default: what dict.txt holds, else m2m100)",
    )
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load the checkpoint with full pickle (runs code from the file; needs the modules it "
        "names, e.g. omegaconf); only for files from a source you trust",
    )
    p.set_defaults(func=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    from m2m100.fairseq import convert  # here, not at the top: --help does not need it

    if args.output is None:
        raise CLIError("convert-fairseq needs -o/--output DIR, the folder to write", EXIT_USAGE)
    check_inputs([args.checkpoint, args.dict, args.spm])
    try:
        done = convert(
            args.checkpoint,
            dictionary=args.dict,
            spm=args.spm,
            out=args.output,
            overwrite=args.overwrite,
            dtype=args.dtype,
            language_codes=args.language_codes,
            trust=args.trust_checkpoint,
        )
    except (FileExistsError, FileNotFoundError) as err:  # an output that exists, an input that does not
        raise CLIError(str(err), EXIT_USAGE) from err
    except ValueError as err:  # the files do not make an M2M100 checkpoint
        raise CLIError(str(err)) from err
    except OSError as err:
        raise CLIError(f"cannot convert {args.checkpoint} into {args.output}: {err}") from err
    if done.foreign_pieces:
        print(
            f"m2m100: warning: {len(done.foreign_pieces)} pieces of {args.dict} are not in {args.spm} "
            f"(e.g. {', '.join(map(repr, done.foreign_pieces[:5]))}); the tokenizer never produces them",
            file=sys.stderr,
        )
    print(f"m2m100: wrote {done.out}: {done.summary()}", file=sys.stderr)
    print(done.out)
    return 0
