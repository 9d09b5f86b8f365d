"""``m2m100 translate --ray`` and the :mod:`m2m100.ray` pipeline on a local Ray cluster started
here (2 CPUs, so 2 actors), one for the whole module: the real command in subprocesses joins it,
and its output must be byte for byte what the single-process command writes for the same inputs
and settings, whatever the order blocks finish in, after an interrupted run is resumed, and after
an actor is killed mid-run."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
import ray.data

from m2m100.demo.sources import language_texts
from m2m100.ray import BatchTranslator, translate_dataset, translate_files
from m2m100.ray.actor import assigned_cpus
from m2m100.translator import Translator

# Small model batches, so that a run lasts long enough to be interrupted.
OPTIONS = ["--beam-size", "2", "--max-new-tokens", "8", "--max-batch-tokens", "48", "--device", "cpu"]
LINES = 600


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The address of a 2-CPU local cluster, which this process started (and stops, with its workers)."""
    context = ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        object_store_memory=200 * 1024 * 1024,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield context.address_info["address"]
    ray.shutdown()


def start(args: list[object], stdin: bytes | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "m2m100", "translate", *map(str, args)],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def run(args: list[object], stdin: bytes | None = None) -> tuple[int, bytes, str]:
    process = start(args, stdin)
    out, err = process.communicate(stdin, timeout=300)
    return process.returncode, out, err.decode()


def ok(args: list[object], stdin: bytes | None = None) -> bytes:
    code, out, err = run(args, stdin)
    assert code == 0, err
    assert "Traceback" not in err
    return out


@pytest.fixture(scope="module")
def text_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = sorted(set(language_texts("fr").texts.values()))
    path = tmp_path_factory.mktemp("text") / "input.txt"
    lines = random.Random(0).choices(texts, k=LINES)
    lines[5] = ""  # a blank line stays a blank line
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def text_expected(text_input: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """What the single-process command writes for ``text_input``."""
    output = tmp_path_factory.mktemp("expected") / "out.txt"
    ok([text_input, "-s", "fr", "-t", "de", *OPTIONS, "-o", output])
    return output.read_bytes()


def shard_files(output: Path) -> list[Path]:
    return sorted(output.with_name(output.name + ".m2m100-ray").glob("*.out"))


def wait_for_shards(process: subprocess.Popen, output: Path, count: int) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None and len(shard_files(output)) < count:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    assert len(shard_files(output)) >= count


# ------------------------------------------------------------------------------------------
# The command
# ------------------------------------------------------------------------------------------
def test_text_equals_the_single_process_command(
    cluster: str, text_input: Path, text_expected: bytes, tmp_path: Path
) -> None:
    output = tmp_path / "out.txt"
    args = [text_input, "-s", "fr", "-t", "de", *OPTIONS, "-o", output, "--progress"]
    code, out, err = run([*args, "--ray", cluster, "--workers", "2", "--shard-lines", "37"])
    assert code == 0, err
    assert output.read_bytes() == text_expected and out == b""
    assert text_expected.count(b"\n") == LINES and text_expected.split(b"\n")[5] == b""
    assert f"{LINES}/{LINES}" in err  # the progress bar reached the end
    assert not output.with_name("out.txt.m2m100-ray").exists()  # the shards were joined and removed


def test_jsonl_folder_and_parquet_in_order_on_stdout(cluster: str, tmp_path: Path) -> None:
    """Mixed directions and ids of every JSON kind across many small blocks; a folder stands for
    its files in path order; Parquet rows read as JSONL lines do."""
    rng = random.Random(1)
    texts = {code: sorted(set(language_texts(code).texts.values())) for code in ("fr", "de", "en", "es")}
    ids = ["1e400", "0.10", '"é\\u00e9"', "null", '[1, {"a": 2}]', "-0"]
    records = []
    for number in range(200):
        src, tgt = rng.sample(list(texts), 2)
        record = f'"text": {json.dumps(rng.choice(texts[src]), ensure_ascii=False)}, "src": "{src}", "tgt": "{tgt}"'
        if number % 7:
            record = f'"id": {ids[number // 2 % len(ids)] if number % 2 else number}, ' + record
        records.append("{" + record + "}\n")
    records[4] = '{"text": "", "src": "fr", "tgt": "de", "id": "blank"}\n'
    folder = tmp_path / "in"
    (folder / "part").mkdir(parents=True)
    (folder / "a.jsonl").write_text("".join(records[:80]), encoding="utf-8")
    (folder / "part" / "b.jsonl").write_text("".join(records[80:140]), encoding="utf-8")
    (folder / ".hidden").write_text("not an input\n")
    rows = [json.loads(r) for r in records[140:]]
    table = pa.table(
        {
            "text": [r["text"] for r in rows],
            "src": [r["src"] for r in rows],
            "tgt": [r["tgt"] for r in rows],
            "id": [f"row {n}" if n % 2 else None for n in range(len(rows))],
        }
    )
    pq.write_table(table, tmp_path / "c.parquet")
    # The same rows as JSONL, for the single-process command (string ids are written as JSON).
    (tmp_path / "c.jsonl").write_text(
        "".join(
            json.dumps({"id": i, "text": t, "src": s, "tgt": g} if i is not None else {"text": t, "src": s, "tgt": g})
            + "\n"
            for i, t, s, g in zip(*(table[c].to_pylist() for c in ("id", "text", "src", "tgt")))
        ),
        encoding="utf-8",
    )
    expected = ok(
        [folder / "a.jsonl", folder / "part" / "b.jsonl", tmp_path / "c.jsonl", "--format", "jsonl", *OPTIONS]
    )
    got = ok(
        [
            folder,
            tmp_path / "c.parquet",
            "--format",
            "jsonl",
            *OPTIONS,
            "--ray",
            cluster,
            "--workers",
            "2",
            "--shard-lines",
            "11",
        ]
    )
    assert got == expected
    lines = got.decode().splitlines()
    assert len(lines) == 200 and lines[0].startswith('{"src"') and lines[1].startswith('{"id": 1e400, ')
    assert json.loads(lines[-1])["id"] == "row 59" and "id" not in json.loads(lines[-2])


def test_resume_continues_an_interrupted_run(
    cluster: str, text_input: Path, text_expected: bytes, tmp_path: Path
) -> None:
    output = tmp_path / "out.txt"
    args = [text_input, "-s", "fr", "-t", "de", *OPTIONS, "-o", output, "--ray", cluster, "--shard-lines", "50"]
    process = start(args)
    wait_for_shards(process, output, 1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = shard_files(output)
    assert not output.exists() and 1 <= len(done) < LINES // 50
    # A shard kept by --resume is not translated again: mark one, and find the mark in the output.
    kept = int(done[0].stem)
    done[0].write_bytes(b"kept\n" * 50)

    code, _, err = run([*args[:-4], "--beam-size", "3", "-o", output, "--ray", cluster, "--resume"])
    assert code == 2 and "--resume: --beam-size was 2 in the interrupted run, now 3" in err
    code, _, err = run(args)
    assert code == 2 and "holds an interrupted --ray run; pass --resume to continue it or --overwrite" in err

    ok([*args, "--resume"])
    lines, expected = output.read_bytes().splitlines(True), text_expected.splitlines(True)
    marked = range(kept * 50, kept * 50 + 50)
    assert [line for i, line in enumerate(lines) if i in marked] == [b"kept\n"] * 50
    assert [line for i, line in enumerate(lines) if i not in marked] == [
        line for i, line in enumerate(expected) if i not in marked
    ]
    assert not output.with_name("out.txt.m2m100-ray").exists()


def test_a_pool_larger_than_the_cluster_is_refused(cluster: str, text_input: Path) -> None:
    code, _, err = run([text_input, "-s", "fr", "-t", "de", "--ray", cluster, "--workers", "3"])
    assert code == 2 and "m2m100: error: --workers 3 x --cpus-per-worker 1 needs 3 CPUs, the cluster has 2" in err


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(
    cluster: str, text_input: Path, text_expected: bytes, tmp_path: Path
) -> None:
    output = tmp_path / "out.txt"
    process = start(
        [
            text_input,
            "-s",
            "fr",
            "-t",
            "de",
            *OPTIONS,
            "-o",
            output,
            "--ray",
            cluster,
            "--workers",
            "2",
            "--shard-lines",
            "25",
        ]
    )
    wait_for_shards(process, output, 1)
    victim = next(a for a in pool_actors() if a["State"] == "ALIVE")
    os.kill(victim["Pid"], signal.SIGKILL)
    assert process.poll() is None  # killed mid-run
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    assert output.read_bytes() == text_expected  # every line once, in order
    restarted = [a for a in pool_actors() if a["ActorID"] == victim["ActorID"]]
    assert restarted and restarted[0]["NumRestarts"] >= 1  # Ray brought the actor back


def pool_actors() -> list[dict]:
    """The actors of translate --ray's pools, from the cluster's state (the GCS table; the
    state API's list_actors needs the dashboard, which this cluster does not run)."""
    from ray._private import state

    return [a for a in state.actors().values() if "BatchTranslator" in a["ActorClassName"]]


# ------------------------------------------------------------------------------------------
# The library
# ------------------------------------------------------------------------------------------
def test_translate_dataset_on_an_actor_pool(cluster: str) -> None:
    rows = [
        {"text": text, "src": src, "tgt": tgt, "id": i}
        for i, (text, src, tgt) in enumerate([("trois", "fr", "de"), ("seven", "en", "es"), ("zwölf", "de", None)] * 5)
    ]
    dataset = translate_dataset(
        ray.data.from_items(rows, override_num_blocks=5), workers=2, tgt="fr", device="cpu", beam_size=2
    )
    out = sorted(dataset.take_all(), key=lambda r: r["id"])
    translator = Translator(device="cpu")
    expected = [translator.translate(r["text"], src=r["src"], tgt=r["tgt"] or "fr", beam_size=2) for r in rows]
    assert [r["translation"] for r in out] == expected
    assert [r["id"] for r in out] == list(range(15)) and out[2]["tgt"] == "fr"


def test_translate_files_reads_parquet_on_the_workers(cluster: str, tmp_path: Path) -> None:
    pq.write_table(pa.table({"text": ["un", "deux", "trois"], "tgt": ["de", "en", "es"]}), tmp_path / "in.parquet")
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    try:
        out = translate_files(str(tmp_path), input_format="parquet", src="fr", device="cpu").take_all()
    finally:
        ray.data.DataContext.get_current().execution_options.preserve_order = False
    translator = Translator(device="cpu")
    assert [r["translation"] for r in out] == [
        translator.translate(t, src="fr", tgt=g) for t, g in [("un", "de"), ("deux", "en"), ("trois", "es")]
    ]


def test_actor_threads_follow_its_cpus(cluster: str) -> None:
    """An actor of num_cpus=2 runs torch on 2 threads; BatchTranslator reads the same number."""

    @ray.remote(num_cpus=2)
    class Probe:
        def threads(self) -> tuple[int | None, int]:
            import torch

            BatchTranslator(device="cpu")  # sets torch's threads from the actor's CPUs
            return assigned_cpus(), torch.get_num_threads()

    probe = Probe.remote()  # type: ignore[attr-defined]
    assert ray.get(probe.threads.remote()) == (2, 2)
    ray.kill(probe)
