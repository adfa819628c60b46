"""A parser for the full SCIM filter grammar (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2).

Why not scim2-filter-parser, django-scim2's default (0.7.0, still installed
because django-scim2 imports it; our code never does): it reads ``true`` and
``"true"`` as the same value (``active eq "true"`` becomes ``active = TRUE``),
parses only one-digit numbers (``title eq 123`` is a parse error at ``2``),
and drops attributes it does not know (``userName eq "a" and nickName eq "x"``
becomes ``userName = 'a'``: a wider match, silently). A filter we cannot
evaluate exactly must be refused with ``invalidFilter`` instead (Entra rule 8),
so we parse into our own small AST and let filters.py and patch.py interpret it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from provisioning.scim.constants import MAX_FILTER_LENGTH
from provisioning.scim.schemas import ALL_SCHEMAS

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
_KNOWN_URNS = sorted((s.id for s in ALL_SCHEMAS), key=len, reverse=True)
_MAX_DEPTH = 24


class FilterSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Path:
    uri: str | None
    attr: str
    sub: str | None = None

    def __str__(self) -> str:
        text = f"{self.attr}.{self.sub}" if self.sub else self.attr
        return f"{self.uri}:{text}" if self.uri else text


@dataclass(frozen=True)
class Compare:
    path: Path
    op: str  # one of COMPARE_OPS or "pr"
    value: Any = None


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    expr: Any


@dataclass(frozen=True)
class ValuePath:
    """``attr[filter]`` optionally followed by ``.sub op value`` (Entra's email lookup)."""

    path: Path
    filter: Any
    sub_compare: Compare | None = None


@dataclass(frozen=True)
class PatchPath:
    path: Path  # attribute (and sub-attribute when there is no filter)
    filter: Any = None  # value filter on a multi-valued attribute
    filter_sub: str | None = None  # sub-attribute after the filter: emails[type eq "work"].value


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<punct>[()\[\]])
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.:])
      | (?P<word>(?:urn:[A-Za-z0-9:._\-]+)|(?:[A-Za-z$][\w$\-]*(?:\.[A-Za-z$][\w$\-]*)?))
      | (?P<dot>\.[A-Za-z$][\w$\-]*)
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterSyntaxError(f"unexpected character at position {pos + 1}: {text[pos:pos + 10]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def split_path(text: str) -> Path:
    """``urn:...:User:manager.value`` → Path(uri, "manager", "value")."""
    uri = None
    lowered = text.lower()
    for known in _KNOWN_URNS:
        if lowered.startswith(known.lower() + ":"):
            uri, text = known, text[len(known) + 1:]
            break
        if lowered == known.lower():
            return Path(known, "", None)
    else:
        if lowered.startswith("urn:"):
            if ":" not in text[4:]:
                raise FilterSyntaxError(f"invalid attribute path {text!r}")
            uri, text = text.rsplit(":", 1)
    if not text:
        raise FilterSyntaxError("empty attribute path")
    attr, _, sub = text.partition(".")
    if not attr or "." in sub:
        raise FilterSyntaxError(f"invalid attribute path {text!r}")
    return Path(uri, attr, sub or None)


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise FilterSyntaxError(f"filter is longer than {MAX_FILTER_LENGTH} characters")
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterSyntaxError("filter ends unexpectedly")
        self.pos += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() in words:
            self.pos += 1
            return token[1].lower()
        return None

    def expect(self, punct: str) -> None:
        _kind, value = self.take()
        if value != punct:
            raise FilterSyntaxError(f"expected {punct!r}, found {value!r}")

    def done(self) -> None:
        if self.peek() is not None:
            raise FilterSyntaxError(f"unexpected {self.peek()[1]!r}")

    # filter := and_expr ("or" and_expr)*
    def parse_filter(self) -> Any:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise FilterSyntaxError("filter is nested too deeply")
        expr = self.parse_and()
        while self.keyword("or"):
            expr = Logical("or", expr, self.parse_and())
        self.depth -= 1
        return expr

    def parse_and(self) -> Any:
        expr = self.parse_unary()
        while self.keyword("and"):
            expr = Logical("and", expr, self.parse_unary())
        return expr

    def parse_unary(self) -> Any:
        token = self.peek()
        if token is None:
            raise FilterSyntaxError("filter ends unexpectedly")
        if token[0] == "word" and token[1].lower() == "not":
            nxt = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
            if nxt and nxt[1] == "(":
                self.pos += 1
                return Not(self.parse_group())
        if token[1] == "(":
            return self.parse_group()
        return self.parse_attr_expr()

    def parse_group(self) -> Any:
        self.expect("(")
        expr = self.parse_filter()
        self.expect(")")
        return expr

    def parse_attr_expr(self) -> Any:
        kind, text = self.take()
        if kind != "word":
            raise FilterSyntaxError(f"expected an attribute, found {text!r}")
        path = split_path(text)
        token = self.peek()
        if token and token[1] == "[":
            if path.sub:
                raise FilterSyntaxError(f"invalid value path {text!r}")
            inner, sub = self.parse_value_filter()
            sub_compare = self.parse_comparison(Path(path.uri, path.attr, sub)) if sub else None
            return ValuePath(path, inner, sub_compare)
        return self.parse_comparison(path)

    def parse_value_filter(self) -> tuple[Any, str | None]:
        """``[filter]`` and an optional ``.subAttr`` after it."""
        self.expect("[")
        inner = self.parse_filter()
        self.expect("]")
        token = self.peek()
        if token and token[0] == "dot":
            self.take()
            return inner, token[1][1:]
        return inner, None

    def parse_comparison(self, path: Path) -> Compare:
        kind, op = self.take()
        op = op.lower()
        if kind != "word" or (op not in COMPARE_OPS and op != "pr"):
            raise FilterSyntaxError(f"expected an operator after {path}, found {op!r}")
        if op == "pr":
            return Compare(path, "pr")
        return Compare(path, op, self.parse_value())

    def parse_value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            try:
                value = json.loads(text)
                value.encode("utf-8")  # an unpaired surrogate ("\ud800") is no text
            except (ValueError, UnicodeEncodeError):
                raise FilterSyntaxError(f"invalid string {text}") from None
            if "\x00" in value:
                raise FilterSyntaxError("a string in a filter cannot contain NUL characters")
            return value
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "word" and text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text.lower()]
        raise FilterSyntaxError(f"expected a value, found {text!r}")


def parse_filter(text: str) -> Any:
    if not isinstance(text, str) or not text.strip():
        raise FilterSyntaxError("the filter is empty")
    parser = _Parser(text)
    expr = parser.parse_filter()
    parser.done()
    return expr


def parse_patch_path(text: str) -> PatchPath:
    """``attr``, ``attr.sub``, ``urn:…:attr``, ``attr[filter]`` or ``attr[filter].sub``."""
    if not isinstance(text, str) or not text.strip():
        raise FilterSyntaxError("the path is empty")
    parser = _Parser(text)
    kind, word = parser.take()
    if kind != "word":
        raise FilterSyntaxError(f"invalid path {text!r}")
    path = split_path(word)
    token = parser.peek()
    if token is None:
        return PatchPath(path)
    if token[1] != "[" or path.sub:
        raise FilterSyntaxError(f"invalid path {text!r}")
    inner, filter_sub = parser.parse_value_filter()
    parser.done()
    return PatchPath(path, inner, filter_sub)
