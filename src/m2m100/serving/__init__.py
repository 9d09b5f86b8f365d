"""The HTTP service behind ``m2m100 serve``.

* ``app``: the FastAPI app (endpoints, limits, errors, metrics) over a Translator;
* ``batcher``: the queue that lets requests arriving together share one model batch;
* ``info``: what ``GET /languages`` says about the served model;
* ``static/``: the web page served at ``/``.
"""
