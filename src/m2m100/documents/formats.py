"""The document formats: their names, file extensions, media types and readers."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from m2m100.documents.blocks import ReadResult
from m2m100.documents.html import read_html
from m2m100.documents.markdown import read_markdown
from m2m100.documents.office import read_docx, read_pptx
from m2m100.documents.po import read_po
from m2m100.documents.subtitles import read_srt, read_vtt
from m2m100.documents.xliff import read_xliff
from m2m100.documents.xml import read_xml

EXTRA = "documents"  # pip install 'm2m100[documents]'


class MissingDependency(ImportError):
    """A format whose parser is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]  # the first is the one a translated file gets
    media_type: str
    kept: str  # what is kept, for the README and --help
    read: Callable[..., ReadResult]
    packages: tuple[tuple[str, str], ...] = ()  # (module, distribution) of the [documents] extra it needs
    overwrite: bool = False  # reads ``overwrite`` (translate entries that have a translation)

    def check_installed(self) -> None:
        """Raises MissingDependency naming the package to install."""
        for module, distribution in self.packages:
            try:
                importlib.import_module(module)
            except ImportError as err:
                raise MissingDependency(
                    f"the {self.name} format needs {distribution}, which is not installed: pip install 'm2m100[{EXTRA}]'"
                ) from err


FORMATS = {
    f.name: f
    for f in (
        Format(
            "html",
            (".html", ".htm", ".xhtml"),
            "text/html; charset=utf-8",
            "tags, attributes, code, scripts",
            read_html,
        ),
        Format("xml", (".xml",), "application/xml", "elements, attributes, CDATA, comments", read_xml),
        Format(
            "markdown",
            (".md", ".markdown"),
            "text/markdown; charset=utf-8",
            "code, link targets, tables, HTML, front matter",
            read_markdown,
            (("markdown_it", "markdown-it-py"), ("mdit_py_plugins", "mdit-py-plugins")),
        ),
        Format(
            "srt", (".srt",), "application/x-subrip", "numbers, timings, tags, line count", read_srt, (("srt", "srt"),)
        ),
        Format(
            "vtt",
            (".vtt",),
            "text/vtt; charset=utf-8",
            "timings, settings, notes, tags, line count",
            read_vtt,
            (("webvtt", "webvtt-py"),),
        ),
        Format(
            "docx",
            (".docx",),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "runs and their formatting, tables, images, fields",
            read_docx,
            (("docx", "python-docx"),),
        ),
        Format(
            "pptx",
            (".pptx",),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "runs and their formatting, shapes, notes",
            read_pptx,
            (("pptx", "python-pptx"),),
        ),
        Format(
            "po",
            (".po", ".pot"),
            "text/x-gettext-translation",
            "msgid, plural forms, translated entries, comments, flags",
            read_po,
            (("polib", "polib"),),
            overwrite=True,
        ),
        Format(
            "xliff",
            (".xlf", ".xliff"),
            "application/xliff+xml",
            "sources, inline codes, translated targets",
            read_xliff,
            overwrite=True,
        ),
    )
}


def format_named(name: str) -> Format:
    """The format called ``name`` ("html", "docx" ...).

    Raises:
        ValueError: an unknown name, with the known ones.
    """
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown document format {name!r}; formats: {', '.join(FORMATS)}") from None


def format_of(path: str | Path) -> Format | None:
    """The format a file's extension names, or None."""
    suffix = Path(path).suffix.lower()
    return next((f for f in FORMATS.values() if suffix in f.extensions), None)
