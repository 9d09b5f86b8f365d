"""What the generation tests compare with: the tiny checkpoint's special ids and token parity."""

from __future__ import annotations

import torch

PAD, EOS, START = 1, 2, 2
LANGS = (143, 148, 159)  # stand-ins for language tokens, at the top of the vocabulary
LANG = 159  # the target language of most tests


def strip(sequences: torch.Tensor) -> list[list[int]]:
    """Rows without their trailing padding."""
    rows = []
    for row in sequences.tolist():
        while row and row[-1] == PAD:
            row.pop()
        rows.append(row)
    return rows


def assert_same_tokens(expected: torch.Tensor, actual: torch.Tensor, *, varied: bool = True) -> None:
    """The same rows (trailing padding aside) and shape; with ``varied``, the expected rows must
    end at different lengths, or the comparison would be trivial."""
    assert strip(actual) == strip(expected)
    assert actual.shape == expected.shape
    if varied:
        lengths = [len(r) for r in strip(expected)]
        assert len(set(lengths)) > 1, f"all sequences have length {lengths[0]}: the test would be trivial"
