"""A LibreTranslate-compatible API under ``/libretranslate/``: a client given that base URL
(``libretranslatepy``, deep-translator's ``LibreTranslator(custom_url=...)``, browser extensions)
works unchanged, with this server's batching and limits behind it.

Routes (relative to the base): ``POST translate`` (``q`` a string or a list, ``source`` a code or
``auto``, ``target``, ``format`` ``text`` or ``html``, ``alternatives``, ``api_key``), ``POST
detect``, ``GET languages``, ``POST translate_file`` (multipart ``file``) with ``GET
download_file/<name>``, ``GET frontend/settings``. Parameters are read from a JSON object, a form or
the query string alike. Codes are LibreTranslate's two-letter ones (``zt``: Chinese, Traditional),
or any spelling the model's registry takes. An ``api_key`` is checked when the server has keys and
ignored when it has none. Errors are LibreTranslate's: ``{"error": message}`` with 400 (a bad
request, limits), 403 (the key), 429 (the rate limit, a full queue), 500 (the server).
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.
import asyncio
from collections.abc import Callable, Coroutine
from pathlib import PurePosixPath
from typing import Any

from m2m100.documents import FORMATS, format_of
from m2m100.languages.detection import Detection
from m2m100.serving.compat.codes import from_libretranslate, listed, name_of, to_libretranslate
from m2m100.serving.compat.features import detect_languages, detected_sources
from m2m100.serving.compat.files import FileStore
from m2m100.serving.compat.params import BadParameters, Params, read_params
from m2m100.serving.security import RejectedRequest
from m2m100.serving.service import ClientGone, Service, ServiceFailure

PREFIX = "/libretranslate"
MAX_ALTERNATIVES = 8


class LibreError(Exception):
    """An answer in LibreTranslate's error shape."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def _status(failure: ServiceFailure | RejectedRequest) -> int:
    """LibreTranslate's status for one of the service's: 403 for keys, 429 for load, 400 for the
    client's mistakes, 500 for the server's."""
    if failure.status == 401:
        return 403
    if failure.status == 429 or failure.kind == "queue_full":
        return 429
    if failure.status == 501:  # a feature this server lacks (detection without py3langid)
        return 400
    return 400 if failure.status < 500 else 500


def _guess(detection: Detection) -> dict[str, Any]:
    """A detection as LibreTranslate answers it: the language's code (the detector's own ISO code
    when the model lacks the language) and a confidence from 0 to 100."""
    code = to_libretranslate(detection.code) if detection.code is not None else detection.language
    return {"language": code, "confidence": round(100 * detection.confidence, 1)}


def router(service: Service, files: FileStore) -> Any:
    """The LibreTranslate routes, to include in the service's app."""
    from fastapi import APIRouter, Request
    from fastapi.responses import FileResponse, JSONResponse

    api = APIRouter(prefix=PREFIX, tags=["LibreTranslate"])

    def answered(handler: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Coroutine[Any, Any, Any]]:
        """Run a handler, turning the service's failures into LibreTranslate's error shape."""

        async def run(request: Request) -> Any:
            try:
                result = await handler(request)
            except (ServiceFailure, RejectedRequest) as err:
                service.count_error(err.kind)
                retry = getattr(err, "retry_after", None) or _retry_after(err)
                error = LibreError(_status(err), err.detail, retry)
            except BadParameters as err:
                service.count_error("invalid_request")
                error = LibreError(400, str(err))
            except LibreError as err:
                service.count_error({400: "invalid_request", 404: "not_found"}.get(err.status, "internal"))
                error = err
            except ClientGone:
                service.count_error("disconnected")
                return JSONResponse({"error": "the client closed the connection"}, 499)
            else:
                return result if not isinstance(result, (dict, list)) else JSONResponse(result)
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
            return JSONResponse({"error": error.message}, error.status, headers=headers)

        run.__name__, run.__doc__ = handler.__name__, handler.__doc__
        return run

    async def params_of(request: Request, limit: int | None = None) -> Params:
        settings = service.settings
        return await read_params(request, limit=limit or settings.max_body_bytes, timeout=service.network.body_timeout)

    def code(params: Params, name: str, *, auto: bool = False) -> str:
        value = params.text(name)
        if not value:
            raise LibreError(400, f"Invalid request: missing {name} parameter")
        if auto and value == "auto":
            return value
        return service.resolve(from_libretranslate(value), name, value)

    async def translate(request: Request) -> dict[str, Any]:
        """Translate ``q`` (a string, or a list of strings) from ``source`` to ``target``."""
        params = await params_of(request)
        service.admit(request.scope, params.text("api_key"))
        q = params.get("q")
        if q is None:
            raise LibreError(400, "Invalid request: missing q parameter")
        batch = isinstance(q, list)
        texts = q if batch else [q]
        if not all(isinstance(t, str) for t in texts):
            raise LibreError(400, "Invalid request: q must be a string or a list of strings")
        source, target = code(params, "source", auto=True), code(params, "target")
        text_format = params.text("format", "text")
        if text_format not in ("text", "html"):
            raise LibreError(400, f"Invalid request: format must be text or html, got {text_format!r}")
        alternatives = _count(params.get("alternatives"))
        answer: dict[str, Any] = {}
        sources: list[str | None]
        if source == "auto":
            service.check_texts(texts)
            detected = await detect_languages(service, texts)
            answer["detectedLanguage"] = [_guess(d) for d in detected] if batch else _guess(detected[0])
            sources = detected_sources(detected, target)
        else:
            sources = [source] * len(texts)
        # One request per source language; a text whose language the model lacks, or that is in
        # the target language already, comes back as it was.
        translated, others = list(texts), [list[str]() for _ in texts]
        for src in dict.fromkeys(s for s in sources if s is not None):
            rows = [i for i, s in enumerate(sources) if s == src]
            chunk = [texts[i] for i in rows]
            if text_format == "html":  # alternatives are for text: LibreTranslate gives none for HTML
                for i, text in zip(rows, await service.translate_markup(chunk, "html", src, target)):
                    translated[i] = text
                continue
            # n alternatives: the n-best of one search, after the translation itself
            wanted = alternatives + 1 if alternatives else 0
            done = await service.translate(chunk, src, target, alternatives=wanted, receive=request.receive)
            for i, result in zip(rows, done):
                translated[i], others[i] = result.text, [a.text for a in result.alternatives[1:]]
        answer["translatedText"] = translated if batch else translated[0]
        if alternatives:
            answer["alternatives"] = others if batch else others[0]
        return answer

    async def detect(request: Request) -> list[dict[str, Any]]:
        """The language of ``q``, as ``[{"language", "confidence"}]``."""
        params = await params_of(request)
        service.admit(request.scope, params.text("api_key"))
        q = params.get("q")
        if not isinstance(q, str):
            raise LibreError(400, "Invalid request: missing q parameter")
        service.translator()
        return [_guess(d) for d in await detect_languages(service, [q])]

    async def languages(request: Request) -> list[dict[str, Any]]:
        """The model's languages: ``[{"code", "name", "targets"}]``."""
        translator = service.translator()
        entries = listed(translator.languages, to_libretranslate, from_libretranslate, translator.resolve_language)
        codes = [api for api, _ in entries]
        return [
            {"code": api, "name": name_of(model), "targets": [c for c in codes if c != api]} for api, model in entries
        ]

    async def settings(request: Request) -> dict[str, Any]:
        """What LibreTranslate's own web page asks of a server before it starts."""
        translator = service.translator()
        entries = listed(translator.languages, to_libretranslate, from_libretranslate, translator.resolve_language)
        first, second = entries[0], entries[1 if len(entries) > 1 else 0]
        return {
            "charLimit": service.settings.max_chars,
            "frontendTimeout": 500,
            "apiKeys": bool(service.network.api_keys),
            "keyRequired": bool(service.network.api_keys),
            "suggestions": False,
            "filesTranslation": True,
            "supportedFilesFormat": [ext for spec in FORMATS.values() for ext in spec.extensions],
            "language": {
                "source": {"code": first[0], "name": name_of(first[1])},
                "target": {"code": second[0], "name": name_of(second[1])},
            },
        }

    async def translate_file(request: Request) -> dict[str, Any]:
        """Translate the uploaded ``file``; the answer's ``translatedFileUrl`` downloads it."""
        params = await params_of(request, service.settings.max_document_bytes + 65536)
        service.admit(request.scope, params.text("api_key"))
        if "file" not in params.files:
            raise LibreError(400, "Invalid request: missing file parameter")
        filename, data = params.files["file"]
        source, target = code(params, "source", auto=True), code(params, "target")
        if source == "auto":
            raise LibreError(400, "Invalid request: give the source language of a file (auto is for texts)")
        if len(data) > service.settings.max_document_bytes:
            raise LibreError(400, f"the file is {len(data)} bytes; at most {service.settings.max_document_bytes}")
        spec = format_of(filename)
        if spec is None:
            valid = ", ".join(ext for spec in FORMATS.values() for ext in spec.extensions)
            raise LibreError(400, f"Invalid request: {filename!r} is not a supported file; valid: {valid}")
        translated = await service.translate_file(data, spec.name, source, target)
        path = PurePosixPath(filename.replace("\\", "/"))
        name = await asyncio.to_thread(files.put, f"{path.stem}.{to_libretranslate(target)}{path.suffix}", translated)
        return {"translatedFileUrl": f"{str(request.base_url).rstrip('/')}{PREFIX}/download_file/{name}"}

    async def download_file(request: Request) -> Any:
        """A file ``translate_file`` made, until it expires."""
        name = request.path_params["name"]
        path = files.path(name)
        if path is None:
            raise LibreError(404, f"no file {name!r}: it expired or never was")
        return FileResponse(path, filename=name.split(".", 1)[1])

    for path, handler, methods in (
        ("/translate", translate, ["POST"]),
        ("/detect", detect, ["POST"]),
        ("/languages", languages, ["GET", "POST"]),
        ("/frontend/settings", settings, ["GET"]),
        ("/translate_file", translate_file, ["POST"]),
        ("/download_file/{name}", download_file, ["GET"]),
    ):
        api.add_api_route(path, answered(handler), methods=methods, summary=f"LibreTranslate: {path.lstrip('/')}")
    return api


def _count(value: Any) -> int:
    """``alternatives``: a whole number from 0 to MAX_ALTERNATIVES."""
    if value is None or value == "":
        return 0
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise LibreError(400, f"Invalid request: alternatives must be a whole number, got {value!r}") from None
    if not 0 <= count <= MAX_ALTERNATIVES:
        raise LibreError(400, f"Invalid request: alternatives must be from 0 to {MAX_ALTERNATIVES}, got {count}")
    return count


def _retry_after(err: Exception) -> int | None:
    for key, value in getattr(err, "headers", []):
        if key.lower() == "retry-after":
            return int(value)
    return None
