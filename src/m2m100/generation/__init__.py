"""Generation: ``generate``, transformers' search over the model's next-token logits.

* ``config``: ``GenerationConfig`` (transformers' fields and ``generation_config.json``) and the
  resolved ``DecodingOptions`` a search runs with;
* ``logits``: the logits rules (forced tokens, repetition penalties, sampling filters, a caller's
  processors), each a small class;
* ``stopping``: when a sequence is done (end of sequence, length, time, stop strings, a caller's
  criteria);
* ``decoding``: the one decoding loop (greedy, sampling, beam search), its outputs, and
  ``Seq2SeqLM``, the typed seam to the model (encode, decode_step, next_token_logits).
"""
