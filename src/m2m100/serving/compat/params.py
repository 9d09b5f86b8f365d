"""Request parameters as the compatible APIs' clients send them: in a JSON object, a form
(urlencoded or multipart) or the query string, alike (deep-translator POSTs everything in the
query string with no body; the DeepL client sends a form body even on GET)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from m2m100.serving.security import RejectedRequest, read_body, replay


class BadParameters(Exception):
    """The body cannot be read as the parameters of a request (the message says why)."""


@dataclass
class Params:
    """A request's parameters: every value of every name (query first, then the body), and the
    files of a multipart body (name -> (filename, bytes))."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        self.values.setdefault(name, []).extend(value if isinstance(value, list) else [value])

    def get(self, name: str) -> Any:
        """The last value of ``name`` (a list given in JSON stays a list), or None."""
        values = self.values.get(name)
        return values[-1] if values else None

    def all(self, name: str) -> list[Any]:
        """Every value of ``name``: a JSON list or a repeated form field."""
        return list(self.values.get(name, []))

    def strings(self, name: str) -> list[Any]:
        """Every value of ``name``, a JSON list's items among them (DeepL's ``text``)."""
        return [item for value in self.all(name) for item in (value if isinstance(value, list) else [value])]

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, (str, int, float, bool)):
            raise BadParameters(f"{name} must be a string, got {type(value).__name__}")
        return str(value)


async def read_params(request: Any, *, limit: int, timeout: float) -> Params:
    """The parameters of ``request`` (a Starlette request), its body read up to ``limit`` bytes
    within ``timeout`` seconds.

    Raises:
        RejectedRequest: 413 ``too_large``, 408 ``timeout``, 499 ``disconnected``.
        BadParameters: a JSON body that is not an object, or a form that cannot be parsed.
    """
    params = Params()
    for name, value in request.query_params.multi_items():
        params.add(name, value)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise RejectedRequest(413, "too_large", f"the body is {int(length)} bytes; at most {limit}")
    body = await read_body(request.receive, limit=limit, timeout=timeout)
    if not body.strip():
        return params
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        from starlette.datastructures import UploadFile
        from starlette.requests import Request

        try:
            form = await Request(request.scope, replay(body, request.receive)).form()
        except Exception as err:  # noqa: BLE001 - python-multipart's errors have no common base
            raise BadParameters(f"the multipart body cannot be read: {err}") from None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                params.files[name] = (value.filename or name, await value.read())
            else:
                params.add(name, value)
    elif kind == "application/json" or (kind == "" and body.lstrip()[:1] in (b"{", b"[")):
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise BadParameters(f"the body is not valid JSON: {err}") from None
        if not isinstance(data, Mapping):
            raise BadParameters(f"the JSON body must be an object, got {type(data).__name__}")
        for name, value in data.items():
            params.values.setdefault(name, []).append(value)  # a JSON list stays one value
    else:  # application/x-www-form-urlencoded, or a client that does not say
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as err:
            raise BadParameters(f"the form body is not UTF-8: {err}") from None
        for name, value in pairs:
            params.add(name, value)
    return params


def flag(value: Any, name: str) -> bool:
    """A boolean parameter: JSON true/false, or "1"/"0", "true"/"false" in a form.

    Raises:
        BadParameters: anything else.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise BadParameters(f"{name} must be true or false (or 1 or 0), got {value!r}")
