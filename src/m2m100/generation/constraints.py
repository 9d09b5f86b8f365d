"""Lexically constrained beam search: dynamic beam allocation, batched.

Each row of a batch may carry its own constraints: token sequences that its output must contain,
each contiguous, in any order (a glossary's target terms, do-not-translate names). The search is
the beam search of :mod:`m2m100.generation.decoding` with three changes, after Post & Vilar (2018)
and Hu et al. (2019), done for all rows and beams at once as tensors:

* Candidates: besides the best ``2 K`` (beam, token) continuations of a row, each beam proposes
  its best token and the next token of each constraint it has not met, so a term's tokens are
  always on offer even when the model ranks them low.
* Banks: a candidate's bank is the number of constraint tokens its hypothesis has met (whole
  terms met plus the longest partial match). The K beams are filled round-robin from the highest
  bank down, best score first within a bank (a bank with too few candidates leaves its slots to
  the others), so hypotheses at every stage of progress survive.
* Ends: a beam may not end (its end-of-sequence scores are -inf) before it meets all its
  constraints; when the length limit ends it anyway, a hypothesis that met them all still ranks
  above one that did not, and :func:`unmet_constraints` reports what is missing.

Each constraint is tracked on its own (``progress``: tokens matched so far, the whole length when
met), so two terms that start with the same token are followed side by side. A token that breaks a
partial match restarts it when it is the constraint's first token; longer self-overlaps (a term
``a a b`` after ``a a a``) are not recovered. Rows without constraints select exactly as plain
beam search does, so a batch may mix both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

# A constraint list per input row: each constraint a non-empty sequence of token ids.
RowConstraints = Sequence[Sequence[Sequence[int]]]

_UNREACHABLE = -1.0e9 / 2  # scores at or below this come from beams that do not exist (see decoding)


def check_constraints(
    constraints: object, *, batch: int, vocab_size: int, forbidden: Sequence[int] = ()
) -> list[list[list[int]]]:
    """``constraints`` as lists, checked: one list per input row (``batch`` of them), each holding
    constraints that are non-empty sequences of ids in ``0..vocab_size - 1`` and none of
    ``forbidden`` (the end-of-sequence and padding ids, which would end or pad a hypothesis).

    Raises:
        ValueError: the first problem, naming the row and constraint.
    """
    if not isinstance(constraints, (list, tuple)) or len(constraints) != batch:
        size = len(constraints) if isinstance(constraints, (list, tuple)) else type(constraints).__name__
        raise ValueError(
            f"lexical_constraints must be a list with one list of constraints per input ({batch}), got {size}"
        )
    banned = set(forbidden)
    rows: list[list[list[int]]] = []
    for r, row in enumerate(constraints):
        if not isinstance(row, (list, tuple)):
            raise ValueError(f"lexical_constraints[{r}] must be a list of token-id sequences, got {type(row).__name__}")
        checked = []
        for c, ids in enumerate(row):
            if isinstance(ids, torch.Tensor):
                ids = ids.tolist()
            if not isinstance(ids, (list, tuple)) or not ids or not all(isinstance(i, int) for i in ids):
                raise ValueError(f"lexical_constraints[{r}][{c}] must be a non-empty list of token ids, got {ids!r}")
            bad = [i for i in ids if not 0 <= i < vocab_size or i in banned]
            if bad:
                raise ValueError(
                    f"lexical_constraints[{r}][{c}] holds id {bad[0]}: ids must lie in 0..{vocab_size - 1} and "
                    f"not be end-of-sequence or padding ({sorted(banned)})"
                )
            checked.append(list(ids))
        rows.append(checked)
    return rows


class ConstrainedBeams:
    """The constraint side of a beam search over B inputs with K beams each: the constraints as
    tensors, each beam's progress, the extra candidates and the bank-allocated selection order.

    Args:
        constraints: one list of constraints (token-id sequences) per input.
        beams: K, the beams per input.
        device: where the search runs.
    """

    def __init__(self, constraints: RowConstraints, *, beams: int, device: torch.device) -> None:
        b, k = len(constraints), beams
        c = max(1, max(len(row) for row in constraints))
        width = max([len(ids) for row in constraints for ids in row] or [1])
        self.tokens = torch.full((b, c, width), -1, dtype=torch.long)  # (B, C, L): -1 past each end
        self.lengths = torch.zeros(b, c, dtype=torch.long)  # (B, C): 0 where a row has fewer constraints
        for r, row in enumerate(constraints):
            for i, ids in enumerate(row):
                self.tokens[r, i, : len(ids)] = torch.tensor(ids)
                self.lengths[r, i] = len(ids)
        self.tokens, self.lengths = self.tokens.to(device), self.lengths.to(device)
        self.total = self.lengths.sum(dim=1)  # (B,) constraint tokens of each row: its highest bank
        self.constrained = self.total > 0  # (B,)
        self.beams = k
        self.progress = torch.zeros(b, k, c, dtype=torch.long, device=device)  # (B, K, C) tokens matched
        self._pending: torch.Tensor | None = None  # (B, P, C) progress of the last step's candidates

    def met(self, progress: torch.Tensor) -> torch.Tensor:
        """(..., C) progress -> (...) bank: tokens of whole constraints met plus the longest partial match."""
        lengths = self.lengths.view(self.lengths.shape[0], *([1] * (progress.dim() - 2)), -1)
        done = progress >= lengths
        whole = (lengths * done).sum(dim=-1)
        partial = torch.where(done, 0, progress).amax(dim=-1)
        return whole + partial

    def unfinished(self) -> torch.Tensor:
        """(B, K) bool: beams that have not met all their constraints."""
        return (self.progress < self.lengths[:, None, :]).any(dim=-1)

    def ban_ends(self, log_probs: torch.Tensor, stop_ids: torch.Tensor) -> None:
        """Set the end-of-sequence scores of (B * K, V) ``log_probs`` to -inf, in place, for beams
        that have constraints left."""
        if stop_ids.numel() == 0:
            return
        blocked = self.unfinished().reshape(-1, 1)  # (B * K, 1)
        columns = log_probs[:, stop_ids]
        log_probs[:, stop_ids] = columns.masked_fill(blocked, -torch.inf)

    def _advance(self, source: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """(B, P, C) progress of candidates that extend beam ``source`` (B, P) with ``tokens`` (B, P)."""
        progress = torch.take_along_dim(self.progress, source[:, :, None], dim=1)  # (B, P, C)
        b, c, width = self.tokens.shape
        lengths = self.lengths[:, None, :]  # (B, 1, C)
        done = progress >= lengths
        at = progress.clamp(max=width - 1)  # (B, P, C)
        expected = torch.gather(self.tokens[:, None].expand(b, at.shape[1], c, width), 3, at[..., None])[..., 0]
        y = tokens[:, :, None]
        first = self.tokens[:, None, :, 0]  # (B, 1, C)
        grown = torch.where(y == expected, progress + 1, torch.where(y == first, 1, 0))
        return torch.where(done, progress, grown)

    def candidates(
        self, totals: torch.Tensor, flat: torch.Tensor, scores: torch.Tensor, keep: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Add each beam's constraint tokens and best token to the ``keep`` best candidates and
        order them by bank.

        Args:
            totals: (B, K * V) accumulated scores of every (beam, token) continuation.
            flat: (B, keep) the best continuations (``beam * V + token``), best first.
            scores: (B, keep) their scores.
            keep: how many of the ordered candidates count as the "top" ones (K).

        Returns:
            ``flat`` and ``scores`` (B, P) with the extra candidates after the given ones; the
            selection key (B, P), higher first (plain rows: the score; constrained rows: the bank
            round-robin, -inf for candidates that cannot be taken); and (B, P) bool, the
            candidates among the first ``keep`` in that order.
        """
        b, kv = totals.shape
        k = self.beams
        vocab = kv // k
        c = self.tokens.shape[1]
        base = flat.shape[1]
        beams = totals.view(b, k, vocab)
        # each beam's next token of each constraint not met yet, and its best token
        progress = self.progress
        at = progress.clamp(max=self.tokens.shape[2] - 1)
        wanted = torch.gather(self.tokens[:, None].expand(b, k, c, -1), 3, at[..., None])[..., 0]  # (B, K, C)
        open_ = (progress < self.lengths[:, None, :]) & self.constrained[:, None, None]
        best = beams.argmax(dim=-1, keepdim=True)  # (B, K, 1)
        extra_tokens = torch.cat((torch.where(open_, wanted, 0), best), dim=2)  # (B, K, C + 1)
        extra_ok = torch.cat((open_, self.constrained[:, None, None].expand(b, k, 1)), dim=2)
        extra_flat = (torch.arange(k, device=flat.device)[None, :, None] * vocab + extra_tokens).view(b, -1)
        extra_scores = torch.gather(totals, 1, extra_flat).masked_fill(~extra_ok.view(b, -1), -torch.inf)
        flat = torch.cat((flat, extra_flat), dim=1)  # (B, P)
        scores = torch.cat((scores, extra_scores), dim=1)
        p = flat.shape[1]
        # a candidate given twice counts once (its first place)
        earlier = torch.ones(p, p, dtype=torch.bool, device=flat.device).tril(-1)  # [i, j]: j < i
        duplicate = ((flat[:, :, None] == flat[:, None, :]) & earlier).any(dim=-1)
        valid = (scores > _UNREACHABLE) & ~duplicate
        self._pending = self._advance(flat // vocab, flat % vocab)
        bank = self.met(self._pending)  # (B, P)
        # rank within the bank: better candidates of the same bank (ties: the earlier one)
        same = bank[:, :, None] == bank[:, None, :]
        ahead = (scores[:, None, :] > scores[:, :, None]) | ((scores[:, None, :] == scores[:, :, None]) & earlier)
        rank = (same & ahead & valid[:, None, :]).sum(dim=-1)  # (B, P)
        banks = self.total[:, None] + 1
        priority = rank * banks + (self.total[:, None] - bank)  # round-robin, highest bank first
        constrained_key = torch.where(valid, -priority.to(scores.dtype), -torch.inf)
        plain_key = torch.where(torch.arange(p, device=flat.device) < base, scores, -torch.inf)
        key = torch.where(self.constrained[:, None], constrained_key, plain_key)
        in_top = torch.where(
            self.constrained[:, None],
            valid & ((constrained_key[:, None, :] > constrained_key[:, :, None]).sum(dim=-1) < keep),
            (torch.arange(p, device=flat.device) < keep).expand(b, p),
        )
        return flat, scores, key, in_top

    def select(self, index: torch.Tensor) -> None:
        """Take the progress of the candidates picked as the next running beams: (B, K) positions
        among the last :meth:`candidates`."""
        assert self._pending is not None
        self.progress = torch.take_along_dim(self._pending, index[:, :, None], dim=1)

    def pending_unmet(self) -> torch.Tensor:
        """(B, P) bool: the last candidates that have constraints left."""
        assert self._pending is not None
        return (self._pending < self.lengths[:, None, :]).any(dim=-1)


def contains(sequence: Sequence[int], part: Sequence[int]) -> bool:
    """Whether ``part`` occurs contiguously in ``sequence``."""
    n = len(part)
    return any(list(sequence[i : i + n]) == list(part) for i in range(len(sequence) - n + 1))


def unmet_constraints(sequences: torch.Tensor, constraints: RowConstraints, *, group: int = 1) -> list[list[int]]:
    """For each output row, the indices of its input's constraints it does not contain.

    Args:
        sequences: (B * group, L) generated ids.
        constraints: one list of constraints per input (B).
        group: outputs per input (``num_return_sequences``).
    """
    rows = sequences.tolist()
    return [
        [i for i, ids in enumerate(constraints[r // group]) if not contains(row, ids)] for r, row in enumerate(rows)
    ]
