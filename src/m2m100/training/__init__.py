"""Training: the library behind ``m2m100 finetune``.

* ``settings``: ``TrainSettings`` (what a run is given, checked up front) and ``TrainResult``;
* ``loop``: ``train``, the loss, the learning-rate schedule and the loop over steps;
* ``data``: sentence-pair files read, tokenized and cut into token-budget batches;
* ``distributed``: the processes of a ``torchrun`` job, their collectives and RNG states;
* ``run_folder``: the output folder (checkpoints, resume state, log) and its atomic writes.
"""
