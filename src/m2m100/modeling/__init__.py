"""The transformers-compatible surface: ``M2M100Model``, ``M2M100ForConditionalGeneration`` and
the standalone ``M2M100Encoder`` / ``M2M100Decoder``.

Everything numerical lives in :mod:`m2m100.model`; this package only translates transformers'
documented arguments (``return_dict``, ``encoder_outputs``, ``past_key_values``, head masks, ...)
into calls of the encoder and decoder stacks, and adds ``from_pretrained`` / ``save_pretrained``
and the model methods transformers' ecosystem calls. Bottom up (each module imports only those
above it):

* ``stacks``: ``M2M100Encoder`` and ``M2M100Decoder`` (transformers' ``forward`` over the core
  stacks), ``M2M100ScaledWordEmbedding``, transformers' weight initialisation, and the helpers
  that turn transformers' arguments into the core's (``return_dict``, the ``Probe``, the cache);
* ``loading``: what ``from_pretrained`` does besides reading the checkpoint, as functions: the
  loading keywords accepted or refused, the attention backend check, ``hf_device_map``,
  parameters the checkpoint lacked, and the row resizing of ``resize_token_embeddings``;
* ``pretrained``: ``M2M100PreTrainedModel``, what both model classes share: loading, saving,
  initialisation and ties, embeddings, attention backend, gradient checkpointing, and the
  attributes PEFT, accelerate and the Trainer read;
* ``models``: ``M2M100Model`` and ``M2M100ForConditionalGeneration`` (the LM head, its loss,
  ``generate`` and the decoding seam of :mod:`m2m100.generation.decoding`), and
  ``shift_tokens_right``.
"""

from m2m100.modeling.loading import check_attn_implementation
from m2m100.modeling.models import M2M100ForConditionalGeneration, M2M100Model, shift_tokens_right
from m2m100.modeling.pretrained import M2M100PreTrainedModel
from m2m100.modeling.stacks import M2M100Decoder, M2M100Encoder, M2M100ScaledWordEmbedding

__all__ = [
    "M2M100Decoder",
    "M2M100Encoder",
    "M2M100ForConditionalGeneration",
    "M2M100Model",
    "M2M100PreTrainedModel",
    "M2M100ScaledWordEmbedding",
    "check_attn_implementation",
    "shift_tokens_right",
]
