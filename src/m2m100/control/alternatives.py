"""n-best alternatives and hypothesis scores.

Two kinds of alternatives, as CTranslate2 offers them:

* **n-best** (``num_hypotheses``): the ``n`` best distinct finished hypotheses of one beam search
  with ``max(beam_size, n)`` beams, best first: transformers' ``num_return_sequences``.
* **after a prefix** (``return_alternatives``): the ``n`` most likely tokens at the first step
  after the prefix (special tokens left out), each then continued by the call's own search
  (greedy or beam), in the order of that first token's probability.

A hypothesis scores ``sum(log p) / length ** length_penalty`` over the tokens it generated (the
target language token, which is forced, has log p = 0 but counts), as beam search ranks them
(transformers' ``sequences_scores``); with the default length penalty of 1 that is the mean
log-probability per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from m2m100.generation.decoding import GenerateBeamEncoderDecoderOutput, GenerateEncoderDecoderOutput
from m2m100.modeling import M2M100ForConditionalGeneration


@dataclass(frozen=True)
class Alternative:
    """One hypothesis for an input: its text and its score (see the module's docstring)."""

    text: str
    score: float


@dataclass
class Hypotheses:
    """What a search gave: (N, L) sequences and, per row, the summed log-probability of the
    tokens it generated and their number."""

    sequences: torch.Tensor
    sums: torch.Tensor  # (N,) float
    lengths: torch.Tensor  # (N,) generated tokens, end of sequence included

    def scores(self, length_penalty: float) -> list[float]:
        return (self.sums / self.lengths.clamp(min=1).float() ** length_penalty).tolist()


def hypotheses(out: Any, *, prompt_length: int, eos_id: int, length_penalty: float) -> Hypotheses:
    """The :class:`Hypotheses` of a ``generate`` output made with ``return_dict_in_generate`` and
    ``output_scores``: beam search's own ``sequences_scores``, or for greedy search the
    log-softmax of each step's processed scores at the token it chose, up to the end of sequence."""
    sequences = out.sequences
    if isinstance(out, GenerateBeamEncoderDecoderOutput):
        assert out.beam_indices is not None and out.sequences_scores is not None
        lengths = (out.beam_indices >= 0).sum(dim=1)
        sums = out.sequences_scores.float() * lengths.clamp(min=1).float() ** length_penalty
        return Hypotheses(sequences, sums, lengths)
    assert isinstance(out, GenerateEncoderDecoderOutput) and out.scores is not None
    steps = len(out.scores)
    chosen = sequences[:, prompt_length : prompt_length + steps]  # (N, steps)
    log_probs = F.log_softmax(torch.stack(out.scores, dim=1).float(), dim=-1)  # (N, steps, V)
    picked = torch.gather(log_probs, 2, chosen[:, :, None]).squeeze(2)
    ended_before = torch.cumsum((chosen == eos_id).long(), dim=1) - (chosen == eos_id).long()
    valid = ended_before == 0  # up to and including the first end of sequence
    return Hypotheses(sequences, (picked * valid).sum(dim=1), valid.sum(dim=1))


def n_best(
    model: M2M100ForConditionalGeneration, inputs: dict[str, Any], settings: dict[str, Any], n: int
) -> dict[str, Any]:
    """``generate`` arguments for the ``n`` best hypotheses of a beam search, best first."""
    beams = settings.get("num_beams") or model.generation_config.num_beams or 1
    return {
        **inputs,
        **settings,
        "num_beams": max(beams, n),
        "num_return_sequences": n,
        "do_sample": False,
    }


def first_tokens(
    model: M2M100ForConditionalGeneration,
    inputs: dict[str, Any],
    settings: dict[str, Any],
    n: int,
    *,
    special_ids: Sequence[int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``n`` most likely next tokens after each row's prompt (``inputs["decoder_input_ids"]``),
    special tokens left out: (B, n) ids and (B, n) log-probabilities. The call's logits rules
    (repetition penalties, bad words ...) apply, as they would in its search."""
    step = {k: v for k, v in settings.items() if k not in ("max_length", "max_new_tokens", "num_beams", "do_sample")}
    out = model.generate(
        **inputs,
        **step,
        max_new_tokens=1,
        num_beams=1,
        do_sample=False,
        return_dict_in_generate=True,
        output_scores=True,
    )
    assert isinstance(out, GenerateEncoderDecoderOutput) and out.scores is not None
    log_probs = F.log_softmax(out.scores[0].float(), dim=-1)  # (B, V)
    log_probs[:, list(special_ids)] = -torch.inf
    values, tokens = torch.topk(log_probs, n, dim=-1)
    return tokens, values
