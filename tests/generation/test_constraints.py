"""Lexically constrained beam search (``generate(lexical_constraints=...)``) on the tiny checkpoint
whose translations end at varied lengths: every constraint met where the length allows, the
unconstrained rows of a mixed batch exactly as plain search (and transformers 4.57) gives them,
unsatisfiable constraints reported, bad constraints refused."""

from __future__ import annotations

import pytest
import torch

from m2m100.generation.constraints import ConstrainedBeams, contains, unmet_constraints
from tests.generation.parity import LANG, PAD, strip


def batch(rows: int = 6, length: int = 9, seed: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 140, (rows, length), generator=generator)
    mask = torch.ones_like(ids)
    for row in range(1, rows, 2):  # padded rows
        cut = length - row
        ids[row, cut:], mask[row, cut:] = PAD, 0
    return ids, mask


def run(model, ids, mask, constraints=None, **options):
    settings = {**dict(forced_bos_token_id=LANG, max_new_tokens=14, num_beams=4), **options}
    if constraints is None:
        return model.generate(ids, mask, **settings)
    return model.generate(ids, mask, lexical_constraints=constraints, return_dict_in_generate=True, **settings)


def generated(out: torch.Tensor) -> list[list[int]]:
    return [row[2:] for row in strip(out)]


@pytest.mark.parametrize("beams", [1, 4])
def test_every_constraint_is_met_and_plain_rows_are_unchanged(ours, hf, beams):
    ids, mask = batch()
    plain = run(ours, ids, mask, num_beams=beams)
    constraints = [[[40, 41], [77]], [], [[90], [91, 92, 93]], [], [[12, 13], [12, 60], [100]], [[55]]]
    out = run(ours, ids, mask, constraints, num_beams=beams)
    rows = generated(out.sequences)
    for row, wanted in zip(rows, constraints):
        for ids_ in wanted:
            assert contains(row, ids_), (row, ids_)
    assert out.unmet_constraints == [[]] * len(constraints)
    plain_rows = generated(plain)
    for r in (1, 3):  # rows without constraints: as plain search gives them
        assert rows[r] == plain_rows[r]
    assert rows != plain_rows  # the constraints changed the others
    if beams > 1:  # and as transformers gives them
        reference = hf.generate(ids, attention_mask=mask, forced_bos_token_id=LANG, max_new_tokens=14, num_beams=4)
        assert [generated(reference)[r] for r in (1, 3)] == [plain_rows[r] for r in (1, 3)]


def test_constrained_hypotheses_end_and_keep_scores(ours):
    """The constrained search ends hypotheses with end-of-sequence once their terms are met (it
    is not run to the limit), and the returned score is that of the returned tokens."""
    ids, mask = batch()
    constraints = [[[40]], [[41]], [[42]], [[43]], [[44]], [[45]]]
    out = run(ours, ids, mask, constraints, output_scores=True, max_new_tokens=30)
    lengths = {len(r) for r in strip(out.sequences)}
    assert len(lengths) > 1 and min(lengths) < 32
    assert out.unmet_constraints == [[]] * 6
    assert bool((out.sequences_scores > -100).all())


def test_unsatisfiable_constraints_are_reported(ours):
    ids, mask = batch(rows=2)
    long_term = list(range(20, 32))  # 12 tokens: more than max_new_tokens allows with the other one
    constraints = [[long_term, [7]], [[8]]]
    out = run(ours, ids, mask, constraints, max_new_tokens=10)
    assert out.unmet_constraints[0] in ([0], [1], [0, 1])
    assert out.unmet_constraints[1] == []
    assert unmet_constraints(out.sequences, constraints) == out.unmet_constraints


def test_terms_with_a_shared_first_token_are_both_followed(ours):
    ids, mask = batch(rows=1)
    constraints = [[[30, 31, 32], [30, 33]]]  # both start with 30
    out = run(ours, ids, mask, constraints, max_new_tokens=16)
    row = generated(out.sequences)[0]
    assert contains(row, [30, 31, 32]) and contains(row, [30, 33])


def test_progress_follows_tokens():
    beams = ConstrainedBeams([[[5, 6, 7], [5, 8], [9]]], beams=1, device=torch.device("cpu"))

    def feed(tokens: list[int]) -> int:
        beams.progress.zero_()
        for token in tokens:
            beams.progress = beams._advance(torch.zeros(1, 1, dtype=torch.long), torch.tensor([[token]]))
        return int(beams.met(beams.progress)[0, 0])

    assert feed([5]) == 1  # one token of two terms: the longest partial match counts
    assert feed([5, 6]) == 2
    assert feed([5, 6, 1]) == 0  # a broken match restarts from nothing
    assert feed([5, 6, 5, 6, 7]) == 3  # ... or from the term's first token
    assert feed([5, 6, 7, 5, 8, 9]) == 6  # all met
    assert feed([9, 9]) == 1  # a term met stays met


def test_bad_constraints_are_refused(ours):
    ids, mask = batch(rows=2)
    cases = [
        ([[[40]]], "one list of constraints per input (2)"),
        ([[[40]], [[]]], "lexical_constraints[1][0] must be a non-empty list"),
        ([[[400]], []], "ids must lie in 0..159"),
        ([[[2]], []], "not be end-of-sequence or padding"),
    ]
    for constraints, message in cases:
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
            run(ours, ids, mask, constraints)
    with pytest.raises(ValueError, match="not sampling"):
        run(ours, ids, mask, [[[40]], []], do_sample=True)


def test_no_constraint_at_all_is_plain_search(ours):
    ids, mask = batch()
    plain = run(ours, ids, mask)
    out = ours.generate(
        ids, mask, forced_bos_token_id=LANG, max_new_tokens=14, num_beams=4, lexical_constraints=[[]] * 6
    )
    assert torch.equal(out, plain)


@pytest.mark.parametrize("beams", [1, 2, 4])
def test_random_constraints_are_all_met_where_the_length_allows(ours, beams):
    """16 rows, each 0-3 random constraints of 1-3 tokens (at most 9 tokens, 20 allowed)."""
    ids, mask = batch(rows=16, seed=11)
    rng = torch.Generator().manual_seed(beams)
    constraints = [
        [
            torch.randint(4, 140, (int(torch.randint(1, 4, (), generator=rng)),), generator=rng).tolist()
            for _ in range(n)
        ]
        for n in torch.randint(0, 4, (16,), generator=rng).tolist()
    ]
    out = run(ours, ids, mask, constraints, num_beams=beams, max_new_tokens=20)
    assert out.unmet_constraints == [[]] * 16
    for row, wanted in zip(generated(out.sequences), constraints):
        assert all(contains(row, c) for c in wanted)
