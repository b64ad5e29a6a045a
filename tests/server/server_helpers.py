"""Helpers of the server tests: definitions and a client with keys."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from splitlab.server.context import ServerContext

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "examples" / "exp-checkout-flow-v3.json"


def article() -> dict[str, Any]:
    """The article's experiment definition, parsed."""
    data: dict[str, Any] = json.loads(ARTICLE.read_text())
    return data


def small(experiment_id: str = "exp-small", **overrides: Any) -> dict[str, Any]:
    """A small two-variant draft definition."""
    raw: dict[str, Any] = {
        "experimentId": experiment_id,
        "name": "Small",
        "status": "draft",
        "variants": ["control", "treatment"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "salt-1"},
        "metrics": {
            "primary": {"name": "checkout", "type": "conversion"},
            "guardrails": [{"name": "error_rate", "threshold": 0.02}],
        },
        "segments": ["region"],
        "evaluation": {"maxPeeks": 2, "minSampleSize": 100},
    }
    raw.update(overrides)
    return raw


@dataclass
class Api:
    """A test client with an admin and an SDK key."""

    client: TestClient
    ctx: ServerContext
    admin_key: str
    sdk_key: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    @property
    def sdk(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.sdk_key}"}
