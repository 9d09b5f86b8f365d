"""Fixtures of the generation tests: one tiny checkpoint whose translations end at varied lengths,
loaded by transformers 4.57 (the reference) and by m2m100, and a padded batch of sources.

The checkpoint's end-of-sequence embedding row (tied to the lm_head) is tuned so that translations
end at many different lengths: some beams finish early, others run into max_length.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import m2m100
from tests.checkpoints import build_hf_model
from tests.generation.parity import EOS, PAD


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # A model this small gains nothing from threads, and on a shared 2-core machine a busy core
    # makes the second thread's barrier waits cost seconds.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("generation") / "tiny"
    model = build_hf_model(seed=3)
    with torch.no_grad():  # make EOS likely in some decoder states and unlikely in others
        bias = model.model.decoder.layer_norm.bias
        model.model.shared.weight[EOS] = 3.0 * model.model.shared.weight[EOS] + 2.0 * bias / bias.norm()
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def hf(folder: Path):
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers.M2M100ForConditionalGeneration.from_pretrained(folder).eval()


@pytest.fixture(scope="module")
def hf_eager(folder: Path):
    """transformers returns attention weights only from its eager attention."""
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers.M2M100ForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()


@pytest.fixture(scope="module")
def ours(folder: Path) -> m2m100.M2M100ForConditionalGeneration:
    return m2m100.M2M100ForConditionalGeneration.from_pretrained(folder)


@pytest.fixture(scope="module")
def source() -> tuple[torch.Tensor, torch.Tensor]:
    """Six sources of up to 9 tokens, right-padded (two rows carry padding), each ending in EOS."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(4, 150, (6, 9), generator=g)
    mask = torch.ones_like(ids)
    for row, length in ((1, 6), (3, 4)):
        ids[row, length:], mask[row, length:] = PAD, 0
        ids[row, length - 1] = EOS
    ids[mask[:, -1] == 1, -1] = EOS
    return ids, mask
