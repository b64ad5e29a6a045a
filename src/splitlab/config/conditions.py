# temporary shim until the condition grammar moves here
from collections.abc import Mapping
from typing import Any


def validate_condition(condition: Mapping[str, Any], prefix: str) -> list[tuple[str, Any, str]]:
    return []
