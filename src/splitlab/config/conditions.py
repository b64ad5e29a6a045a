# temporary shim until the condition grammar moves here
from typing import Any
from collections.abc import Mapping


def validate_condition(condition: Mapping[str, Any], prefix: str) -> list[tuple[str, Any, str]]:
    return []
