"""``m2m100 quantize``, run for real: the folder it writes translates as ``--quantize int8`` does,
without the flag, and a folder in the way is refused before any work."""

from __future__ import annotations

from pathlib import Path

from m2m100.demo import model_path
from tests.cli.test_cli import run, start

LINES = b"quatre-vingt-dix-neuf\ncent deux\nmardi\n"


def test_the_written_folder_translates_as_quantizing_at_load_does(tmp_path):
    out = tmp_path / "demo-int8"
    status, stdout, stderr = run(["quantize", "-m", model_path(), "-o", out])
    assert status == 0, stderr
    assert stdout.decode().strip() == str(out)
    assert stderr.startswith(f"m2m100: wrote {out}: int8 weights, ") and stderr.rstrip().endswith(" s")
    assert not [p.name for p in tmp_path.iterdir() if p.name != "demo-int8"]  # no staging folder left
    from_disk = start(["translate", "-m", out, "-s", "fr", "-t", "en"], LINES)
    at_load = start(["translate", "-m", model_path(), "-s", "fr", "-t", "en", "--quantize", "int8"], LINES)
    (status_a, translated, err_a), (status_b, expected, err_b) = from_disk.finish(), at_load.finish()
    assert (status_a, status_b) == (0, 0), err_a + err_b
    assert translated == expected
    assert translated.decode().splitlines() == ["ninety-nine", "one hundred and two", "Tuesday"]


def test_an_existing_folder_is_kept_unless_overwrite(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    status, stdout, stderr = run(["quantize", "-m", model_path(), "-o", out])
    assert (status, stdout) == (2, b"")
    assert stderr == f"m2m100: error: {out} exists and is not empty; pass --overwrite (overwrite=True) to replace it\n"
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_folder_that_is_no_checkpoint_is_named(tmp_path):
    status, _, stderr = run(["quantize", "-m", tmp_path, "-o", Path(tmp_path) / "out"])
    assert status == 1
    assert stderr.startswith(f"m2m100: error: cannot load the model {tmp_path}: ") and stderr.count("\n") == 1
    assert not (Path(tmp_path) / "out").exists()
