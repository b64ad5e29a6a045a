"""Regular expressions of ``$regex`` / ``$regexi``: RE2, and the syntax every SDK shares.

Patterns run on RE2 (the ``google-re2`` package), whose matching time is linear in the
length of the text: no pattern and no attribute can make a targeting check backtrack, so an
SDK-key request can never stall the server's event loop.

A pattern must also keep to the *portable subset*, the syntax whose meaning RE2 and
JavaScript's ``RegExp`` (with the ``u`` flag, as the JS SDK uses it) agree on. The JS SDK
runs the same scan (``sdk/js/src/regex.js``), so both SDKs refuse the same patterns; the
rules are listed in ``docs/targeting.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import re2

from splitlab.config.limits import MAX_REGEX_LENGTH

__all__ = ["MAX_REPEAT", "compile_regex", "portable_problem", "regex_problem", "regex_search"]

#: RE2 refuses a repetition count above 1000 (``a{1001}``); so does the portable scan.
MAX_REPEAT = 1000
_LETTER_ESCAPES = set("dDwWsSbBnrtfv")
_CLASS_LETTER_ESCAPES = _LETTER_ESCAPES - {"b", "B"}
_SYNTAX = set("^$\\.*+?()[]{}|/")
_HEX = set("0123456789abcdefABCDEF")


def portable_problem(pattern: str) -> str | None:
    """Why `pattern` is outside the syntax shared by RE2 and JavaScript, or None if inside."""
    i, n, in_class, class_start = 0, len(pattern), False, 0
    while i < n:
        char = pattern[i]
        if char == "\\":
            problem = _escape_problem(pattern, i, in_class)
            if problem:
                return problem
            if in_class and pattern[i + 1] in _CLASS_ESCAPES and _opens_range(pattern, i + 2):
                return _RANGE
            if not in_class and pattern[i + 1] in "bB" and _quantifier(pattern, i + 2):
                return _ASSERTION
            i += 4 if pattern[i + 1 : i + 2] == "x" else 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            elif char == "[" and pattern[i + 1 : i + 2] == ":":
                return "no POSIX classes such as [[:alpha:]] (they are not portable)"
            elif (
                char == "-"
                and i > class_start
                and pattern[i + 1 : i + 2] == "\\"
                and pattern[i + 2 : i + 3] in _CLASS_ESCAPES
            ):
                return _RANGE
            i += 1
            continue
        if char in "^$" and _quantifier(pattern, i + 1):
            return _ASSERTION
        if char == "[":
            start = i + 2 if pattern[i + 1 : i + 2] == "^" else i + 1
            if pattern[start : start + 1] == "]":
                return "no class starting with ']' ([] and []...] differ between engines)"
            in_class, i, class_start = True, start, start
            continue
        if char == "(" and pattern[i + 1 : i + 2] == "?" and pattern[i + 2 : i + 3] != ":":
            return (
                "no (?...) group other than (?:...): lookarounds, named groups and inline "
                "flags are not portable"
            )
        if char == "{":
            end = _repeat_end(pattern, i)
            if end < 0:
                return "'{' only in a repetition such as {2}, {2,} or {2,5} (escape it: \\{)"
            i = end
            continue
        if char in "}]":
            return f"'{char}' escaped (\\{char}) outside a character class"
        i += 1
    return None


_CLASS_ESCAPES = set("dDwWsS")
_RANGE = "no range with a class escape such as [\\d-z] (JavaScript refuses it)"
_ASSERTION = "no quantifier on ^, $, \\b or \\B (JavaScript refuses it)"


def _opens_range(pattern: str, i: int) -> bool:
    """Whether a '-' at `i` (inside a class) starts a range, i.e. is not the class's end."""
    return pattern[i : i + 1] == "-" and pattern[i + 1 : i + 2] not in ("]", "")


def _quantifier(pattern: str, i: int) -> bool:
    """Whether a quantifier (``* + ?`` or a ``{`` repetition) starts at `i`."""
    nxt = pattern[i : i + 1]
    return nxt in ("*", "+", "?") or (nxt == "{" and _repeat_end(pattern, i) > 0)


def _escape_problem(pattern: str, i: int, in_class: bool) -> str | None:
    nxt = pattern[i + 1 : i + 2]
    if not nxt:
        return "no '\\' at the end of the pattern"
    if nxt in "0123456789":
        return f"no \\{nxt}: backreferences and octal escapes are not portable"
    if nxt == "x":
        if len(pattern) < i + 4 or not set(pattern[i + 2 : i + 4]) <= _HEX:
            return "\\x followed by exactly two hex digits (like \\x41)"
        return None
    allowed = _CLASS_LETTER_ESCAPES if in_class else _LETTER_ESCAPES
    if nxt.isascii() and nxt.isalpha():
        if nxt not in allowed:
            listed = " ".join("\\" + c for c in "dDwWsSbBnrtfv" if c in allowed)
            return f"no \\{nxt}: only the letter escapes {listed} and \\xHH are portable"
        return None
    if nxt in _SYNTAX or (in_class and nxt == "-"):
        return None
    return f"no \\{nxt}: only syntax characters ^$\\.*+?()[]{{}}|/ may be escaped"


def _repeat_end(pattern: str, i: int) -> int:
    """The index after a valid ``{n}``, ``{n,}`` or ``{n,m}`` at `i`, or -1."""
    close = pattern.find("}", i)
    if close < 0:
        return -1
    low, _, high = pattern[i + 1 : close].partition(",")
    digits = low.isascii() and low.isdigit() and (not high or (high.isascii() and high.isdigit()))
    if not digits:
        return -1
    if int(low) > MAX_REPEAT or (high and int(high) > MAX_REPEAT):
        return -1
    return close + 1


def regex_problem(pattern: str, ignore_case: bool) -> str | None:
    """Why `pattern` is refused (too long, not portable, or RE2 cannot compile it), or None."""
    if len(pattern) > MAX_REGEX_LENGTH:
        return f"a pattern of at most {MAX_REGEX_LENGTH} characters (this one has {len(pattern)})"
    problem = portable_problem(pattern)
    if problem is not None:
        return f"a portable regular expression ({problem})"
    try:
        compile_regex(pattern, ignore_case)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "RE2 cannot compile it"
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        return f"a valid regular expression ({text})"
    return None


@lru_cache(maxsize=1024)
def compile_regex(pattern: str, ignore_case: bool) -> Any:
    """The RE2 program of `pattern` (cached); raises ``re2.error`` when it does not compile."""
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True  # only "is there a match" is ever asked
    options.case_sensitive = not ignore_case
    return re2.compile(pattern, options)


def regex_search(pattern: str, ignore_case: bool) -> Callable[[str], bool]:
    """Whether `pattern` is found in a string, on RE2.

    The text is handed over as UTF-8 bytes: the wrapper's ``str`` path maps byte offsets back
    to characters, which costs more than the match (about 4 µs against 1.5 µs on a short
    email). ``surrogatepass`` lets a lone surrogate (valid in JSON text) through as bytes RE2
    reads as one invalid character, where a plain ``encode`` would raise.
    """
    search = compile_regex(pattern, ignore_case).search

    def found(text: str) -> bool:
        return search(text.encode("utf-8", "surrogatepass")) is not None

    return found
