"""The client under Node against a real `splitlab serve`, with a file cache: a second process
started while the server is stopped serves the same variants from the file; its events, kept
in the file too, reach the collector once the server is back."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from tests.browser_sdk.client_env import Serve, experiment
from tests.conftest import ROOT

SCRIPT = """
import { createClient, fileCache } from "MODULE";
const [url, sdkKey, cachePath] = process.argv.slice(1);
const reported = [];
const client = createClient({ url, sdkKey, cache: fileCache(cachePath), timeoutMs: 1000,
  onError: (error, where) => reported.push(where) });
const status = await client.ready();
const units = Array.from({ length: 30 }, (_, i) => `user-${i}`);
const rows = units.map((u) => { const a = client.getVariant("exp-node", { unitId: u });
  return [u, a.variant, a.reason, a.source]; });
await client.close();
console.log(JSON.stringify({ source: status.source, rows, pending: client.status().pendingEvents,
  reported }));
""".replace("MODULE", (ROOT / "sdk" / "js" / "src" / "main.js").as_uri())


def run_node(url: str, key: str, cache: Path) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is missing: run scripts/install-system-deps.sh"
    proc = subprocess.run(
        [node, "--input-type=module", "-e", SCRIPT, url, key, str(cache)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def kept_ids(cache: Path) -> set[str]:
    """The event ids a process left in the file cache for the next one."""
    entries: dict[str, str] = json.loads(cache.read_text("utf-8"))
    return {e["eventId"] for key, text in entries.items() if key.startswith("splitlab:events:")
            for e in json.loads(text)}  # fmt: skip


def test_node_serves_from_the_file_cache_and_keeps_its_events(tmp_path: Path) -> None:
    serve = Serve(tmp_path / "node.duckdb", "http://127.0.0.1:1").start()
    try:
        serve.register(experiment("exp-node", variants=("control", "a", "b")))
        cache = tmp_path / "splitlab-cache.json"
        online = run_node(serve.url, serve.sdk_key, cache)
        assert online["source"] == "config"
        assert online["pending"] == 0 and online["reported"] == []

        serve.stop()
        offline = run_node(serve.url, serve.sdk_key, cache)
        assert offline["source"] == "cache"
        assert [r[:3] for r in offline["rows"]] == [r[:3] for r in online["rows"]]
        assert {r[3] for r in offline["rows"]} == {"cache"}
        assert offline["pending"] == 30, "exposures kept in the file for the next start"
        assert "config" in offline["reported"] and "events" in offline["reported"]

        kept = kept_ids(cache)
        assert len(kept) == 30

        serve.start()
        again = run_node(serve.url, serve.sdk_key, cache)  # sends the kept events too
        assert again["pending"] == 0 and kept_ids(cache) == set()
        serve.stop()
        stored = Counter(row["event_id"] for row in serve.events("exposures"))
        assert kept <= set(stored)
        assert len(stored) == 90, "30 per run, the kept ones included"
        assert set(stored.values()) == {1}
    finally:
        serve.stop()
