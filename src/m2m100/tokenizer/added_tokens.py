"""Added tokens: whole strings (``</s>``, ``__fr__``) cut out of the text before sentencepiece runs.

This follows the slow tokenizers of transformers 4.57 exactly, including the corners of their trie
(see ``Trie.split``), because the token ids of any text must match.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class AddedToken:
    """A token matched as a whole in the input text, with the flags transformers saves for it.

    Args:
        content: The token's text.
        single_word: Only match when not glued to other word characters.
        lstrip: Eat the whitespace on the token's left.
        rstrip: Eat the whitespace on the token's right.
        normalized: Whether the text normalizer applies; defaults to ``not special``.
        special: Whether ``skip_special_tokens`` drops it when decoding.
    """

    content: str
    single_word: bool = False
    lstrip: bool = False
    rstrip: bool = False
    normalized: bool | None = None
    special: bool = False

    def __post_init__(self) -> None:
        if self.normalized is None:
            self.normalized = not self.special

    def __str__(self) -> str:
        return self.content

    # Equal tokens have equal content, so hashing the content keeps the hash contract.
    def __hash__(self) -> int:
        return hash(self.content)

    def to_dict(self) -> dict[str, Any]:
        """Return the token as transformers serializes it in ``added_tokens_decoder``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def coerce(cls, value: Any) -> AddedToken:
        """Turn a str, a serialized dict or a ``tokenizers.AddedToken``-like object into ours.

        Raises:
            TypeError: ``value`` is none of those.
        """
        if isinstance(value, AddedToken):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            data = {k: v for k, v in value.items() if k != "__type"}
            return cls(**data)
        if hasattr(value, "content"):
            return cls(**{f.name: getattr(value, f.name) for f in fields(cls)})
        raise TypeError(f"Cannot read an added token from {value!r} ({type(value).__name__}).")


_END = ""  # key marking "a word ends here" in a trie node; never a real character


class Trie:
    """The added tokens, searched in one left-to-right pass over the text.

    Args:
        words: Initial tokens; empty strings are ignored.
    """

    def __init__(self, words: tuple[str, ...] | list[str] = ()) -> None:
        self._root: dict[str, dict] = {}
        self._words: set[str] = set()
        for word in words:
            self.add(word)

    def __contains__(self, word: object) -> bool:
        return word in self._words

    def add(self, word: str) -> None:
        """Add one token (no-op for an empty or known one)."""
        if not word or word in self._words:
            return
        self._words.add(word)
        node = self._root
        for char in word:
            node = node.setdefault(char, {})
        node[_END] = {}

    def split(self, text: str) -> list[str]:
        """Cut ``text`` around every added token found in it, keeping all characters.

        Matches are found left to right; when one completes, the earliest still-open match
        that can be completed wins, extended as far as possible. This is transformers'
        algorithm step for step, including one corner: a partial match that failed on the
        current character is still offered to the look-ahead, which resumes it one character
        later, so e.g. with tokens "abd" and "b" the text "abcd" comes back whole.

        Args:
            text: The input text.

        Returns:
            The non-empty pieces, in order; the added tokens among them are whole pieces.
        """
        states: dict[int, dict] = {}  # match start -> trie node reached so far
        offsets = [0]
        skip = 0  # characters before this index are inside a match already taken
        for current, char in enumerate(text):
            if skip and current < skip:
                continue
            failed = []
            matched = False
            for start, node in states.items():
                if _END in node:
                    start, end, skip = self._longest_match(text, states, start, current, skip)
                    offsets += [start, end]
                    matched = True
                    break
                if char in node:
                    states[start] = node[char]
                else:
                    failed.append(start)
            if matched:
                states = {}
            else:
                for start in failed:
                    del states[start]
            if current >= skip and char in self._root:
                states[current] = self._root[char]
        for start, node in states.items():
            if _END in node:
                offsets += [start, len(text)]
                break
        return _cut(text, offsets)

    @staticmethod
    def _longest_match(text: str, states: dict[int, dict], start: int, current: int, skip: int) -> tuple[int, int, int]:
        end = current
        for look_start, node in states.items():
            if look_start > start:
                break
            # Earlier starts were already advanced past ``current``; the finished one was not.
            index = current + 1 if look_start < start else current
            end = index
            if _END in node:
                start, end, skip = look_start, index, index
            while index < len(text) and text[index] in node:
                node = node[text[index]]
                index += 1
                if _END in node:
                    start, end, skip = look_start, index, index
        return start, end, skip


def _cut(text: str, offsets: list[int]) -> list[str]:
    pieces = []
    start = 0
    for end in offsets + [len(text)]:
        if start > end:
            logger.error("Added-token trie produced overlapping offsets; skipping one cut.")
            continue
        if start == end:
            continue
        pieces.append(text[start:end])
        start = end
    return pieces


def split_on_added_tokens(text: str, trie: Trie, added: Mapping[str, AddedToken]) -> list[str]:
    """Split ``text`` on added tokens and apply their lstrip/rstrip/single_word flags.

    Args:
        text: The input text.
        trie: All added tokens' contents.
        added: Content -> token, for reading the flags.

    Returns:
        Non-empty pieces; a piece that is a key of ``added`` is that token, every other piece
        is plain text for sentencepiece.
    """
    pieces = trie.split(text)
    for i, piece in enumerate(pieces):
        token = added.get(piece)
        if token is None:
            continue
        left = pieces[i - 1] if i > 0 else None
        right = pieces[i + 1] if i < len(pieces) - 1 else None
        # rstrip means the token swallows the spaces on its right, i.e. the start of ``right``.
        if token.rstrip and right:
            pieces[i + 1] = right.lstrip()
        if token.lstrip and left:
            pieces[i - 1] = left.rstrip()
        # A single_word token glued to a word becomes part of that word's text.
        if token.single_word and left and left[-1] != " ":
            pieces[i - 1] += piece
            pieces[i] = ""
        elif token.single_word and right and right[0] != " ":
            pieces[i + 1] = piece + pieces[i + 1]
            pieces[i] = ""
    return [piece for piece in pieces if piece]
