"""Translate one document: read it with its format, translate its blocks, write it back."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from m2m100.documents.blocks import DocumentError, ReadResult
from m2m100.documents.engine import Progress, SegmentTranslator, translate_blocks
from m2m100.documents.formats import FORMATS, Format, format_named, format_of


def read_document(data: bytes, format: str, *, overwrite: bool = False) -> ReadResult:
    """The blocks of a document and how to write it back.

    Raises:
        ValueError: an unknown format.
        MissingDependency: the format's parser is not installed.
        DocumentError: the document is not valid for its format (where and why, in one line).
    """
    spec = format_named(format)
    spec.check_installed()
    return spec.read(data, overwrite=overwrite) if spec.overwrite else spec.read(data)


def translate_document(
    translator: SegmentTranslator,
    document: str | os.PathLike[str] | bytes,
    *,
    src: str,
    tgt: str,
    format: str | None = None,
    output: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    **settings: Any,
) -> bytes:
    """Translate a document with its structure kept (see :mod:`m2m100.documents`).

    Args:
        translator: a :class:`~m2m100.translator.Translator` (or anything with its
            ``translate_segments``).
        document: a file path, or the file's bytes (then ``format`` is needed).
        format: html, xml, markdown, srt, vtt, docx, pptx, po or xliff (default: from the
            file's extension).
        output: a path to write the translated document to, whole or not at all (a temporary
            file renamed into place).
        overwrite: PO and XLIFF: translate the entries that have a translation too.
        progress: called with (segments done, segments planned) as they are translated.
        settings: options of ``translate_segments`` (beam_size, max_new_tokens ...).

    Returns:
        The translated document's bytes.

    Raises:
        ValueError: an unknown or missing format, an unknown language, a bad setting.
        MissingDependency: the format's parser is not installed (``pip install 'm2m100[documents]'``).
        DocumentError: a document its format cannot read ("page.srt: line 12: ...").
        OSError: the file cannot be read or the output written.
    """
    name = None
    if isinstance(document, (bytes, bytearray)):
        data = bytes(document)
        if format is None:
            raise ValueError(f"format= is needed for a document given as bytes; formats: {', '.join(FORMATS)}")
    else:
        name = os.fspath(document)
        format = format or _format_of(name).name
        data = Path(name).read_bytes()
    try:
        read = read_document(data, format, overwrite=overwrite)
    except DocumentError as err:
        raise DocumentError(f"{name}: {err}" if name else str(err)) from err
    items = translate_blocks(translator, read.blocks, src=src, tgt=tgt, progress=progress, **settings)
    translated = read.write(items)
    if output is not None:
        write_atomically(output, translated)
    return translated


def _format_of(path: str) -> Format:
    spec = format_of(path)
    if spec is None:
        known = ", ".join(ext for f in FORMATS.values() for ext in f.extensions)
        raise ValueError(f"{path}: no document format for this extension; pass format= (extensions: {known})")
    return spec


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed into place:
    the file is there whole, or as it was before (an error or an interruption leaves no half)."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        mode = target.stat().st_mode if target.exists() else 0o666 & ~_umask()
        os.chmod(temporary, mode & 0o7777)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
