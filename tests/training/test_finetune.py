"""``m2m100 finetune``: a tiny model learns a small parallel set, a resumed run repeats an
uninterrupted one step for step, two processes under torchrun follow one process that
accumulates two batches, and every bad input stops with a message and an exit status.

Most runs call the command in-process (``cli.main``) to spare a Python start; the end-to-end run
and torchrun run the real command.
"""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from m2m100.config import M2M100Config
from m2m100.tokenizer import M2M100Tokenizer
from m2m100.training import data, loop
from m2m100.training.run_folder import STATE_FILE, RunFolder, SettingsError
from m2m100.training.settings import SCHEDULES
from tests.training.runs import EN_FR, PAIRS, QUICK, finetune, run_cli, train_log, weights


# ------------------------------------------------------------------------------------------
# The library's pieces
# ------------------------------------------------------------------------------------------
def test_label_smoothed_loss_is_fairseqs() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 11)
    labels = torch.randint(0, 11, (2, 5))
    labels[0, 3:] = data.IGNORE_INDEX
    eps = 0.1
    loss, nll = loop.label_smoothed_nll_loss(logits, labels, eps)
    # fairseq's target distribution: 1 - eps on the label, eps / (V - 1) on every other class.
    mask = labels != data.IGNORE_INDEX
    q = torch.full((int(mask.sum()), 11), eps / 10)
    q[torch.arange(q.shape[0]), labels[mask]] = 1 - eps
    expected = -(q * F.log_softmax(logits[mask], dim=-1)).sum()
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(nll, F.cross_entropy(logits.view(-1, 11), labels.view(-1), reduction="sum"))
    assert not torch.allclose(
        loss, F.cross_entropy(logits.view(-1, 11), labels.view(-1), reduction="sum", label_smoothing=eps)
    )  # torch's eps / V is another loss
    plain, _ = loop.label_smoothed_nll_loss(logits, labels, 0.0)
    torch.testing.assert_close(plain, nll)


def test_learning_rate_schedules() -> None:
    factors = {s: [loop.lr_factor(i, schedule=s, warmup=4, total=10) for i in range(10)] for s in SCHEDULES}
    for values in factors.values():
        assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors["constant"][4:] == [1.0] * 6
    assert factors["inverse-sqrt"][4:] == [math.sqrt(4 / i) for i in range(4, 10)]
    assert factors["linear"][4:] == [(10 - i) / 6 for i in range(4, 10)]


def test_batches_fit_the_budget_and_steps_cover_each_epoch() -> None:
    pair = data.Pair("en", "fr", "", "", "x:1")
    examples = [data.Example([0] * n, [0] * (n % 5 + 2), pair) for n in range(3, 23)]
    batches, too_big = data.plan_batches(examples, max_tokens=24)
    assert too_big == sum(1 for e in examples if len(e.src_ids) + len(e.tgt_ids) > 24) > 0
    assert all(data.batch_cost(examples, b) <= 24 for b in batches)
    assert sorted(i for b in batches for i in b) == [
        i for i, e in enumerate(examples) if len(e.src_ids) + len(e.tgt_ids) <= 24
    ]
    first, again = data.epoch_order(batches, seed=1, epoch=0), data.epoch_order(batches, seed=1, epoch=0)
    assert first == again != data.epoch_order(batches, seed=1, epoch=1)
    steps = data.steps_per_epoch(len(batches), group=3)
    seen = [b for k in range(steps) for b in data.step_batches(first, k, 3)]
    assert len(seen) == 3 * steps and all(b in seen for b in batches)
    assert seen[len(batches) :] == first[: len(seen) - len(batches)]  # the last step is filled from the start


def test_an_interrupted_checkpoint_swap_is_undone(tmp_path: Path) -> None:
    class Stub:  # stands for the model and the tokenizer: writes one file
        def save_pretrained(self, folder: Path) -> None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            (Path(folder) / "weights").write_text("step 2")

    folder = RunFolder(tmp_path / "run")
    assert folder.prepare({"lr": 1.0}, resume=False, overwrite=False) is False
    folder.save("last", Stub(), Stub(), {"step": 2})
    # Killed inside the next save: the old checkpoint moved aside, the new one half written.
    os.replace(folder.last, tmp_path / "run" / ".last.old")
    (tmp_path / "run" / ".last.tmp").mkdir()
    assert folder.prepare({"lr": 1.0}, resume=True, overwrite=False) is True
    assert (folder.last / "weights").read_text() == "step 2" and folder.load_state() == {"step": 2}
    assert sorted(p.name for p in folder.path.iterdir()) == ["last", "run.json"]
    with pytest.raises(SettingsError, match=r"lr: 1.0 in the run, 2.0 now"):
        folder.prepare({"lr": 2.0}, resume=True, overwrite=False)


# ------------------------------------------------------------------------------------------
# Whole runs
# ------------------------------------------------------------------------------------------
def test_learns_a_many_to_many_set_end_to_end(tiny: SimpleNamespace, tmp_path: Path) -> None:
    from m2m100.translator import Translator

    output = tmp_path / "run"
    args = [
        "finetune",
        "--model",
        tiny.model,
        "--train",
        tiny.jsonl,
        "--valid",
        tiny.jsonl,
        "--bleu",
        "--output",
        output,
        "--max-steps",
        120,
        "--lr",
        "5e-3",
        "--warmup-steps",
        10,
        "--schedule",
        "constant",
        "--save-every",
        40,
        "--log-every",
        10,
        "--seed",
        3,
        "--device",
        "cpu",
        "--progress",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "m2m100", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "120/120" in done.stderr and "best valid loss" in done.stderr  # the bar and the summary

    assert {p.name for p in output.iterdir()} == {"last", "best", "run.json", "log.jsonl"}
    assert (output / "last" / STATE_FILE).is_file() and not (output / "best" / STATE_FILE).exists()
    log = [json.loads(line) for line in (output / "log.jsonl").read_text(encoding="utf-8").splitlines()]
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == list(range(10, 121, 10))
    assert steps[-1]["nll_loss"] < 0.5 < steps[0]["nll_loss"]
    assert all(r["tokens_per_s"] > 0 and r["lr"] == 5e-3 for r in steps)
    valid = [r for r in log if "valid_loss" in r]
    assert [r["step"] for r in valid] == [40, 80, 120] and valid[-1]["bleu"] > 99 and valid[-1]["chrf"] > 99
    assert json.loads((output / "run.json").read_text())["identity"]["seed"] == 3

    # The best checkpoint is a complete folder: the model reproduces the training targets.
    translator = Translator(output / "best", device="cpu")
    for src_lang, tgt_lang in (("en", "fr"), ("de", "es")):
        pairs = [p for p in PAIRS if p[:2] == (src_lang, tgt_lang)]
        got = translator.translate([p[2] for p in pairs], src=src_lang, tgt=tgt_lang, beam_size=1)
        assert got == [p[3] for p in pairs]


def test_a_resumed_run_repeats_the_uninterrupted_one(
    tiny: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Dropout on: the losses match only if every RNG state comes back with the checkpoint.
    common = ["--dropout", "0.1", "--save-every", 3, "--valid", tiny.tsv]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert run_cli(finetune(tiny, whole, *common, "--max-steps", 9), capsys)[0] == 0
    assert run_cli(finetune(tiny, cut, *common, "--max-steps", 5), capsys)[0] == 0
    assert json.loads((cut / "log.jsonl").read_text().splitlines()[-1])["step"] == 5
    torch.manual_seed(12345)  # as a new process would be: the RNG states must come from the checkpoint
    random.seed(12345)
    status, err = run_cli(finetune(tiny, cut, *common, "--max-steps", 9, "--resume"), capsys)
    assert status == 0 and "finetune: 9 steps" in err and "resumed at step 5" in err, err

    expected, got = train_log(whole), train_log(cut)
    assert sorted(got) == list(range(1, 10)) and max(r["epoch"] for r in got.values()) > 1  # crossed an epoch
    assert [got[s]["loss"] for s in got] == [expected[s]["loss"] for s in got]
    assert [got[s]["lr"] for s in got] == [expected[s]["lr"] for s in got]
    for name, tensor in weights(whole / "last").items():
        assert torch.equal(tensor, weights(cut / "last")[name]), name
    state = torch.load(cut / "last" / STATE_FILE, weights_only=True)
    assert state["step"] == 9 and state["best"]["step"] == 9


def test_two_processes_follow_one_process_with_accumulation(
    tiny: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "m2m100",
        *map(str, finetune(tiny, two, "--max-steps", 6, "--save-every", 3)),
    ]
    started = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert run_cli(finetune(tiny, one, "--max-steps", 6, "--save-every", 3, "--grad-accum", 2), capsys)[0] == 0
    out, err = started.communicate(timeout=300)
    assert started.returncode == 0, err
    assert err.count("finetune: 6 steps") == 1  # rank 0 alone reports

    expected, got = train_log(one), train_log(two)
    assert sorted(got) == list(range(1, 7))  # one line a step: rank 0 alone writes
    for step in got:
        assert got[step]["loss"] == pytest.approx(expected[step]["loss"], rel=1e-5)
        assert got[step]["lr"] == expected[step]["lr"]
    assert json.loads((two / "run.json").read_text())["identity"]["world_size"] == 2
    assert torch.load(two / "last" / STATE_FILE, weights_only=True)["rng"][1] is not None  # both ranks' RNG


def test_trains_from_scratch(tiny: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "run"
    args = [
        "finetune",
        "--init-config",
        tiny.config,
        "--tokenizer",
        tiny.tokenizer,
        "--train",
        tiny.jsonl,
        "--output",
        output,
        "--epochs",
        1,
        *QUICK,
    ]
    status, err = run_cli(args, capsys)
    assert status == 0, err
    saved = M2M100Config.from_pretrained(output / "last")
    assert saved.d_model == 64 and saved.vocab_size == M2M100Config.from_json_file(tiny.config).vocab_size
    assert not (output / "best").exists()  # no validation set, nothing to call best
    assert M2M100Tokenizer.from_pretrained(output / "last").lang_code_to_id["fr"] > 0
    assert json.loads((output / "run.json").read_text())["identity"]["lr"] == 3e-3

    changed = tmp_path / "config.json"  # the same file name, another architecture
    changed.write_text(tiny.config.read_text().replace('"d_model": 64', '"d_model": 32'))
    args[args.index(tiny.config)] = changed
    status, err = run_cli([*args, "--resume"], capsys)
    assert status == 2 and "--resume:" in err and "config.d_model: 64 in the run, 32 now" in err


# ------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, lines, bad, message",
    [
        ("train.tsv", ["a\tb", "c\td", "e\tf\tg"], 3, "expected 2 tab-separated fields (source, target), found 3"),
        ("train.tsv", ["a\tb", "only a source"], 2, "expected 2 tab-separated fields (source, target), found 1"),
        ("train.tsv", ["a\tb", "a\t "], 2, "empty target"),
        ("train.jsonl", ['{"src": "a", "tgt": "b"}', '{"src": "a", "tgt": '], 2, "not a JSON object"),
        ("train.jsonl", ['{"src": "a", "tgt": "b"}', "", '{"src": "a"}'], 3, 'no "tgt"'),
        ("train.jsonl", ['{"src": "a", "tgt": 5}'], 1, '"tgt" must be a string, got 5'),
    ],
)
def test_a_malformed_line_stops_with_its_place(
    tiny: SimpleNamespace,
    tmp_path: Path,
    name: str,
    lines: list[str],
    bad: int,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, err = run_cli(finetune(tiny, tmp_path / "run", "--max-steps", 1, train=path), capsys)
    assert status == 1
    assert f"m2m100: error: {path}:{bad}: {message}" in err and "--skip-bad-lines" in err
    assert not (tmp_path / "run").exists()  # stopped before training


def test_bad_lines_are_skipped_and_counted(
    tiny: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "train.tsv"
    path.write_bytes(tiny.tsv.read_bytes() + b"no tab\n\xff\xfe\tbad bytes\n" + tiny.tsv.read_bytes()[:40])
    status, err = run_cli(
        finetune(
            tiny,
            tmp_path / "run",
            "--max-steps",
            1,
            train=path,
        ),
        capsys,
    )
    assert status == 1 and f"{path}:{len(EN_FR) + 1}: expected 2" in err
    status, err = run_cli(finetune(tiny, tmp_path / "run", "--max-steps", 1, "--skip-bad-lines", train=path), capsys)
    assert status == 0, err
    assert "left out 2 bad lines" in err


@pytest.mark.parametrize(
    "lines, flags, message",
    [
        (None, ["--tgt-lang", "xx"], "--tgt-lang: Unknown language code 'xx'."),
        (
            [
                '{"src_lang": "en", "tgt_lang": "fr", "src": "a", "tgt": "b"}',
                '{"src_lang": "en", "tgt_lang": "french", "src": "a", "tgt": "b"}',
            ],
            [],
            "train.jsonl:2: Unknown language code 'french'. Did you mean 'fr'",
        ),
    ],
)
def test_an_unknown_language_stops_before_training(
    tiny: SimpleNamespace,
    tmp_path: Path,
    lines: Any,
    flags: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    train = tiny.tsv
    if lines is not None:
        train = tmp_path / "train.jsonl"
        train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, err = run_cli(finetune(tiny, tmp_path / "run", "--max-steps", 1, *flags, train=train), capsys)
    assert status == 2 and message in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--precision", "fp16"], "--precision fp16 needs a CUDA device"),
        (["--bleu"], "--bleu scores the validation set: give --valid FILE"),
        (["--best-metric", "bleu"], "best_metric 'bleu' needs --bleu"),
        (["--resume", "--overwrite"], "--resume and --overwrite contradict each other"),
    ],
)
def test_contradictory_options_are_usage_errors(
    tiny: SimpleNamespace, tmp_path: Path, flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run_cli(finetune(tiny, tmp_path / "run", "--max-steps", 1, *flags), capsys)
    assert status == 2 and message in err, err


def test_start_options_are_checked(tiny: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["finetune", "--train", tiny.jsonl, "--output", tmp_path / "run", "--device", "cpu"]
    status, err = run_cli([*base, "--init-config", tiny.config, "--max-steps", 1], capsys)
    assert status == 2 and "--init-config needs --tokenizer DIR" in err
    status, err = run_cli([*base, "--model", tiny.model], capsys)
    assert status == 2 and "--max-steps N and/or --epochs N" in err
    status, err = run_cli([*base, "--model", tmp_path / "nowhere", "--max-steps", 1], capsys)
    assert status == 1 and "nowhere" in err
    status, err = run_cli(
        [
            "finetune",
            "--model",
            tiny.model,
            "--train",
            tiny.tsv,
            "--output",
            tmp_path / "run",
            "--max-steps",
            1,
            "--src-lang",
            "en",
        ],
        capsys,
    )
    assert status == 2 and f"{tiny.tsv} is TSV, which holds no language codes: give --src-lang and --tgt-lang" in err


def test_usage_errors_stop_before_any_work(
    tiny: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    cases = [
        (
            finetune(tiny, run, "--max-steps", 1, train=tmp_path / "missing.tsv"),
            f"input file {tmp_path / 'missing.tsv'} does not exist",
        ),
        (finetune(tiny, run, "--max-steps", 1, "--valid", tmp_path / "missing.tsv"), "missing.tsv does not exist"),
        (
            [
                "finetune",
                "--init-config",
                tmp_path / "missing.json",
                "--tokenizer",
                tiny.tokenizer,
                "--train",
                tiny.jsonl,
                "-o",
                run,
                "--max-steps",
                1,
            ],
            "missing.json does not exist",
        ),
        (finetune(tiny, run, "--max-steps", 1, "--device", "tpu"), "device 'tpu' is not a device torch knows"),
        (finetune(tiny, run, "--max-steps", 1, "--init-config", tiny.config), "give either --model DIR or"),
    ]
    for args, message in cases:
        status, err = run_cli(args, capsys)
        assert status == 2 and message in err, err
        assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert not run.exists()


def test_bleu_without_its_extra_names_the_install_command(
    tiny: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # as if it were not installed
    status, err = run_cli(finetune(tiny, tmp_path / "run", "--max-steps", 1, "--valid", tiny.tsv, "--bleu"), capsys)
    assert status == 1
    assert err == (
        "m2m100: error: m2m100 finetune --bleu needs the [eval] extra (sacrebleu is not installed): "
        "pip install 'm2m100[eval]'\n"
    )
    assert not (tmp_path / "run").exists()


def test_without_a_model_the_demo_model_is_fine_tuned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from m2m100.demo import model_path

    try:
        demo = model_path()
    except FileNotFoundError:
        pytest.skip("the demo model is not trained yet")
    train = tmp_path / "train.tsv"
    train.write_text("cent\tone hundred\ndeux\ttwo\n", encoding="utf-8")
    output = tmp_path / "run"
    status, err = run_cli(
        ["finetune", "--train", train, "--src-lang", "fr", "--tgt-lang", "en", "-o", output, "--max-steps", 1, *QUICK],
        capsys,
    )
    assert status == 0, err
    assert err.count("bundled demo model") == 1 and "finetune: 1 steps" in err
    assert json.loads((output / "run.json").read_text())["identity"]["model"] == str(demo)
    assert M2M100Config.from_pretrained(output / "last").d_model == M2M100Config.from_pretrained(demo).d_model


def test_the_output_folder_guards_its_run(
    tiny: SimpleNamespace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "run"
    assert run_cli(finetune(tiny, output, "--max-steps", 2), capsys)[0] == 0

    status, err = run_cli(finetune(tiny, output, "--max-steps", 2), capsys)
    assert status == 2 and "already holds this run; pass --resume to continue it or --overwrite" in err
    status, err = run_cli(finetune(tiny, output, "--max-steps", 2, "--lr", "1e-3"), capsys)
    assert status == 2 and "holds a different run (lr: 0.003 in the run, 0.001 now)" in err
    status, err = run_cli(finetune(tiny, output, "--max-steps", 4, "--lr", "1e-3", "--resume"), capsys)
    assert status == 2 and "--resume:" in err and "lr: 0.003 in the run, 0.001 now" in err
    assert sorted(train_log(output)) == [1, 2]  # none of these touched the run

    status, err = run_cli(finetune(tiny, output, "--max-steps", 1, "--lr", "1e-3", "--overwrite"), capsys)
    assert status == 0, err
    assert [r["lr"] for r in train_log(output).values()] == [5e-4]  # the new run's only step (warmup 1/2)

    status, err = run_cli(finetune(tiny, tmp_path / "empty", "--max-steps", 1, "--resume"), capsys)
    assert status == 2 and "holds no checkpoint to continue" in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    status, err = run_cli(finetune(tiny, tmp_path / "mine", "--max-steps", 1, "--overwrite"), capsys)
    assert status == 2 and "is not empty and holds no finetune run" in err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    tiny: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real, calls = loop.label_smoothed_nll_loss, []

    def nan_at_step_4(logits: torch.Tensor, labels: torch.Tensor, eps: float) -> Any:
        calls.append(1)
        loss, nll = real(logits, labels, eps)
        return (loss * math.nan, nll) if len(calls) == 4 else (loss, nll)

    monkeypatch.setattr(loop, "label_smoothed_nll_loss", nan_at_step_4)
    output = tmp_path / "run"
    status, err = run_cli(
        finetune(tiny, output, "--max-steps", 6, "--save-every", 2, "--max-batch-tokens", 4096), capsys
    )
    assert len(calls) == 4  # one batch a step
    assert status == 1 and "training diverged at step 4: the loss is nan; stopped" in err
    assert f"{output / 'last'} keeps the checkpoint of step 2 (try a lower --lr)" in err
    assert torch.load(output / "last" / STATE_FILE, weights_only=True)["step"] == 2
    assert sorted(train_log(output)) == [1, 2, 3]
