"""The lock files pin every dependency pyproject.toml names, inside its range, with hashes."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")

# Which extras each lock file must cover (requirements/README.md).
ENVIRONMENTS = {
    "test.txt": ["all", "dev"],
    "run.txt": ["all"],
    "bench.txt": ["all", "dev", "bench"],
}


def _pins(lock: Path) -> dict[str, list[Version]]:
    pins: dict[str, list[Version]] = {}
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            pins.setdefault(canonicalize_name(match[1]), []).append(Version(match[2]))
    return pins


def _requirements(extras: list[str]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional = project["optional-dependencies"]
    found = [Requirement(text) for text in project["dependencies"]]
    pending = list(extras)
    while pending:
        for text in optional[pending.pop()]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "splitlab":
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


@pytest.mark.parametrize("lock_name", sorted(ENVIRONMENTS))
def test_lock_pins_every_dependency_inside_its_range(lock_name: str) -> None:
    """Each requirement of the environment's extras is pinned at a version its range admits."""
    pins = _pins(LOCKS / lock_name)
    problems = []
    for requirement in _requirements(ENVIRONMENTS[lock_name]):
        versions = pins.get(canonicalize_name(requirement.name))
        if not versions:
            problems.append(f"{requirement.name}: not pinned (run `make lock`)")
        elif not all(requirement.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{requirement.name}: pinned {versions}, outside {requirement}")
    assert problems == []


@pytest.mark.parametrize("lock_name", [*sorted(ENVIRONMENTS), "tools.txt"])
def test_every_pin_carries_a_hash(lock_name: str) -> None:
    """pip installs the lock with --require-hashes: every pinned line is followed by hashes."""
    lines = (LOCKS / lock_name).read_text().splitlines()
    unhashed = [
        line
        for index, line in enumerate(lines)
        if PIN.match(line)
        and not (line.rstrip().endswith("\\") and "--hash=sha256:" in lines[index + 1])
    ]
    assert unhashed == []


def test_run_lock_agrees_with_test_lock() -> None:
    """`make run` installs the versions `make test` tested."""
    tested = _pins(LOCKS / "test.txt")
    for name, versions in _pins(LOCKS / "run.txt").items():
        assert versions == tested[name], name


@pytest.mark.skipif(
    os.environ.get("SPLITLAB_UNLOCKED") == "1", reason="make test-latest runs on newer releases"
)
def test_installed_environment_is_the_lock() -> None:
    """The environment running this suite holds exactly the versions of requirements/test.txt."""
    from importlib.metadata import distributions

    pins = _pins(LOCKS / "test.txt")
    installed = {canonicalize_name(d.metadata["Name"]): Version(d.version) for d in distributions()}
    drift = {
        name: (str(installed[name]), [str(v) for v in versions])
        for name, versions in pins.items()
        if name in installed and installed[name] not in versions
    }
    assert drift == {}
