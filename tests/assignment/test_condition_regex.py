"""$regex / $regexi run on RE2: linear-time matching, and the portable subset refused early."""

from __future__ import annotations

import subprocess
import sys

import pytest

from splitlab.config.conditions import ConditionError, compile_condition, validate_condition
from splitlab.config.regex import compile_regex, portable_problem, regex_problem

CATASTROPHIC = "^(a+)+$"


def test_patterns_are_compiled_by_re2() -> None:
    """The engine behind $regex is RE2 (google-re2), not Python's backtracking `re`."""
    program = compile_regex(CATASTROPHIC, False)
    assert type(program).__module__.split(".")[0] == "re2"


def test_a_backtracking_pattern_on_a_long_attribute_is_answered() -> None:
    """^(a+)+$ against 100,000 a's and a '!' is false (Python's re would never finish).

    It runs in a child process: a backtracking engine holds the GIL, so a regression would
    stall this process beyond the reach of pytest-timeout; the child is killed instead.
    """
    script = (
        "from splitlab.config.conditions import compile_condition\n"
        f"m = compile_condition({{'email': {{'$regex': {CATASTROPHIC!r}}}}})\n"
        "print(m({'email': 'a' * 100_000 + '!'}), m({'email': 'a' * 100_000}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["False", "True"]


def test_case_insensitive_patterns_use_re2_too() -> None:
    """$regexi compiles an RE2 program without case sensitivity."""
    program = compile_regex("^ABC$", True)
    assert type(program).__module__.split(".")[0] == "re2"
    assert compile_condition({"s": {"$regexi": "^ABC$"}})({"s": "abc"}) is True


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("(a)\\1", "backreferences"),
        ("a(?=b)", "lookarounds"),
        ("(?<name>a)", "named groups"),
        ("\\Aabc", "no \\A"),
        ("a\\-b", "no \\-"),
        ("a{2,1001}", "repetition"),
        ("x]", "outside a character class"),
        ("[[:digit:]]", "POSIX"),
        ("\\x4", "two hex digits"),
        ("abc\\", "at the end"),
    ],
)
def test_patterns_outside_the_portable_subset_say_why(pattern: str, fragment: str) -> None:
    """Each refused construct is named in the problem, so the author knows what to change."""
    problem = portable_problem(pattern)
    assert problem is not None and fragment in problem


def test_an_uncompilable_pattern_carries_re2s_reason() -> None:
    """A portable-looking pattern RE2 cannot compile is refused with RE2's own words."""
    problem = regex_problem("a(b", False)
    assert problem is not None and problem.startswith("a valid regular expression (missing )")


def test_portable_patterns_pass() -> None:
    """Classes, anchors, alternation, bounded repeats and escapes of the subset are accepted."""
    for pattern in ("^[A-Z]{3}-[0-9]+$", "^(?:chrome|firefox)$", "\\d+\\.\\d*", "[\\w.-]+@x\\.io"):
        assert validate_condition({"s": {"$regex": pattern}}) == [], pattern


def test_a_refused_pattern_is_a_condition_error() -> None:
    """Compiling a condition with a lookbehind raises ConditionError at the pattern's path."""
    with pytest.raises(ConditionError) as info:
        compile_condition({"user": {"email": "x"}, "e": {"$regexi": "(?<!a)b"}})
    assert info.value.path == "$.e.$regexi"
    assert "portable" in info.value.expected
