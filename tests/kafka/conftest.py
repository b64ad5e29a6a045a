"""Fixtures: one in-memory Tansu broker for the folder's tests, a fresh topic per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from .tansu import Broker, create_topic, running_tansu

_numbers = itertools.count()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with running_tansu(tmp_path_factory.mktemp("tansu")) as running:
        yield running


@pytest.fixture
def topic(broker: Broker) -> str:
    name = f"events-{next(_numbers)}"
    create_topic(broker.bootstrap, name, 3)
    return name


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
