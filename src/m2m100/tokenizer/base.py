"""The generic layer of transformers' slow tokenizers, on top of a model's own vocabulary.

It keeps the special tokens (``bos_token``..., settable by token or by id), the added tokens
(matched whole in the text and numbered after the vocabulary; ``add_tokens`` and
``add_special_tokens`` add more), turns text into tokens and ids, and ids back into text, with
transformers 4.57's rules. A subclass supplies the vocabulary through five hooks:
``vocab_size``, ``_tokenize``, ``_convert_token_to_id``, ``_convert_id_to_token`` and
``convert_tokens_to_string``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, overload

from m2m100.tokenizer.added_tokens import AddedToken, Trie, split_on_added_tokens
from m2m100.tokenizer.encoding import AssertionInputError, to_python

logger = logging.getLogger(__name__)

SPECIAL_TOKENS_ATTRIBUTES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
    "additional_special_tokens",
)


def _special_value(attr: str, value: Any) -> Any:
    """Check a value assigned to a special-token attribute and bring AddedTokens to ours."""
    if attr == "additional_special_tokens":
        if value is None or isinstance(value, str):
            return value
        return [t if isinstance(t, str) else AddedToken.coerce(t) for t in value]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping) or not hasattr(value, "content"):
        raise ValueError(f"{attr} must be a str, an AddedToken or None; got {value!r}.")
    return AddedToken.coerce(value)


def _special_token(attr: str) -> property:
    def get(self: SlowTokenizerBase) -> Any:
        value = self._special[attr]
        if value is None:
            return None
        return [str(t) for t in value] if attr == "additional_special_tokens" else str(value)

    def set_(self: SlowTokenizerBase, value: Any) -> None:
        self._special[attr] = _special_value(attr, value)

    return property(
        get,
        set_,
        doc=f"The ``{attr}`` as text (None when unset). Setting it (a str, an AddedToken or None) "
        "only names the token: it is not added to the vocabulary until the tokenizer is saved and "
        "loaded again, as in transformers.",
    )


def _special_token_id(attr: str) -> property:
    def get(self: SlowTokenizerBase) -> Any:
        value = getattr(self, attr)
        return None if value is None else self.convert_tokens_to_ids(value)

    def set_(self: SlowTokenizerBase, value: Any) -> None:
        if value is not None:
            value = (
                [self.convert_ids_to_tokens(i) for i in value]
                if attr == "additional_special_tokens"
                else self.convert_ids_to_tokens(value)
            )
        setattr(self, attr, value)

    return property(get, set_, doc=f"The id of ``{attr}`` (None when unset); setting an id sets the token.")


class SlowTokenizerBase:
    """Special tokens, added tokens and id/text conversion shared by slow tokenizers."""

    is_fast = False
    split_special_tokens = False
    clean_up_tokenization_spaces = False

    bos_token = _special_token("bos_token")
    eos_token = _special_token("eos_token")
    unk_token = _special_token("unk_token")
    sep_token = _special_token("sep_token")
    pad_token = _special_token("pad_token")
    cls_token = _special_token("cls_token")
    mask_token = _special_token("mask_token")
    additional_special_tokens = _special_token("additional_special_tokens")
    bos_token_id = _special_token_id("bos_token")
    eos_token_id = _special_token_id("eos_token")
    unk_token_id = _special_token_id("unk_token")
    sep_token_id = _special_token_id("sep_token")
    pad_token_id = _special_token_id("pad_token")
    cls_token_id = _special_token_id("cls_token")
    mask_token_id = _special_token_id("mask_token")
    additional_special_tokens_ids = _special_token_id("additional_special_tokens")

    def _init_added_tokens(self, special: Mapping[str, Any], added_tokens_decoder: Mapping[int, Any]) -> None:
        """Set the special tokens and register them, after the vocabulary is loaded.

        Args:
            special: Attribute (of ``SPECIAL_TOKENS_ATTRIBUTES``) -> str, AddedToken or None;
                ``additional_special_tokens`` -> list.
            added_tokens_decoder: Saved id -> added token (AddedToken, dict or str).
        """

        def own(token: Any) -> Any:  # e.g. a tokenizers.AddedToken becomes ours, str stays str
            return token if token is None or isinstance(token, str) else AddedToken.coerce(token)

        self._special: dict[str, Any] = {a: own(special.get(a)) for a in SPECIAL_TOKENS_ATTRIBUTES[:-1]}
        additional = special.get("additional_special_tokens") or []
        self._special["additional_special_tokens"] = [own(t) for t in additional]
        self._added_decoder = {int(i): AddedToken.coerce(t) for i, t in added_tokens_decoder.items()}
        self._added_encoder = {t.content: i for i, t in self._added_decoder.items()}
        self._trie = Trie()
        self._add_tokens(
            [t for t in self.all_special_tokens_extended if not (isinstance(t, str) and t in self._added_encoder)],
            special_tokens=True,
        )

    # ----------------------------------------------------------------- adding tokens
    def add_tokens(
        self, new_tokens: str | AddedToken | Sequence[str | AddedToken], special_tokens: bool = False
    ) -> int:
        """Add tokens that are matched whole in the text, numbered after the current vocabulary.

        A str already added is skipped; one in the base vocabulary keeps its id but is matched
        whole from now on. An ``AddedToken`` is registered again with its flags (and marked special
        when ``special_tokens``). As in transformers, the next id is ``len(get_vocab())``, which
        for a tokenizer whose language tokens are not added tokens is the first language id.

        Args:
            new_tokens: A token or a list of them (str, ``AddedToken`` or a
                ``tokenizers.AddedToken``).
            special_tokens: Add them as special tokens (skipped by ``skip_special_tokens``, not
                normalized); a special token new to ``all_special_tokens`` joins
                ``additional_special_tokens``.

        Returns:
            How many tokens got a new id (resize the model's embeddings to ``len(tokenizer)``).

        Raises:
            TypeError: A token is neither a str nor an AddedToken.
        """
        if not new_tokens:
            return 0
        tokens = new_tokens if isinstance(new_tokens, (list, tuple)) else [new_tokens]
        return self._add_tokens(tokens, special_tokens=special_tokens)

    def add_special_tokens(
        self,
        special_tokens_dict: Mapping[str, str | AddedToken | Sequence[str | AddedToken]],
        replace_additional_special_tokens: bool = True,
    ) -> int:
        """Set special tokens (``{"pad_token": "<pad>", "additional_special_tokens": [...]}``) and
        add those the vocabulary lacks, as ``add_tokens(..., special_tokens=True)``.

        Args:
            special_tokens_dict: Attribute of ``SPECIAL_TOKENS_ATTRIBUTES`` -> token (a list of
                them for ``additional_special_tokens``); a str becomes a special, unnormalized
                AddedToken.
            replace_additional_special_tokens: A non-empty ``additional_special_tokens`` list
                replaces the current one (the tokens it drops stay added tokens, no longer
                special); False appends the new ones.

        Returns:
            How many tokens got a new id.

        Raises:
            AssertionError, ValueError: An unknown attribute, or an additional_special_tokens
                value that is not a list of str/AddedToken (an ``InputError`` that is both).
            ValueError: A value for another attribute that is neither a str nor an AddedToken.
        """
        if not special_tokens_dict:
            return 0
        to_add: list[str | AddedToken] = []
        for key, value in special_tokens_dict.items():
            if key not in SPECIAL_TOKENS_ATTRIBUTES:
                raise AssertionInputError(
                    f"{key!r} is not a special token attribute; use one of {SPECIAL_TOKENS_ATTRIBUTES}."
                )
            if key == "additional_special_tokens":
                if not isinstance(value, (list, tuple)) or not all(_is_token(t) for t in value):
                    raise AssertionInputError(
                        f"additional_special_tokens must be a list of str or AddedToken; got {value!r}."
                    )
                tokens = [
                    AddedToken(t, normalized=False, special=True) if isinstance(t, str) else AddedToken.coerce(t)
                    for t in value
                ]
                if not replace_additional_special_tokens:
                    tokens = [t for t in tokens if str(t) not in self.additional_special_tokens]
                if replace_additional_special_tokens and tokens:
                    self._special["additional_special_tokens"] = list(tokens)
                else:
                    self._special["additional_special_tokens"].extend(tokens)
                to_add += tokens
            else:
                if not _is_token(value):
                    raise ValueError(f"{key} must be a str or an AddedToken; got {value!r}.")
                token = (
                    AddedToken(value, normalized=False, special=True)
                    if isinstance(value, str)
                    else AddedToken.coerce(value)
                )
                self._special[key] = token
                if token not in to_add:
                    to_add.append(token)
        return self.add_tokens(to_add, special_tokens=True)

    def _add_tokens(self, new_tokens: Iterable[Any], special_tokens: bool = False) -> int:
        """transformers' ``_add_tokens``: register the tokens, count the new ids, refresh the trie."""
        vocab = self.get_vocab()
        next_index = len(vocab)
        added = 0
        for token in new_tokens:
            if not _is_token(token):
                raise TypeError(f"Token {token!r} is not a str or an AddedToken but a {type(token).__name__}.")
            if str(token) == "":
                continue
            if isinstance(token, str):
                if token in self._added_encoder:
                    continue
                special = special_tokens or token in self.all_special_tokens
                token = AddedToken(token, normalized=not special, special=special)
            else:
                token = AddedToken.coerce(token)
                if special_tokens:
                    token.special = True  # the normalized flag stays as it was
            if token.content in vocab:
                index = vocab[token.content]
            else:
                index = vocab[token.content] = next_index + added
                added += 1
            if token.special and token.content not in self.all_special_tokens:
                self._special["additional_special_tokens"].append(token)
            self._added_decoder[index] = token
            self._added_encoder[token.content] = index
        for token in self._added_decoder.values():
            self._trie.add(token.content)
        # What tokenize() matches: each added text with the token (and flags) its id has now.
        self._added_by_content = {c: self._added_decoder[i] for c, i in self._added_encoder.items()}
        self._total_vocab_size = len(self.get_vocab())
        return added

    # ----------------------------------------------------------------- hooks
    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary, without added tokens."""
        raise NotImplementedError

    def _tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def _convert_token_to_id(self, token: str) -> int:
        raise NotImplementedError

    def _convert_id_to_token(self, index: int) -> str:
        raise NotImplementedError

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Join tokens into text."""
        raise NotImplementedError

    # ----------------------------------------------------------------- vocabulary
    def __len__(self) -> int:
        """Number of distinct tokens of ``get_vocab()``: base vocabulary plus added tokens."""
        return self._total_vocab_size

    def get_vocab(self) -> dict[str, int]:
        """Return token -> id for the ids below ``vocab_size``, then the added tokens."""
        vocab = {self.convert_ids_to_tokens(i): i for i in range(self.vocab_size)}
        vocab.update(self.added_tokens_encoder)
        return vocab

    @property
    def added_tokens_encoder(self) -> dict[str, int]:
        """Added token text -> id, sorted by id."""
        return {t.content: i for i, t in sorted(self._added_decoder.items())}

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        """Id -> added token, sorted by id."""
        return dict(sorted(self._added_decoder.items()))

    def get_added_vocab(self) -> dict[str, int]:
        """Added token text -> id."""
        return dict(self._added_encoder)

    @property
    def special_tokens_map(self) -> dict[str, Any]:
        """Attribute -> special token text (or list of them), for the attributes set."""
        return {a: getattr(self, a) for a in SPECIAL_TOKENS_ATTRIBUTES if self._special[a]}

    @property
    def special_tokens_map_extended(self) -> dict[str, Any]:
        """Like ``special_tokens_map`` but keeping ``AddedToken`` values as they are."""
        return {a: self._special[a] for a in SPECIAL_TOKENS_ATTRIBUTES if self._special[a]}

    @property
    def all_special_tokens_extended(self) -> list[str | AddedToken]:
        """Every special token once, in attribute order, as str or ``AddedToken``."""
        seen: dict[str, str | AddedToken] = {}
        for value in self.special_tokens_map_extended.values():
            for token in value if isinstance(value, (list, tuple)) else [value]:
                seen.setdefault(str(token), token)
        return list(seen.values())

    @property
    def all_special_tokens(self) -> list[str]:
        """Every special token once: bos, eos, unk, pad, then the additional ones."""
        return [str(t) for t in self.all_special_tokens_extended]

    @property
    def all_special_ids(self) -> list[int]:
        """Ids of ``all_special_tokens``."""
        return self.convert_tokens_to_ids(self.all_special_tokens)

    # ----------------------------------------------------------------- text -> tokens -> ids
    def tokenize(
        self,
        text: str,
        *,
        split_special_tokens: bool | None = None,
        is_split_into_words: bool = False,
        **kwargs: Any,
    ) -> list[str]:
        """Split text into added tokens and the vocabulary's sub-words.

        Args:
            text: The text.
            split_special_tokens: Treat added tokens such as ``</s>`` as plain text (default:
                the tokenizer's ``split_special_tokens``).
            is_split_into_words: Accepted for transformers' calls; a word is tokenized like any text.
            **kwargs: Ignored with a warning, as transformers does.

        Returns:
            The tokens.
        """
        if kwargs:
            logger.warning("tokenize() ignores the keyword arguments %s.", kwargs)
        if split_special_tokens is None:
            split_special_tokens = self.split_special_tokens
        if split_special_tokens:
            return self._tokenize(text) if text else []
        added = self._added_by_content
        tokens: list[str] = []
        for piece in split_on_added_tokens(text, self._trie, added):
            tokens += [piece] if piece in added else self._tokenize(piece)
        return tokens

    @overload
    def convert_tokens_to_ids(self, tokens: str) -> int: ...
    @overload
    def convert_tokens_to_ids(self, tokens: list[str] | tuple[str, ...]) -> list[int]: ...
    @overload
    def convert_tokens_to_ids(self, tokens: None) -> None: ...
    def convert_tokens_to_ids(self, tokens: str | Sequence[str] | None) -> int | list[int] | None:
        """Map a token, or a list of them, to ids; unknown tokens get ``unk_token_id``."""
        if tokens is None:
            return None
        if isinstance(tokens, str):
            return self._token_to_id(tokens)
        return [self._token_to_id(t) for t in tokens]

    def _token_to_id(self, token: str) -> int:
        if token in self._added_encoder:
            return self._added_encoder[token]
        return self._convert_token_to_id(token)

    # ----------------------------------------------------------------- ids -> tokens -> text
    @overload
    def convert_ids_to_tokens(self, ids: int, skip_special_tokens: bool = False) -> str: ...
    @overload
    def convert_ids_to_tokens(self, ids: Sequence[int], skip_special_tokens: bool = False) -> list[str]: ...
    def convert_ids_to_tokens(self, ids: int | Sequence[int], skip_special_tokens: bool = False) -> str | list[str]:
        """Map an id, or a sequence of ids, to tokens.

        Args:
            ids: One id or a sequence of ids.
            skip_special_tokens: Drop the ids of ``all_special_ids`` (sequences only, as in
                transformers: a single id is always converted).

        Returns:
            A token for an int, else a list of tokens.
        """
        if isinstance(ids, int):
            return self._id_to_token(ids)
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._id_to_token(int(i)) for i in ids if int(i) not in skip]

    def _id_to_token(self, index: int) -> str:
        if index in self._added_decoder:
            return self._added_decoder[index].content
        return self._convert_id_to_token(index)

    @staticmethod
    def clean_up_tokenization(text: str) -> str:
        """Remove the spaces English tokenization leaves before punctuation and contractions."""
        for before, after in (
            (" .", "."),
            (" ?", "?"),
            (" !", "!"),
            (" ,", ","),
            (" ' ", "'"),
            (" n't", "n't"),
            (" 'm", "'m"),
            (" 's", "'s"),
            (" 've", "'ve"),
            (" 're", "'re"),
        ):
            text = text.replace(before, after)
        return text

    def decode(
        self,
        token_ids: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        *,
        spaces_between_special_tokens: bool = True,
    ) -> str:
        """Turn ids back into text.

        Args:
            token_ids: An id, a list of ids, or a 1-D tensor or array.
            skip_special_tokens: Drop special tokens (eos, pad, special language tokens...).
            clean_up_tokenization_spaces: Apply ``clean_up_tokenization`` (default: the
                tokenizer's ``clean_up_tokenization_spaces``).
            spaces_between_special_tokens: Surround the tokens decoded apart (added tokens
                above ``vocab_size`` that are kept, e.g. language tokens) with spaces.

        Returns:
            The text.
        """
        tokens = self.convert_ids_to_tokens(to_python(token_ids), skip_special_tokens)
        tokens = [tokens] if isinstance(tokens, str) else tokens
        special = set(self.all_special_tokens)
        # Decoded on their own rather than by the vocabulary: non-special added tokens and
        # additional special tokens past the base vocabulary (M2M100's language tokens).
        apart = (set(self._added_encoder) - special) | {
            t for t in self.additional_special_tokens if self._token_to_id(t) >= self.vocab_size
        }
        texts: list[str] = []
        pending: list[str] = []
        for token in tokens:
            if skip_special_tokens and token in special:
                continue
            if token in apart:
                if pending and (text := self.convert_tokens_to_string(pending)):
                    texts.append(text)
                pending = []
                texts.append(token)
            else:
                pending.append(token)
        if pending:
            texts.append(self.convert_tokens_to_string(pending))
        text = (" " if spaces_between_special_tokens else "").join(texts)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        return self.clean_up_tokenization(text) if clean_up_tokenization_spaces else text

    def batch_decode(
        self,
        sequences: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        *,
        spaces_between_special_tokens: bool = True,
    ) -> list[str]:
        """``decode`` each row of a list of id lists, or of a 2-D tensor or array."""
        return [
            self.decode(
                seq,
                skip_special_tokens,
                clean_up_tokenization_spaces,
                spaces_between_special_tokens=spaces_between_special_tokens,
            )
            for seq in sequences
        ]


def _is_token(value: Any) -> bool:
    """A str, an AddedToken, or a ``tokenizers.AddedToken`` (anything with a ``content``)."""
    return isinstance(value, str) or (not isinstance(value, Mapping) and hasattr(value, "content"))
