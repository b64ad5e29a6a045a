"""The Python service (RE2) and the JS SDK (RegExp, `u` flag) agree on regular expressions.

Thousands of patterns built from a fixed-seed mix of pieces, portable and not, go through
both sides' validation; every pattern both accept is then matched against short strings on
both engines. Any pattern one side accepts and the other refuses, or any string they match
differently, fails the test (docs/targeting.md, "Regular expressions", lists the two
character-level differences left, which the pieces here avoid).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest

from splitlab.config.regex import compile_regex, regex_problem
from tests.conftest import ROOT

NODE = shutil.which("node")

PIECES = [
    *("a", "b", ".", "\\d", "\\w", "\\b", "\\B", "[a-z]", "[^x]", "(", ")", "(?:", "|"),
    *("*", "+", "?", "{2}", "{1,3}", "{,2}", "{0}", "^", "$", "\\.", "\\-", "-", "[\\d-z]"),
    *("[a-\\d]", "[\\d-]", "[-\\w]", "[z-a]", "\\x41", "é", "😀", "[", "]", "}", "{", "\\("),
    *("(?=", "\\1", "a{2}{3}", "**", "+?", "*?", "??", "{2}?", "\\^", "\\$", "[\\b]", "[.]"),
    *("[$^]", "\\/", "/", "\\n", "\\v", "\\0", "\\\\", "[\\]]", "[a\\-z]", "()", "(|)"),
    *("x{1000}", "x{1001}", "(?P<n>a)", "\\p{L}", "[[:alpha:]]", "\\k<n>", "\\cA"),
]
TEXT = ["a", "b", "A", "B", "z", "-", ".", "é", "É", "😀", "1", "x", "/", "$", "^", "(", "\\"]

RUNNER = """
import("./sdk/js/src/regex.js").then((m) => {
  const {patterns, texts} = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const valid = patterns.map(([p, i]) => m.regexProblem(p, i) === null);
  const matched = texts.map(([p, i, t]) => m.makeRegex(p, i).test(t));
  console.log(JSON.stringify({valid, matched}));
});
"""


def test_python_and_javascript_accept_and_match_the_same_patterns() -> None:
    """Validation verdicts and match results are identical on both engines for every probe."""
    if NODE is None:
        pytest.fail("node is missing: run scripts/install-system-deps.sh (Debian's nodejs, 18+)")
    rng = random.Random(20261204)
    patterns = sorted(
        {"".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6))) for _ in range(3000)}
    )
    probes = [(p, i) for p in patterns for i in (False, True)]
    valid = [regex_problem(p, i) is None for p, i in probes]
    texts = [
        (p, i, "".join(rng.choice(TEXT) for _ in range(rng.randint(0, 5))))
        for (p, i), ok in zip(probes, valid, strict=True)
        if ok
        for _ in range(3)
    ]
    matched = [compile_regex(p, i).search(t) is not None for p, i, t in texts]
    proc = subprocess.run(
        [NODE, "-e", RUNNER],
        input=json.dumps({"patterns": probes, "texts": texts}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    js = json.loads(proc.stdout)
    assert sum(valid) > 500 and len(valid) - sum(valid) > 500  # both verdicts are exercised
    assert [p for p, a, b in zip(probes, valid, js["valid"], strict=True) if a != b] == []
    assert [t for t, a, b in zip(texts, matched, js["matched"], strict=True) if a != b] == []
