"""Generation: ``generate``, transformers' search over the model's next-token logits.

* ``config``: ``GenerationConfig`` (transformers' fields and ``generation_config.json``) and the
  resolved ``DecodingOptions`` a search runs with;
* ``logits``: the logits rules (forced tokens, repetition penalties, ...), each a small class;
* ``decoding``: the one decoding loop (greedy, sampling, beam search) and its outputs;
* ``allocator``: the glibc setting that keeps decoding's large per-step buffers in the process.
"""
