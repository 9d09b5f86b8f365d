"""gettext PO catalogues, read and written with polib.

Each message without a translation gets one: ``msgstr`` from ``msgid``, and for a plural message
``msgstr[0]`` from ``msgid`` and the other forms (as many as the header's ``nplurals``, 2 when it
names none) from ``msgid_plural``. Messages that have a translation (fuzzy ones too), the header
and obsolete entries are left as they are unless ``overwrite`` is asked. Placeholders (``%s``,
``%(name)d``, ``{count}``) are kept; a newline inside a message is a line break, re-wrapped.
polib writes the whole file again: its entries are what they were, with its own line wrapping.
"""

from __future__ import annotations

import re
from typing import Any

from m2m100.documents.blocks import Block, DocumentError, Item, ReadResult
from m2m100.documents.spans import text_parts

CHARSET = re.compile(rb"charset=([A-Za-z0-9_.:-]+)")


def read_po(data: bytes, *, overwrite: bool = False) -> ReadResult:
    """Read a PO file (its header's charset, UTF-8 by default).

    Raises:
        DocumentError: a syntax error (with polib's line), or bytes not in the file's charset.
    """
    import polib

    declared = CHARSET.search(data)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as err:
        raise DocumentError(f"not readable as its charset {encoding!r}: {err}") from err
    if "\n" not in text:
        text += "\n"  # polib reads a string without a newline that names a file as that file
    try:
        catalogue = polib.pofile(text, encoding=encoding, wrapwidth=78)
    except (OSError, ValueError) as err:
        message = str(err)
        line = re.search(r"line (\d+)", message)
        where = f"line {line.group(1)}: " if line else ""
        raise DocumentError(f"{where}not a valid PO file ({message})") from err
    first = re.search(r"^msgid\s.*\n(.*)", text, re.M)
    header = first is not None and first.group(0).startswith('msgid ""') and first.group(1).startswith("msgstr")
    forms = _plural_forms(catalogue.metadata.get("Plural-Forms", ""))
    blocks: list[Block] = []
    targets: list[tuple[Any, int | None]] = []  # (entry, plural form or None) of each block
    for entry in catalogue:
        if entry.obsolete or not entry.msgid or (not overwrite and _translated(entry)):
            continue
        if entry.msgid_plural:
            blocks.append(_block(entry.msgid))
            targets.append((entry, 0))
            for form in range(1, forms):
                blocks.append(_block(entry.msgid_plural))
                targets.append((entry, form))
            if forms == 1:  # one form (ja, ko, vi ...): the plural message says it best
                blocks[-1] = _block(entry.msgid_plural)
        else:
            blocks.append(_block(entry.msgid))
            targets.append((entry, None))

    def write(results: list[list[Item]]) -> bytes:
        for (entry, form), block, items in zip(targets, blocks, results):
            text = "".join(i if isinstance(i, str) else block.parts[i].raw or block.parts[i].text for i in items)
            if form is None:
                entry.msgstr = text
            else:
                entry.msgstr_plural[form] = text
        out = str(catalogue)
        if not header:  # polib writes an empty header entry all the same: not into a file that had none
            empty = 'msgid ""\nmsgstr ""\n\n'
            at = out.find(empty)
            out = out[:at] + out[at + len(empty) :] if at >= 0 else out
            out = out[2:] if not catalogue.header and out.startswith("#\n") else out
        return out.encode(encoding)

    entries = sum(1 for e in catalogue if not e.obsolete)
    return ReadResult(blocks, write, {"entries": entries, "to translate": len({id(e) for e, _ in targets})})


def _translated(entry: Any) -> bool:
    return bool(entry.msgstr) or any(entry.msgstr_plural.values())


def _plural_forms(header: str) -> int:
    match = re.search(r"nplurals\s*=\s*(\d+)", header)
    return max(1, int(match.group(1))) if match else 2


def _block(message: str) -> Block:
    """A message as a block: text, with its newlines (and the blanks around them) as line breaks."""
    return Block(text_parts(message, 0, str))
