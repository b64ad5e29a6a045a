// The client's parts under Node: beacon chunks, back-off, Retry-After, config checks, the
// tracked unit, the file cache, and the tracker against a real local HTTP server that
// answers 503 (with Retry-After), 422 and then 200.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  BEACON_LIMIT,
  ConfigError,
  backoffMs,
  beaconBodies,
  createClient,
  fileCache,
  memoryCache,
  newEventId,
  readConfig,
  retryAfterMs,
} from "../src/main.js";
import { trackedIds } from "../src/tracked.js";

test("beacon bodies stay under the limit, keep every event once and carry the key", () => {
  const events = Array.from({ length: 2000 }, (_, i) => ({ eventId: newEventId(), type: "metric", metric: "m", unitId: `u-${i}`, attributes: { note: "é".repeat(40) } }));
  const bodies = beaconBodies("sdk-key", events);
  assert.ok(bodies.length > 1);
  const seen = [];
  for (const { body } of bodies) {
    assert.ok(new TextEncoder().encode(body).length < BEACON_LIMIT);
    const parsed = JSON.parse(body);
    assert.equal(parsed.key, "sdk-key");
    seen.push(...parsed.events.map((e) => e.eventId));
  }
  assert.deepEqual(seen, events.map((e) => e.eventId));
});

test("event ids are distinct v4 UUIDs", () => {
  const ids = new Set(Array.from({ length: 1000 }, newEventId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test("back-off: full jitter under the cap, at least Retry-After (itself capped)", () => {
  for (let attempt = 1; attempt <= 12; attempt += 1) {
    const top = Math.min(30000, 500 * 2 ** (attempt - 1));
    assert.equal(backoffMs(attempt, { random: () => 0.999999 }), 0.999999 * top);
    assert.equal(backoffMs(attempt, { random: () => 0 }), 0);
  }
  assert.equal(backoffMs(1, { random: () => 0, retryAfter: 7000 }), 7000);
  assert.equal(backoffMs(1, { random: () => 0, retryAfter: 1e9 }), 300000);
});

test("Retry-After: seconds or an HTTP date", () => {
  assert.equal(retryAfterMs("3"), 3000);
  assert.equal(retryAfterMs("Wed, 21 Oct 2015 07:28:10 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")), 10000);
  assert.equal(retryAfterMs("soon"), null);
  assert.equal(retryAfterMs(null), null);
});

test("a config that is not one is refused naming the JSON path", () => {
  assert.throws(() => readConfig([]), (e) => e instanceof ConfigError && e.message.startsWith("config $:"));
  assert.throws(() => readConfig({ experiments: 5 }), /config \$\.experiments: expected a list/);
  assert.throws(() => readConfig({ experiments: [], savedGroups: [] }), /config \$\.savedGroups/);
  assert.deepEqual(readConfig({ experiments: [] }), { experiments: [], savedGroups: {} });
});

test("tracked unit: hashed unit, cluster designs, switchbacks (as the Python middleware)", () => {
  const classic = { assignment: { hashKey: "deviceId" } };
  assert.deepEqual(trackedIds(classic, "u1", { deviceId: "d1" }), { unit: "d1", cluster: null });
  assert.deepEqual(trackedIds(classic, "u1", {}), { unit: "u1", cluster: null });
  const cluster = { assignment: { hashKey: "accountId" }, design: { type: "cluster", analysisUnit: "userId" } };
  assert.deepEqual(trackedIds(cluster, "u1", { accountId: "a1" }), { unit: "u1", cluster: "a1" });
  assert.deepEqual(trackedIds(cluster, "u1", {}), { unit: null, cluster: null });
  const switchback = { assignment: { hashKey: "userId" }, design: { type: "switchback", unit: "city" } };
  assert.deepEqual(trackedIds(switchback, "u1", { city: "paris" }), { unit: "u1", cluster: "paris" });
});

test("file cache: survives a new process's read, a corrupt file counts as empty", () => {
  const dir = mkdtempSync(join(tmpdir(), "splitlab-cache-"));
  const path = join(dir, "cache.json");
  const cache = fileCache(path);
  cache.set("a", "1");
  cache.set("b", "2");
  cache.remove("a");
  assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), { b: "2" });
  assert.equal(fileCache(path).get("b"), "2");
  writeFileSync(path, "{not json");
  assert.equal(fileCache(path).get("b"), null);
  const memory = memoryCache();
  memory.set("k", "v");
  assert.deepEqual(memory.keys(), ["k"]);
});

const DEFINITION = {
  experimentId: "exp-node",
  status: "running",
  variants: ["control", "treatment"],
  assignment: { hashKey: "userId", salt: "node-salt" },
};

/**
 * A real HTTP server: GET /v1/config answers one running experiment; POST /v1/events answers
 * the statuses of `script` in turn (the last one repeats) and records the event ids it got.
 */
async function collector(script) {
  const received = [];
  const server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      if (request.method === "GET") {
        response.writeHead(200, { "Content-Type": "application/json", ETag: '"v1"' });
        response.end(JSON.stringify({ experiments: [DEFINITION] }));
        return;
      }
      const [status, headers = {}] = script[Math.min(received.length, script.length - 1)];
      received.push({ status, ids: JSON.parse(body).events.map((e) => e.eventId) });
      response.writeHead(status, { "Content-Type": "application/json", ...headers });
      response.end(JSON.stringify(status === 200 ? { accepted: 1, duplicates: 0, rejected: 0 } : { error: { status } }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, received, close: () => server.close() };
}

async function until(condition, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function started(url, reported) {
  return createClient({
    url, sdkKey: "k", cache: null, stream: false, refreshIntervalMs: 0, flushIntervalMs: 10,
    onError: (error, where) => reported.push(`${where}: ${error.message}`),
  });
}

test("503 with Retry-After is retried, with the same event ids, after the wait", async () => {
  const server = await collector([[503, { "Retry-After": "1" }], [200]]);
  const reported = [];
  const client = started(server.url, reported);
  assert.equal((await client.ready()).source, "config");
  const answers = ["u1", "u2", "u3"].map((unitId) => client.getVariant("exp-node", { unitId }));
  assert.ok(answers.every((a) => a.inExperiment));
  await until(() => server.received.length >= 2, "the retry");
  assert.deepEqual(server.received.map((r) => r.status), [503, 200]);
  assert.equal(server.received[0].ids.length, 3);
  assert.deepEqual(server.received[1].ids, server.received[0].ids);
  assert.equal(client.status().pendingEvents, 0);
  assert.equal(reported.length, 1);
  assert.match(reported[0], /^events: POST .*: HTTP 503/);
  await client.close();
  server.close();
});

test("a 422 drops the batch, reports it and never resends it", async () => {
  const server = await collector([[422], [200]]);
  const reported = [];
  const client = started(server.url, reported);
  await client.ready();
  client.getVariant("exp-node", { unitId: "u1" });
  await until(() => reported.length > 0, "the report");
  assert.match(reported[0], /^events: POST .*: HTTP 422/);
  assert.equal(client.status().pendingEvents, 0);
  client.getVariant("exp-node", { unitId: "u2" });
  await client.flush();
  assert.deepEqual(server.received.map((r) => r.status), [422, 200]);
  assert.equal(server.received[1].ids.length, 1, "only the new event");
  await client.close();
  server.close();
});

test("a public method never throws, whatever it is given", async () => {
  const reported = [];
  const client = createClient({ url: "http://127.0.0.1:9", sdkKey: "k", cache: null, stream: false, refreshIntervalMs: 0, timeoutMs: 200, onError: (e, where) => reported.push(where) });
  await client.ready();
  assert.equal(client.getVariant("exp", null).reason, "fallback");
  assert.equal(client.track(undefined), 0);
  assert.equal(client.track("m", Number.NaN), 0);
  await client.flush();
  await client.close();
  assert.ok(reported.includes("getVariant") && reported.includes("track"));
});

test("an option under another name (another SDK's, a typo) is reported, not silently ignored", async () => {
  const reported = [];
  const client = createClient({
    url: "http://127.0.0.1:9", sdkKey: "k", cache: null, refreshIntervalMs: 0, timeoutMs: 100,
    apiHost: "http://127.0.0.1:9", timeout: 5000,
    onError: (error, where) => reported.push([where, error.message]),
  });
  await client.close();
  const options = reported.filter(([where]) => where === "options");
  assert.equal(options.length, 1);
  assert.match(options[0][1], /unknown option "apiHost", "timeout", ignored/);
  assert.match(options[0][1], /timeoutMs/);
  const clean = [];
  const ok = createClient({ url: "http://127.0.0.1:9", sdkKey: "k", cache: null, refreshIntervalMs: 0, onError: (e, where) => clean.push(where) });
  await ok.close();
  assert.ok(!clean.includes("options"));
});
