"""Translate documents with their structure kept: HTML, XML, Markdown, SRT, WebVTT, DOCX, PPTX,
gettext PO and XLIFF.

A format reads a file into blocks of running text and the structure around them
(:mod:`~m2m100.documents.blocks`), with a parser made for it; all the blocks of a document are
translated through :meth:`m2m100.translator.Translator.translate_segments` in its batches
(:mod:`~m2m100.documents.engine`, which documents how tags and placeholders are kept); the format
writes the structure back with the translations in place. The parsers other than the standard
library's are the ``[documents]`` extra, imported when a format needs them.

>>> from m2m100 import Translator
>>> from m2m100.documents import translate_document
>>> translate_document(Translator(), b"<p>mardi</p>", format="html", src="fr", tgt="de")  # doctest: +SKIP
b'<p>Dienstag</p>'
"""

from m2m100.documents.blocks import DocumentError
from m2m100.documents.document import read_document, translate_document, write_atomically
from m2m100.documents.formats import FORMATS, Format, MissingDependency, format_named, format_of

__all__ = [
    "FORMATS",
    "DocumentError",
    "Format",
    "MissingDependency",
    "format_named",
    "format_of",
    "read_document",
    "translate_document",
    "write_atomically",
]
