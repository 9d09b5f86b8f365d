"""The folder a training run writes, and its rules.

Layout::

    OUTPUT/run.json                   the settings that define the run (checked by --resume)
    OUTPUT/log.jsonl                  a JSON object per logged step and per validation
    OUTPUT/last/                      the latest checkpoint: config, weights, tokenizer, and
    OUTPUT/last/training_state.pt     optimizer, scheduler, scaler, step, best, RNG states
    OUTPUT/best/                      the checkpoint with the best validation metric

Each checkpoint is written to ``.NAME.tmp``, its files and folders are fsynced, and it is renamed
into place (the previous one is moved aside to ``.NAME.old`` first and deleted after; the run
folder is fsynced after the renames), so neither an interrupted save nor a power cut leaves a
half-written ``last``; :meth:`RunFolder.prepare` finishes a swap that was cut between the renames.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import torch

STATE_FILE = "training_state.pt"
RUN_FILE = "run.json"
LOG_FILE = "log.jsonl"
CHECKPOINTS = ("last", "best")


class SettingsError(ValueError):
    """Options that contradict each other or the run folder; raised before any training."""


class RunFolder:
    """``OUTPUT``: its checks, its checkpoints and its log. Only rank 0 writes to it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.last = self.path / "last"
        self.best = self.path / "best"
        self.run_file = self.path / RUN_FILE
        self.log_file = self.path / LOG_FILE

    # ------------------------------------------------------------------ before training
    def prepare(self, identity: dict[str, Any], *, resume: bool, overwrite: bool) -> bool:
        """Check that the folder may take this run, and set it up.

        Args:
            identity: The settings that define the run (written to run.json).
            resume: Continue the run already in the folder.
            overwrite: Replace the run already in the folder.

        Returns:
            Whether to resume from ``last/``.

        Raises:
            SettingsError: --resume without a checkpoint or with other settings; a folder that
                holds another run (or files of its own) without --resume/--overwrite.
        """
        if self.path.exists() and not self.path.is_dir():
            raise SettingsError(f"--output {self.path} is a file; give a folder")
        if self.path.is_dir():
            self._recover()
        if resume:
            if not (self.last / STATE_FILE).is_file() or not self.run_file.is_file():
                raise SettingsError(
                    f"--resume: {self.path} holds no checkpoint to continue (no last/{STATE_FILE} or {RUN_FILE})"
                )
            changed = _differences(self._saved_identity(), identity)
            if changed:
                raise SettingsError(
                    f"--resume: {self.path} holds a run with other settings ({changed}); "
                    "resume with the run's settings, or start a new run in another --output"
                )
            return True
        if self.path.is_dir() and any(self.path.iterdir()):
            if not self.run_file.is_file():
                raise SettingsError(
                    f"--output {self.path} is not empty and holds no finetune run (no {RUN_FILE}); "
                    "give a new or empty folder"
                )
            if not overwrite:
                changed = _differences(self._saved_identity(), identity)
                if changed:
                    raise SettingsError(
                        f"--output {self.path} holds a different run ({changed}); pass --overwrite "
                        "to replace it, or give another --output"
                    )
                raise SettingsError(
                    f"--output {self.path} already holds this run; pass --resume to continue it "
                    "or --overwrite to start it again"
                )
            self._clear()
        self.path.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.run_file, json.dumps({"identity": identity}, indent=2, sort_keys=True) + "\n")
        return False

    def _saved_identity(self) -> dict[str, Any]:
        try:
            return json.loads(self.run_file.read_text(encoding="utf-8"))["identity"]
        except (ValueError, KeyError) as err:
            raise SettingsError(f"{self.run_file} is damaged ({err}); pass --overwrite to start again") from err

    def _recover(self) -> None:
        """Finish or undo checkpoint swaps that an interruption cut short."""
        for name in CHECKPOINTS:
            target, old, tmp = self.path / name, self.path / f".{name}.old", self.path / f".{name}.tmp"
            if not target.exists() and old.exists():
                os.replace(old, target)
            for leftover in (old, tmp):
                if leftover.exists():
                    shutil.rmtree(leftover)

    def _clear(self) -> None:
        for name in CHECKPOINTS:
            if (self.path / name).exists():
                shutil.rmtree(self.path / name)
        for path in (self.run_file, self.log_file):
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ checkpoints
    def save(self, name: str, model: Any, tokenizer: Any, state: dict[str, Any] | None = None) -> None:
        """Write checkpoint ``name`` (model, tokenizer and, for ``last``, the training state)."""
        target, tmp, old = self.path / name, self.path / f".{name}.tmp", self.path / f".{name}.old"
        if tmp.exists():
            shutil.rmtree(tmp)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if state is not None:
            torch.save(state, tmp / STATE_FILE)
        _fsync_tree(tmp)  # on disk before the rename makes it the checkpoint
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync(self.path)  # the renames themselves
        shutil.rmtree(old, ignore_errors=True)

    def load_state(self) -> dict[str, Any]:
        return torch.load(self.last / STATE_FILE, map_location="cpu", weights_only=True)

    # ------------------------------------------------------------------ log
    def append_log(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with open(self.log_file, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(clean) + "\n")

    def truncate_log(self, step: int) -> None:
        """Drop the records after ``step``: a resumed run writes them again."""
        if not self.log_file.is_file():
            return
        lines = self.log_file.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [line for line in lines if line.strip() and json.loads(line).get("step", 0) <= step]
        _write_atomic(self.log_file, "".join(kept))


def _differences(saved: dict[str, Any], current: dict[str, Any], limit: int = 4) -> str:
    """'lr: 0.0005 in the run, 0.001 now; ...' for the settings that differ ('' if none)."""
    keys = [k for k in sorted(set(saved) | set(current)) if saved.get(k) != current.get(k)]
    parts = [f"{k}: {saved.get(k)!r} in the run, {current.get(k)!r} now" for k in keys[:limit]]
    if len(keys) > limit:
        parts.append(f"{len(keys) - limit} more")
    return "; ".join(parts)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries (its renames and new names), to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """fsync every file under ``folder``, then the folders, deepest first, ``folder`` last."""
    paths = sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True)
    for path in [p for p in paths if p.is_file()] + [p for p in paths if p.is_dir()] + [folder]:
        _fsync(path)
