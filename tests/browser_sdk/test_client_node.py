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


# A small EventSource over Node's fetch (Node has no global one): what a service passes as
# the `EventSource` option. It reads the real server's text/event-stream.
STREAM_SCRIPT = """
import { createClient } from "MODULE";
import { createInterface } from "node:readline";
class FetchEventSource {
  constructor(url) {
    this.onopen = null; this.onerror = null; this.listeners = {};
    this.controller = new AbortController();
    this.run(url).catch(() => this.onerror?.({}));
  }
  addEventListener(type, listener) { (this.listeners[type] ??= []).push(listener); }
  close() { this.controller.abort(); }
  async run(url) {
    const response = await fetch(url, { signal: this.controller.signal });
    if (!response.ok) throw new Error(String(response.status));
    this.onopen?.({});
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of response.body) {
      text += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = text.indexOf("\\n\\n")) >= 0) {
        const block = text.slice(0, end); text = text.slice(end + 2);
        let type = "message", data = "";
        for (const line of block.split("\\n")) {
          if (line.startsWith("event:")) type = line.slice(6).trim();
          if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        for (const listener of this.listeners[type] ?? []) listener({ data });
      }
    }
    this.onerror?.({});
  }
}
const [url, sdkKey] = process.argv.slice(1);
const client = createClient({ url, sdkKey, cache: null, refreshIntervalMs: 0,
  EventSource: FetchEventSource });
await client.ready();
const deadline = Date.now() + 5000;
while (!client.status().streamOpen && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
console.log(JSON.stringify({ streamOpen: client.status().streamOpen }));
const lines = createInterface({ input: process.stdin });
for await (const _ of lines) break;  // the test rolled the experiment back
let answer = client.getVariant("exp-node", { unitId: "user-1", track: false });
const until = Date.now() + 5000;
while (answer.reason !== "rolled_back" && Date.now() < until) {
  await new Promise((r) => setTimeout(r, 20));
  answer = client.getVariant("exp-node", { unitId: "user-1", track: false });
}
await client.close();
console.log(JSON.stringify({ reason: answer.reason }));
process.exit(0);
""".replace("MODULE", (ROOT / "sdk" / "js" / "src" / "main.js").as_uri())


def test_node_follows_the_stream_when_given_an_eventsource(tmp_path: Path) -> None:
    """docs/sdk.md: in Node the change stream is on once an EventSource class is passed.
    With polling off, a rollback reaches the process only by the stream (within 5 s)."""
    serve = Serve(tmp_path / "stream.duckdb", "http://127.0.0.1:1").start()
    node = shutil.which("node")
    assert node is not None, "node is missing: run scripts/install-system-deps.sh"
    proc = None
    try:
        serve.register(experiment("exp-node"))
        proc = subprocess.Popen(
            [node, "--input-type=module", "-e", STREAM_SCRIPT, serve.url, serve.sdk_key],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdin is not None
        first = json.loads(proc.stdout.readline() or "{}")
        assert first == {"streamOpen": True}, "the stream did not open within 5 s"
        serve.rollback("exp-node")
        proc.stdin.write("rolled back\n")
        proc.stdin.flush()
        second = json.loads(proc.stdout.readline() or "{}")
        assert second == {"reason": "rolled_back"}
        assert proc.wait(timeout=30) == 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        serve.stop()


HOLDOUT_SCRIPT = """
import { createClient } from "MODULE";
const [url, sdkKey] = process.argv.slice(1);
const client = createClient({ url, sdkKey, cache: null, refreshIntervalMs: 0 });
await client.ready();
const answers = [];
for (let i = 0; i < 20; i++) answers.push(client.getVariant("holdout-node", { unitId: `own-${i}` }));
for (let i = 0; i < 20; i++) answers.push(client.getVariant("exp-covered", { unitId: `cov-${i}` }));
await client.close();
console.log(JSON.stringify(answers.map((a) => [a.experimentId, a.reason, a.holdoutVariant ?? null])));
""".replace("MODULE", (ROOT / "sdk" / "js" / "src" / "main.js").as_uri())


def test_a_holdouts_own_answer_is_not_an_exposure(tmp_path: Path) -> None:
    """docs/holdouts.md: a unit is in the holdout's results once it reached a covered
    experiment; asking for the holdout itself (its own assignment) exposes nobody, as in the
    Python middleware. Units of the covered experiment are exposed to the holdout."""
    serve = Serve(tmp_path / "holdout.duckdb", "http://127.0.0.1:1").start()
    try:
        serve.register(experiment(
            "holdout-node", variants=("held-out", "everyone-else"),
            design={"type": "holdout", "percent": 50, "scope": None},
        ))  # fmt: skip
        serve.register(experiment("exp-covered"))
        node = shutil.which("node")
        assert node is not None, "node is missing: run scripts/install-system-deps.sh"
        proc = subprocess.run(
            [node, "--input-type=module", "-e", HOLDOUT_SCRIPT, serve.url, serve.sdk_key],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        answers = json.loads(proc.stdout)
        own = [a for a in answers if a[0] == "holdout-node"]
        assert {a[1] for a in own} == {"assigned"}, "the holdout's own assignment is served"
        covered = [a for a in answers if a[0] == "exp-covered"]
        assert {a[2] for a in covered} == {"held-out", "everyone-else"}
        serve.stop()
        rows = serve.events("exposures")
        holdout_units = {r["unit_id"] for r in rows if r["experiment_id"] == "holdout-node"}
        assert holdout_units == {f"cov-{i}" for i in range(20)}
    finally:
        serve.stop()
