"""Semantic versions for the targeting operators ``$veq $vne $vgt $vgte $vlt $vlte``.

Precedence follows Semantic Versioning 2.0.0, section 11, with two lenient readings that
GrowthBook users rely on: a leading ``v`` is allowed (``v1.2.3``) and missing minor or patch
numbers count as zero (``1.2`` is ``1.2.0``). Build metadata (``+build.5``) is ignored.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["VersionKey", "parse_version"]

_VERSION = re.compile(
    r"^v?(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\Z"
)

#: A pre-release identifier ordered per semver: numeric ones (0, n) before alphanumeric (1, s).
_Ident = tuple[int, int, str]
#: (major, minor, patch, release flag, pre-release identifiers). The flag is 1 for a release
#: and 0 for a pre-release, so that ``1.0.0-rc.1 < 1.0.0`` falls out of tuple ordering.
VersionKey = tuple[int, int, int, int, tuple[_Ident, ...]]


@lru_cache(maxsize=4096)
def parse_version(text: str) -> VersionKey | None:
    """Return a key whose ordering is semver precedence, or None if `text` is not a version."""
    match = _VERSION.match(text)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor or 0), int(patch or 0), 1, ())
    idents: list[_Ident] = []
    for part in pre.split("."):
        if part.isdigit():
            if len(part) > 1 and part[0] == "0":
                return None  # semver forbids leading zeros in numeric identifiers
            idents.append((0, int(part), ""))
        else:
            idents.append((1, 0, part))
    return (int(major), int(minor or 0), int(patch or 0), 0, tuple(idents))
