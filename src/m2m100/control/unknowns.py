"""Unknown pieces: characters of an input that the vocabulary lacks, and ``<unk>`` in outputs.

A sentencepiece vocabulary without a character turns it into ``<unk>`` (or, in a model trained
with byte fallback, such as the demo model, spells it as UTF-8 byte pieces). Decoding with
``skip_special_tokens`` then drops every ``<unk>`` the model emits, silently (transformers
#11336). Here the characters an input loses are counted, and, as CTranslate2's
``replace_unknowns`` does, each ``<unk>`` of an output can be replaced by the source piece that
the decoder attended to most when it emitted it (cross-attention of the last decoder layer,
averaged over its heads, read from one teacher-forced pass over the finished output).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch

from m2m100.modeling import M2M100ForConditionalGeneration
from m2m100.tokenizer import MultilingualTokenizer

SPACE = "\u2581"  # sentencepiece's word-boundary mark
_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def unknown_characters(pieces: Sequence[str], ids: Sequence[int], unk_id: int) -> int:
    """Characters of a text that its vocabulary lacks: those under ``<unk>`` ids and those
    spelled as byte pieces (``<0xE2>``), given the text's ``pieces`` and their ``ids``."""
    count = 0
    spelled = bytearray()
    for piece, token in zip(pieces, ids):
        byte = _BYTE.match(piece)
        if byte is not None:
            spelled.append(int(byte.group(1), 16))
            continue
        count += len(spelled.decode("utf-8", errors="replace")) if spelled else 0
        spelled.clear()
        if token == unk_id:
            count += len(piece.replace(SPACE, "")) or 1
    return count + (len(spelled.decode("utf-8", errors="replace")) if spelled else 0)


@torch.inference_mode()
def attended_sources(
    model: M2M100ForConditionalGeneration,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    sequences: torch.Tensor,
    *,
    special_ids: Sequence[int],
) -> torch.Tensor:
    """(N, L) for each token of ``sequences`` the source position it attended to most.

    Args:
        input_ids: (N, S) the source row of each sequence (repeated for several outputs of one
            input); ``attention_mask`` (N, S).
        sequences: (N, L) outputs as ``generate`` returns them (decoder start token first).
        special_ids: source tokens never chosen (language tokens, ``</s>``).

    Returns:
        (N, L) long; column 0 (the start token, which no step emitted) is 0.
    """
    out = model(
        input_ids,
        attention_mask=attention_mask,
        decoder_input_ids=sequences[:, :-1],
        output_attentions=True,
    )
    weights = out.cross_attentions[-1].float().mean(dim=1)  # (N, L - 1, S): last layer, heads averaged
    blocked = (attention_mask == 0) | torch.isin(input_ids, torch.tensor(list(special_ids), device=input_ids.device))
    weights = weights.masked_fill(blocked[:, None, :], -1.0)
    # the token at position t was emitted by the step that read position t - 1
    return torch.cat((torch.zeros_like(sequences[:, :1]), weights.argmax(dim=-1)), dim=1)


def decode_replacing(tokenizer: MultilingualTokenizer, ids: Sequence[int], replacements: dict[int, str]) -> str:
    """Decode ``ids`` as ``batch_decode(skip_special_tokens=True)`` does, except that the
    ``<unk>`` at each position of ``replacements`` becomes that source piece (``▁`` marking a
    space before it) instead of vanishing."""
    unk = tokenizer.unk_token_id
    special = set(tokenizer.all_special_ids) - {unk}
    parts: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            text = tokenizer.convert_tokens_to_string(run)
            parts.append((" " if run[0].startswith(SPACE) else "") + text)
            run.clear()

    for position, token in enumerate(ids):
        if token in special:
            continue
        if token == unk:
            if position in replacements:
                flush()
                parts.append(replacements[position].replace(SPACE, " "))
            continue
        run.append(tokenizer.convert_ids_to_tokens(int(token)))
    flush()
    return "".join(parts).strip()
