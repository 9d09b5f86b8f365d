"""A DeepL API v2-compatible API at ``/v2/`` (and the same under ``/deepl/v2/``): the official
``deepl`` client given ``server_url="http://HOST:PORT"`` works unchanged (it joins its paths with
``urljoin``, which would drop a prefix without a trailing slash: hence the routes at the root).

Routes: ``POST /v2/translate`` (``text``, a list; ``target_lang`` in DeepL's spelling: ``DE``,
``EN-GB``, ``PT-BR``, ``ZH-HANS``; ``source_lang``; ``split_sentences`` ``0``, ``1`` (default) or
``nonewlines``; ``preserve_formatting``; ``tag_handling`` ``html`` or ``xml``, through the document
layer's formats), ``GET``/``POST /v2/languages`` (``type`` ``source`` or ``target``, from the query
or a form body), ``GET /v2/usage`` (characters translated by this server since it started, for the
request's key). Parameters come as JSON, a form or the query string. With API keys configured, a
request needs ``Authorization: DeepL-Auth-Key KEY`` (or the form field ``auth_key``); without, any
key is taken. Errors are DeepL's: ``{"message": ...}`` with 400 (a bad request), 403 (the key), 413
(too many texts or characters), 429 (the rate limit, a full queue), 500, 503 (loading) and 504.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations.
import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from sentencex import segment as sentences

from m2m100.languages import iso_language
from m2m100.serving.compat.codes import DEEPL_TARGET_VARIANTS, from_deepl, listed, name_of, to_deepl
from m2m100.serving.compat.features import detect_languages, detected_sources
from m2m100.serving.compat.params import BadParameters, Params, flag, read_params
from m2m100.serving.security import RejectedRequest
from m2m100.serving.service import ClientGone, Service, ServiceFailure
from m2m100.translator import NO_SPACE_LANGUAGES

PREFIXES = ("/v2", "/deepl/v2")
CHARACTER_LIMIT = 1_000_000_000_000  # what DeepL reports for an account without a limit
SPLITS = ("0", "1", "nonewlines")
FORMALITIES = ("default", "prefer_less", "prefer_more")  # "less"/"more" would need a formal model


class DeepLError(Exception):
    """An answer in DeepL's error shape."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


def _status(failure: ServiceFailure | RejectedRequest) -> int:
    """DeepL's status for one of the service's: 403 for keys, 429 for load, 413 for size, 400
    for other mistakes of the client; the server's own stay."""
    if failure.status == 401:
        return 403
    if failure.status == 429 or failure.kind == "queue_full":
        return 429
    if failure.status == 413:
        return 413
    return 400 if failure.status < 500 else failure.status


def router(service: Service, usage: Counter[str], prefix: str) -> Any:
    """The DeepL routes under ``prefix`` (``/v2`` or ``/deepl/v2``); ``usage`` counts billed
    characters by key name (shared by the prefixes)."""
    from fastapi import APIRouter, Request
    from fastapi.responses import JSONResponse

    api = APIRouter(prefix=prefix, tags=["DeepL"], include_in_schema=prefix == PREFIXES[0])

    def answered(handler: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Coroutine[Any, Any, Any]]:
        async def run(request: Request) -> Any:
            try:
                return JSONResponse(await handler(request))
            except (ServiceFailure, RejectedRequest) as err:
                service.count_error(err.kind)
                retry = getattr(err, "retry_after", None)
                error = DeepLError(_status(err), err.detail, retry)
            except BadParameters as err:
                service.count_error("invalid_request")
                error = DeepLError(400, str(err))
            except DeepLError as err:
                service.count_error("invalid_request")
                error = err
            except ClientGone:
                service.count_error("disconnected")
                return JSONResponse({"message": "the client closed the connection"}, 499)
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
            return JSONResponse({"message": error.message}, error.status, headers=headers)

        run.__name__, run.__doc__ = handler.__name__, handler.__doc__
        return run

    async def admitted(request: Request) -> tuple[Params, str]:
        """The request's parameters and the name its characters are counted under."""
        params = await read_params(request, limit=service.settings.max_body_bytes, timeout=service.network.body_timeout)
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "deepl-auth-key":
            key = params.text("auth_key") or ""
        if service.network.api_keys and not key.strip():
            raise DeepLError(403, "Authorization failure: send Authorization: DeepL-Auth-Key KEY")
        return params, service.admit(request.scope, key.strip()) or ""

    def model_code(value: str, name: str) -> str:
        return service.resolve(from_deepl(value), name, value)

    async def translate(request: Request) -> dict[str, Any]:
        """Translate each of ``text`` into ``target_lang``."""
        params, who = await admitted(request)
        texts = params.strings("text")
        if not texts:
            raise DeepLError(400, "Parameter 'text' not specified.")
        if not all(isinstance(t, str) for t in texts):
            raise DeepLError(400, "Parameter 'text' must be strings.")
        target = params.text("target_lang")
        if not target:
            raise DeepLError(400, "Value for 'target_lang' not supported: give one, e.g. DE or EN-GB.")
        tgt = model_code(target, "target_lang")
        split = params.text("split_sentences", "1")
        if split not in SPLITS:
            raise DeepLError(400, f"Value for 'split_sentences' not supported: {split!r}; valid: {', '.join(SPLITS)}")
        preserve = flag(params.get("preserve_formatting") or False, "preserve_formatting")
        tags = params.text("tag_handling")
        if tags not in (None, "", "html", "xml"):
            raise DeepLError(400, f"Value for 'tag_handling' not supported: {tags!r}; valid: html, xml")
        formality = params.text("formality", "default")
        if formality not in FORMALITIES:
            raise DeepLError(
                400, f"'formality' {formality!r} is not supported by this model; valid: {', '.join(FORMALITIES)}"
            )
        if params.get("glossary_id"):
            raise DeepLError(400, "glossaries are not available on this server: leave glossary_id out")
        service.check_texts(texts)
        source = params.text("source_lang")
        if source:
            src = model_code(source, "source_lang")
            sources: list[str | None] = [src] * len(texts)
            named = [to_deepl(src)] * len(texts)
        else:
            # DeepL names the detected language even where it has nothing to translate: a text
            # the model has no language for, or one in the target language, comes back as it was.
            found = await detect_languages(service, texts)
            named = [to_deepl(d.code) if d.code is not None else d.language.upper() for d in found]
            sources = detected_sources(found, tgt)
        out = list(texts)
        for src in dict.fromkeys(s for s in sources if s is not None):
            rows = [i for i, s in enumerate(sources) if s == src]
            chunk = [texts[i] for i in rows]
            if tags:
                done = await service.translate_markup(chunk, tags, src, tgt)
            else:
                done = await _translate_split(service, chunk, src, tgt, split, preserve, request)
            for i, text in zip(rows, done):
                out[i] = text
        billed = [len(t) for t in texts]
        usage[who] += sum(billed)
        return {
            "translations": [
                {"detected_source_language": name, "text": text, "billed_characters": n}
                for name, text, n in zip(named, out, billed)
            ]
        }

    async def languages(request: Request) -> list[dict[str, Any]]:
        """The model's languages in DeepL's spelling, as sources or (``type=target``) as targets."""
        params, _ = await admitted(request)
        kind = params.text("type", "source")
        if kind not in ("source", "target"):
            raise DeepLError(400, f"Value for 'type' not supported: {kind!r}; valid: source, target")
        translator = service.translator()
        entries = listed(translator.languages, to_deepl, from_deepl, translator.resolve_language)
        if kind == "source":
            return [{"language": code, "name": name_of(model)} for code, model in entries]
        targets = []
        for code, model in entries:
            for variant, name in DEEPL_TARGET_VARIANTS.get(code, ((code, name_of(model)),)):
                targets.append({"language": variant, "name": name, "supports_formality": False})
        return targets

    async def usage_of(request: Request) -> dict[str, Any]:
        """Characters translated for the request's key since the server started."""
        _, who = await admitted(request)
        return {"character_count": usage[who], "character_limit": CHARACTER_LIMIT}

    for path, handler, methods in (
        ("/translate", translate, ["POST"]),
        ("/languages", languages, ["GET", "POST"]),
        ("/usage", usage_of, ["GET", "POST"]),
    ):
        api.add_api_route(path, answered(handler), methods=methods, summary=f"DeepL v2: {path.lstrip('/')}")
    return api


async def _translate_split(
    service: Service, texts: list[str], src: str, tgt: str, split: str, preserve: bool, request: Any
) -> list[str]:
    """Translate ``texts`` as ``split_sentences`` says: ``0`` each text whole; ``1`` each line's
    sentences apart (the line breaks kept); ``nonewlines`` each text's sentences apart, its line
    breaks read as spaces. The sentences of all texts share requests of at most ``max_texts``,
    queued together. With ``preserve``, the white space at the ends of each line is kept."""
    lang = iso_language(src)
    lines = [
        [text] if split == "0" else [" ".join(text.split())] if split == "nonewlines" else text.split("\n")
        for text in texts
    ]
    parts = [
        [[s.strip() for s in sentences(lang, line) if s.strip()] if split != "0" else [line.strip()] for line in text]
        for text in lines
    ]
    flat = [s for text in parts for line in text for s in line if s]
    size = service.settings.max_texts
    jobs = [service.job(flat[i : i + size], src, tgt) for i in range(0, len(flat), size)]
    results = await asyncio.gather(*(service.run(job, request.receive) for job in jobs))
    done = iter([t.text for result in results for t in result])
    joiner = "" if iso_language(tgt) in NO_SPACE_LANGUAGES else " "
    out = []
    for text_lines, text_parts in zip(lines, parts):
        written = []
        for line, line_parts in zip(text_lines, text_parts):
            translated = joiner.join(next(done).strip() for s in line_parts if s)
            if preserve:
                translated = line[: len(line) - len(line.lstrip())] + translated + line[len(line.rstrip()) :]
            written.append(translated)
        out.append("\n".join(written))
    return out
