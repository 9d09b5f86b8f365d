"""The network: the numerical core that turns token ids into logits.

* ``transformer``: positions, encoder and decoder layers and stacks (the numbers of transformers'
  ``modeling_m2m_100.py``);
* ``attention``: the masks, the one attention function and its backends, the attention module;
* ``cache``: the key/value caches of incremental decoding;
* ``linear``: the linear layer and its CPU (oneDNN) kernels;
* ``quantize``: int8 inference, which swaps the linear layers of a built model;
* ``placement``: the device, dtype and quantization a model is loaded with, checked together.

The transformers-compatible classes built on it are in :mod:`m2m100.modeling`.
"""
