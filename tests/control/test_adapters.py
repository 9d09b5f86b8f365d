"""The controls through the adapters, on the demo model: the real command in a subprocess and the
real app under FastAPI's TestClient."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest


def m2m100(*args: str, stdin: str = "", cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "m2m100", *args], input=stdin, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_translate_jsonl_fields_and_score_command(tmp_path: Path):
    lines = '{"id": 1, "text": "forty two", "alternatives": 2}\n{"text": "seven ☃", "return_scores": true}\n'
    run = m2m100("translate", "--format", "jsonl", "-s", "en", "-t", "fr", stdin=lines, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    first, second = (json.loads(line) for line in run.stdout.splitlines())
    assert first["id"] == 1 and [a["text"] for a in first["alternatives"]][0] == first["translation"]
    assert len(first["alternatives"]) == 2 and "unknowns" not in first
    assert second["unknowns"] == 1 and second["score"] < 0
    assert "1 input character(s) in 1 line(s) are not in the model's vocabulary" in run.stderr
    bad = m2m100(
        "translate",
        "--format",
        "jsonl",
        "-s",
        "en",
        "-t",
        "fr",
        stdin='{"text": "x", "alternatives": "2"}\n',
        cwd=tmp_path,
    )
    assert bad.returncode == 1 and '<stdin>:1: "alternatives" must be an integer of at least 0' in bad.stderr
    (tmp_path / "en.txt").write_text("forty two\nseven\n", encoding="utf-8")
    (tmp_path / "fr.txt").write_text("quarante-deux\ncent\n", encoding="utf-8")
    scored = m2m100("score", "--source", "en.txt", "--target", "fr.txt", "-s", "en", "-t", "fr", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    good, wrong = (json.loads(line) for line in scored.stdout.splitlines())
    assert good["normalized"] > wrong["normalized"] and good["tokens"][-1] == "</s>"
    (tmp_path / "short.txt").write_text("x\n", encoding="utf-8")
    short = m2m100("score", "--source", "en.txt", "--target", "short.txt", "-s", "en", "-t", "fr", cwd=tmp_path)
    assert short.returncode == 1 and "different numbers of lines" in short.stderr


@pytest.fixture(scope="module")
def client():
    from fastapi.testclient import TestClient

    from m2m100.serving.app import create_app
    from m2m100.translator import Translator

    with TestClient(create_app(lambda: Translator(device="cpu"))) as client:
        for _ in range(300):
            if client.get("/health").status_code == 200:
                break
            time.sleep(0.1)
        yield client


def test_server_controls_and_score(client):
    answer = client.post(
        "/translate", json={"texts": ["forty two", "seven ☃"], "src": "en", "tgt": "fr", "alternatives": 2}
    ).json()
    assert answer["unknowns"] == [0, 1]
    assert [alts[0]["text"] for alts in answer["alternatives"]] == answer["translations"]
    assert len(answer["scores"]) == 2
    prefixed = client.post("/translate", json={"text": "forty two", "src": "en", "tgt": "fr", "prefix": "quarante et"})
    assert prefixed.json()["translation"].startswith("quarante et")
    scores = client.post(
        "/score", json={"sources": ["forty two"] * 2, "targets": ["quarante-deux", "cent"], "src": "en", "tgt": "fr"}
    ).json()["scores"]
    assert scores[0]["normalized"] > scores[1]["normalized"]
    mismatch = client.post("/score", json={"sources": ["a"], "targets": [], "src": "en", "tgt": "fr"})
    assert mismatch.status_code == 422 and mismatch.json()["error"] == "invalid_request"
    unknown = client.post("/score", json={"sources": ["a"], "targets": ["b"], "src": "en", "tgt": "xx"})
    assert unknown.status_code == 422 and "xx" in unknown.json()["detail"]
