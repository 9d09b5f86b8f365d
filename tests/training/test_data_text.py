"""Attack on fine-tuning data: a JSONL line whose text holds a lone surrogate (a "\\ud800" escape),
which sentencepiece cannot take. It is a bad line: an error naming file:line, or left out with
``skip_bad_lines`` (``finetune --skip-bad-lines``), the other lines kept in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m2m100.training.data import DataError, read_pairs


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_lone_surrogate_is_a_bad_line(tmp_path: Path):
    good = [json.dumps({"src_lang": "en", "tgt_lang": "fr", "src": f"one {i}", "tgt": f"un {i}"}) for i in range(5)]
    lines = [*good[:3], '{"src_lang": "en", "tgt_lang": "fr", "src": "one", "tgt": "u\\udc80n"}', *good[3:]]
    path = write(tmp_path / "train.jsonl", lines)
    with pytest.raises(DataError, match=r":4: target: a lone surrogate \\udc80 at character 2.*--skip-bad-lines"):
        read_pairs(path)
    result = read_pairs(path, skip_bad_lines=True)
    assert [p.src for p in result.pairs] == [f"one {i}" for i in range(5)]
    assert [p.where for p in result.pairs] == [f"{path}:{n}" for n in (1, 2, 3, 5, 6)]
    assert result.skipped == [
        f"{path}:4: target: a lone surrogate \\udc80 at character 2, " + result.skipped[0].split(", ", 1)[1]
    ]
    # A surrogate in a language code is as bad.
    write(path, [good[0], '{"src_lang": "\\ud800", "tgt_lang": "fr", "src": "a", "tgt": "b"}'])
    with pytest.raises(DataError, match=r":2: source language: a lone surrogate"):
        read_pairs(path)
