"""The ``glossary`` and ``do_not_translate`` fields of ``POST /translate``: checked against the
server's limits, turned into a :class:`~m2m100.glossary.Glossary`, and the answer's
``glossary_missed``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from m2m100.glossary import Glossary


class GlossaryError(ValueError):
    """A glossary the service refuses: the HTTP status and error kind to answer."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind = status, kind


def glossary_chars(mapping: Mapping[str, str] | None, keep: Sequence[str] | None) -> int:
    """Characters of a request's terms, counted with its texts' against the server's max_chars."""
    return sum(len(s) + len(t) for s, t in (mapping or {}).items()) + sum(len(t) for t in keep or [])


def request_glossary(
    mapping: Mapping[str, str] | None, keep: Sequence[str] | None, *, max_terms: int, max_term_chars: int
) -> Glossary | None:
    """The request's glossary (None when it has no terms).

    Raises:
        GlossaryError: 413 ``too_many_terms`` over ``max_terms``, 422 ``invalid_request``
            for a term over ``max_term_chars`` or a blank one.
    """
    mapping, keep = dict(mapping or {}), list(keep or [])
    count = len(mapping) + len(keep)
    if count == 0:
        return None
    if count > max_terms:
        raise GlossaryError(
            413,
            "too_many_terms",
            f"{count} glossary and do_not_translate terms; at most {max_terms} a request",
        )
    for term in [*mapping, *mapping.values(), *keep]:
        if len(term) > max_term_chars:
            raise GlossaryError(
                422,
                "invalid_request",
                f"glossary term {term[:40]!r}... has {len(term)} characters; at most {max_term_chars}",
            )
    try:
        return Glossary(mapping, do_not_translate=keep)
    except ValueError as err:
        raise GlossaryError(422, "invalid_request", str(err)) from err
