"""A run that diverges stops before it saves what diverged. The attack is a learning rate far too
high: at ``--lr 1e9`` step 1's update leaves finite weights of magnitude 1e9 (which translate to
empty lines), and at ``--lr 1`` step 3's loss explodes; the run stops with exit status 1 and a
message naming the step that diverged and the step ``OUTPUT/last`` keeps, and that checkpoint
holds exactly the weights of a run stopped at that step. Checkpoints reach the disk (fsync)
before they are renamed into place.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from m2m100.training.run_folder import STATE_FILE, RunFolder
from m2m100.translator import Translator
from tests.training.runs import EN_FR, finetune, run_cli, train_log, weights

CONSTANT = ["--warmup-steps", 0, "--schedule", "constant"]  # the same learning rate at every step


def test_a_huge_learning_rate_stops_at_step_1_and_saves_nothing(
    tiny: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "run"
    before = weights(tiny.model)
    status, err = run_cli(finetune(tiny, output, "--max-steps", 4, "--save-every", 1, "--lr", "1e9"), capsys)
    assert status == 1, err
    assert err.startswith("m2m100: error: training diverged at step 1: the update made the weights' norm ")
    assert "more than 100 times the" in err and "no checkpoint was written yet (try a lower --lr)" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (output / "last").exists() and not (output / "best").exists()
    assert not (output / "log.jsonl").exists()  # not even step 1's record: it is not a step of the run
    for name, tensor in weights(tiny.model).items():  # the starting model is untouched
        assert torch.equal(tensor, before[name]), name


@pytest.mark.parametrize(
    "extra, what, kept",
    [
        (["--save-every", 2], "step 3: the loss exploded to ", 2),
        (["--save-every", 1, "--valid", "TRAIN"], "step 2: the validation loss exploded to ", 1),
    ],
    ids=["train-loss", "valid-loss"],
)
def test_last_keeps_the_step_the_message_names(
    tiny: SimpleNamespace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[Any],
    what: str,
    kept: int,
) -> None:
    diverged, stopped = tmp_path / "diverged", tmp_path / "stopped"
    common = ["--lr", "1", *CONSTANT, *(tiny.tsv if a == "TRAIN" else a for a in extra)]
    status, message = run_cli(finetune(tiny, diverged, *common, "--max-steps", 8), capsys)
    assert status == 1, message
    assert message.startswith(f"m2m100: error: training diverged at {what}"), message
    keeps = f"stopped, {diverged / 'last'} keeps the checkpoint of step {kept}"
    if "--valid" in extra:
        keeps += f", {diverged / 'best'} that of step {kept}"
    assert f"{keeps} (try a lower --lr)" in message and len(message.strip().splitlines()) == 1
    assert torch.load(diverged / "last" / STATE_FILE, weights_only=True)["step"] == kept
    # The steps taken are logged (the one whose validation failed too; a resumed run drops it).
    assert sorted(train_log(diverged)) == [1, 2]

    # The same run told to stop at that step: a normal run, which the checks leave alone.
    status, err = run_cli(finetune(tiny, stopped, *common, "--max-steps", kept), capsys)
    assert status == 0 and f"finetune: {kept} steps" in err, err
    expected = weights(stopped / "last")
    for folder in [diverged / "last"] + ([diverged / "best"] if "--valid" in extra else []):
        saved = weights(folder)
        assert saved.keys() == expected.keys()
        for name, tensor in expected.items():
            assert torch.isfinite(saved[name]).all() and torch.equal(saved[name], tensor), (folder, name)
    sources = [p[2] for p in EN_FR]
    got = Translator(diverged / "last", device="cpu").translate(sources, src="en", tgt="fr", beam_size=1)
    assert got == Translator(stopped / "last", device="cpu").translate(sources, src="en", tgt="fr", beam_size=1)

    # Resuming from the kept checkpoint works: it takes the next step again, exactly as before.
    status, again = run_cli(finetune(tiny, diverged, *common, "--max-steps", 8, "--resume"), capsys)
    assert status == 1 and again == message
    for name, tensor in weights(diverged / "last").items():
        assert torch.equal(tensor, expected[name]), name


def test_checkpoints_are_on_disk_before_they_are_renamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Writer:  # stands for the model and the tokenizer: a file and a subfolder
        def save_pretrained(self, folder: Path) -> None:
            (Path(folder) / "sub").mkdir(parents=True, exist_ok=True)
            (Path(folder) / "weights").write_text("step 2")
            (Path(folder) / "sub" / "vocab").write_text("words")

    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append(("replace", f"{os.path.realpath(src)} -> {os.path.realpath(dst)}"))
        real_replace(src, dst)

    folder = RunFolder(tmp_path / "run")
    folder.prepare({"lr": 1.0}, resume=False, overwrite=False)
    folder.save("last", Writer(), Writer(), {"step": 1})
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    folder.save("last", Writer(), Writer(), {"step": 2})

    run, tmp = str(folder.path.resolve()), str((folder.path / ".last.tmp").resolve())
    into_place = events.index(("replace", f"{tmp} -> {run}/last"))
    synced = {path for kind, path in events[:into_place] if kind == "fsync"}
    expected = {tmp, f"{tmp}/sub", f"{tmp}/weights", f"{tmp}/sub/vocab", f"{tmp}/{STATE_FILE}"}
    assert expected <= synced
    assert ("fsync", run) in events[into_place:]  # the renames themselves
    assert folder.load_state() == {"step": 2} and (folder.last / "weights").read_text() == "step 2"


def test_a_starting_model_with_nan_weights_is_refused(
    tiny: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safetensors.torch import save_file

    poisoned = tmp_path / "poisoned"
    shutil.copytree(tiny.model, poisoned)
    tensors = weights(poisoned)
    name = next(iter(tensors))
    tensors[name][0] = float("nan")
    save_file(tensors, poisoned / "model.safetensors", metadata={"format": "pt"})
    args = finetune(tiny, tmp_path / "run", "--max-steps", 2)
    args[args.index(tiny.model)] = poisoned
    status, err = run_cli(args, capsys)
    assert status == 1 and err.strip().splitlines() == [
        f"m2m100: error: cannot train: the starting weights ({poisoned}) hold NaN or infinite values; "
        "start from another model"
    ]
    assert not (tmp_path / "run" / "last").exists()
