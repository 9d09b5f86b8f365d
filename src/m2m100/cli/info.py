"""``m2m100 info``: describe a checkpoint (languages, architecture, parameters, size on disk)
without loading its weights."""

from __future__ import annotations

import argparse
from typing import Any

from m2m100.checkpoint import resolve_checkpoint_dir, weight_files
from m2m100.cli.common import EXIT_USAGE, CLIError, add_model_argument, resolve_model
from m2m100.cli.languages import loaded_languages
from m2m100.config import M2M100Config
from m2m100.demo import demo_knows, is_demo_model
from m2m100.demo.vocab import parameter_count


def add_parser(commands: Any) -> None:
    """Register ``info`` on the ``m2m100`` command's subparsers."""
    p = commands.add_parser("info", help="describe a checkpoint: languages, config, parameters, size on disk")
    add_model_argument(p)
    p.add_argument("model_path", nargs="?", metavar="MODEL", help="the same as -m/--model")
    p.set_defaults(func=cmd_info)


def cmd_info(args: argparse.Namespace) -> int:
    if args.model_path is not None:
        if args.model is not None:
            raise CLIError("give the model once: -m/--model or the positional MODEL, not both", EXIT_USAGE)
        args.model = args.model_path
    model = resolve_model(args)
    try:
        folder = resolve_checkpoint_dir(model)
        config = M2M100Config.from_pretrained(folder)
        files = weight_files(folder)
        languages = loaded_languages(model)
    except (FileNotFoundError, ValueError, OSError) as err:
        raise CLIError(f"cannot read the checkpoint: {err}") from err
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    params = parameter_count(config)  # the model's own count, on the meta device: no weights read
    demo = is_demo_model(folder)
    kind = (
        "demo model: trained from scratch on number words and CLDR names (m2m100.demo), not for real text"
        if demo
        else "translation checkpoint"
    )
    rows = [
        ("checkpoint", str(folder)),
        ("kind", kind),
        ("languages", f"{len(languages)}: {' '.join(languages)}"),
        (
            "architecture",
            f"M2M100: {config.encoder_layers}+{config.decoder_layers} layers, d_model {config.d_model}, "
            f"ffn {config.encoder_ffn_dim}/{config.decoder_ffn_dim}, "
            f"{config.encoder_attention_heads}/{config.decoder_attention_heads} heads, "
            f"{config.activation_function}",
        ),
        ("vocabulary", f"{config.vocab_size} entries"),
        ("max positions", str(config.max_position_embeddings)),
        ("parameters", f"{params:,} ({params / 1e6:.1f} M)"),
        ("weights", ", ".join(f.name for f in files)),
        ("dtype", str(config.extra.get("dtype") or config.extra.get("torch_dtype") or "float32")),
        ("size on disk", _human_bytes(size)),
    ]
    if demo:
        rows.insert(3, ("knows", demo_knows(len(languages))))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _human_bytes(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"
